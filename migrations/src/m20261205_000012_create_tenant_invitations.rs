//! Invitations to a tenant, by email: a tenant admin invites, the person accepts once signed in. Tenant admins
//! never learn whether an email has an account (an invitation answers the same either way).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000012_create_tenant_invitations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                CREATE TABLE tenant_invitations (
                    tenant     text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
                    email      text NOT NULL CHECK (email = lower(email)),
                    role       text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
                    invited_by text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz NOT NULL,
                    PRIMARY KEY (tenant, email)
                );
                CREATE INDEX tenant_invitations_email_idx ON tenant_invitations (email);
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE tenant_invitations;").await?;
        Ok(())
    }
}
