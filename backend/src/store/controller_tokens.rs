//! Each controller's token, by hash (the controller fetches its configuration from Butler with it, and Butler has
//! Jenkins reload with it; the token itself is in SSM, where ECS injects it), and the configuration it is served:
//! the one Butler applied last, not what the spec says now, so a controller that restarts mid-change (a drain, a
//! rollback) gets a document its revision can run.

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

/// Forgets an environment's token and configurations (its teardown).
pub async fn delete(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<(), StoreError> {
    db.execute(statement("DELETE FROM controller_tokens WHERE environment_uid = $1", vec![uid.into()])).await?;
    db.execute(statement("DELETE FROM controller_configurations WHERE environment_uid = $1", vec![uid.into()])).await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct DocumentRow {
    document: String,
}

/// Serves `document` (its `hash`) to the controller from now on, keeping the one it replaces to go back to. The
/// same hash again changes nothing.
pub async fn serve(db: &impl ConnectionTrait, uid: uuid::Uuid, hash: &str, document: &str) -> Result<(), StoreError> {
    let sql = "INSERT INTO controller_configurations (environment_uid, hash, document) VALUES ($1, $2, $3)
               ON CONFLICT (environment_uid) DO UPDATE SET
                   previous_hash = controller_configurations.hash,
                   previous_document = controller_configurations.document,
                   hash = excluded.hash, document = excluded.document, updated_at = now()
               WHERE controller_configurations.hash <> excluded.hash";
    db.execute(statement(sql, vec![uid.into(), hash.into(), document.into()])).await?;
    Ok(())
}

/// Goes back to the configuration served before the current one (when there is one).
pub async fn restore_previous(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<(), StoreError> {
    let sql = "UPDATE controller_configurations SET hash = previous_hash, document = previous_document,
                   previous_hash = NULL, previous_document = NULL, updated_at = now()
               WHERE environment_uid = $1 AND previous_hash IS NOT NULL";
    db.execute(statement(sql, vec![uid.into()])).await?;
    Ok(())
}

/// The configuration the controller is served, if any.
pub async fn served(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<Option<String>, StoreError> {
    let sql = "SELECT document FROM controller_configurations WHERE environment_uid = $1";
    Ok(DocumentRow::find_by_statement(statement(sql, vec![uid.into()])).one(db).await?.map(|row| row.document))
}
