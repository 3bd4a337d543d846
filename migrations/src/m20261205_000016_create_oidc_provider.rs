//! Butler as an OpenID Connect provider: its signing keys (the private part encrypted), one client per
//! environment (the secret's hash; the secret itself lives in SSM for the controller), and one-time
//! authorization codes (only their hash is stored).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000016_create_oidc_provider"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE oidc_signing_keys (
                     kid text PRIMARY KEY,
                     algorithm text NOT NULL,
                     public_jwk jsonb NOT NULL,
                     encrypted_private_key bytea NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now(),
                     retired_at timestamptz
                 );
                 CREATE TABLE oidc_clients (
                     client_id text PRIMARY KEY,
                     environment_uid uuid NOT NULL UNIQUE,
                     tenant text NOT NULL,
                     name text NOT NULL,
                     secret_hash text NOT NULL,
                     redirect_uri text NOT NULL,
                     post_logout_redirect_uri text NOT NULL,
                     secret_pending boolean NOT NULL DEFAULT true,
                     secret_version integer NOT NULL DEFAULT 1,
                     rotated_at timestamptz NOT NULL DEFAULT now()
                 );
                 CREATE TABLE oidc_codes (
                     code_hash text PRIMARY KEY,
                     client_id text NOT NULL,
                     redirect_uri text NOT NULL,
                     user_id uuid NOT NULL,
                     nonce text,
                     code_challenge text NOT NULL,
                     scope text NOT NULL,
                     expires_at timestamptz NOT NULL,
                     used_at timestamptz
                 );
                 CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE oidc_codes; DROP TABLE oidc_clients; DROP TABLE oidc_signing_keys;")
            .await?;
        Ok(())
    }
}
