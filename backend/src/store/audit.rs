//! The audit log: appended in the transaction of the change it records; read with filters and keyset pages.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::StoreError;
use crate::domain::actor::ActorKind;

/// Who did it and from where; carried from the request into the write.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: String,
    pub actor_kind: ActorKind,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
}

impl AuditContext {
    /// Butler itself (the reconciler, bootstrap, command-line administration).
    pub fn system(actor: &str) -> Self {
        Self { actor: format!("system:{actor}"), actor_kind: ActorKind::System, request_id: None, client_address: None }
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub context: &'a AuditContext,
    pub tenant: Option<&'a str>,
    pub action: &'a str,
    pub resource_kind: &'a str,
    pub resource_name: Option<&'a str>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    pub outcome: &'a str,
    pub status_code: u16,
    pub detail: Option<&'a str>,
}

/// Appends an entry (inside the caller's transaction when given one).
pub async fn append(db: &impl ConnectionTrait, entry: &AuditEntry<'_>) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        r#"INSERT INTO audit_log (actor, actor_kind, tenant, action, resource_kind, resource_name, generation_before,
                                  generation_after, request_id, client_address, outcome, status_code, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"#,
        [
            entry.context.actor.clone().into(),
            entry.context.actor_kind.as_str().into(),
            entry.tenant.map(str::to_owned).into(),
            entry.action.into(),
            entry.resource_kind.into(),
            entry.resource_name.map(str::to_owned).into(),
            entry.generation_before.into(),
            entry.generation_after.into(),
            entry.context.request_id.clone().into(),
            entry.context.client_address.clone().into(),
            entry.outcome.into(),
            i32::from(entry.status_code).into(),
            entry.detail.map(str::to_owned).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A stored entry as the API shows it.
#[derive(Debug, Clone, FromQueryResult, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub actor_kind: String,
    pub tenant: Option<String>,
    pub action: String,
    pub resource_kind: String,
    pub resource_name: Option<String>,
    pub generation_before: Option<i64>,
    pub generation_after: Option<i64>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub outcome: String,
    pub status_code: i32,
    pub detail: Option<String>,
}

/// Filters for reading the log; `tenants` limits a tenant admin to their own.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries older than this id (keyset pagination, newest first).
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// Entries matching the filter, newest first.
pub async fn list(db: &impl ConnectionTrait, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
    let sql = r#"SELECT id, occurred_at, actor, actor_kind, tenant, action, resource_kind, resource_name,
                        generation_before, generation_after, request_id, client_address, outcome, status_code, detail
                 FROM audit_log
                 WHERE ($1::text IS NULL OR tenant = $1)
                   AND ($2::text IS NULL OR actor = $2)
                   AND ($3::text IS NULL OR action = $3)
                   AND ($4::timestamptz IS NULL OR occurred_at >= $4)
                   AND ($5::timestamptz IS NULL OR occurred_at < $5)
                   AND ($6::bigint IS NULL OR id < $6)
                 ORDER BY id DESC
                 LIMIT $7"#;
    Ok(AuditRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            filter.tenant.clone().into(),
            filter.actor.clone().into(),
            filter.action.clone().into(),
            filter.since.into(),
            filter.until.into(),
            filter.before_id.into(),
            (filter.limit as i64).into(),
        ],
    ))
    .all(db)
    .await?)
}

impl<'a> AuditEntry<'a> {
    /// An allowed change answered with `status_code`.
    pub fn allowed(context: &'a AuditContext, action: &'a str, resource_kind: &'a str, status_code: u16) -> Self {
        Self {
            context,
            tenant: None,
            action,
            resource_kind,
            resource_name: None,
            generation_before: None,
            generation_after: None,
            outcome: "allowed",
            status_code,
            detail: None,
        }
    }

    /// In this tenant.
    pub(crate) fn in_tenant(mut self, tenant: &'a str) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Of this resource.
    pub fn named(mut self, name: &'a str) -> Self {
        self.resource_name = Some(name);
        self
    }

    /// With a note for people.
    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// How many spec changes (replaces and patches that bumped the generation) the tenant made in the last
/// `seconds`, and how many seconds until the oldest of them leaves that window.
pub(crate) async fn recent_spec_changes(
    db: &impl ConnectionTrait,
    tenant: &str,
    seconds: i64,
) -> Result<(i64, i64), StoreError> {
    #[derive(sea_orm::FromQueryResult)]
    struct Recent {
        changes: i64,
        wait: Option<f64>,
    }
    let row = Recent::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT count(*) AS changes, \
                EXTRACT(EPOCH FROM (min(occurred_at) + make_interval(secs => $2::double precision) - now()))::float8 \
                  AS wait \
         FROM audit_log WHERE tenant = $1 AND occurred_at > now() - make_interval(secs => $2::double precision) \
           AND action IN ('jenkinsenvironment.replace', 'jenkinsenvironment.patch') AND outcome = 'allowed' \
           AND generation_after > generation_before",
        [tenant.into(), (seconds as f64).into()],
    ))
    .one(db)
    .await?;
    Ok(row.map_or((0, 0), |r| (r.changes, r.wait.unwrap_or(0.0).ceil().max(1.0) as i64)))
}
