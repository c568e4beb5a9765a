//! Building and running the application: database, [`bootstrap`], engine, worker, HTTP(S).
//! The one place the layers are wired together: the removal hook into the engine and the
//! worker, the pool into the handlers that read outside the engine.

pub mod bootstrap;
mod worker_process;

pub use worker_process::run_worker;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use thiserror::Error;
use tokio::sync::{Notify, watch};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::arm::engine::{Access, Engine, Handoff};
use crate::arm::http::PublicBase;
use crate::arm::id::PathVocabulary;
use crate::arm::middleware::{arm_edge, not_served};
use crate::arm::registry::Registry;
use crate::authz::assignments::RoleAssignments;
use crate::authz::definitions::RoleDefinitions;
use crate::authz::policy::PolicyError;
use crate::authz::{Authorizer, Policy, Rbac, SubscriptionDirectory};
use crate::config::{RelaySettings, Settings, WorkerSettings};
use crate::events::broker::{Broker, InProcessBroker};
use crate::events::rabbitmq::RabbitBroker;
use crate::events::relay::Relay;
use crate::identity::TokenIssuer;
use crate::identity::authenticate::authenticate;
use crate::identity::jwks::ExternalKeys;
use crate::identity::{Identity, IdentityError};
use crate::metrics::Metrics;
use crate::provisioners::storage::StorageError;
use crate::provisioners::{Backends, ObjectStorage, Sweeper, Worker};
use crate::resources::{self, subscriptions::PlatformAdmin};
use crate::secrets::MasterKeys;
use crate::store::{self, meta};
use crate::tls::{self, TlsError};

#[derive(Debug, Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("could not listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("nothing to listen on: both the HTTP and HTTPS listeners are off")]
    NoListener,
    #[error("object store: {0}")]
    Storage(#[from] StorageError),
    #[error("authorization policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("identity: {0}")]
    Identity(#[from] IdentityError),
    #[error("master keys: {0}")]
    Secrets(#[from] crate::secrets::SecretError),
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
}

/// How often a replica checks the policy version (changes elsewhere are enforced here within
/// this interval plus a reload).
const POLICY_POLL: Duration = Duration::from_millis(250);

/// The worker and the sweeper over one database, with the provisioners of every type.
pub(crate) fn provisioning(
    db: &sea_orm::DatabaseConnection,
    settings: &WorkerSettings,
    registry: &Registry,
    vocabulary: Arc<PathVocabulary>,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    keys: Arc<MasterKeys>,
) -> Result<(Worker, Sweeper), StartupError> {
    let backends = Backends {
        provisioners: Arc::new(registry.provisioners()),
        storage: ObjectStorage::open(&settings.object_store)?,
        removal: resources::removal_hook(),
        keys,
    };
    tracing::info!(
        object_store = backends.storage.location(),
        "provisioning backends ready"
    );
    let worker = Worker::new(
        db.clone(),
        settings.clone(),
        vocabulary,
        backends,
        wake,
        outbox_wake,
    );
    let sweeper = Sweeper::beside(&worker);
    Ok((worker, sweeper))
}

/// Document-level facts; the paths come from the routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kiln",
        version = "2026-07-01",
        description = "An ARM-compatible control plane for AI platform resources."
    ),
    components(schemas(crate::error::ErrorResponse, crate::error::ErrorDetail))
)]
struct ApiDoc;

/// The OpenAPI document: the platform's routes and every registered type's, generated from
/// the same declarations the routes are, completed by `arm::contract`.
pub fn openapi(registry: &Registry) -> serde_json::Value {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    crate::arm::openapi::document(&mut api, registry);
    // An OpenApi always serializes.
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    crate::arm::contract::complete(&mut doc);
    doc
}

fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.configure(resources::configure)
        .configure(crate::ops::configure)
        .configure(crate::identity::configure);
}

/// The pool settings of one HTTP worker, or `None` when workers share the engine's pool
/// (SQLite: several connections to one file would contend for its write lock).
fn per_worker_pool(settings: &Settings) -> Option<crate::config::DatabaseSettings> {
    if !matches!(
        settings.database.kind,
        crate::config::DatabaseKind::Postgres
    ) {
        return None;
    }
    let workers = u32::try_from(settings.http.workers.max(1)).unwrap_or(1);
    let mut pool = settings.database.clone();
    pool.max_connections = (settings.database.max_connections / workers).max(2);
    Some(pool)
}

/// Where the relay publishes: RabbitMQ when configured, else the in-process broker.
pub(crate) fn publisher(
    settings: &RelaySettings,
    in_process: Arc<InProcessBroker>,
) -> Arc<dyn Broker> {
    match &settings.amqp_url {
        Some(url) => Arc::new(RabbitBroker::new(url, &settings.amqp_prefix)),
        None => in_process,
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

pub struct Application {
    server: Server,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    pub engine: Engine,
    /// The application's own pool, for what runs beside the HTTP API (tools, tests).
    pub db: sea_orm::DatabaseConnection,
    /// The master keys sealed secrets are written and read under.
    pub master_keys: Arc<MasterKeys>,
    pub worker: Worker,
    pub sweeper: Sweeper,
    pub relay: Relay,
    /// In-process subscribers receive every published event here.
    pub broker: Arc<InProcessBroker>,
    pub bootstrap: bootstrap::Bootstrap,
    pub tokens: Arc<TokenIssuer>,
    /// The authorization policy this replica enforces.
    pub policy: Arc<Policy>,
    /// The external provider's keys, when `KILN_JWKS` is a URL to re-read periodically.
    jwks_refresher: Option<Arc<ExternalKeys>>,
    worker_enabled: bool,
    relay_enabled: bool,
    shutdown: watch::Sender<bool>,
}

impl Application {
    /// Builds the application serving the types in `registry` (`resources::registry()`, plus
    /// whatever a program adds).
    pub async fn build(settings: Settings, mut registry: Registry) -> Result<Self, StartupError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        store::private_files::prepare_data_dir(&settings.data_dir)?;
        let db = store::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            Box::pin(store::migrate(&db)).await?;
        }
        let master_keys = Arc::new(MasterKeys::load(settings.master_keys.clone())?);
        let bootstrap = Box::pin(bootstrap::ensure_bootstrap(
            &db,
            &settings.bootstrap,
            &master_keys,
        ))
        .await?;
        let vocabulary = Arc::new(resources::vocabulary(&registry));
        registry.offer_in(settings.regions.clone());
        let registry = Arc::new(registry);
        let subscriptions = SubscriptionDirectory::new(db.clone());
        let policy = Arc::new(Policy::load(db.clone()).await?);
        let rbac = Arc::new(Rbac::new(policy.clone(), subscriptions.clone(), db.clone()));
        let authorizer: Arc<dyn Authorizer> = rbac.clone();
        let role_assignments = RoleAssignments {
            db: db.clone(),
            policy: policy.clone(),
        };
        let role_definitions = RoleDefinitions {
            db: db.clone(),
            policy: policy.clone(),
            vocabulary: vocabulary.clone(),
        };
        let wake = Arc::new(Notify::new());
        let outbox_wake = Arc::new(Notify::new());
        let engine = Engine::new(
            db.clone(),
            registry.clone(),
            vocabulary.clone(),
            Access {
                authorizer,
                subscriptions,
            },
            master_keys.clone(),
            resources::removal_hook(),
            Handoff {
                worker: wake.clone(),
                outbox: outbox_wake.clone(),
                operation_deadline: settings.worker.operation_deadline,
            },
        );
        let (worker, sweeper) = provisioning(
            &db,
            &settings.worker,
            &registry,
            vocabulary.clone(),
            wake,
            outbox_wake.clone(),
            master_keys.clone(),
        )?;
        // The embedded broker; RabbitMQ takes its place behind the same trait in production.
        let broker = Arc::new(InProcessBroker::default());
        let publisher = publisher(&settings.relay, broker.clone());
        let relay = Relay::new(db.clone(), publisher, settings.relay.clone(), outbox_wake);

        let http_listener = settings.http.http_addr.map(TcpListener::bind).transpose()?;
        let https_listener = settings
            .http
            .https_addr
            .map(TcpListener::bind)
            .transpose()?;
        if http_listener.is_none() && https_listener.is_none() {
            return Err(StartupError::NoListener);
        }
        let http_port = http_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?
            .map(|a| a.port());
        let https_port = https_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()?
            .map(|a| a.port());

        let public_url = settings
            .http
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned());
        let mut origins: Vec<String> = public_url.iter().cloned().collect();
        let bound = [
            ("https", settings.http.https_addr, https_port),
            ("http", settings.http.http_addr, http_port),
        ];
        for (scheme, addr, port) in bound {
            if let (Some(addr), Some(port)) = (addr, port) {
                origins.push(format!("{scheme}://127.0.0.1:{port}"));
                origins.push(format!("{scheme}://localhost:{port}"));
                // A specific address Kiln is bound to is one clients may use too.
                if !addr.ip().is_unspecified() && !addr.ip().is_loopback() {
                    let host = match addr.ip() {
                        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                        ip => ip.to_string(),
                    };
                    origins.push(format!("{scheme}://{host}:{port}"));
                }
            }
        }
        let issuer_base = public_url.clone().unwrap_or_else(|| origins[0].clone());
        let public_base = PublicBase {
            url: public_url.clone(),
            origins: origins.clone(),
        };
        meta::put(&db, meta::ISSUER_BASE, &issuer_base).await?;
        let identity = Identity::build(
            &db,
            &settings.auth,
            &bootstrap.dev_key,
            master_keys.clone(),
            origins,
            public_url.clone(),
        )
        .await?;
        let validator = identity.validator.clone();
        let identity_state = identity.state.clone();
        let tokens = Arc::new(TokenIssuer::new(
            &bootstrap.dev_key,
            &settings.auth.audience,
        ));

        let api = openapi(&registry);
        let allowed = Arc::new(crate::arm::contract::AllowedMethods::of(&api));
        let metrics = Metrics::new();
        metrics.track_pool(&db);
        let admin = PlatformAdmin {
            principal_id: bootstrap.admin_principal.clone(),
            tenant_id: bootstrap.tenant_id.clone(),
        };
        let shared_engine = engine.clone();
        // What handlers outside the engine read (subscriptions, the activity log, health).
        let shared_db = db.clone();
        let shared_keys = master_keys.clone();
        let worker_pool = per_worker_pool(&settings);
        let make_app = move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .configure(routes)
                .split_for_parts();
            let types = registry.clone();
            let app = app.configure(move |cfg| crate::arm::routes::configure(cfg, &types));
            let template = shared_engine.clone();
            let pool = worker_pool.clone();
            let pool_metrics = metrics.clone();
            // Each HTTP worker is a single-threaded runtime. Its own PostgreSQL pool keeps every
            // connection's I/O on that runtime, instead of waking another thread for each reply.
            app.data_factory(move || {
                let template = template.clone();
                let pool = pool.clone();
                let pool_metrics = pool_metrics.clone();
                async move {
                    match pool {
                        Some(settings) => {
                            let db = store::connect(&settings).await?;
                            pool_metrics.track_pool(&db);
                            Ok::<_, sea_orm::DbErr>(template.with_db(db))
                        }
                        None => Ok(template),
                    }
                }
            })
            .app_data(web::Data::new(shared_db.clone()))
            .app_data(web::Data::new(validator.clone()))
            .app_data(identity_state.clone())
            .app_data(web::Data::new(public_base.clone()))
            .app_data(web::Data::new(vocabulary.clone() as Arc<PathVocabulary>))
            .app_data(web::Data::new(metrics.clone()))
            .app_data(web::Data::new(allowed.clone()))
            .app_data(web::Data::new(shared_keys.clone()))
            .app_data(web::Data::new(admin.clone()))
            .app_data(web::Data::new(rbac.clone()))
            .app_data(web::Data::new(role_assignments.clone()))
            .app_data(web::Data::new(role_definitions.clone()))
            .service(
                SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", api.clone()),
            )
            .default_service(web::to(not_served))
            .wrap(from_fn(authenticate))
            .wrap(from_fn(arm_edge))
        };
        let mut server = HttpServer::new(make_app).workers(settings.http.workers);
        if let Some(listener) = http_listener {
            server = server.listen(listener)?;
        }
        if let Some(listener) = https_listener {
            let (cert, key) = tls::ensure_certificate(&settings.http.tls, &settings.data_dir)?;
            server = server.listen_rustls_0_23(listener, tls::server_config(&cert, &key)?)?;
            tracing::info!(certificate = %cert.display(), "HTTPS certificate (trust it in clients, e.g. REQUESTS_CA_BUNDLE)");
        }
        let server = server.run();
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            server,
            http_port,
            https_port,
            engine,
            db,
            master_keys,
            worker,
            sweeper,
            bootstrap,
            tokens,
            policy,
            jwks_refresher: identity
                .external
                .filter(|e| matches!(e.source(), crate::identity::jwks::JwksSource::Url(_))),
            worker_enabled: settings.worker.enabled,
            relay_enabled: settings.relay.enabled,
            relay,
            broker,
            shutdown,
        })
    }

    /// Serves until the server stops (SIGTERM drains in-flight requests), then stops the worker
    /// and the relay, each after the pass it is in.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = self.worker_enabled.then(|| {
            tokio::spawn(
                self.worker
                    .clone()
                    .run_until_stopped(self.shutdown.subscribe()),
            )
        });
        let sweeper = self.worker_enabled.then(|| {
            tokio::spawn(
                self.sweeper
                    .clone()
                    .run_until_stopped(self.shutdown.subscribe()),
            )
        });
        let relay = self.relay_enabled.then(|| {
            tokio::spawn(
                self.relay
                    .clone()
                    .run_until_stopped(self.shutdown.subscribe()),
            )
        });
        let policy = tokio::spawn(
            self.policy
                .clone()
                .run_until_stopped(POLICY_POLL, self.shutdown.subscribe()),
        );
        let jwks = self
            .jwks_refresher
            .map(|keys| tokio::spawn(keys.run_until_stopped(self.shutdown.subscribe())));
        let result = self.server.await;
        let _ = self.shutdown.send(true);
        for task in [worker, sweeper, relay, jwks, Some(policy)]
            .into_iter()
            .flatten()
        {
            let _ = task.await;
        }
        result
    }
}
