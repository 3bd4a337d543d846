//! Cloud profiles: where a tenant's environments run (region, VPC, subnets, role to assume, Cloud Map namespace).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000008_create_cloud_profiles"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                CREATE TABLE cloud_profiles (
                    name           text PRIMARY KEY CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$'),
                    region         text NOT NULL,
                    vpc_id         text NOT NULL,
                    subnet_ids     jsonb NOT NULL,
                    role_arn       text,
                    ami_id         text,
                    namespace_name text NOT NULL DEFAULT 'jenkins.local',
                    -- filled in by the reconciler once it has created (or found) the shared namespace
                    namespace_id   text,
                    created_at     timestamptz NOT NULL DEFAULT now(),
                    updated_at     timestamptz NOT NULL DEFAULT now()
                );
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE cloud_profiles;").await?;
        Ok(())
    }
}
