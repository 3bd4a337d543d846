//! API tokens: stored as SHA-256 digests, scoped to a tenant and role, revocable, with last-used time.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::StoreError;

/// A stored token (never its secret).
#[derive(Debug, Clone, FromQueryResult, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRow {
    pub id: Uuid,
    pub tenant: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub token_hash: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, tenant, name, role, token_hash, created_by, created_at, expires_at, revoked_at, last_used_at";

fn statement(sql: String, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Stores a new token; `AlreadyExists` when a live token of the tenant has the name.
pub async fn create(
    db: &impl ConnectionTrait,
    tenant: &str,
    name: &str,
    role: &str,
    digest: &str,
    created_by: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<TokenRow, StoreError> {
    let sql = format!(
        "INSERT INTO api_tokens (id, tenant, name, role, token_hash, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    );
    let values = vec![
        Uuid::new_v4().into(),
        tenant.into(),
        name.into(),
        role.into(),
        digest.into(),
        created_by.into(),
        expires_at.into(),
    ];
    TokenRow::find_by_statement(statement(sql, values)).one(db).await?.ok_or(StoreError::NotFound)
}

/// The live (not revoked, not expired) token with this digest, with the role it carries *now*: never more than
/// its creator has today. A token dies with its creator's access: the creator disabled, or neither a member of
/// the token's tenant any more nor a platform admin. (Tokens without a creator were made by the CLI.)
pub(crate) async fn find_live_by_digest(
    db: &impl ConnectionTrait,
    digest: &str,
) -> Result<Option<TokenRow>, StoreError> {
    let columns = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {} FROM ( \
           SELECT {columns}, \
             CASE WHEN t.created_by IS NULL OR u.is_platform_admin THEN t.role \
                  WHEN m.role IS NULL THEN NULL \
                  ELSE (ARRAY['viewer', 'editor', 'admin'])[LEAST( \
                        array_position(ARRAY['viewer', 'editor', 'admin'], t.role), \
                        array_position(ARRAY['viewer', 'editor', 'admin'], m.role))] END AS effective_role \
           FROM api_tokens t \
           LEFT JOIN users u ON u.id = t.created_by \
           LEFT JOIN memberships m ON m.user_id = t.created_by AND m.tenant = t.tenant \
           WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) \
             AND (t.created_by IS NULL OR (u.id IS NOT NULL AND NOT u.disabled)) \
         ) live WHERE effective_role IS NOT NULL",
        COLUMNS.replace("role", "effective_role AS role")
    );
    Ok(TokenRow::find_by_statement(statement(sql, vec![digest.into()])).one(db).await?)
}

/// Records use, at most once a minute per token (a write per request would cost more than the request).
pub(crate) async fn touch(db: &impl ConnectionTrait, id: Uuid) -> Result<(), StoreError> {
    db.execute(statement(
        "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"
            .into(),
        vec![id.into()],
    ))
    .await?;
    Ok(())
}

/// The tenant's tokens, newest first (revoked ones included, marked).
pub async fn list(db: &impl ConnectionTrait, tenant: &str) -> Result<Vec<TokenRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE tenant = $1 ORDER BY created_at DESC");
    Ok(TokenRow::find_by_statement(statement(sql, vec![tenant.into()])).all(db).await?)
}

/// Revokes a token of the tenant; None when there is no such token.
pub async fn revoke(db: &impl ConnectionTrait, tenant: &str, id: Uuid) -> Result<Option<TokenRow>, StoreError> {
    let sql = format!(
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE tenant = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    let revoked = TokenRow::find_by_statement(statement(sql, vec![tenant.into(), id.into()])).one(db).await?;
    super::notify_identity_changed(db).await?;
    Ok(revoked)
}
