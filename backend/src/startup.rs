//! Building and running the server: database pool, change feed, background upkeep, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::jwt::JwtKeys;
use crate::auth::password;
use crate::auth::rate_limit::{LoginLimiter, RefusalLimiter};
use crate::config::{Config, ConfigError};
use crate::feed::{self, Feed};
use crate::state::AppState;
use crate::state::Inner;
use crate::store::audit::{self, AuditContext, AuditEntry};
use crate::store::users;
use crate::store::{changes, environments};

/// How often old watch history is compacted.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// Opens the connection pool (no migrations: those are `butler migrate`).
pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(config.database_url.expose_secret().to_owned());
    options
        .max_connections(config.database_max_connections)
        .min_connections(1)
        // Bounded waits: while the database is down a request answers 503 in seconds instead of hanging.
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(config.database_acquire_timeout)
        .sqlx_logging(false);
    // The URL may carry a password: say which variable failed, never its value.
    let mut db = Database::connect(options).await.context("cannot connect to the database named by DATABASE_URL")?;
    db.set_metric_callback(|_| crate::store::count_query());
    Ok(db)
}

/// A bound, not yet serving, Butler.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects to the database and binds `config.listen` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = connect(&config).await?;
        Self::build_with(config, db).await
    }

    /// Binds with an existing pool.
    pub(crate) async fn build_with(config: Config, db: DatabaseConnection) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (BUTLER_LISTEN)", config.listen))?;
        let jwt_secret = config.jwt_secret.clone().ok_or(ConfigError::Missing("BUTLER_JWT_SECRET"))?;
        let jwt = JwtKeys::new(&jwt_secret, &config.jwt_previous_secrets);
        // The OpenID Connect issuer: Butler's public URL, or where it listens (development; Jenkins must reach it).
        let issuer = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", listener.local_addr()?),
        };
        bootstrap_admin(&db, &config).await?;
        let aws = crate::aws::context::AwsSettings::new(config.aws_endpoint_url.clone());
        let state = AppState::new(Inner {
            db,
            config,
            feed: Arc::new(Feed::default()),
            shutdown: CancellationToken::new(),
            jwt,
            identity: Arc::new(crate::auth::cache::IdentityCache::default()),
            aws,
            accounts: crate::aws::context::Accounts::default(),
            login_limiter: LoginLimiter::default(),
            refusal_limiter: RefusalLimiter::default(),
            decoy_password_hash: password::decoy_hash().await,
            oidc_keys: crate::auth::oidc_keys::OidcKeys::new(&jwt_secret),
            issuer,
        });
        Ok(Self { listener, state })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Cancel it to shut the server down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// The shared state (tests use its database handle and feed).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token is cancelled, then drains requests and stops background tasks.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        let shutdown = state.shutdown.clone();
        let mut background = JoinSet::new();
        background.spawn(feed::run(state.feed.clone(), state.identity.clone(), state.db.clone(), shutdown.clone()));
        background.spawn(compact_watch_history(state.clone()));
        background.spawn(limiter_upkeep(state.clone()));
        if state.config.reconcile {
            background.spawn(reconcile(state.clone()));
            background.spawn(meter(state.clone()));
            background.spawn(sweep_pool(state.clone()));
        }
        tracing::info!(address = %listener.local_addr()?, "butler is serving");
        let router = crate::http::router(state.clone());
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .context("the HTTP server failed")?;
        shutdown.cancel();
        while background.join_next().await.is_some() {}
        state.db.clone().close().await.ok();
        tracing::info!("butler stopped");
        Ok(())
    }
}

/// First start: with no user at all and `BUTLER_BOOTSTRAP_ADMIN_*` set, creates that platform admin.
async fn bootstrap_admin(db: &DatabaseConnection, config: &Config) -> anyhow::Result<()> {
    let Some((email, password)) = &config.bootstrap_admin else { return Ok(()) };
    if users::count(db).await? > 0 {
        return Ok(());
    }
    let hash = password::hash(password.clone()).await?;
    match users::create(db, email, &hash, true).await {
        Ok(user) => {
            let context = AuditContext::system("bootstrap");
            audit::append(db, &AuditEntry::allowed(&context, "user.create", "User", 201).named(&user.email)).await?;
            tracing::info!(email = %user.email, "bootstrap platform admin created");
        }
        // Another replica bootstrapped at the same moment.
        Err(crate::store::StoreError::AlreadyExists) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

async fn limiter_upkeep(state: AppState) {
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {
                state.login_limiter.clean();
                state.refusal_limiter.clean();
                // Authorization codes live a minute; keep an hour of used and expired ones for inspection.
                let before = environments::now() - chrono::Duration::hours(1);
                if let Err(error) = crate::store::oidc::drop_expired_codes(&state.db, before).await {
                    tracing::warn!(error = %crate::telemetry::with_causes(&error), "expired sign-in codes not dropped");
                }
            }
        }
    }
}

async fn compact_watch_history(state: AppState) {
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(COMPACTION_INTERVAL) => {}
        }
        let history = chrono::Duration::from_std(state.config.watch_history).unwrap_or(chrono::Duration::hours(1));
        if let Err(error) = changes::compact(&state.db, environments::now() - history).await {
            tracing::warn!(error = %error, "watch history compaction failed; will retry");
        }
    }
}

/// The cost meter, once per interval across all processes, until shutdown.
async fn meter(state: AppState) {
    use crate::cost::meter::Meter;
    use crate::reconcile::environment::SdkProvider;
    let provider = Arc::new(SdkProvider::new(state.aws.clone()));
    let owner = format!("{}-meter", crate::reconcile::runner::owner_id());
    tracing::info!(interval_seconds = state.config.meter_interval.as_secs(), "cost meter started");
    Meter::new(state.db.clone(), provider, owner, state.config.meter_interval).run(state.shutdown.clone()).await;
}

/// The load balancer pool sweep, until shutdown.
async fn sweep_pool(state: AppState) {
    use crate::reconcile::environment::SdkProvider;
    let provider = Arc::new(SdkProvider::new(state.aws.clone()));
    let grace = state.config.load_balancer_grace;
    crate::reconcile::pool::run(state.db.clone(), provider, grace, state.shutdown.clone()).await;
}

/// The reconcile runner with the environment reconciler, until shutdown.
async fn reconcile(state: AppState) {
    use crate::reconcile::environment::{EnvironmentReconciler, SdkProvider};
    use crate::reconcile::runner::{self, RunnerConfig};
    let provider = Arc::new(SdkProvider::new(state.aws.clone()));
    let reconciler = Arc::new(
        EnvironmentReconciler::new(state.db.clone(), state.feed.clone(), provider)
            .with_content_check(state.config.content_check)
            // Jenkins signs people in with Butler only where it can reach Butler: at its public URL.
            .with_issuer(state.config.public_url.as_ref().map(|_| state.issuer())),
    );
    let config = RunnerConfig {
        concurrency: state.config.reconcile_concurrency,
        resync: state.config.resync,
        lease: state.config.reconcile_lease,
        ..RunnerConfig::default()
    };
    let owner = runner::owner_id();
    tracing::info!(owner = %owner, concurrency = config.concurrency, "reconciler started");
    runner::run(state.db.clone(), state.feed.clone(), reconciler, config, owner, state.shutdown.clone()).await;
}

impl Application {
    /// `butler worker`: the change feed and the reconciler, no HTTP; until the shutdown token is cancelled.
    pub async fn run_worker(self) -> anyhow::Result<()> {
        let Self { state, .. } = self;
        let shutdown = state.shutdown.clone();
        let mut background = JoinSet::new();
        background.spawn(feed::run(state.feed.clone(), state.identity.clone(), state.db.clone(), shutdown.clone()));
        background.spawn(reconcile(state.clone()));
        background.spawn(meter(state.clone()));
        background.spawn(sweep_pool(state.clone()));
        shutdown.cancelled().await;
        while background.join_next().await.is_some() {}
        state.db.clone().close().await.ok();
        tracing::info!("worker stopped");
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; draining");
}
