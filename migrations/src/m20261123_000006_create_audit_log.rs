//! The audit log: append-only (a trigger refuses UPDATE and DELETE), written in the transaction of the change.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000006_create_audit_log"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                CREATE TABLE audit_log (
                    id                bigserial PRIMARY KEY,
                    occurred_at       timestamptz NOT NULL DEFAULT now(),
                    actor             text NOT NULL,
                    actor_kind        text NOT NULL CHECK (actor_kind IN ('user', 'token', 'anonymous', 'system')),
                    tenant            text,
                    action            text NOT NULL,
                    resource_kind     text NOT NULL,
                    resource_name     text,
                    generation_before bigint,
                    generation_after  bigint,
                    request_id        text,
                    client_address    text,
                    outcome           text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'unauthenticated')),
                    status_code       integer NOT NULL,
                    detail            text
                );
                CREATE INDEX audit_log_tenant_idx ON audit_log (tenant, id DESC);
                CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at DESC);

                CREATE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION 'audit_log is append-only';
                END;
                $$ LANGUAGE plpgsql;
                CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
                    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE audit_log; DROP FUNCTION audit_log_is_append_only();")
            .await?;
        Ok(())
    }
}
