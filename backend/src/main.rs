//! The `butler` command: `serve`, `worker`, `migrate`, `admin …`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use butler::config::{Config, LogFormat};
use butler::startup::{self, Application};
use butler::store::{tenants, users};
use butler::telemetry;

#[derive(Parser)]
#[command(name = "butler", version, about = "Self-service Jenkins on AWS ECS Spot for many teams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the console, with the reconciler and the cost meter unless BUTLER_RECONCILE=false.
    Serve,
    /// Run the reconciler only (no HTTP): add workers to share the reconcile load.
    Worker,
    /// Apply pending database migrations (or show their status).
    Migrate {
        #[arg(long)]
        status: bool,
    },
    /// Administrative tasks for scripts.
    Admin {
        #[command(subcommand)]
        task: AdminTask,
    },
}

#[derive(Subcommand)]
enum AdminTask {
    /// Create a user (or, with --update, change an existing one's password and admin flag).
    /// The password is read from BUTLER_NEW_USER_PASSWORD so it never appears in a process list.
    CreateUser {
        email: String,
        #[arg(long)]
        platform_admin: bool,
        /// Make the user an admin/editor/viewer of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value = "admin")]
        role: String,
    },
    /// Development only: create (or find) a VPC with two subnets in the AWS emulator named by
    /// BUTLER_AWS_ENDPOINT_URL and point the cloud profile at it.
    EmulatorProfile {
        #[arg(long, default_value = "default")]
        name: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// Prices: `prices import FILE` lays a price list (the format of backend/data/prices.json) over the current one.
    Prices {
        #[command(subcommand)]
        action: PricesAction,
    },
    /// Create a tenant unless it exists.
    CreateTenant {
        /// DNS label, e.g. payments.
        name: String,
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum PricesAction {
    /// Import a price list file (JSON).
    Import { file: std::path::PathBuf },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("butler: {error}");
            std::process::exit(2);
        }
    };
    let log_format =
        if matches!(cli.command, Command::Serve | Command::Worker) { config.log_format } else { LogFormat::Pretty };
    telemetry::init(log_format);
    if let Err(error) = run(cli.command, config).await {
        eprintln!("butler: {error:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(config).await?;
            let shutdown = app.shutdown_token();
            tokio::spawn(async move {
                startup::shutdown_signal().await;
                shutdown.cancel();
            });
            app.run().await
        }
        Command::Worker => {
            let mut config = config;
            // A worker binds nothing that serves: port 0 keeps two of them from colliding.
            config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            let app = Application::build(config).await?;
            let shutdown = app.shutdown_token();
            tokio::spawn(async move {
                startup::shutdown_signal().await;
                shutdown.cancel();
            });
            app.run_worker().await
        }
        Command::Migrate { status } => {
            let db = startup::connect(&config).await?;
            if status {
                Migrator::status(&db).await?;
            } else {
                Migrator::up(&db, None).await?;
                println!("migrations applied");
            }
            Ok(())
        }
        Command::Admin { task: AdminTask::CreateUser { email, platform_admin, tenant, role } } => {
            let password = std::env::var("BUTLER_NEW_USER_PASSWORD")
                .map_err(|_| anyhow::anyhow!("environment variable BUTLER_NEW_USER_PASSWORD is required"))?;
            butler::auth::password::check_strength(&password)
                .map_err(|m| anyhow::anyhow!("BUTLER_NEW_USER_PASSWORD {m}"))?;
            let role = butler::auth::Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be admin, editor or viewer"))?;
            let db = startup::connect(&config).await?;
            let hash = butler::auth::password::hash(secrecy::SecretString::from(password)).await?;
            let user = match users::find_by_email(&db, &email).await? {
                Some(existing) => users::update(
                    &db,
                    existing.id,
                    None,
                    Some(platform_admin || existing.is_platform_admin),
                    Some(&hash),
                )
                .await?
                .ok_or_else(|| anyhow::anyhow!("user vanished"))?,
                None => users::create(&db, &email, &hash, platform_admin).await?,
            };
            if let Some(tenant) = tenant {
                users::set_membership(&db, &tenant, user.id, role.as_str()).await?;
            }
            println!("user {} (platform admin: {})", user.email, user.is_platform_admin);
            Ok(())
        }
        Command::Admin { task: AdminTask::EmulatorProfile { name, region } } => {
            let settings = butler::aws::context::AwsSettings::from_env();
            if settings.endpoint_url.is_none() {
                anyhow::bail!(
                    "environment variable BUTLER_AWS_ENDPOINT_URL is required: this only talks to the emulator"
                );
            }
            let target = butler::aws::context::AccountTarget { region: region.clone(), role_arn: None };
            let account = butler::aws::context::AwsAccount::connect(&settings, &target).await;
            let ec2 = butler::aws::ec2::SdkEc2::new(&account);
            let network = butler::aws::emulator::ensure_network(&ec2, &name).await?;
            // An HTTPS address for every environment: a hosted zone and a certificate made in the emulator.
            let ingress =
                butler::aws::emulator::ensure_ingress(&account, "jenkins.butler.test", &network.subnet_ids, 100)
                    .await?;
            let db = startup::connect(&config).await?;
            let input = butler::store::cloud_profiles::ProfileInput {
                region: &region,
                vpc_id: &network.vpc_id,
                subnet_ids: &network.subnet_ids,
                role_arn: None,
                ami_id: None,
                namespace_name: "jenkins.local",
                guardrails: &butler::domain::guardrails::Guardrails::default(),
                proxy: None,
                ingress: Some(&ingress),
            };
            butler::store::cloud_profiles::upsert(&db, &name, &input).await?;
            println!("cloud profile {name}: {} with subnets {}", network.vpc_id, network.subnet_ids.join(", "));
            Ok(())
        }
        Command::Admin { task: AdminTask::Prices { action: PricesAction::Import { file } } } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let list: butler::domain::prices::PriceList =
                serde_json::from_str(&text).with_context(|| format!("{} is not a price list", file.display()))?;
            list.validate().map_err(anyhow::Error::msg)?;
            let db = startup::connect(&config).await?;
            let merged = butler::store::costs::import_prices(&db, &list, "cli:butler admin prices import").await?;
            let types: usize = merged.on_demand_hourly.values().map(|t| t.len()).sum();
            println!(
                "prices imported from {}: {types} on-demand prices in {} region(s)",
                file.display(),
                merged.on_demand_hourly.len()
            );
            Ok(())
        }
        Command::Admin { task: AdminTask::CreateTenant { name, display_name } } => {
            let db = startup::connect(&config).await?;
            let display_name = display_name.unwrap_or_else(|| name.clone());
            let tenant = tenants::ensure(&db, &name, &display_name).await?;
            println!("tenant {} ({})", tenant.name, tenant.display_name);
            Ok(())
        }
    }
}
