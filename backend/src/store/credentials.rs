//! What Butler shows of an environment's credentials (id, type, description, username or file name, who changed
//! it and when) and where the value is (its Secrets Manager ARN). Never a value.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use super::{postgres as statement, StoreError};

/// One credential.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult, serde::Serialize)]
pub struct CredentialRow {
    #[serde(skip)]
    pub environment_uid: uuid::Uuid,
    #[serde(rename = "id")]
    pub credential_id: String,
    #[serde(skip)]
    pub tenant: String,
    #[serde(rename = "type")]
    pub credential_type: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(rename = "fileName", skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(skip)]
    pub secret_arn: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "updatedBy")]
    pub updated_by: String,
}

const COLUMNS: &str =
    "environment_uid, credential_id, tenant, credential_type, description, username, file_name, secret_arn, \
     updated_at, updated_by";

/// The environment's credentials, by id.
pub async fn list(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<Vec<CredentialRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM environment_credentials WHERE environment_uid = $1 ORDER BY credential_id");
    Ok(CredentialRow::find_by_statement(statement(&sql, vec![uid.into()])).all(db).await?)
}

/// One credential.
pub async fn find(db: &impl ConnectionTrait, uid: uuid::Uuid, id: &str) -> Result<Option<CredentialRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM environment_credentials WHERE environment_uid = $1 AND credential_id = $2");
    Ok(CredentialRow::find_by_statement(statement(&sql, vec![uid.into(), id.into()])).one(db).await?)
}

/// Records a credential written to Secrets Manager (new, or replacing the row of the same id).
pub async fn upsert(db: &impl ConnectionTrait, row: &CredentialRow) -> Result<CredentialRow, StoreError> {
    let sql = format!(
        "INSERT INTO environment_credentials ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9)
         ON CONFLICT (environment_uid, credential_id) DO UPDATE SET credential_type = excluded.credential_type,
             description = excluded.description, username = excluded.username, file_name = excluded.file_name,
             secret_arn = excluded.secret_arn, updated_at = now(), updated_by = excluded.updated_by
         RETURNING {COLUMNS}"
    );
    let values = vec![
        row.environment_uid.into(),
        row.credential_id.clone().into(),
        row.tenant.clone().into(),
        row.credential_type.clone().into(),
        row.description.clone().into(),
        row.username.clone().into(),
        row.file_name.clone().into(),
        row.secret_arn.clone().into(),
        row.updated_by.clone().into(),
    ];
    CredentialRow::find_by_statement(statement(&sql, values)).one(db).await?.ok_or(StoreError::NotFound)
}

/// Forgets one credential; whether there was one.
pub async fn delete(db: &impl ConnectionTrait, uid: uuid::Uuid, id: &str) -> Result<bool, StoreError> {
    let sql = "DELETE FROM environment_credentials WHERE environment_uid = $1 AND credential_id = $2";
    Ok(db.execute(statement(sql, vec![uid.into(), id.into()])).await?.rows_affected() > 0)
}

/// Forgets every credential of an environment (its teardown).
pub async fn delete_all(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<(), StoreError> {
    db.execute(statement("DELETE FROM environment_credentials WHERE environment_uid = $1", vec![uid.into()])).await?;
    Ok(())
}
