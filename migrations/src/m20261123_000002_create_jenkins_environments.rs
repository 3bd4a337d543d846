//! JenkinsEnvironment rows: Kubernetes-style metadata, spec and status, and the reconcile queue columns.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_create_jenkins_environments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                -- One global, gap-tolerant counter like etcd's revision: every write takes the next value
                -- under a transaction-level advisory lock, so resourceVersion order is commit order and a
                -- watch can resume from any resourceVersion.
                CREATE SEQUENCE resource_version_seq AS bigint;

                CREATE TABLE jenkins_environments (
                    uid                uuid PRIMARY KEY,
                    tenant             text NOT NULL REFERENCES tenants (name) ON UPDATE RESTRICT ON DELETE RESTRICT,
                    name               text NOT NULL,
                    generation         bigint NOT NULL CHECK (generation >= 1),
                    resource_version   bigint NOT NULL,
                    labels             jsonb NOT NULL DEFAULT '{}'::jsonb,
                    annotations        jsonb NOT NULL DEFAULT '{}'::jsonb,
                    finalizers         jsonb NOT NULL DEFAULT '[]'::jsonb,
                    creation_timestamp timestamptz NOT NULL,
                    deletion_timestamp timestamptz,
                    spec               jsonb NOT NULL,
                    status             jsonb NOT NULL,
                    -- the reconcile queue (claimed with FOR UPDATE SKIP LOCKED by the reconciler)
                    next_reconcile_at  timestamptz NOT NULL DEFAULT now(),
                    lease_owner        text,
                    lease_expires_at   timestamptz,
                    attempts           integer NOT NULL DEFAULT 0,
                    CONSTRAINT jenkins_environments_tenant_name_key UNIQUE (tenant, name)
                );
                CREATE INDEX jenkins_environments_labels_idx ON jenkins_environments USING gin (labels jsonb_path_ops);
                CREATE INDEX jenkins_environments_due_idx ON jenkins_environments (next_reconcile_at);
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE jenkins_environments; DROP SEQUENCE resource_version_seq;")
            .await?;
        Ok(())
    }
}
