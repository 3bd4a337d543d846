//! Ingress: a cloud profile's `ingress` section, its pool of shared load balancers (one row per slot, made by
//! whichever pass first needs it), and where each environment is placed (its slot and listener rule priority).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000015_create_load_balancer_pool"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE cloud_profiles ADD COLUMN ingress jsonb;
                 CREATE TABLE load_balancers (
                     profile text NOT NULL,
                     slot integer NOT NULL,
                     name text NOT NULL UNIQUE,
                     arn text,
                     dns_name text,
                     canonical_zone_id text,
                     security_group_id text,
                     https_listener_arn text,
                     http_listener_arn text,
                     empty_since timestamptz,
                     retiring boolean NOT NULL DEFAULT false,
                     created_at timestamptz NOT NULL DEFAULT now(),
                     PRIMARY KEY (profile, slot)
                 );
                 CREATE TABLE ingress_placements (
                     environment_uid uuid PRIMARY KEY,
                     profile text NOT NULL,
                     slot integer NOT NULL,
                     priority integer NOT NULL,
                     tenant text NOT NULL,
                     name text NOT NULL,
                     placed_at timestamptz NOT NULL DEFAULT now(),
                     FOREIGN KEY (profile, slot) REFERENCES load_balancers (profile, slot),
                     UNIQUE (profile, slot, priority)
                 );",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DROP TABLE ingress_placements; DROP TABLE load_balancers;
                 ALTER TABLE cloud_profiles DROP COLUMN ingress;",
            )
            .await?;
        Ok(())
    }
}
