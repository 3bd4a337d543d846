//! What Butler last found about a cloud profile's way to the internet (its subnets' default routes): the
//! controller downloads its plugins at every start, so a profile without egress would crash-loop every controller.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000013_add_profile_egress"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE cloud_profiles ADD COLUMN egress jsonb;").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE cloud_profiles DROP COLUMN egress;").await?;
        Ok(())
    }
}
