//! Cost writes: a platform admin's price import and a tenant's monthly budget.

use super::{Effect, ServiceError, Services};
use crate::domain::prices::PriceList;
use crate::store::audit::{AuditContext, AuditEntry};
use crate::store::{budgets, costs};

/// Imports prices over the shipped list; the merged list.
pub async fn import_prices(
    services: &Services,
    context: &AuditContext,
    list: &PriceList,
) -> Result<PriceList, ServiceError> {
    let write = services.begin().await?;
    let merged = costs::import_prices(write.txn(), list, &context.actor).await?;
    let detail = format!("source {:?}, retrieved {}", list.source, list.retrieved);
    let entry = AuditEntry::allowed(context, "prices.import", "PriceList", 200).detail(&detail);
    write.commit(&entry, Effect::Nothing).await?;
    Ok(merged)
}

/// Sets (or with None, removes) a tenant's monthly budget.
pub(crate) async fn set_budget(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    monthly_usd: Option<f64>,
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    budgets::set_budget(write.txn(), tenant, monthly_usd, &context.actor).await?;
    let detail = monthly_usd.map_or("budget removed".to_owned(), |usd| format!("monthly budget {usd:.2} USD"));
    let entry =
        AuditEntry::allowed(context, "budget.set", "Tenant", 200).in_tenant(tenant).named(tenant).detail(&detail);
    write.commit(&entry, Effect::Nothing).await
}
