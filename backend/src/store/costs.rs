//! Cost samples, metered intervals, cached Spot prices and the admin price list, in SQL. A meter pass runs in
//! one transaction under an advisory lock, so passes never overlap and a crashed pass leaves nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::StoreError;
use crate::domain::cost_arithmetic::PeriodCost;
use crate::domain::prices::PriceList;

/// The advisory lock key of the meter (one pass at a time across every process).
const METER_LOCK: i64 = 0x6275_746c_6572_6d74; // "butlermt"

/// Takes the meter's lock for the transaction; false when another process holds it.
pub(crate) async fn try_lock_meter(txn: &impl ConnectionTrait) -> Result<bool, StoreError> {
    #[derive(FromQueryResult)]
    struct Locked {
        locked: bool,
    }
    let row = Locked::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_try_advisory_xact_lock($1) AS locked",
        [METER_LOCK.into()],
    ))
    .one(txn)
    .await?;
    Ok(row.is_some_and(|r| r.locked))
}

/// Whether an interval has been metered already.
pub(crate) async fn interval_done(db: &impl ConnectionTrait, interval_end: DateTime<Utc>) -> Result<bool, StoreError> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM meter_intervals WHERE interval_end = $1",
            [interval_end.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// Records an interval as metered.
pub(crate) async fn finish_interval(
    db: &impl ConnectionTrait,
    interval_end: DateTime<Utc>,
    owner: &str,
    environments: i32,
) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO meter_intervals (interval_end, metered_by, environments) VALUES ($1, $2, $3)",
        [interval_end.into(), owner.into(), environments.into()],
    ))
    .await?;
    Ok(())
}

/// An environment to meter: who, since when, in which profile.
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct Meterable {
    pub uid: Uuid,
    pub tenant: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub cloud_profile: String,
    /// The end of its last sample, if it has one.
    pub metered_until: Option<DateTime<Utc>>,
}

/// Every environment with where its metering left off.
pub(crate) async fn meterable(db: &impl ConnectionTrait) -> Result<Vec<Meterable>, StoreError> {
    Ok(Meterable::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        "SELECT e.uid, e.tenant, e.name, e.creation_timestamp AS created_at, t.cloud_profile, s.metered_until \
         FROM jenkins_environments e JOIN tenants t ON t.name = e.tenant \
         LEFT JOIN (SELECT environment_uid, max(period_end) AS metered_until FROM cost_samples GROUP BY environment_uid) s \
           ON s.environment_uid = e.uid",
    ))
    .all(db)
    .await?)
}

/// Stores a sample; a period already stored for the environment is left alone (never counted twice).
pub(crate) async fn insert_sample(
    db: &impl ConnectionTrait,
    environment: &Meterable,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    cost: &PeriodCost,
) -> Result<bool, StoreError> {
    let hours = serde_json::to_value(&cost.instance_hours).map_err(StoreError::Corrupt)?;
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO cost_samples (environment_uid, tenant, environment, period_start, period_end, instance_hours, \
                 spot_hours, on_demand_hours, cost, on_demand_cost, efs_gb, efs_cost, estimated) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 \
             WHERE NOT EXISTS (SELECT 1 FROM cost_samples WHERE environment_uid = $1 AND period_end > $4) \
             ON CONFLICT DO NOTHING",
            [
                environment.uid.into(),
                environment.tenant.clone().into(),
                environment.name.clone().into(),
                period_start.into(),
                period_end.into(),
                hours.into(),
                cost.spot_hours.into(),
                cost.on_demand_hours.into(),
                cost.cost.into(),
                cost.on_demand_cost.into(),
                cost.efs_gb.into(),
                cost.efs_cost.into(),
                cost.estimated.into(),
            ],
        ))
        .await?;
    if result.rows_affected() != 1 {
        return Ok(false);
    }
    // The day's running totals, in the same transaction as the sample.
    let hours = (period_end - period_start).num_milliseconds() as f64 / 3_600_000.0;
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO cost_daily (environment_uid, day, tenant, environment, cost, on_demand_cost, spot_hours, \
             on_demand_hours, efs_gb_hours) \
         VALUES ($1, ($2 AT TIME ZONE 'UTC')::date, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (environment_uid, day) DO UPDATE SET cost = cost_daily.cost + excluded.cost, \
             on_demand_cost = cost_daily.on_demand_cost + excluded.on_demand_cost, \
             spot_hours = cost_daily.spot_hours + excluded.spot_hours, \
             on_demand_hours = cost_daily.on_demand_hours + excluded.on_demand_hours, \
             efs_gb_hours = cost_daily.efs_gb_hours + excluded.efs_gb_hours",
        [
            environment.uid.into(),
            period_end.into(),
            environment.tenant.clone().into(),
            environment.name.clone().into(),
            cost.cost.into(),
            cost.on_demand_cost.into(),
            cost.spot_hours.into(),
            cost.on_demand_hours.into(),
            (cost.efs_gb * hours).into(),
        ],
    ))
    .await?;
    Ok(true)
}

/// Cached Spot prices of a region no older than `max_age_seconds`: (type, zone) → USD.
pub(crate) async fn cached_spot_prices(
    db: &impl ConnectionTrait,
    region: &str,
    fresh_since: DateTime<Utc>,
) -> Result<HashMap<(String, String), f64>, StoreError> {
    #[derive(FromQueryResult)]
    struct Row {
        instance_type: String,
        availability_zone: String,
        usd: f64,
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT instance_type, availability_zone, usd FROM spot_prices WHERE region = $1 AND observed_at >= $2",
        [region.into(), fresh_since.into()],
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| ((r.instance_type, r.availability_zone), r.usd)).collect())
}

/// Stores a Spot price with when it was seen.
pub(crate) async fn put_spot_price(
    db: &impl ConnectionTrait,
    region: &str,
    instance_type: &str,
    zone: &str,
    usd: f64,
    observed_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO spot_prices (region, instance_type, availability_zone, usd, observed_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (region, instance_type, availability_zone) DO UPDATE SET usd = excluded.usd, observed_at = excluded.observed_at",
        [region.into(), instance_type.into(), zone.into(), usd.into(), observed_at.into()],
    ))
    .await?;
    Ok(())
}

/// The shipped price list with the admin's imports laid over it.
pub async fn price_list(db: &impl ConnectionTrait) -> Result<PriceList, StoreError> {
    let mut list = PriceList::shipped();
    let row =
        db.query_one(Statement::from_string(DbBackend::Postgres, "SELECT list FROM price_list WHERE id = 1")).await?;
    if let Some(row) = row {
        let stored: serde_json::Value = row.try_get("", "list")?;
        let imported: PriceList = serde_json::from_value(stored).map_err(StoreError::Corrupt)?;
        list.overlay(&imported);
    }
    Ok(list)
}

/// Stores an imported price list (merged into what was imported before).
pub async fn import_prices(db: &impl ConnectionTrait, list: &PriceList, by: &str) -> Result<PriceList, StoreError> {
    let mut merged = match db
        .query_one(Statement::from_string(DbBackend::Postgres, "SELECT list FROM price_list WHERE id = 1"))
        .await?
    {
        Some(row) => {
            let stored: serde_json::Value = row.try_get("", "list")?;
            serde_json::from_value::<PriceList>(stored).map_err(StoreError::Corrupt)?
        }
        None => list.clone(),
    };
    merged.overlay(list);
    let value = serde_json::to_value(&merged).map_err(StoreError::Corrupt)?;
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO price_list (id, list, updated_by) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET list = excluded.list, updated_by = excluded.updated_by, updated_at = now()",
        [value.into(), by.into()],
    ))
    .await?;
    price_list(db).await
}

/// What an environment costs now (its last sample's rate) and this month (from the daily totals).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CurrentCost {
    pub per_hour: f64,
    pub month_to_date: f64,
}

/// Current costs of some environments, in one statement whatever their number.
pub async fn current(
    db: &impl ConnectionTrait,
    uids: &[Uuid],
    month_start: chrono::NaiveDate,
) -> Result<HashMap<Uuid, CurrentCost>, StoreError> {
    #[derive(FromQueryResult)]
    struct Row {
        environment_uid: Uuid,
        per_hour: f64,
        month_to_date: f64,
    }
    if uids.is_empty() {
        return Ok(HashMap::new());
    }
    // Uuids formatted here, never text from a request.
    let list = uids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",");
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH wanted AS (SELECT unnest(string_to_array($1, ',')::uuid[]) AS environment_uid), \
         latest AS (SELECT DISTINCT ON (s.environment_uid) s.environment_uid, \
                       s.cost / greatest(extract(epoch FROM s.period_end - s.period_start) / 3600.0, 1e-9) AS per_hour \
                    FROM cost_samples s JOIN wanted w USING (environment_uid) \
                    ORDER BY s.environment_uid, s.period_end DESC), \
         month AS (SELECT d.environment_uid, sum(d.cost) AS month_to_date FROM cost_daily d JOIN wanted w USING (environment_uid) \
                   WHERE d.day >= $2 GROUP BY d.environment_uid) \
         SELECT l.environment_uid, l.per_hour::double precision AS per_hour, \
                coalesce(m.month_to_date, 0)::double precision AS month_to_date \
         FROM latest l LEFT JOIN month m USING (environment_uid)",
        [list.into(), month_start.into()],
    ))
    .all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.environment_uid, CurrentCost { per_hour: r.per_hour, month_to_date: r.month_to_date }))
        .collect())
}

/// Counts a Spot instance of an environment replaced on `at`'s day.
pub(crate) async fn record_interruption(
    db: &impl ConnectionTrait,
    uid: Uuid,
    tenant: &str,
    environment: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO spot_interruptions (environment_uid, day, tenant, environment, count) \
         VALUES ($1, ($2 AT TIME ZONE 'UTC')::date, $3, $4, 1) \
         ON CONFLICT (environment_uid, day) DO UPDATE SET count = spot_interruptions.count + 1",
        [uid.into(), at.into(), tenant.into(), environment.into()],
    ))
    .await?;
    Ok(())
}
