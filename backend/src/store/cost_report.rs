//! Cost reports for a period in daily buckets: per tenant and per environment, cost, on-demand equivalent,
//! savings, instance-hours, Spot share, EFS GB-months and Spot interruptions; month to date and the month
//! projected from it.
//! Three queries whatever the number of samples: whole days come from the daily totals the meter keeps, only the
//! partial days at the ends from the samples; the database sums, Rust arranges.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use serde::Serialize;

use crate::domain::cost_arithmetic::HOURS_PER_MONTH;
use crate::store::StoreError;

/// Sums over some samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub cost: f64,
    pub on_demand_cost: f64,
    pub savings: f64,
    pub savings_percent: f64,
    pub instance_hours: f64,
    pub spot_hours: f64,
    /// Spot hours / instance hours.
    pub spot_share: f64,
    pub efs_gb_months: f64,
    /// Instances replaced while they ran Spot: what the savings cost in restarts.
    pub spot_interruptions: i64,
}

impl Totals {
    fn add(&mut self, row: &Row) {
        self.cost += row.cost;
        self.on_demand_cost += row.on_demand_cost;
        self.instance_hours += row.spot_hours + row.on_demand_hours;
        self.spot_hours += row.spot_hours;
        self.efs_gb_months += row.efs_gb_hours / HOURS_PER_MONTH;
        self.finish();
    }

    fn finish(&mut self) {
        self.savings = self.on_demand_cost - self.cost;
        self.savings_percent = if self.on_demand_cost > 0.0 { 100.0 * self.savings / self.on_demand_cost } else { 0.0 };
        self.spot_share = if self.instance_hours > 0.0 { self.spot_hours / self.instance_hours } else { 0.0 };
    }
}

/// One day of one tenant or environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub totals: Totals,
}

/// One environment over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentCost {
    pub environment: String,
    #[serde(flatten)]
    pub totals: Totals,
    pub days: Vec<Day>,
}

/// One tenant over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantCost {
    pub tenant: String,
    #[serde(flatten)]
    pub totals: Totals,
    pub month_to_date: f64,
    pub projected_month: f64,
    pub days: Vec<Day>,
    pub environments: Vec<EnvironmentCost>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub currency: &'static str,
    /// Tenants, most expensive first.
    pub tenants: Vec<TenantCost>,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    tenant: String,
    environment: String,
    day: NaiveDate,
    cost: f64,
    on_demand_cost: f64,
    spot_hours: f64,
    on_demand_hours: f64,
    efs_gb_hours: f64,
}

/// The report of samples ending in `(from, to]`, for one tenant or all.
pub async fn build(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tenant: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CostReport, StoreError> {
    let tenant_value: Value = tenant.map(str::to_owned).into();
    // Whole days strictly between `from` and `to` come from the daily totals; the partial days at either end
    // from the samples themselves (a sample belongs to the UTC day its period ends in).
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "WITH bounds AS (SELECT ($1::timestamptz AT TIME ZONE 'UTC')::date AS first_day, \
                                ($2::timestamptz AT TIME ZONE 'UTC')::date AS last_day), \
         parts AS ( \
             SELECT d.tenant, d.environment, d.day, d.cost, d.on_demand_cost, d.spot_hours, d.on_demand_hours, \
                    d.efs_gb_hours \
             FROM cost_daily d, bounds b \
             WHERE d.day > b.first_day AND d.day < b.last_day AND ($3::text IS NULL OR d.tenant = $3) \
             UNION ALL \
             SELECT s.tenant, s.environment, (s.period_end AT TIME ZONE 'UTC')::date, s.cost, s.on_demand_cost, \
                    s.spot_hours, s.on_demand_hours, \
                    s.efs_gb * extract(epoch FROM s.period_end - s.period_start) / 3600.0 \
             FROM cost_samples s \
             WHERE ($3::text IS NULL OR s.tenant = $3) \
               AND ((s.period_end > $1 AND s.period_end < $4) OR (s.period_end >= $5 AND s.period_end <= $2))) \
         SELECT tenant, environment, day, sum(cost) AS cost, sum(on_demand_cost) AS on_demand_cost, \
                sum(spot_hours) AS spot_hours, sum(on_demand_hours) AS on_demand_hours, \
                sum(efs_gb_hours)::double precision AS efs_gb_hours \
         FROM parts GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        [from.into(), to.into(), tenant_value.clone(), midnight_after(from).into(), midnight_of(to).into()],
    ))
    .all(db)
    .await?;

    #[derive(FromQueryResult)]
    struct MonthRow {
        tenant: String,
        cost: f64,
    }
    let month_start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let month_rows = MonthRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT tenant, sum(cost) AS cost FROM cost_samples \
         WHERE period_end > $1 AND period_end <= $2 AND ($3::text IS NULL OR tenant = $3) GROUP BY tenant",
        [month_start.into(), now.into(), tenant_value],
    ))
    .all(db)
    .await?;
    let month: BTreeMap<String, f64> = month_rows.into_iter().map(|r| (r.tenant, r.cost)).collect();
    let (elapsed, in_month) = month_hours(now);

    let new_tenant = |name: &str| {
        let month_to_date = month.get(name).copied().unwrap_or(0.0);
        TenantCost {
            tenant: name.to_owned(),
            totals: Totals::default(),
            month_to_date,
            projected_month: if elapsed > 0.0 { month_to_date / elapsed * in_month } else { 0.0 },
            days: Vec::new(),
            environments: Vec::new(),
        }
    };
    let mut tenants: BTreeMap<String, TenantCost> = BTreeMap::new();
    for row in &rows {
        let entry = tenants.entry(row.tenant.clone()).or_insert_with(|| new_tenant(&row.tenant));
        entry.totals.add(row);
        match entry.days.iter_mut().find(|d| d.day == row.day) {
            Some(day) => day.totals.add(row),
            None => {
                let mut totals = Totals::default();
                totals.add(row);
                entry.days.push(Day { day: row.day, totals });
            }
        }
        let environment = environment_entry(&mut entry.environments, &row.environment);
        environment.totals.add(row);
        let mut totals = Totals::default();
        totals.add(row);
        environment.days.push(Day { day: row.day, totals });
    }
    #[derive(FromQueryResult)]
    struct Interruptions {
        tenant: String,
        environment: String,
        day: NaiveDate,
        count: i64,
    }
    let interruptions = Interruptions::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT tenant, environment, day, sum(count)::bigint AS count FROM spot_interruptions \
         WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day <= ($2::timestamptz AT TIME ZONE 'UTC')::date \
           AND ($3::text IS NULL OR tenant = $3) GROUP BY 1, 2, 3",
        [from.into(), to.into(), tenant.map(str::to_owned).into()],
    ))
    .all(db)
    .await?;
    for row in interruptions {
        // A tenant or environment may have interruptions and no sample in the period (nothing ran long enough).
        let entry = tenants.entry(row.tenant.clone()).or_insert_with(|| new_tenant(&row.tenant));
        entry.totals.spot_interruptions += row.count;
        add_interruptions(&mut entry.days, row.day, row.count);
        let environment = environment_entry(&mut entry.environments, &row.environment);
        environment.totals.spot_interruptions += row.count;
        add_interruptions(&mut environment.days, row.day, row.count);
    }
    let mut tenants: Vec<TenantCost> = tenants.into_values().collect();
    for tenant in &mut tenants {
        tenant.days.sort_by_key(|d| d.day);
        tenant.environments.sort_by(|a, b| b.totals.cost.total_cmp(&a.totals.cost));
    }
    tenants.sort_by(|a, b| b.totals.cost.total_cmp(&a.totals.cost));
    Ok(CostReport { from, to, currency: "USD", tenants })
}

/// The named environment's entry, added empty when it is not there yet.
fn environment_entry<'a>(environments: &'a mut Vec<EnvironmentCost>, name: &str) -> &'a mut EnvironmentCost {
    let index = match environments.iter().position(|e| e.environment == name) {
        Some(index) => index,
        None => {
            environments.push(EnvironmentCost {
                environment: name.to_owned(),
                totals: Totals::default(),
                days: Vec::new(),
            });
            environments.len() - 1
        }
    };
    &mut environments[index]
}

fn add_interruptions(days: &mut Vec<Day>, day: NaiveDate, count: i64) {
    match days.iter_mut().find(|d| d.day == day) {
        Some(existing) => existing.totals.spot_interruptions += count,
        None => days.push(Day { day, totals: Totals { spot_interruptions: count, ..Totals::default() } }),
    }
}

/// The UTC midnight that starts `at`'s day.
fn midnight_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive().and_hms_opt(0, 0, 0).map_or(at, |d| d.and_utc())
}

/// The UTC midnight that ends `at`'s day.
fn midnight_after(at: DateTime<Utc>) -> DateTime<Utc> {
    midnight_of(at) + chrono::Duration::days(1)
}

/// Hours of the month elapsed at `now`, and hours in the whole month.
fn month_hours(now: DateTime<Utc>) -> (f64, f64) {
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (year, month) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let next = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().unwrap_or(now);
    ((now - start).num_seconds() as f64 / 3600.0, (next - start).num_seconds() as f64 / 3600.0)
}

/// The report as CSV: one row per tenant, environment and day.
pub(crate) fn to_csv(report: &CostReport) -> String {
    let mut out = String::from(
        "tenant,environment,day,cost_usd,on_demand_cost_usd,savings_usd,savings_percent,instance_hours,spot_hours,spot_share,efs_gb_months,spot_interruptions\n",
    );
    for tenant in &report.tenants {
        for environment in &tenant.environments {
            for day in &environment.days {
                let t = &day.totals;
                out.push_str(&format!(
                    "{},{},{},{:.6},{:.6},{:.6},{:.2},{:.4},{:.4},{:.4},{:.6},{}\n",
                    csv_field(&tenant.tenant),
                    csv_field(&environment.environment),
                    day.day,
                    t.cost,
                    t.on_demand_cost,
                    t.savings,
                    t.savings_percent,
                    t.instance_hours,
                    t.spot_hours,
                    t.spot_share,
                    t.efs_gb_months,
                    t.spot_interruptions
                ));
            }
        }
    }
    out
}

/// Tenant and environment names are DNS labels, but quote anything odd all the same.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}
