//! All database access. Every function that touches an environment takes its tenant.

pub mod api_tokens;
pub mod audit;
pub mod changes;
pub mod cloud_profiles;
pub mod costs;
pub mod entity;
pub mod environments;
pub mod events;
pub mod invitations;
pub mod queue;
pub mod sessions;
pub mod tenants;
pub mod users;

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{DbErr, SqlErr};

/// Statements this process has sent to PostgreSQL (`butler_db_queries_total` in /metrics): how benchmarks
/// count queries per page.
static QUERIES: AtomicU64 = AtomicU64::new(0);

/// Counts one statement (sea-orm's metric callback calls this for each).
pub fn count_query() {
    QUERIES.fetch_add(1, Ordering::Relaxed);
}

/// Statements sent so far.
pub fn queries() -> u64 {
    QUERIES.load(Ordering::Relaxed)
}

/// What can go wrong below the API, in terms the API can answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("{0}")]
    Conflict(String),
    #[error("database error")]
    Database(#[source] DbErr),
    #[error("stored data could not be read")]
    Corrupt(#[source] serde_json::Error),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::AlreadyExists,
            _ => Self::Database(error),
        }
    }
}

/// Announces that users, memberships, tokens or sessions changed (at commit, when inside a transaction), so
/// every process drops its cached identities.
pub async fn notify_identity_changed(db: &impl sea_orm::ConnectionTrait) -> Result<(), StoreError> {
    db.execute(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_notify($1, '')",
        [crate::auth::cache::CHANNEL.into()],
    ))
    .await?;
    Ok(())
}
