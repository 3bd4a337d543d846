//! Configuration from environment variables (`BUTLER_` prefix, plus `DATABASE_URL`); errors name the variable.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// Shortest JWT signing secret accepted (bytes): HS256 wants a key at least as long as its hash.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

/// Everything Butler reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL connection string; may hold a password, so it is never logged.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// How long a request waits for a database connection before answering 503.
    pub database_acquire_timeout: Duration,
    pub listen: SocketAddr,
    /// How long watch history is kept; a watch from an older resourceVersion gets 410 Gone.
    pub watch_history: Duration,
    pub log_format: LogFormat,
    /// Signs JWTs (`BUTLER_JWT_SECRET`, or the file named by `BUTLER_JWT_SECRET_FILE`); `serve` needs it.
    pub jwt_secret: Option<SecretString>,
    /// Secrets of earlier keys that still verify (`BUTLER_JWT_PREVIOUS_SECRETS`, comma-separated).
    pub jwt_previous_secrets: Vec<SecretString>,
    pub jwt_ttl: Duration,
    pub session_ttl: Duration,
    /// Mark the session cookie Secure and send HSTS: on by default when `BUTLER_PUBLIC_URL` is https.
    pub secure_cookies: bool,
    /// Where people reach Butler (`BUTLER_PUBLIC_URL`), if set.
    pub public_url: Option<String>,
    /// A bearer token a metrics scraper may present on `/metrics` (`BUTLER_METRICS_TOKEN`); platform admins may
    /// read it with their own credentials.
    pub metrics_token: Option<SecretString>,
    pub bootstrap_admin: Option<(String, SecretString)>,
    pub default_max_environments: i32,
    pub default_max_instances: i32,
    /// Run the reconciler in this process (`BUTLER_RECONCILE`, default true; `butler worker` always does).
    pub reconcile: bool,
    pub reconcile_concurrency: usize,
    /// How long a claim on an environment lasts unrenewed (`BUTLER_RECONCILE_LEASE_SECONDS`, default 60): after a
    /// replica dies, the others take its environments over this long after its last renewal.
    pub reconcile_lease: Duration,
    /// Periodic resync of converged environments (drift detection), jittered ±5 %.
    pub resync: Duration,
    /// How often a converged environment gets a full content check of every resource instead of the two-read
    /// probe (`BUTLER_CONTENT_CHECK_SECONDS`, default an hour).
    pub content_check: Duration,
    /// How often the cost meter samples every environment (`BUTLER_METER_SECONDS`, default 300).
    pub meter_interval: Duration,
    /// How long a shared load balancer with no environment left stays before the pool sweep deletes it
    /// (`BUTLER_LOAD_BALANCER_GRACE_SECONDS`, default an hour).
    pub load_balancer_grace: Duration,
    /// An AWS endpoint override (`BUTLER_AWS_ENDPOINT_URL`: the emulator); unset in production.
    pub aws_endpoint_url: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// A variable that is missing or does not parse; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database_url = required(&lookup, "DATABASE_URL")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "must be a postgres:// or postgresql:// URL".into(),
            });
        }
        let log_format = match optional(&lookup, "BUTLER_LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "BUTLER_LOG_FORMAT",
                    reason: format!("{other:?} is neither json nor pretty"),
                })
            }
        };
        Ok(Self {
            database_url: SecretString::from(database_url),
            database_max_connections: parsed(&lookup, "BUTLER_DATABASE_MAX_CONNECTIONS", 20)?,
            database_acquire_timeout: Duration::from_secs(parsed(
                &lookup,
                "BUTLER_DATABASE_ACQUIRE_TIMEOUT_SECONDS",
                3,
            )?),
            listen: parsed(&lookup, "BUTLER_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            watch_history: Duration::from_secs(parsed(&lookup, "BUTLER_WATCH_HISTORY_SECONDS", 3600)?),
            log_format,
            jwt_secret: jwt_secret(&lookup)?,
            jwt_previous_secrets: optional(&lookup, "BUTLER_JWT_PREVIOUS_SECRETS")
                .map(|all| all.split(',').map(|s| SecretString::from(s.trim().to_owned())).collect())
                .unwrap_or_default(),
            jwt_ttl: Duration::from_secs(parsed(&lookup, "BUTLER_JWT_TTL_SECONDS", 3600)?),
            session_ttl: Duration::from_secs(parsed(&lookup, "BUTLER_SESSION_TTL_SECONDS", 12 * 3600)?),
            secure_cookies: parsed(
                &lookup,
                "BUTLER_SECURE_COOKIES",
                optional(&lookup, "BUTLER_PUBLIC_URL").is_some_and(|url| url.starts_with("https://")),
            )?,
            public_url: optional(&lookup, "BUTLER_PUBLIC_URL"),
            metrics_token: optional(&lookup, "BUTLER_METRICS_TOKEN").map(SecretString::from),
            bootstrap_admin: match (
                optional(&lookup, "BUTLER_BOOTSTRAP_ADMIN_EMAIL"),
                optional(&lookup, "BUTLER_BOOTSTRAP_ADMIN_PASSWORD"),
            ) {
                (Some(email), Some(password)) => Some((email, SecretString::from(password))),
                (None, None) => None,
                (Some(_), None) => return Err(ConfigError::Missing("BUTLER_BOOTSTRAP_ADMIN_PASSWORD")),
                (None, Some(_)) => return Err(ConfigError::Missing("BUTLER_BOOTSTRAP_ADMIN_EMAIL")),
            },
            default_max_environments: parsed(&lookup, "BUTLER_DEFAULT_MAX_ENVIRONMENTS", 20)?,
            default_max_instances: parsed(&lookup, "BUTLER_DEFAULT_MAX_INSTANCES", 100)?,
            reconcile: parsed(&lookup, "BUTLER_RECONCILE", true)?,
            reconcile_concurrency: parsed(&lookup, "BUTLER_RECONCILE_CONCURRENCY", 8)?,
            reconcile_lease: Duration::from_secs(parsed::<u64>(&lookup, "BUTLER_RECONCILE_LEASE_SECONDS", 60)?.max(3)),
            resync: Duration::from_secs(parsed(&lookup, "BUTLER_RESYNC_SECONDS", 600)?),
            content_check: Duration::from_secs(parsed(&lookup, "BUTLER_CONTENT_CHECK_SECONDS", 3600)?),
            meter_interval: Duration::from_secs(parsed::<u64>(&lookup, "BUTLER_METER_SECONDS", 300)?.max(60)),
            // An hour: a team that deletes its last environment and makes a new one soon gets the same balancer
            // (and DNS name) back.
            load_balancer_grace: Duration::from_secs(parsed(&lookup, "BUTLER_LOAD_BALANCER_GRACE_SECONDS", 3600)?),
            aws_endpoint_url: optional(&lookup, "BUTLER_AWS_ENDPOINT_URL"),
        })
    }
}

fn jwt_secret(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<SecretString>, ConfigError> {
    let secret = match (optional(lookup, "BUTLER_JWT_SECRET"), optional(lookup, "BUTLER_JWT_SECRET_FILE")) {
        (Some(secret), _) => secret,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|text| text.trim().to_owned())
            .map_err(|e| ConfigError::Invalid { name: "BUTLER_JWT_SECRET_FILE", reason: format!("{path}: {e}") })?,
        (None, None) => return Ok(None),
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::Invalid {
            name: "BUTLER_JWT_SECRET",
            reason: format!("must be at least {} bytes", MIN_SECRET_BYTES),
        });
    }
    Ok(Some(SecretString::from(secret)))
}

fn optional(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Option<String> {
    lookup(name).filter(|value| !value.trim().is_empty())
}

fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or(ConfigError::Missing(name))
}

fn parsed<T>(lookup: &impl Fn(&str) -> Option<String>, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(lookup, name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|error: T::Err| ConfigError::Invalid { name, reason: format!("{text:?}: {error}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn missing_database_url_names_the_variable() {
        let error = config(&[]).expect_err("missing");
        assert_eq!(error.to_string(), "environment variable DATABASE_URL is required but not set");
    }

    #[test]
    fn bad_listen_address_names_the_variable() {
        let error = config(&[("DATABASE_URL", "postgres://x/y"), ("BUTLER_LISTEN", "nowhere")]).expect_err("bad");
        assert!(error.to_string().starts_with("environment variable BUTLER_LISTEN is invalid"), "{error}");
    }

    #[test]
    fn defaults_apply() {
        let config = config(&[("DATABASE_URL", "postgres://x/y")]).expect("valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }
}
