//! Team credentials (only what may be shown: id, type, description, who changed it and when; the value lives in
//! AWS Secrets Manager), each controller's token (its hash: the controller fetches its configuration and has it
//! reloaded with the token, which lives in SSM) and the configuration it is served (and the one before, to go back
//! to when Jenkins refuses a new one or ECS rolls a revision back).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000017_create_credentials_and_controller_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE environment_credentials (
                     environment_uid uuid NOT NULL,
                     credential_id text NOT NULL,
                     tenant text NOT NULL,
                     credential_type text NOT NULL,
                     description text NOT NULL DEFAULT '',
                     username text,
                     file_name text,
                     secret_arn text NOT NULL,
                     updated_at timestamptz NOT NULL DEFAULT now(),
                     updated_by text NOT NULL,
                     PRIMARY KEY (environment_uid, credential_id)
                 );
                 CREATE TABLE controller_tokens (
                     environment_uid uuid PRIMARY KEY,
                     token_hash text NOT NULL,
                     created_at timestamptz NOT NULL DEFAULT now()
                 );
                 CREATE TABLE controller_configurations (
                     environment_uid uuid PRIMARY KEY,
                     hash text NOT NULL,
                     document text NOT NULL,
                     previous_hash text,
                     previous_document text,
                     updated_at timestamptz NOT NULL DEFAULT now()
                 );",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DROP TABLE controller_configurations; DROP TABLE controller_tokens; DROP TABLE environment_credentials;",
            )
            .await?;
        Ok(())
    }
}
