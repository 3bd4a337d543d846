//! The change log: resourceVersion allocation in commit order, the rows watch replays, and compaction.
//!
//! Every write takes the next resourceVersion under one transaction-scoped advisory lock and holds it to commit,
//! so resourceVersion order is commit order (as etcd's revision is). That is what makes "everything after N" a
//! complete answer for a resuming watch, and a gap can only be a rolled-back write, never a late commit.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};

use super::entity::environment_change;
use super::StoreError;

/// The NOTIFY channel every committed change is announced on (payload: its resourceVersion).
pub(crate) const CHANNEL: &str = "butler_changes";
/// Advisory lock key serialising resourceVersion allocation ("butler rv").
const RESOURCE_VERSION_LOCK: i64 = 0x6275_746c_6572_7276;

/// ADDED, MODIFIED or DELETED, as a Kubernetes watch says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    /// The stored and streamed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ADDED" => Self::Added,
            "DELETED" => Self::Deleted,
            _ => Self::Modified,
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub(crate) struct ChangeRow {
    pub resource_version: i64,
    pub change_type: ChangeType,
    pub object: serde_json::Value,
}

impl From<environment_change::Model> for ChangeRow {
    fn from(row: environment_change::Model) -> Self {
        Self {
            resource_version: row.resource_version,
            change_type: ChangeType::parse(&row.change_type),
            object: row.object,
        }
    }
}

#[derive(FromQueryResult)]
struct Number {
    value: Option<i64>,
}

async fn number(db: &impl ConnectionTrait, sql: &str) -> Result<Option<i64>, StoreError> {
    let row = Number::find_by_statement(Statement::from_string(DbBackend::Postgres, sql)).one(db).await?;
    Ok(row.and_then(|r| r.value))
}

/// Takes the resourceVersion lock for the rest of the transaction and allocates the next resourceVersion.
/// Call it as late as possible in a write transaction: the lock is held until commit.
pub(crate) async fn next_resource_version(txn: &impl ConnectionTrait) -> Result<i64, StoreError> {
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [RESOURCE_VERSION_LOCK.into()],
    ))
    .await?;
    number(txn, "SELECT nextval('resource_version_seq') AS value")
        .await?
        .ok_or_else(|| StoreError::Conflict("resource_version_seq returned nothing".into()))
}

/// Appends a change to the log and announces it; both take effect at commit.
pub async fn append(
    txn: &impl ConnectionTrait,
    resource_version: i64,
    change_type: ChangeType,
    tenant: &str,
    name: &str,
    object: &serde_json::Value,
) -> Result<(), StoreError> {
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        r#"WITH logged AS (
               INSERT INTO environment_changes (resource_version, tenant, name, change_type, object)
               VALUES ($1, $2, $3, $4, $5)
               RETURNING resource_version)
           SELECT pg_notify($6, resource_version::text) FROM logged"#,
        [
            resource_version.into(),
            tenant.into(),
            name.into(),
            change_type.as_str().into(),
            object.clone().into(),
            CHANNEL.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Changes after `after` in resourceVersion order, optionally for one tenant, at most `limit`.
pub(crate) async fn since(
    db: &impl ConnectionTrait,
    after: i64,
    tenant: Option<&str>,
    limit: u64,
) -> Result<Vec<ChangeRow>, StoreError> {
    let mut query = environment_change::Entity::find()
        .filter(environment_change::Column::ResourceVersion.gt(after))
        .order_by_asc(environment_change::Column::ResourceVersion)
        .limit(limit);
    if let Some(tenant) = tenant {
        query = query.filter(environment_change::Column::Tenant.eq(tenant));
    }
    Ok(query.all(db).await?.into_iter().map(ChangeRow::from).collect())
}

/// The highest resourceVersion compaction has removed; a watch must start at or after it.
pub async fn compacted_through(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    Ok(number(db, "SELECT compacted_through AS value FROM change_log_compaction").await?.unwrap_or(0))
}

/// The newest committed resourceVersion visible to this snapshot.
pub(crate) async fn head(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let newest = number(db, "SELECT max(resource_version) AS value FROM environment_changes").await?;
    match newest {
        Some(newest) => Ok(newest),
        None => compacted_through(db).await,
    }
}

/// Removes changes recorded before `before`, always keeping the newest one so `head` stays exact.
/// Returns whether anything was compacted.
pub async fn compact(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<bool, StoreError> {
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"WITH doomed AS (
                   DELETE FROM environment_changes
                   WHERE recorded_at < $1
                     AND resource_version < (SELECT max(resource_version) FROM environment_changes)
                   RETURNING resource_version)
               UPDATE change_log_compaction
               SET compacted_through = GREATEST(compacted_through, (SELECT max(resource_version) FROM doomed))
               WHERE EXISTS (SELECT 1 FROM doomed)"#,
            [before.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}

/// A committed change, to apply to this process's cache at once (read-your-writes) before NOTIFY brings it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub resource_version: i64,
    pub change_type: ChangeType,
}
