//! Each controller's token, by hash: the controller fetches its configuration from Butler with it, and Butler
//! has Jenkins reload with it. The token itself is in SSM, where ECS injects it.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::{postgres as statement, StoreError};

#[derive(FromQueryResult)]
struct HashRow {
    token_hash: String,
}

/// The hash of an environment's token, if it has one.
pub async fn hash(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<Option<String>, StoreError> {
    let sql = "SELECT token_hash FROM controller_tokens WHERE environment_uid = $1";
    Ok(HashRow::find_by_statement(statement(sql, vec![uid.into()])).one(db).await?.map(|row| row.token_hash))
}

/// Records the hash of the token in SSM (the same token again is a no-op).
pub async fn put(db: &impl ConnectionTrait, uid: uuid::Uuid, token_hash: &str) -> Result<(), StoreError> {
    let sql = "INSERT INTO controller_tokens (environment_uid, token_hash) VALUES ($1, $2)
               ON CONFLICT (environment_uid) DO UPDATE SET token_hash = excluded.token_hash";
    db.execute(statement(sql, vec![uid.into(), token_hash.into()])).await?;
    Ok(())
}

/// Forgets an environment's token (its teardown).
pub async fn delete(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<(), StoreError> {
    db.execute(statement("DELETE FROM controller_tokens WHERE environment_uid = $1", vec![uid.into()])).await?;
    Ok(())
}
