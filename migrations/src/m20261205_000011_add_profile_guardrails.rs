//! A cloud profile's guard rails (allowed image repositories, instance types, the EFS throughput cap); `{}`
//! means Butler's defaults.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000011_add_profile_guardrails"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE cloud_profiles ADD COLUMN guardrails jsonb NOT NULL DEFAULT '{}';")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE cloud_profiles DROP COLUMN guardrails;").await?;
        Ok(())
    }
}
