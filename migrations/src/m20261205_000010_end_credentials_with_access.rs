//! When a user's credentials last changed (a password reset, the account disabled): JWTs issued before it are
//! refused. API tokens are checked against their creator's current access at every lookup (no column needed).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000010_end_credentials_with_access"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE users ADD COLUMN credentials_changed_at timestamptz;")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE users DROP COLUMN credentials_changed_at;").await?;
        Ok(())
    }
}
