//! The reconcile queue on `jenkins_environments`: fair claims with `FOR UPDATE SKIP LOCKED` leases, renewal,
//! completion that never loses a change made meanwhile, release on shutdown, and health figures.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::StoreError;

/// A claimed environment.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Claim {
    pub uid: Uuid,
    pub tenant: String,
    pub name: String,
    /// The generation when claimed: a newer one at completion means "again, now".
    pub generation: i64,
    /// Whether deletion had been requested when claimed.
    pub deleting: bool,
    /// Failures in a row before this attempt.
    pub attempts: i32,
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Claims up to `limit` due environments for `owner` for `lease`.
///
/// Fair across tenants: due rows are ranked within their tenant (a new generation or a deletion first, then
/// the longest waiting) and taken rank by rank, so every tenant's first row goes before any tenant's second;
/// between tenants, the one served least recently goes first, so a tenant with 500 due environments and a
/// tenant with one alternate even when claims are taken one at a time. Rows another worker holds are skipped,
/// never waited for.
pub async fn claim(
    db: &impl ConnectionTrait,
    owner: &str,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Claim>, StoreError> {
    let sql = r#"
        WITH due AS (
            SELECT uid, tenant, next_reconcile_at,
                   (generation > coalesce((status ->> 'observedGeneration')::bigint, 0)
                    OR deletion_timestamp IS NOT NULL) AS urgent
            FROM jenkins_environments
            WHERE next_reconcile_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
        ), served AS (
            SELECT tenant, max(last_claimed_at) AS last_served
            FROM jenkins_environments
            WHERE tenant IN (SELECT DISTINCT tenant FROM due)
            GROUP BY tenant
        ), ranked AS (
            SELECT due.uid, due.urgent, due.next_reconcile_at, served.last_served,
                   row_number() OVER (PARTITION BY due.tenant ORDER BY due.urgent DESC, due.next_reconcile_at)
                       AS rank_in_tenant
            FROM due JOIN served USING (tenant)
        ), chosen AS (
            SELECT e.uid
            FROM jenkins_environments e
            JOIN ranked r ON r.uid = e.uid
            WHERE e.next_reconcile_at <= now() AND (e.lease_expires_at IS NULL OR e.lease_expires_at < now())
            ORDER BY r.rank_in_tenant, r.last_served NULLS FIRST, r.urgent DESC, r.next_reconcile_at
            LIMIT $3
            FOR UPDATE OF e SKIP LOCKED
        )
        UPDATE jenkins_environments e
        SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2), last_claimed_at = clock_timestamp()
        FROM chosen
        WHERE e.uid = chosen.uid
        RETURNING e.uid, e.tenant, e.name, e.generation, (e.deletion_timestamp IS NOT NULL) AS deleting, e.attempts"#;
    Ok(Claim::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [owner.into(), seconds(lease).into(), i64::from(limit).into()],
    ))
    .all(db)
    .await?)
}

/// Extends a lease still held by `owner`; false when it was lost (expired and taken by another worker).
pub async fn renew(db: &impl ConnectionTrait, uid: Uuid, owner: &str, lease: Duration) -> Result<bool, StoreError> {
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE jenkins_environments SET lease_expires_at = now() + make_interval(secs => $3) \
             WHERE uid = $1 AND lease_owner = $2",
            [uid.into(), owner.into(), seconds(lease).into()],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// How a reconcile ended, for the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Completion {
    /// Success: look again after this long (a resync, or sooner while waiting on AWS).
    Succeeded { next_in: Duration },
    /// Failure: `attempts` goes up, try again after this long.
    Failed { next_in: Duration },
}

/// Ends a claim. A change made while the reconcile ran (new generation, deletion requested) makes the row due
/// at once, whatever the outcome asked for: a burst of edits becomes one more reconcile of the latest.
pub async fn complete(
    db: &impl ConnectionTrait,
    claim: &Claim,
    owner: &str,
    completion: Completion,
) -> Result<bool, StoreError> {
    let (next_in, failed) = match completion {
        Completion::Succeeded { next_in } => (next_in, false),
        Completion::Failed { next_in } => (next_in, true),
    };
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"UPDATE jenkins_environments
               SET lease_owner = NULL,
                   lease_expires_at = NULL,
                   attempts = CASE WHEN $4 THEN attempts + 1 ELSE 0 END,
                   next_reconcile_at = CASE
                       WHEN generation <> $5 OR (deletion_timestamp IS NOT NULL) <> $6 THEN now()
                       ELSE now() + make_interval(secs => $3)
                   END
               WHERE uid = $1 AND lease_owner = $2"#,
            [
                claim.uid.into(),
                owner.into(),
                seconds(next_in).into(),
                failed.into(),
                claim.generation.into(),
                claim.deleting.into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Makes one environment due now (a request that needs a full pass, such as a secret rotation).
pub(crate) async fn make_due(db: &impl ConnectionTrait, uid: Uuid) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE jenkins_environments SET next_reconcile_at = now(), attempts = 0 WHERE uid = $1",
        [uid.into()],
    ))
    .await?;
    Ok(())
}

/// Makes every environment of the tenants using cloud profile `profile` due now, with a clean slate of
/// attempts: a changed profile (a role, an AMI) is the change a permanent failure waits for.
pub(crate) async fn make_due_for_profile(db: &impl ConnectionTrait, profile: &str) -> Result<u64, StoreError> {
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"UPDATE jenkins_environments SET next_reconcile_at = now(), attempts = 0
               WHERE tenant IN (SELECT name FROM tenants WHERE cloud_profile = $1)"#,
            [profile.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Makes due now the environments of `profile` whose last content check is older than `checked_before`: the
/// profile's batched look was just taken, and their checks can share it.
pub(crate) async fn make_content_checks_due(
    db: &impl ConnectionTrait,
    profile: &str,
    checked_before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"UPDATE jenkins_environments SET next_reconcile_at = now()
               WHERE tenant IN (SELECT name FROM tenants WHERE cloud_profile = $1)
                 AND (status->>'lastContentCheckTime')::timestamptz < $2
                 AND next_reconcile_at > now()"#,
            [profile.into(), checked_before.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Makes every environment of `tenant` due now (the tenant moved to another cloud profile).
pub(crate) async fn make_due_for_tenant(db: &impl ConnectionTrait, tenant: &str) -> Result<u64, StoreError> {
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE jenkins_environments SET next_reconcile_at = now(), attempts = 0 WHERE tenant = $1",
            [tenant.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Gives back every lease `owner` holds (graceful shutdown): the rows are due again for others at once.
pub(crate) async fn release_all(db: &impl ConnectionTrait, owner: &str) -> Result<u64, StoreError> {
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE jenkins_environments SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
            [owner.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// What `/readyz` and metrics say about the queue (a claim loop that died must not stay silent).
#[derive(Debug, Clone, Copy, Default, FromQueryResult, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueHealth {
    pub due: i64,
    pub oldest_due_seconds: f64,
    pub expired_leases: i64,
    pub leased: i64,
}

/// Counts due rows, the age of the oldest, and leases that expired without being renewed.
pub async fn health(db: &impl ConnectionTrait) -> Result<QueueHealth, StoreError> {
    let row = QueueHealth::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        r#"SELECT count(*) FILTER (WHERE next_reconcile_at <= now() AND lease_owner IS NULL) AS due,
                  coalesce(extract(epoch FROM now() - min(next_reconcile_at) FILTER (
                      WHERE next_reconcile_at <= now() AND lease_owner IS NULL)), 0)::float8 AS oldest_due_seconds,
                  count(*) FILTER (WHERE lease_expires_at < now()) AS expired_leases,
                  count(*) FILTER (WHERE lease_expires_at >= now()) AS leased
           FROM jenkins_environments"#,
    ))
    .one(db)
    .await?;
    Ok(row.unwrap_or_default())
}
