//! Budgets: a platform admin sets a monthly budget per tenant; after each meter pass, month to date and the
//! month projected from it are compared with 80 % and 100 % of it. Each crossing (actual or projected) is
//! recorded once per tenant, month and threshold (`budget_alerts`, an audit entry, a Warning event on each of the
//! tenant's environments) and shown to the tenant's people as a banner for the rest of the month.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use crate::store::audit::{self, AuditContext, AuditEntry};
use crate::store::StoreError;

/// The thresholds, in percent of the budget.
pub(crate) const THRESHOLDS: [i32; 2] = [80, 100];

/// A recorded crossing.
#[derive(Debug, Clone, PartialEq, Serialize, FromQueryResult)]
#[serde(rename_all = "camelCase")]
pub struct BudgetAlert {
    pub tenant: String,
    pub month: NaiveDate,
    pub threshold: i32,
    pub basis: String,
    pub spent_usd: f64,
    pub projected_usd: f64,
    pub budget_usd: f64,
    pub crossed_at: DateTime<Utc>,
}

/// The first day of `now`'s month, and the fraction of the month elapsed.
fn month_of(now: DateTime<Utc>) -> (DateTime<Utc>, f64) {
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (year, month) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let next = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().unwrap_or(now);
    let elapsed = (now - start).num_seconds() as f64 / (next - start).num_seconds().max(1) as f64;
    (start, elapsed)
}

/// What the tenant has spent this month (USD) and how many hours of the month are left.
pub(crate) async fn month_so_far(
    db: &impl ConnectionTrait,
    tenant: &str,
    now: DateTime<Utc>,
) -> Result<(f64, f64), StoreError> {
    #[derive(FromQueryResult)]
    struct Spent {
        spent: f64,
    }
    let (month_start, elapsed) = month_of(now);
    let row = Spent::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT coalesce(sum(cost), 0)::double precision AS spent FROM cost_samples \
         WHERE tenant = $1 AND period_end > $2 AND period_end <= $3",
        [tenant.into(), month_start.into(), now.into()],
    ))
    .one(db)
    .await?;
    let month_hours = if elapsed > 0.0 { (now - month_start).num_seconds() as f64 / 3600.0 / elapsed } else { 720.0 };
    Ok((row.map_or(0.0, |r| r.spent), month_hours * (1.0 - elapsed)))
}

/// Sets (or with None, removes) a tenant's monthly budget.
pub(crate) async fn set_budget(
    db: &impl ConnectionTrait,
    tenant: &str,
    monthly_usd: Option<f64>,
    by: &str,
) -> Result<(), StoreError> {
    let statement = match monthly_usd {
        Some(usd) => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO tenant_budgets (tenant, monthly_usd, updated_by) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant) DO UPDATE SET monthly_usd = excluded.monthly_usd, updated_by = excluded.updated_by, \
             updated_at = now()",
            [tenant.into(), usd.into(), by.into()],
        ),
        None => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM tenant_budgets WHERE tenant = $1",
            [tenant.into()],
        ),
    };
    db.execute(statement).await?;
    Ok(())
}

/// A tenant's monthly budget, if set.
pub(crate) async fn budget_of(db: &impl ConnectionTrait, tenant: &str) -> Result<Option<f64>, StoreError> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT monthly_usd FROM tenant_budgets WHERE tenant = $1",
            [tenant.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("", "monthly_usd")?),
        None => None,
    })
}

/// Checks every budget at `now` and records the crossings not recorded yet this month. Returns the new ones.
pub async fn check(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<BudgetAlert>, StoreError> {
    #[derive(FromQueryResult)]
    struct Spend {
        tenant: String,
        monthly_usd: f64,
        spent: f64,
    }
    let (month_start, elapsed) = month_of(now);
    let rows = Spend::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT b.tenant, b.monthly_usd, coalesce(sum(s.cost), 0)::double precision AS spent \
         FROM tenant_budgets b LEFT JOIN cost_samples s \
           ON s.tenant = b.tenant AND s.period_end > $1 AND s.period_end <= $2 \
         GROUP BY b.tenant, b.monthly_usd",
        [month_start.into(), now.into()],
    ))
    .all(db)
    .await?;
    let mut crossed = Vec::new();
    for row in rows {
        let projected = if elapsed > 0.0 { row.spent / elapsed } else { row.spent };
        for threshold in THRESHOLDS {
            let line = row.monthly_usd * f64::from(threshold) / 100.0;
            let basis = if row.spent >= line {
                "actual"
            } else if projected >= line {
                "projected"
            } else {
                continue;
            };
            let inserted = BudgetAlert::find_by_statement(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO budget_alerts (tenant, month, threshold, basis, spent_usd, projected_usd, budget_usd) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING \
                 RETURNING tenant, month, threshold, basis, spent_usd, projected_usd, budget_usd, crossed_at",
                [
                    row.tenant.clone().into(),
                    month_start.date_naive().into(),
                    threshold.into(),
                    basis.into(),
                    row.spent.into(),
                    projected.into(),
                    row.monthly_usd.into(),
                ],
            ))
            .one(db)
            .await?;
            if let Some(alert) = inserted {
                let context = AuditContext::system("cost-meter");
                let detail = format!(
                    "{}% of the monthly budget {:.2} USD crossed ({basis}): spent {:.2}, projected {:.2}",
                    threshold, row.monthly_usd, row.spent, projected
                );
                let entry = AuditEntry::allowed(&context, "budget.threshold", "Tenant", 200)
                    .in_tenant(&row.tenant)
                    .named(&row.tenant)
                    .detail(&detail);
                audit::append(db, &entry).await?;
                // And on every environment's timeline, where the tenant's people look.
                let environments = db
                    .query_all(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT uid FROM jenkins_environments WHERE tenant = $1",
                        [row.tenant.clone().into()],
                    ))
                    .await?;
                for environment in environments {
                    let uid: uuid::Uuid = environment.try_get("", "uid")?;
                    crate::store::events::record(
                        db,
                        uid,
                        &row.tenant,
                        crate::domain::object::EventType::Warning,
                        "BudgetThresholdCrossed",
                        &detail,
                    )
                    .await?;
                }
                crossed.push(alert);
            }
        }
    }
    Ok(crossed)
}

/// This month's crossings of a tenant, highest threshold first (the banner).
pub(crate) async fn alerts_this_month(
    db: &impl ConnectionTrait,
    tenant: &str,
    now: DateTime<Utc>,
) -> Result<Vec<BudgetAlert>, StoreError> {
    let (month_start, _) = month_of(now);
    Ok(BudgetAlert::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT tenant, month, threshold, basis, spent_usd, projected_usd, budget_usd, crossed_at FROM budget_alerts \
         WHERE tenant = $1 AND month = $2 ORDER BY threshold DESC",
        [tenant.into(), month_start.date_naive().into()],
    ))
    .all(db)
    .await?)
}
