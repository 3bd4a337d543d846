//! Configuration from environment variables (`BUTLER_` prefix, plus `DATABASE_URL`); errors name the variable.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// Everything Butler reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL connection string; may hold a password, so it is never logged.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub listen: SocketAddr,
    /// How long watch history is kept; a watch from an older resourceVersion gets 410 Gone.
    pub watch_history: Duration,
    pub log_format: LogFormat,
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
            listen: parsed(&lookup, "BUTLER_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            watch_history: Duration::from_secs(parsed(&lookup, "BUTLER_WATCH_HISTORY_SECONDS", 3600)?),
            log_format,
        })
    }
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
