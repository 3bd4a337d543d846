//! All database access. Every function that touches an environment takes its tenant.

pub mod api_tokens;
pub mod audit;
pub mod budgets;
pub mod changes;
pub mod cloud_profiles;
pub mod controller_tokens;
pub mod cost_report;
pub mod costs;
pub mod credentials;
pub mod entity;
pub mod environments;
pub mod events;
pub mod invitations;
pub mod load_balancers;
pub mod oidc;
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
pub(crate) fn count_query() {
    QUERIES.fetch_add(1, Ordering::Relaxed);
}

/// Statements sent so far.
pub fn queries() -> u64 {
    QUERIES.load(Ordering::Relaxed)
}

/// A PostgreSQL statement with positional values (`$1`, `$2`…).
pub(crate) fn postgres(sql: &str, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
    sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
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
    /// The database cannot be reached (down, restarting, the pool exhausted past its timeout): worth a retry.
    #[error("the database is not reachable")]
    Unavailable(#[source] DbErr),
    #[error("stored data could not be read")]
    Corrupt(#[source] serde_json::Error),
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        if is_unavailable(&error) {
            return Self::Unavailable(error);
        }
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::AlreadyExists,
            _ => Self::Database(error),
        }
    }
}

/// Whether an error says the database could not be reached (as opposed to refusing a statement): no connection
/// from the pool in time, a connection lost, or a server shutting down or starting up (SQLSTATE classes 08 and
/// 57P: connection exceptions, admin shutdown, cannot connect now).
pub(crate) fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let sqlx_error = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx_error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// The channel on which identity changes are announced (`auth::cache` listens and drops its entries).
pub(crate) const IDENTITY_CHANNEL: &str = "butler_identity";

/// Announces that users, memberships, tokens or sessions changed (at commit, when inside a transaction), so
/// every process drops its cached identities.
pub(crate) async fn notify_identity_changed(db: &impl sea_orm::ConnectionTrait) -> Result<(), StoreError> {
    db.execute(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_notify($1, '')",
        [IDENTITY_CHANNEL.into()],
    ))
    .await?;
    Ok(())
}
