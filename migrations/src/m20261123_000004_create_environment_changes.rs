//! The change log behind watch: one row per write, keyed by resourceVersion, compacted by age.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000004_create_environment_changes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                CREATE TABLE environment_changes (
                    resource_version bigint PRIMARY KEY,
                    tenant           text NOT NULL,
                    name             text NOT NULL,
                    change_type      text NOT NULL CHECK (change_type IN ('ADDED', 'MODIFIED', 'DELETED')),
                    object           jsonb NOT NULL,
                    recorded_at      timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX environment_changes_tenant_idx ON environment_changes (tenant, resource_version);

                -- The highest resourceVersion compaction has removed; a watch from before it gets 410 Gone.
                CREATE TABLE change_log_compaction (
                    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    compacted_through bigint NOT NULL
                );
                INSERT INTO change_log_compaction (compacted_through) VALUES (0);
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE change_log_compaction; DROP TABLE environment_changes;")
            .await?;
        Ok(())
    }
}
