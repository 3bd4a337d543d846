//! Butler's OpenID Connect provider state: signing keys (the private part only ever stored encrypted), one
//! client per environment (the hash of its secret, its one redirect URI), and authorization codes (stored by
//! hash, taken at most once).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::StoreError;

fn statement(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// A signing key.
#[derive(Debug, Clone, FromQueryResult)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub public_jwk: serde_json::Value,
    pub encrypted_private_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str = "kid, algorithm, public_jwk, encrypted_private_key, created_at, retired_at";

/// Keys still published: the current one and those retired after `published_since` (their tokens may live).
pub async fn published_keys(
    db: &impl ConnectionTrait,
    published_since: DateTime<Utc>,
) -> Result<Vec<SigningKeyRow>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM oidc_signing_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC"
    );
    Ok(SigningKeyRow::find_by_statement(statement(&sql, vec![published_since.into()])).all(db).await?)
}

/// Stores a new current key and retires the one before it, in one statement each inside the caller's transaction.
pub async fn add_key(db: &impl ConnectionTrait, key: &SigningKeyRow) -> Result<(), StoreError> {
    db.execute(statement("UPDATE oidc_signing_keys SET retired_at = now() WHERE retired_at IS NULL", vec![])).await?;
    let sql =
        "INSERT INTO oidc_signing_keys (kid, algorithm, public_jwk, encrypted_private_key) VALUES ($1, $2, $3, $4)";
    db.execute(statement(
        sql,
        vec![
            key.kid.clone().into(),
            key.algorithm.clone().into(),
            key.public_jwk.clone().into(),
            key.encrypted_private_key.clone().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// An environment's client.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ClientRow {
    pub client_id: String,
    pub environment_uid: uuid::Uuid,
    pub tenant: String,
    pub name: String,
    pub secret_hash: String,
    pub redirect_uri: String,
    pub post_logout_redirect_uri: String,
    pub secret_pending: bool,
    pub secret_version: i32,
    pub rotated_at: DateTime<Utc>,
}

const CLIENT_COLUMNS: &str = "client_id, environment_uid, tenant, name, secret_hash, redirect_uri, \
                              post_logout_redirect_uri, secret_pending, secret_version, rotated_at";

/// A client by id.
pub async fn client(db: &impl ConnectionTrait, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE client_id = $1");
    Ok(ClientRow::find_by_statement(statement(&sql, vec![client_id.into()])).one(db).await?)
}

/// The client of an environment.
pub async fn client_of(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<Option<ClientRow>, StoreError> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE environment_uid = $1");
    Ok(ClientRow::find_by_statement(statement(&sql, vec![uid.into()])).one(db).await?)
}

/// Records a new secret (its hash) for an environment's client, pending until the secret is in SSM; creates the
/// client the first time. The redirect URIs are the environment's own.
pub async fn begin_secret(
    db: &impl ConnectionTrait,
    client_id: &str,
    (tenant, name, uid): (&str, &str, uuid::Uuid),
    secret_hash: &str,
    (redirect_uri, post_logout_redirect_uri): (&str, &str),
) -> Result<ClientRow, StoreError> {
    let sql = format!(
        "INSERT INTO oidc_clients (client_id, environment_uid, tenant, name, secret_hash, redirect_uri,
                                   post_logout_redirect_uri, secret_pending)
         VALUES ($1, $2, $3, $4, $5, $6, $7, true)
         ON CONFLICT (environment_uid) DO UPDATE SET secret_hash = excluded.secret_hash, secret_pending = true,
             redirect_uri = excluded.redirect_uri, post_logout_redirect_uri = excluded.post_logout_redirect_uri,
             secret_version = oidc_clients.secret_version + 1, rotated_at = now()
         RETURNING {CLIENT_COLUMNS}"
    );
    let values = vec![
        client_id.into(),
        uid.into(),
        tenant.into(),
        name.into(),
        secret_hash.into(),
        redirect_uri.into(),
        post_logout_redirect_uri.into(),
    ];
    ClientRow::find_by_statement(statement(&sql, values)).one(db).await?.ok_or(StoreError::NotFound)
}

/// The secret of this version is in SSM: the client may use it.
pub async fn finish_secret(db: &impl ConnectionTrait, uid: uuid::Uuid, version: i32) -> Result<(), StoreError> {
    let sql = "UPDATE oidc_clients SET secret_pending = false WHERE environment_uid = $1 AND secret_version = $2";
    db.execute(statement(sql, vec![uid.into(), version.into()])).await?;
    Ok(())
}

/// Asks for a new secret (the reconciler makes it): the client's secret is pending from now.
pub async fn request_rotation(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<bool, StoreError> {
    let sql = "UPDATE oidc_clients SET secret_pending = true WHERE environment_uid = $1";
    Ok(db.execute(statement(sql, vec![uid.into()])).await?.rows_affected() > 0)
}

/// Keeps the client's redirect URIs on the environment's current address.
pub async fn set_redirects(
    db: &impl ConnectionTrait,
    uid: uuid::Uuid,
    (redirect_uri, post_logout_redirect_uri): (&str, &str),
) -> Result<(), StoreError> {
    let sql = "UPDATE oidc_clients SET redirect_uri = $2, post_logout_redirect_uri = $3 WHERE environment_uid = $1";
    db.execute(statement(sql, vec![uid.into(), redirect_uri.into(), post_logout_redirect_uri.into()])).await?;
    Ok(())
}

/// Forgets an environment's client (its environment is gone).
pub async fn remove_client(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<(), StoreError> {
    db.execute(statement("DELETE FROM oidc_clients WHERE environment_uid = $1", vec![uid.into()])).await?;
    Ok(())
}

/// An authorization code as issued.
#[derive(Debug, Clone, FromQueryResult)]
pub struct CodeRow {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: uuid::Uuid,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new code by its hash.
pub async fn add_code(db: &impl ConnectionTrait, code_hash: &str, code: &CodeRow) -> Result<(), StoreError> {
    let sql = "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, user_id, nonce, code_challenge, scope,
                                       expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    db.execute(statement(
        sql,
        vec![
            code_hash.into(),
            code.client_id.clone().into(),
            code.redirect_uri.clone().into(),
            code.user_id.into(),
            code.nonce.clone().into(),
            code.code_challenge.clone().into(),
            code.scope.clone().into(),
            code.expires_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Takes a code: at most once, ever (a second take finds it used). None when unknown or already used.
pub async fn take_code(db: &impl ConnectionTrait, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
    let sql = "UPDATE oidc_codes SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL
               RETURNING client_id, redirect_uri, user_id, nonce, code_challenge, scope, expires_at";
    Ok(CodeRow::find_by_statement(statement(sql, vec![code_hash.into()])).one(db).await?)
}

/// Drops codes that expired before `before`.
pub async fn drop_expired_codes(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let sql = "DELETE FROM oidc_codes WHERE expires_at < $1";
    Ok(db.execute(statement(sql, vec![before.into()])).await?.rows_affected())
}
