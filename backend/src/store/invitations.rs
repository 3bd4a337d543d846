//! Invitations to a tenant, by email: made by its admins, taken by the person they name once signed in.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::StoreError;

/// How long an invitation stays open.
pub(crate) const INVITATION_DAYS: i64 = 14;

/// An open invitation.
#[derive(Debug, Clone, FromQueryResult, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationRow {
    pub tenant: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str = "tenant, email, role, invited_by, created_at, expires_at";

fn statement(sql: String, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Invites `email` (normalized by the caller) with `role`; a second invitation replaces the first.
pub async fn invite(
    db: &impl ConnectionTrait,
    tenant: &str,
    email: &str,
    role: &str,
    invited_by: &str,
) -> Result<InvitationRow, StoreError> {
    let sql = format!(
        "INSERT INTO tenant_invitations (tenant, email, role, invited_by, expires_at) \
         VALUES ($1, $2, $3, $4, now() + make_interval(days => $5::int)) \
         ON CONFLICT (tenant, email) DO UPDATE SET role = excluded.role, invited_by = excluded.invited_by, \
           created_at = now(), expires_at = excluded.expires_at \
         RETURNING {COLUMNS}"
    );
    let values = vec![tenant.into(), email.into(), role.into(), invited_by.into(), (INVITATION_DAYS as i32).into()];
    InvitationRow::find_by_statement(statement(sql, values)).one(db).await?.ok_or(StoreError::NotFound)
}

/// A tenant's open invitations, by email.
pub(crate) async fn of_tenant(db: &impl ConnectionTrait, tenant: &str) -> Result<Vec<InvitationRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM tenant_invitations WHERE tenant = $1 AND expires_at > now() ORDER BY email");
    Ok(InvitationRow::find_by_statement(statement(sql, vec![tenant.into()])).all(db).await?)
}

/// The open invitations naming `email`.
pub(crate) async fn for_email(db: &impl ConnectionTrait, email: &str) -> Result<Vec<InvitationRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM tenant_invitations WHERE email = $1 AND expires_at > now() ORDER BY tenant");
    Ok(InvitationRow::find_by_statement(statement(sql, vec![email.into()])).all(db).await?)
}

/// Takes (deletes and returns) the open invitation of `email` to `tenant`.
pub async fn take(db: &impl ConnectionTrait, tenant: &str, email: &str) -> Result<Option<InvitationRow>, StoreError> {
    let sql = format!(
        "DELETE FROM tenant_invitations WHERE tenant = $1 AND email = $2 AND expires_at > now() RETURNING {COLUMNS}"
    );
    Ok(InvitationRow::find_by_statement(statement(sql, vec![tenant.into(), email.into()])).one(db).await?)
}

/// Withdraws an invitation; false when there was none.
pub(crate) async fn withdraw(db: &impl ConnectionTrait, tenant: &str, email: &str) -> Result<bool, StoreError> {
    let result = db
        .execute(statement(
            "DELETE FROM tenant_invitations WHERE tenant = $1 AND email = $2".into(),
            vec![tenant.into(), email.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}
