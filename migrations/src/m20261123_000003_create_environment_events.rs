//! Events per environment (Normal/Warning), deduplicated by type, reason and message with a count.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_create_environment_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                CREATE TABLE environment_events (
                    id              bigserial PRIMARY KEY,
                    environment_uid uuid NOT NULL REFERENCES jenkins_environments (uid) ON DELETE CASCADE,
                    tenant          text NOT NULL,
                    event_type      text NOT NULL CHECK (event_type IN ('Normal', 'Warning')),
                    reason          text NOT NULL,
                    message         text NOT NULL,
                    count           integer NOT NULL DEFAULT 1,
                    first_seen      timestamptz NOT NULL DEFAULT now(),
                    last_seen       timestamptz NOT NULL DEFAULT now(),
                    CONSTRAINT environment_events_dedup_key UNIQUE (environment_uid, event_type, reason, message)
                );
                CREATE INDEX environment_events_recent_idx ON environment_events (environment_uid, last_seen DESC);
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE environment_events;").await?;
        Ok(())
    }
}
