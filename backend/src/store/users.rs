//! Users and their memberships.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::StoreError;

/// A stored user (the hash never leaves the store except to be verified).
#[derive(Debug, Clone, FromQueryResult)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub disabled: bool,
    pub is_platform_admin: bool,
    pub created_at: DateTime<Utc>,
    /// The last password reset or disabling: JWTs issued before it are refused.
    pub credentials_changed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, email, password_hash, disabled, is_platform_admin, created_at, credentials_changed_at";

fn statement(sql: String, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Creates a user; `AlreadyExists` when the email is taken.
pub async fn create(
    db: &impl ConnectionTrait,
    email: &str,
    password_hash: &str,
    platform_admin: bool,
) -> Result<UserRow, StoreError> {
    let sql = format!(
        "INSERT INTO users (id, email, password_hash, is_platform_admin) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    );
    let values = vec![Uuid::new_v4().into(), email.to_lowercase().into(), password_hash.into(), platform_admin.into()];
    UserRow::find_by_statement(statement(sql, values)).one(db).await?.ok_or(StoreError::NotFound)
}

/// Finds a user by email (case-insensitive).
pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    Ok(UserRow::find_by_statement(statement(sql, vec![email.to_lowercase().into()])).one(db).await?)
}

/// Finds a user by id.
pub(crate) async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(UserRow::find_by_statement(statement(sql, vec![id.into()])).one(db).await?)
}

/// Users by email, after `after`, at most `limit`.
pub async fn list(db: &impl ConnectionTrait, after: &str, limit: u64) -> Result<Vec<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email > $1 ORDER BY email LIMIT $2");
    Ok(UserRow::find_by_statement(statement(sql, vec![after.into(), (limit as i64).into()])).all(db).await?)
}

/// How many users exist (bootstrap runs only when none do).
pub async fn count(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    #[derive(FromQueryResult)]
    struct Count {
        count: i64,
    }
    let row = Count::find_by_statement(statement("SELECT count(*) AS count FROM users".into(), vec![])).one(db).await?;
    Ok(row.map_or(0, |r| r.count))
}

/// Changes what is given; returns the updated user.
pub async fn update(
    db: &impl ConnectionTrait,
    id: Uuid,
    disabled: Option<bool>,
    platform_admin: Option<bool>,
    password_hash: Option<&str>,
) -> Result<Option<UserRow>, StoreError> {
    let sql = format!(
        "UPDATE users SET disabled = coalesce($2, disabled), is_platform_admin = coalesce($3, is_platform_admin), \
         password_hash = coalesce($4, password_hash), \
         credentials_changed_at = CASE WHEN $4 IS NOT NULL OR ($2 AND NOT disabled) THEN now() \
                                       ELSE credentials_changed_at END \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let values = vec![id.into(), disabled.into(), platform_admin.into(), password_hash.map(str::to_owned).into()];
    let updated = UserRow::find_by_statement(statement(sql, values)).one(db).await?;
    if password_hash.is_some() || disabled == Some(true) {
        // A reset or a disabling ends every browser session of the account at once.
        db.execute(statement("DELETE FROM sessions WHERE user_id = $1".into(), vec![id.into()])).await?;
    }
    super::notify_identity_changed(db).await?;
    Ok(updated)
}

/// `(tenant, role)` for every membership of a user.
pub(crate) async fn memberships_of(db: &impl ConnectionTrait, user: Uuid) -> Result<Vec<(String, String)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Membership {
        tenant: String,
        role: String,
    }
    let sql = "SELECT tenant, role FROM memberships WHERE user_id = $1 ORDER BY tenant".to_owned();
    let rows = Membership::find_by_statement(statement(sql, vec![user.into()])).all(db).await?;
    Ok(rows.into_iter().map(|m| (m.tenant, m.role)).collect())
}

/// A member of a tenant, as listed.
#[derive(Debug, Clone, FromQueryResult, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// The tenant's members by email.
pub async fn members(db: &impl ConnectionTrait, tenant: &str) -> Result<Vec<MemberRow>, StoreError> {
    let sql = "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
               WHERE m.tenant = $1 ORDER BY u.email"
        .to_owned();
    Ok(MemberRow::find_by_statement(statement(sql, vec![tenant.into()])).all(db).await?)
}

/// Sets a user's role in a tenant (adds the membership if needed).
pub async fn set_membership(db: &impl ConnectionTrait, tenant: &str, user: Uuid, role: &str) -> Result<(), StoreError> {
    db.execute(statement(
        "INSERT INTO memberships (user_id, tenant, role) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, tenant) DO UPDATE SET role = excluded.role"
            .into(),
        vec![user.into(), tenant.into(), role.into()],
    ))
    .await?;
    super::notify_identity_changed(db).await
}

/// Removes a membership; false when there was none.
pub(crate) async fn remove_membership(db: &impl ConnectionTrait, tenant: &str, user: Uuid) -> Result<bool, StoreError> {
    let result = db
        .execute(statement(
            "DELETE FROM memberships WHERE tenant = $1 AND user_id = $2".into(),
            vec![tenant.into(), user.into()],
        ))
        .await?;
    super::notify_identity_changed(db).await?;
    Ok(result.rows_affected() > 0)
}
