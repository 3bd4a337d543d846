//! A cloud profile's HTTP proxy: where subnets reach the internet only through a proxy (no NAT), the controller
//! downloads its plugins and talks to AWS through it.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000014_add_profile_proxy"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE cloud_profiles ADD COLUMN proxy jsonb;").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE cloud_profiles DROP COLUMN proxy;").await?;
        Ok(())
    }
}
