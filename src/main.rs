//! The `kiln` command line: parse, configure, and hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kiln::config::{LogFormat, ServeArgs, Settings, StoreArgs, WorkerArgs};
use kiln::identity::service_principals::create_service_principal;
use kiln::identity::{Caller, DevToken, PrincipalType, TokenIssuer};
use kiln::resources::subscriptions::{SubscriptionCreate, create_subscription};
use kiln::startup::{Application, bootstrap, openapi};
use kiln::store::{self, meta};

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "An ARM-compatible control plane for AI platform resources"
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (and, on the embedded default, the provisioning worker).
    Serve(ServeArgs),
    /// Drive operations and relay events, without the API (competing consumers of RabbitMQ).
    Worker(WorkerArgs),
    /// Run the database migrations and exit.
    Migrate,
    /// Write the OpenAPI document.
    Openapi {
        #[arg(long, default_value = "api-spec/openapi.json")]
        out: PathBuf,
    },
    /// Manage subscriptions.
    #[command(subcommand)]
    Subscription(SubscriptionCommand),
    /// Quota limits per subscription and region (the platform administrator's).
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// Print a dev bearer token (HS256, dev key): the bootstrap administrator's by default.
    Token {
        /// Token lifetime in seconds (at most a day: Kiln refuses tokens valid for longer).
        #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(1..=86_400))]
        lifetime: i64,
        /// The principal (object id) the token is for.
        #[arg(long)]
        principal: Option<uuid::Uuid>,
        /// Groups (object ids) the principal is a member of, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The tenant of the principal; the bootstrap tenant when absent.
        #[arg(long)]
        tenant: Option<uuid::Uuid>,
        /// Mint an application (service principal) token instead of a user token.
        #[arg(long)]
        service_principal: bool,
    },
    /// Manage service principals (client id + secret, for az, azure-identity, Terraform).
    #[command(subcommand)]
    Sp(SpCommand),
    /// Manage the master keys that wrap connection secrets.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new random master key (base64) for KILN_MASTER_KEY.
    Generate,
    /// Re-wrap every secret's data key under the current master key, while Kiln keeps
    /// serving. With KILN_MASTER_KEY: set the new key there and the old one in
    /// KILN_MASTER_KEY_PREVIOUS first. With the keyring file: a new key is added and the old
    /// one removed once nothing needs it.
    Rotate {
        /// Rows re-wrapped per transaction.
        #[arg(long, default_value_t = kiln::rotation::DEFAULT_BATCH)]
        batch: u64,
    },
}

#[derive(Subcommand)]
enum SpCommand {
    /// Create a service principal with a client secret; prints it once, as
    /// `az ad sp create-for-rbac` does.
    Create {
        #[arg(long)]
        name: String,
        /// Its tenant; the bootstrap tenant when absent.
        #[arg(long)]
        tenant: Option<uuid::Uuid>,
    },
}

#[derive(Subcommand)]
enum QuotaCommand {
    /// Set the limit of a quota name in a subscription and region (`--limit default` goes
    /// back to the default).
    Set {
        #[arg(long)]
        subscription: String,
        #[arg(long)]
        location: String,
        /// Azure's quota name, such as `OpenAI.Standard.gpt-4o`.
        #[arg(long)]
        name: String,
        #[arg(long)]
        limit: String,
        #[arg(long, default_value = "Microsoft.CognitiveServices")]
        namespace: String,
    },
}

#[derive(Subcommand)]
enum SubscriptionCommand {
    /// Create a subscription in the bootstrap tenant (or `--tenant-id`).
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        subscription_id: Option<uuid::Uuid>,
        #[arg(long)]
        tenant_id: Option<uuid::Uuid>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Debug builds of the sea-orm and actix futures are deep; give the main task room.
    let outcome = std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || {
            actix_web::rt::System::new()
                .block_on(run(cli))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string())
        .and_then(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| Err("the main thread panicked".into()))
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kiln: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve(serve) => {
            let settings = Settings::from_args(&cli.store, &serve)?;
            kiln::telemetry::init(settings.log_format);
            let app = Box::pin(Application::build(
                settings.clone(),
                kiln::resources::registry_with(&settings.types),
            ))
            .await?;
            print_banner(&app, &settings);
            app.run_until_stopped().await?;
        }
        Command::Worker(args) => {
            kiln::telemetry::init(args.log.log_format);
            kiln::startup::run_worker(
                kiln::resources::registry_with(&args.types.settings()?),
                &open(&cli.store)?,
                cli.store.key_source(),
                &args.broker,
                &args.provisioning.worker_settings(&cli.store.data_dir, true),
                kiln::startup::shutdown_signal(),
            )
            .await?;
        }
        Command::Migrate => {
            kiln::telemetry::init(LogFormat::Text);
            let db = store::connect(&open(&cli.store)?).await?;
            store::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::Openapi { out } => {
            let json = serde_json::to_string_pretty(&openapi(&kiln::resources::registry()))? + "\n";
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, json)?;
            println!("wrote {}", out.display());
        }
        Command::Quota(QuotaCommand::Set {
            subscription,
            location,
            name,
            limit,
            namespace,
        }) => {
            let limit = match limit.as_str() {
                "default" => None,
                number => Some(number.parse::<i64>().map_err(|_| {
                    format!("--limit must be a whole number or 'default', got '{number}'")
                })?),
            };
            let (db, _) = bootstrapped(&cli.store).await?;
            kiln::resources::quotas::set_limit(
                &db,
                &subscription,
                &namespace,
                &location,
                &name,
                limit,
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({"subscriptionId": subscription, "namespace": namespace, "location": location, "name": name, "limit": limit})
            );
        }
        Command::Subscription(SubscriptionCommand::Create {
            display_name,
            subscription_id,
            tenant_id,
        }) => {
            let (db, bootstrap) = bootstrapped(&cli.store).await?;
            let admin = admin_caller(&bootstrap);
            let request = SubscriptionCreate {
                display_name,
                subscription_id,
                tenant_id,
            };
            let row = create_subscription(&db, &admin, &request)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({"subscriptionId": row.subscription_id, "tenantId": row.tenant_id, "displayName": row.display_name})
            );
        }
        Command::Token {
            lifetime,
            principal,
            groups,
            tenant,
            service_principal,
        } => {
            let (db, bootstrap) = bootstrapped(&cli.store).await?;
            let issuer_base = match cli.store.public_url()? {
                Some(url) => url.as_str().trim_end_matches('/').to_owned(),
                None => meta::get(&db, meta::ISSUER_BASE)
                    .await?
                    .unwrap_or_else(|| "https://127.0.0.1:8443".into()),
            };
            let issuer = TokenIssuer::new(&bootstrap.dev_key, &cli.store.jwt_audience);
            let (principal_id, name) = match principal {
                Some(p) => (p.to_string(), p.to_string()),
                None => (
                    bootstrap.admin_principal.clone(),
                    "Kiln bootstrap administrator".to_owned(),
                ),
            };
            let token = DevToken {
                tenant_id: tenant.map_or(bootstrap.tenant_id.clone(), |t| t.to_string()),
                principal_id,
                name,
                principal_type: if service_principal {
                    PrincipalType::ServicePrincipal
                } else {
                    PrincipalType::User
                },
                groups: groups.into_iter().filter(|g| !g.is_empty()).collect(),
                lifetime_secs: lifetime,
            };
            println!("{}", issuer.mint_token(&issuer_base, &token));
        }
        Command::Sp(SpCommand::Create { name, tenant }) => {
            let (db, bootstrap) = bootstrapped(&cli.store).await?;
            let tenant = match tenant {
                Some(t) => t,
                None => uuid::Uuid::parse_str(&bootstrap.tenant_id)?,
            };
            let created = create_service_principal(&db, &name, tenant).await?;
            println!("{}", serde_json::to_string_pretty(&created)?);
        }
        Command::Keys(KeysCommand::Generate) => {
            println!("{}", kiln::secrets::keyring::generate_base64());
        }
        Command::Keys(KeysCommand::Rotate { batch }) => {
            kiln::telemetry::init(LogFormat::Text);
            let db = store::connect(&open(&cli.store)?).await?;
            store::migrate(&db).await?;
            let report = kiln::rotation::rotate(&db, &cli.store.key_source(), batch).await?;
            println!(
                "{}",
                serde_json::json!({"activeKeyId": report.active_key_id, "rewrapped": report.rewrapped, "remaining": report.remaining})
            );
            if report.remaining > 0 {
                return Err("some secrets are still wrapped by an older key (written meanwhile): run the rotation again".into());
            }
        }
    }
    Ok(())
}

fn open(store: &StoreArgs) -> Result<kiln::config::DatabaseSettings, Box<dyn std::error::Error>> {
    kiln::store::private_files::prepare_data_dir(&store.data_dir)?;
    Ok(store.database()?)
}

/// Opens the database, migrated and bootstrapped, for the CLI commands that need it.
async fn bootstrapped(
    store: &StoreArgs,
) -> Result<(sea_orm::DatabaseConnection, bootstrap::Bootstrap), Box<dyn std::error::Error>> {
    let db = store::connect(&open(store)?).await?;
    store::migrate(&db).await?;
    let settings = kiln::config::BootstrapSettings {
        tenant: store.bootstrap_tenant,
        subscription: store.bootstrap_subscription,
    };
    let master = kiln::secrets::MasterKeys::load(store.key_source())?;
    let bootstrap = bootstrap::ensure_bootstrap(&db, &settings, &master).await?;
    Ok((db, bootstrap))
}

fn admin_caller(bootstrap: &bootstrap::Bootstrap) -> Caller {
    Caller {
        principal_id: bootstrap.admin_principal.clone(),
        tenant_id: bootstrap.tenant_id.clone(),
        display_name: "Kiln bootstrap administrator".into(),
        principal_type: PrincipalType::User,
        groups: vec![],
    }
}

fn print_banner(app: &Application, settings: &Settings) {
    let data = settings.data_dir.display();
    println!("Kiln is serving.");
    if let Some(port) = app.https_port {
        println!(
            "  HTTPS  https://127.0.0.1:{port}   (certificate: {})",
            kiln::tls::self_signed_paths(&settings.data_dir).0.display()
        );
    }
    if let Some(port) = app.http_port {
        println!("  HTTP   http://127.0.0.1:{port}");
    }
    println!(
        "  tenant {}  subscription {}",
        app.bootstrap.tenant_id, app.bootstrap.subscription_id
    );
    println!("Call it:");
    println!("  TOKEN=$(kiln --data-dir {data} token)");
    if let Some(port) = app.http_port {
        println!(
            "  curl -H \"Authorization: Bearer $TOKEN\" 'http://127.0.0.1:{port}/subscriptions?api-version=2022-12-01'"
        );
    }
    println!("  API docs: /docs/   OpenAPI: /openapi.json");
}
