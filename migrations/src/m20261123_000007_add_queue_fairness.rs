//! When each environment was last claimed, so claims rotate across tenants (least recently served first).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000007_add_queue_fairness"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                ALTER TABLE jenkins_environments ADD COLUMN last_claimed_at timestamptz;
                CREATE INDEX jenkins_environments_tenant_claimed_idx ON jenkins_environments (tenant, last_claimed_at);
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE jenkins_environments DROP COLUMN last_claimed_at;")
            .await?;
        Ok(())
    }
}
