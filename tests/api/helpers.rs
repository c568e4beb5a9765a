//! Spawns a real Kiln per test on port 0 with a fresh database (SQLite file or a new
//! PostgreSQL database), and talks to it over HTTP like a client would.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiln::config::{
    AuthSettings, BootstrapSettings, DatabaseKind, DatabaseSettings, HttpSettings, LogFormat,
    Settings, TlsSource, WorkerSettings,
};
use kiln::identity::TokenIssuer;
use kiln::provisioners::Worker;
use kiln::startup::Application;
use reqwest::{Method, Response, StatusCode};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter};
use serde_json::Value;

pub const RG_API: &str = "2024-03-01";
pub const WS_API: &str = "2025-12-01";
pub const SUB_API: &str = "2022-12-01";

/// The GUIDs of the built-in roles the tests assign (`policies/builtin-roles.json`).
pub mod roles {
    pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
    pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
    pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
    pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    pub const STORAGE_BLOB_DATA_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
    pub const COGNITIVE_SERVICES_USER: &str = "a97b65f3-24c7-4388-baec-2e87135dc908";
    pub const COGNITIVE_SERVICES_CONTRIBUTOR: &str = "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68";
    pub const FOUNDRY_USER: &str = "53ca6127-db72-4b80-b1b0-d745d6d5456d";
    pub const FOUNDRY_ACCOUNT_OWNER: &str = "e47c6f54-e4a2-4754-9501-8e0985b135e1";

    #[test]
    fn each_constant_is_the_built_in_role_of_its_name() {
        for (role_name, guid) in [
            ("Owner", OWNER),
            ("Contributor", CONTRIBUTOR),
            ("Reader", READER),
            ("User Access Administrator", USER_ACCESS_ADMINISTRATOR),
            (
                "Storage Blob Data Contributor",
                STORAGE_BLOB_DATA_CONTRIBUTOR,
            ),
            ("Storage Blob Data Reader", STORAGE_BLOB_DATA_READER),
            ("Cognitive Services User", COGNITIVE_SERVICES_USER),
            (
                "Cognitive Services Contributor",
                COGNITIVE_SERVICES_CONTRIBUTOR,
            ),
            ("Foundry User", FOUNDRY_USER),
            ("Foundry Account Owner", FOUNDRY_ACCOUNT_OWNER),
        ] {
            let shipped = kiln::authz::roles::built_in_named(role_name);
            assert_eq!(shipped.map(|r| r.name.as_str()), Some(guid), "{role_name}");
        }
    }
}

/// What an [`eventually`] check answers: done, with a value, or not yet.
pub trait Ready {
    type Value;
    /// The value once done; otherwise what was seen instead, if the check says.
    fn ready(self) -> Result<Self::Value, Option<String>>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

/// `Err` is "not yet", with what was seen: the failure message shows the last one.
impl<T, E: Display> Ready for Result<T, E> {
    type Value = T;
    fn ready(self) -> Result<T, Option<String>> {
        self.map_err(|seen| Some(seen.to_string()))
    }
}

/// How often [`eventually`] asks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// The value of a ready answer; `None` to ask again; a panic naming `what` once `within` has
/// passed since `started`.
fn settle<R: Ready>(
    answer: R,
    what: &dyn Display,
    within: Duration,
    started: Instant,
) -> Option<R::Value> {
    match answer.ready() {
        Ok(value) => Some(value),
        Err(seen) if started.elapsed() >= within => match seen {
            Some(seen) => panic!("waited {within:?} for {what}; last seen: {seen}"),
            None => panic!("waited {within:?} for {what}"),
        },
        Err(_) => None,
    }
}

/// Asks `check` until it is ready and returns its value; after `within` fails, naming `what`
/// it waited for (and what the check saw last, when it answers a `Result`).
pub async fn eventually<R: Ready, F: Future<Output = R>>(
    what: impl Display,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> R::Value {
    let started = Instant::now();
    loop {
        if let Some(value) = settle(check().await, &what, within, started) {
            return value;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// [`eventually`] for code that must not need a runtime.
pub fn eventually_blocking<R: Ready>(
    what: impl Display,
    within: Duration,
    mut check: impl FnMut() -> R,
) -> R::Value {
    let started = Instant::now();
    loop {
        if let Some(value) = settle(check(), &what, within, started) {
            return value;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub https_base: Option<String>,
    pub client: reqwest::Client,
    pub token: String,
    pub subscription: String,
    pub tenant: String,
    pub admin: String,
    /// The application's pool, for what a test arranges or checks in the database.
    pub db: sea_orm::DatabaseConnection,
    /// The master keys the application seals secrets under.
    pub keys: Arc<kiln::secrets::MasterKeys>,
    pub worker: Worker,
    pub sweeper: kiln::provisioners::Sweeper,
    /// The database the app uses, for processes started next to it.
    pub database_url: String,
    pub broker: Arc<kiln::events::broker::InProcessBroker>,
    pub tokens: Arc<TokenIssuer>,
    pub data_dir: tempfile::TempDir,
    /// The keyring file of the app's master keys.
    pub keyring: std::path::PathBuf,
    /// What the teardown check waits for: see [`TestApp::expect_unfinished`].
    teardown: Teardown,
    unfinished: AtomicBool,
}

/// What a test must leave behind when its app is dropped: no operation in progress (when the
/// app's worker runs) and no event unsent (when its relay runs).
#[derive(Debug, Clone)]
struct Teardown {
    database_url: String,
    operations: bool,
    outbox: bool,
}

/// How long the teardown check lets the app's worker and relay finish what the test started.
const TEARDOWN_WAIT: Duration = Duration::from_secs(10);

impl Teardown {
    /// What is left undone, or `Ok` when nothing is.
    async fn leftovers(&self, db: &sea_orm::DatabaseConnection) -> Result<(), String> {
        use kiln::store::{operation, outbox};
        let mut left = Vec::new();
        if self.operations {
            let running = operation::Entity::find()
                .filter(
                    operation::Column::Status
                        .eq(kiln::lifecycle::OperationStatus::InProgress.as_str()),
                )
                .all(db)
                .await
                .expect("teardown check: read operations");
            left.extend(running.into_iter().map(|op| {
                format!(
                    "operation {} ({} {}) InProgress",
                    op.id, op.verb, op.resource_id
                )
            }));
        }
        if self.outbox {
            let unsent = outbox::Entity::find()
                .filter(outbox::Column::SentAt.is_null())
                .all(db)
                .await
                .expect("teardown check: read the outbox");
            left.extend(unsent.into_iter().map(|event| {
                format!(
                    "outbox row {} ({} of {}) unsent",
                    event.seq, event.event_type, event.payload["subject"]
                )
            }));
        }
        if left.is_empty() {
            Ok(())
        } else {
            Err(left.join("; "))
        }
    }

    /// Waits (on a thread and runtime of its own: `Drop` cannot await) for nothing to be left.
    fn check(self) {
        let thread = std::thread::Builder::new()
            .name("teardown check".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("teardown check: a runtime");
                runtime.block_on(async {
                    let options = sea_orm::ConnectOptions::new(self.database_url.clone())
                        .max_connections(1)
                        .sqlx_logging(false)
                        .to_owned();
                    let db = Database::connect(options)
                        .await
                        .expect("teardown check: connect to the test's database");
                    eventually(
                        "the test to leave no operation running and no event unsent (a test that \
                         means to leave work undone calls app.expect_unfinished())",
                        TEARDOWN_WAIT,
                        || self.leftovers(&db),
                    )
                    .await;
                    db.close().await.ok();
                });
            })
            .expect("teardown check: a thread");
        if let Err(failure) = thread.join() {
            std::panic::resume_unwind(failure);
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() || self.unfinished.load(Ordering::SeqCst) {
            return;
        }
        let teardown = self.teardown.clone();
        if !(teardown.operations || teardown.outbox) {
            return;
        }
        // The check blocks this thread while the app's tasks finish on the runtime's others.
        if tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
        {
            panic!(
                "a TestApp needs #[tokio::test(flavor = \"multi_thread\")]: its teardown check \
                 waits for the app's worker and relay, which a current-thread runtime would stop"
            );
        }
        teardown.check();
    }
}

pub struct Options {
    pub worker: bool,
    pub https: bool,
    pub public_url: Option<&'static str>,
    /// A configured certificate and key instead of the self-signed pair.
    pub tls_files: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub relay: bool,
    /// Publish to this RabbitMQ (URL, exchange/queue prefix) instead of the in-process broker.
    pub amqp: Option<(String, String)>,
    /// How long operations may take (the default is ten minutes).
    pub deadline: Option<Duration>,
    /// `KILN_JWKS` and `KILN_JWT_ISSUER`: an external identity provider.
    pub jwks: Option<(String, Vec<String>)>,
    /// The least time between reads of the key sources caused by unknown key ids.
    pub jwks_min_refresh: Duration,
    /// Share this PostgreSQL database (another replica's) instead of creating one.
    pub database: Option<String>,
    /// Serve these types instead of `kiln::resources::registry()`.
    pub registry: Option<kiln::arm::registry::Registry>,
    /// `KILN_DEV_TOKENS` (the tests' own token is a dev token).
    pub dev_tokens: bool,
}

impl Options {
    /// No in-process worker: the test drives operations itself (`worker.run_once`).
    pub fn without_worker() -> Self {
        Self {
            worker: false,
            ..Self::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            worker: true,
            https: false,
            public_url: None,
            tls_files: None,
            relay: true,
            amqp: None,
            deadline: None,
            jwks: None,
            jwks_min_refresh: AuthSettings::default().jwks_min_refresh,
            database: None,
            registry: None,
            dev_tokens: true,
        }
    }
}

/// A fresh PostgreSQL database on the server the test command started. No server is a
/// failure, never a skip.
pub async fn postgres_database() -> String {
    let admin_url = std::env::var("KILN_TEST_DATABASE_URL").expect(
        "KILN_TEST_DATABASE_URL must point at a PostgreSQL server (scripts/test.sh starts one)",
    );
    let name = format!("kiln_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("cannot reach the test PostgreSQL server");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (prefix, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

/// The keyring every test app on the PostgreSQL database `url` uses.
fn shared_keyring(url: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("kiln-test-keyrings");
    std::fs::create_dir_all(&dir).expect("keyring directory");
    let name = url.rsplit('/').next().unwrap_or("default");
    dir.join(format!("{name}.keys"))
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (url, kind) = match backend {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.path().join("kiln.db").display()
                ),
                DatabaseKind::Sqlite,
            ),
            Backend::Postgres => match &options.database {
                Some(url) => (url.clone(), DatabaseKind::Postgres),
                None => (postgres_database().await, DatabaseKind::Postgres),
            },
        };
        let database_url = url.clone();
        // Replicas of one PostgreSQL database share its master keys, as deployments must.
        let keyring = match backend {
            Backend::Sqlite => data_dir.path().join(kiln::secrets::keyring::KEYRING_FILE),
            Backend::Postgres => shared_keyring(&database_url),
        };
        let settings = Settings {
            data_dir: data_dir.path().to_owned(),
            database: DatabaseSettings {
                url,
                kind,
                max_connections: 8,
                wait: Duration::from_millis(kiln::config::DATABASE_WAIT_MS),
                migrate_on_start: true,
            },
            http: HttpSettings {
                http_addr: Some("127.0.0.1:0".parse().unwrap()),
                https_addr: options.https.then(|| "127.0.0.1:0".parse().unwrap()),
                tls: match options.tls_files {
                    Some((cert, key)) => TlsSource::Files { cert, key },
                    None => TlsSource::SelfSigned,
                },
                public_url: options
                    .public_url
                    .map(|u| kiln::config::parse_public_url(u).unwrap()),
                workers: 2,
            },
            auth: AuthSettings {
                jwks: options.jwks.as_ref().map(|(source, _)| {
                    kiln::identity::jwks::JwksSource::parse(source).expect("JWKS source")
                }),
                issuers: options
                    .jwks
                    .as_ref()
                    .map(|(_, issuers)| issuers.clone())
                    .unwrap_or_default(),
                jwks_min_refresh: options.jwks_min_refresh,
                dev_tokens: options.dev_tokens,
                ..AuthSettings::default()
            },
            bootstrap: BootstrapSettings {
                tenant: None,
                subscription: None,
            },
            worker: WorkerSettings {
                enabled: options.worker,
                poll_interval: Duration::from_millis(200),
                object_store: data_dir.path().join("objects").display().to_string(),
                operation_deadline: options
                    .deadline
                    .unwrap_or(WorkerSettings::default().operation_deadline),
                ..WorkerSettings::default()
            },
            relay: kiln::config::RelaySettings {
                enabled: options.relay,
                amqp_url: options.amqp.as_ref().map(|(url, _)| url.clone()),
                amqp_prefix: options
                    .amqp
                    .as_ref()
                    .map(|(_, prefix)| prefix.clone())
                    .unwrap_or_default(),
                ..Default::default()
            },
            log_format: LogFormat::Text,
            master_keys: kiln::secrets::KeySource::File(keyring.clone()),
            regions: kiln::config::regions::Regions::default(),
            types: kiln::config::TypeSettings::default(),
        };
        let registry = options
            .registry
            .clone()
            .unwrap_or_else(kiln::resources::registry);
        let app = Box::pin(Application::build(settings, registry))
            .await
            .expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.http_port.unwrap());
        let https_base = app.https_port.map(|p| format!("https://localhost:{p}"));
        let token = app.tokens.mint(
            &base,
            &app.bootstrap.tenant_id,
            &app.bootstrap.admin_principal,
            "admin@kiln.test",
            3600,
        );
        let test_app = TestApp {
            base,
            https_base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            token,
            subscription: app.bootstrap.subscription_id.clone(),
            tenant: app.bootstrap.tenant_id.clone(),
            admin: app.bootstrap.admin_principal.clone(),
            db: app.db.clone(),
            keys: app.master_keys.clone(),
            teardown: Teardown {
                database_url: database_url.clone(),
                operations: options.worker,
                outbox: options.relay,
            },
            worker: app.worker.clone(),
            sweeper: app.sweeper.clone(),
            database_url,
            broker: app.broker.clone(),
            tokens: app.tokens.clone(),
            data_dir,
            keyring,
            unfinished: AtomicBool::new(false),
        };
        tokio::spawn(app.run_until_stopped());
        test_app
    }

    /// Gives a principal a built-in role on the bootstrap subscription (as its Owner, the
    /// bootstrap administrator).
    pub async fn grant(&self, principal: &str, role: &str) {
        let path = format!(
            "/subscriptions/{s}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01",
            s = self.subscription,
            name = uuid::Uuid::new_v4()
        );
        let body = serde_json::json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", self.subscription),
            "principalId": principal,
        }});
        let res = self.put(&path, &body).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "grant {role} to {principal}"
        );
    }

    /// A second replica: another Kiln on the same PostgreSQL database.
    pub async fn spawn_with_database(database_url: &str) -> Self {
        let options = Options {
            database: Some(database_url.to_owned()),
            ..Options::default()
        };
        Self::spawn_with(Backend::Postgres, options).await
    }

    /// The object store's directory (storage accounts and their containers).
    pub fn objects(&self) -> std::path::PathBuf {
        self.data_dir.path().join("objects")
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// A token for another principal, optionally in another tenant.
    pub fn token_for(&self, principal: &str, tenant: &str) -> String {
        self.tokens
            .mint(&self.base, tenant, principal, principal, 3600)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        self.send_as(&self.token, method, path, body).await
    }

    pub async fn send_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(Method::DELETE, path, None).await
    }

    pub fn group_path(&self, group: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}",
            self.subscription
        )
    }

    pub fn workspace_path(&self, group: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.MachineLearningServices/workspaces/{name}",
            self.group_path(group)
        )
    }

    pub fn workspace_url(&self, group: &str, name: &str) -> String {
        format!("{}?api-version={WS_API}", self.workspace_path(group, name))
    }

    pub async fn create_group(&self, group: &str) -> Value {
        let res = self
            .put(
                &format!("{}?api-version={RG_API}", self.group_path(group)),
                &serde_json::json!({"location": "eastus"}),
            )
            .await;
        assert!(res.status().is_success(), "create group: {}", res.status());
        res.json().await.unwrap()
    }

    /// PUTs a workspace and waits until its operation is over; returns the final GET body.
    pub async fn create_workspace(&self, group: &str, name: &str, body: Value) -> Value {
        let res = self.put(&self.workspace_url(group, name), &body).await;
        assert_eq!(
            res.status(),
            StatusCode::ACCEPTED,
            "create workspace {name}: {}",
            res.text().await.unwrap_or_default()
        );
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        self.poll_location(&location).await;
        self.get(&self.workspace_url(group, name))
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn hub(&self, group: &str, name: &str) -> Value {
        self.create_workspace(
            group,
            name,
            serde_json::json!({"location": "eastus", "kind": "Hub", "properties": {}}),
        )
        .await
    }

    /// GETs an absolute URL (a monitor Kiln handed out) as the administrator, as JSON.
    pub async fn get_absolute(&self, url: &str) -> Value {
        self.get_absolute_response(url)
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    async fn get_absolute_response(&self, url: &str) -> Response {
        let res = self.client.get(url).bearer_auth(&self.token).send().await;
        res.expect("request sent")
    }

    /// Follows a Location URL until it stops answering 202, driving the worker when it is off.
    pub async fn poll_location(&self, location: &str) -> Response {
        eventually(
            format!("the operation at {location} to finish"),
            OPERATION_WAIT,
            || async {
                let res = self.get_absolute_response(location).await;
                if res.status() == StatusCode::ACCEPTED {
                    self.worker.run_once().await.unwrap();
                    return None;
                }
                Some(res)
            },
        )
        .await
    }

    /// The test leaves work undone on purpose (no worker or relay to finish it, a process
    /// killed, a deadline): the teardown check is off for this app.
    pub fn expect_unfinished(&self) {
        self.unfinished.store(true, Ordering::SeqCst);
    }

    /// GETs `path` as the administrator: the status and the body as JSON (`null` when empty).
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        json_of(self.get(path).await).await
    }

    /// GETs `path` as the administrator, asserting 200; the body as JSON.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get_json(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}

/// `kiln serve` on loopback `port` over HTTP only, with `data_dir` and no database URL from
/// the environment.
pub fn kiln_serve(data_dir: &std::path::Path, port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .args(["--https", "off"])
        .env_remove("KILN_DATABASE_URL");
    command
}

/// A child process, killed (SIGKILL) and reaped when dropped, also by a failing test.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How long a test waits for an operation to finish.
pub const OPERATION_WAIT: Duration = Duration::from_secs(30);

/// A response's status and its body as JSON (`null` when empty).
pub async fn json_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let bytes = res.bytes().await.expect("a body");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

/// The ARM error code of a response, asserting the status and the ARM shape.
pub async fn error_code(res: Response, status: StatusCode) -> String {
    arm_error(&"a refusal", res, status).await
}

/// For a table of refused requests: `res` answers `status` with the ARM error `code`; a
/// failure names `case`.
pub async fn assert_refused(case: &str, res: Response, status: StatusCode, code: &str) {
    assert_eq!(arm_error(&case, res, status).await, code, "{case}");
}

async fn arm_error(case: &dyn Display, res: Response, status: StatusCode) -> String {
    let request_id = res.headers().contains_key("x-ms-request-id");
    let (got, body) = json_of(res).await;
    assert_eq!(got, status, "{case}: unexpected status, body {body}");
    assert!(request_id, "{case}: x-ms-request-id on an error");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{case}: no error.code in {body}"))
        .to_owned();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}: error.message in {body}"
    );
    // A message is read by people: no runs of spaces left by a continued string literal.
    assert!(
        !body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("  ")),
        "{case}: stray spaces in error.message of {body}"
    );
    code
}
