//! One AWS account and region as a cloud profile names it: SDK configuration (endpoint override for the
//! emulator, the standard credential chain otherwise, STS AssumeRole when the profile has a role), the shared
//! call counters and rate limits, and the service clients.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use std::future::Future;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::calls::AwsCalls;
use super::error::{classify, AwsError};
use super::limits::{ApiFamily, RateLimits};

/// Attempts per AWS call (the SDK's standard mode): one call and two retries.
const AWS_ATTEMPTS: u32 = 3;

/// Process-wide AWS settings.
#[derive(Clone)]
pub struct AwsSettings {
    /// An endpoint override (the moto emulator in development and tests); None means real AWS.
    pub endpoint_url: Option<String>,
    pub calls: Arc<AwsCalls>,
    pub limits: Arc<RateLimits>,
    /// Crash tests only: freezes the caller right after a chosen mutating call succeeded (see `KillSwitch`).
    pub kill_switch: Option<Arc<KillSwitch>>,
}

/// For crash tests: after the `n`-th successful mutating call, the calling future never resumes, as if the
/// process died the moment AWS acted and before Butler recorded anything. The test then drops the frozen pass
/// and starts a new reconciler, as a restart would.
#[derive(Debug)]
pub struct KillSwitch {
    remaining: std::sync::atomic::AtomicI64,
    /// Notified when the switch fires.
    pub fired: tokio::sync::Notify,
}

impl KillSwitch {
    /// A switch that fires after `mutating_calls` successful mutating calls.
    pub fn after(mutating_calls: i64) -> Self {
        Self { remaining: std::sync::atomic::AtomicI64::new(mutating_calls), fired: tokio::sync::Notify::new() }
    }

    async fn observe(&self, operation: &str) {
        if !super::calls::is_mutating(operation) {
            return;
        }
        if self.remaining.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.fired.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

impl AwsSettings {
    /// Settings with an optional endpoint override (None: real AWS).
    pub fn new(endpoint_url: Option<String>) -> Self {
        Self { endpoint_url, calls: Arc::default(), limits: Arc::default(), kill_switch: None }
    }

    /// From `BUTLER_AWS_ENDPOINT_URL` (unset in production).
    pub fn from_env() -> Self {
        Self::new(std::env::var("BUTLER_AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()))
    }
}

/// Where and as whom to call AWS.
#[derive(Debug, Clone)]
pub struct AccountTarget {
    pub region: String,
    pub role_arn: Option<String>,
}

/// A connected account: clients for every service Butler uses, plus counting and rate limiting.
#[derive(Clone)]
pub struct AwsAccount {
    /// Names this account's rate-limit buckets (role, or region for the default chain).
    pub key: String,
    pub region: String,
    pub config: SdkConfig,
    pub settings: AwsSettings,
}

impl AwsAccount {
    /// Builds the SDK configuration for a target; assumes the role when one is given.
    pub async fn connect(settings: &AwsSettings, target: &AccountTarget) -> Self {
        // Throttling, 5xx and dropped connections are retried by the SDK, with exponential backoff and jitter and
        // a client-side retry quota, before a pass sees them: a failed pass starts again from its first step, so
        // one fault in the middle of it costs far more than one retried call. Retrying a create whose answer was
        // lost is safe: the SDK reuses the idempotency token where the API has one, and every adapter takes
        // "already exists" on a name or token that is the environment's own as made.
        let retry = RetryConfig::standard().with_max_attempts(AWS_ATTEMPTS);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()))
            .retry_config(retry.clone().with_initial_backoff(Duration::from_secs(1)));
        if let Some(endpoint) = &settings.endpoint_url {
            // The emulator answers at once: back off less, so fault tests measure calls rather than sleep.
            loader = loader
                .endpoint_url(endpoint.clone())
                .retry_config(retry.with_initial_backoff(Duration::from_millis(50)))
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(30)).build(),
                );
            if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
                loader = loader.credentials_provider(Credentials::new("testing", "testing", None, None, "emulator"));
            }
        }
        let base = loader.load().await;
        let config = match &target.role_arn {
            None => base,
            Some(role_arn) => {
                let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn.clone())
                    .session_name("butler")
                    .configure(&base)
                    .build()
                    .await;
                base.into_builder()
                    .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
                    .build()
            }
        };
        let key = format!("{}:{}", target.role_arn.as_deref().unwrap_or("default"), target.region);
        Self { key, region: target.region.clone(), config, settings: settings.clone() }
    }

    /// Makes one SDK call: waits for its rate-limit token, counts it, and classifies a failure (counted by
    /// its error code). Every adapter call goes through here.
    pub async fn call<T, E>(
        &self,
        operation: &'static str,
        family: ApiFamily,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.settings.limits.acquire(&self.key, family).await;
        self.settings.calls.record(operation);
        let output = request.await.map_err(|error| {
            let error = classify(operation, error);
            self.settings.calls.record_error(error.operation, &error.code);
            error
        })?;
        if let Some(switch) = &self.settings.kill_switch {
            switch.observe(operation).await;
        }
        Ok(output)
    }
}

/// Connected accounts by region and role, so a request handler that reads AWS (a log tail) assumes the role once,
/// not on every request (the SDK's assume-role provider then refreshes the credentials by itself).
#[derive(Default)]
pub struct Accounts(dashmap::DashMap<(String, Option<String>), AwsAccount>);

impl Accounts {
    /// The account for `target`, connected on first use.
    pub async fn get(&self, settings: &AwsSettings, target: &AccountTarget) -> AwsAccount {
        let key = (target.region.clone(), target.role_arn.clone());
        if let Some(account) = self.0.get(&key) {
            return account.clone();
        }
        let account = AwsAccount::connect(settings, target).await;
        self.0.insert(key, account.clone());
        account
    }
}
