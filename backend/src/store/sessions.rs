//! Browser sessions: the cookie's JWT names one; logout revokes it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::StoreError;

/// A live session.
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct SessionRow {
    pub user_id: Uuid,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Starts a session.
pub async fn create(
    db: &impl ConnectionTrait,
    user: Uuid,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO sessions (id, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        [id.into(), user.into(), csrf_token.into(), expires_at.into()],
    ))
    .await?;
    Ok(id)
}

/// The session if it is neither revoked nor expired.
pub(crate) async fn find_live(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<SessionRow>, StoreError> {
    Ok(SessionRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, user_id, csrf_token, expires_at FROM sessions \
         WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()",
        [id.into()],
    ))
    .one(db)
    .await?)
}

/// Ends a session.
pub async fn revoke(db: &impl ConnectionTrait, id: Uuid) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
        [id.into()],
    ))
    .await?;
    super::notify_identity_changed(db).await
}
