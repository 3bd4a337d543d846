//! Identity and tenancy: users, memberships with roles, API tokens, browser sessions, tenant quotas.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000005_create_identity"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                ALTER TABLE tenants
                    ADD COLUMN max_environments integer NOT NULL DEFAULT 20 CHECK (max_environments >= 0),
                    ADD COLUMN max_instances integer NOT NULL DEFAULT 100 CHECK (max_instances >= 0),
                    ADD COLUMN cloud_profile text NOT NULL DEFAULT 'default';

                CREATE TABLE users (
                    id                uuid PRIMARY KEY,
                    -- stored lower-cased: email addresses compare case-insensitively here
                    email             text NOT NULL UNIQUE CHECK (email = lower(email)),
                    password_hash     text NOT NULL,
                    disabled          boolean NOT NULL DEFAULT false,
                    is_platform_admin boolean NOT NULL DEFAULT false,
                    created_at        timestamptz NOT NULL DEFAULT now()
                );

                CREATE TABLE memberships (
                    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    tenant     text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
                    role       text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (user_id, tenant)
                );
                CREATE INDEX memberships_tenant_idx ON memberships (tenant);

                CREATE TABLE api_tokens (
                    id           uuid PRIMARY KEY,
                    tenant       text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
                    name         text NOT NULL,
                    role         text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
                    -- SHA-256 of the secret; the secret itself is shown once and never stored
                    token_hash   text NOT NULL UNIQUE,
                    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
                    created_at   timestamptz NOT NULL DEFAULT now(),
                    expires_at   timestamptz,
                    revoked_at   timestamptz,
                    last_used_at timestamptz
                );
                CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (tenant, name) WHERE revoked_at IS NULL;

                CREATE TABLE sessions (
                    id         uuid PRIMARY KEY,
                    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                    csrf_token text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz NOT NULL,
                    revoked_at timestamptz
                );
                CREATE INDEX sessions_user_idx ON sessions (user_id);
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                DROP TABLE sessions; DROP TABLE api_tokens; DROP TABLE memberships; DROP TABLE users;
                ALTER TABLE tenants DROP COLUMN max_environments, DROP COLUMN max_instances, DROP COLUMN cloud_profile;
                "#,
            )
            .await?;
        Ok(())
    }
}
