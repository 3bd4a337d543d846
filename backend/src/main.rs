//! The `butler` command: `serve`, `migrate`, `admin …`.

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use butler::config::{Config, LogFormat};
use butler::startup::{self, Application};
use butler::store::tenants;
use butler::telemetry;

#[derive(Parser)]
#[command(name = "butler", version, about = "Self-service Jenkins on AWS ECS Spot for many teams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (and, later, the pages and reconcilers).
    Serve,
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
    /// Create a tenant unless it exists.
    CreateTenant {
        /// DNS label, e.g. payments.
        name: String,
        #[arg(long)]
        display_name: Option<String>,
    },
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
    let log_format = if matches!(cli.command, Command::Serve) { config.log_format } else { LogFormat::Pretty };
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
        Command::Admin { task: AdminTask::CreateTenant { name, display_name } } => {
            let db = startup::connect(&config).await?;
            let display_name = display_name.unwrap_or_else(|| name.clone());
            let tenant = tenants::ensure(&db, &name, &display_name).await?;
            println!("tenant {} ({})", tenant.name, tenant.display_name);
            Ok(())
        }
    }
}
