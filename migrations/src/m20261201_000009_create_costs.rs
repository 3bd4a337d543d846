//! Cost metering: samples per environment and period (they outlive the environment: no foreign key), the
//! intervals already metered (exactly once across processes), cached Spot prices, and admin price overrides.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000009_create_costs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
                CREATE TABLE cost_samples (
                    environment_uid uuid NOT NULL,
                    tenant          text NOT NULL,
                    environment     text NOT NULL,
                    period_start    timestamptz NOT NULL,
                    period_end      timestamptz NOT NULL,
                    instance_hours  jsonb NOT NULL,
                    spot_hours      double precision NOT NULL,
                    on_demand_hours double precision NOT NULL,
                    cost            double precision NOT NULL,
                    on_demand_cost  double precision NOT NULL,
                    efs_gb          double precision NOT NULL,
                    efs_cost        double precision NOT NULL,
                    estimated       boolean NOT NULL,
                    PRIMARY KEY (environment_uid, period_end),
                    CHECK (period_end > period_start)
                );
                CREATE INDEX cost_samples_tenant_end_idx ON cost_samples (tenant, period_end);
                CREATE INDEX cost_samples_end_idx ON cost_samples (period_end);
                -- Samples summed per environment and UTC day (of period_end), kept with the samples in the same
                -- transaction: reports over months read days, not every five-minute sample.
                CREATE TABLE cost_daily (
                    environment_uid uuid NOT NULL,
                    day             date NOT NULL,
                    tenant          text NOT NULL,
                    environment     text NOT NULL,
                    cost            double precision NOT NULL,
                    on_demand_cost  double precision NOT NULL,
                    spot_hours      double precision NOT NULL,
                    on_demand_hours double precision NOT NULL,
                    efs_gb_hours    double precision NOT NULL,
                    PRIMARY KEY (environment_uid, day)
                );
                CREATE INDEX cost_daily_tenant_day_idx ON cost_daily (tenant, day);
                -- Instances of an environment's ASG replaced while it ran Spot, per UTC day (seen by the reconciler).
                CREATE TABLE spot_interruptions (
                    environment_uid uuid NOT NULL,
                    day             date NOT NULL,
                    tenant          text NOT NULL,
                    environment     text NOT NULL,
                    count           integer NOT NULL,
                    PRIMARY KEY (environment_uid, day)
                );
                CREATE TABLE meter_intervals (
                    interval_end timestamptz PRIMARY KEY,
                    metered_by   text NOT NULL,
                    environments integer NOT NULL,
                    finished_at  timestamptz NOT NULL DEFAULT now()
                );
                CREATE TABLE spot_prices (
                    region            text NOT NULL,
                    instance_type     text NOT NULL,
                    availability_zone text NOT NULL,
                    usd               double precision NOT NULL,
                    observed_at       timestamptz NOT NULL,
                    PRIMARY KEY (region, instance_type, availability_zone)
                );
                CREATE TABLE tenant_budgets (
                    tenant      text PRIMARY KEY REFERENCES tenants (name) ON DELETE CASCADE,
                    monthly_usd double precision NOT NULL CHECK (monthly_usd > 0),
                    updated_by  text NOT NULL,
                    updated_at  timestamptz NOT NULL DEFAULT now()
                );
                -- One row per tenant, month and threshold crossed: the crossing is recorded once.
                CREATE TABLE budget_alerts (
                    tenant     text NOT NULL,
                    month      date NOT NULL,
                    threshold  integer NOT NULL CHECK (threshold IN (80, 100)),
                    basis      text NOT NULL CHECK (basis IN ('actual', 'projected')),
                    spent_usd  double precision NOT NULL,
                    projected_usd double precision NOT NULL,
                    budget_usd double precision NOT NULL,
                    crossed_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (tenant, month, threshold)
                );
                CREATE TABLE price_list (
                    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                    list       jsonb NOT NULL,
                    updated_by text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                "#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE spot_interruptions; DROP TABLE cost_daily; DROP TABLE budget_alerts; DROP TABLE tenant_budgets; DROP TABLE price_list; DROP TABLE spot_prices; DROP TABLE meter_intervals; DROP TABLE cost_samples;")
            .await?;
        Ok(())
    }
}
