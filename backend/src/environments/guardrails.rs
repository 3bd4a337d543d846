//! Admission against the tenant's cloud profile: its guard rails (images, instance types, EFS throughput) and
//! Butler's price list (a type without a price is refused, never estimated at zero); and against the tenant's
//! monthly budget, which refuses a change whose projection for the month goes beyond it. Runs inside the
//! write's transaction, so a refused write changes nothing.

use sea_orm::DatabaseTransaction;

use super::OperationError;
use crate::domain::prices::{PriceList, FALLBACK_REGION};
use crate::domain::spec::JenkinsEnvironmentSpec;
use crate::domain::validation::FieldError;
use crate::store::audit::AuditContext;
use crate::store::cloud_profiles::{self, ProfileRow};
use crate::store::entity::tenant;

/// Refuses a change that raises the tenant's projected spend for the month above its budget. The projection is
/// what was spent so far plus, for the hours left, the steady cost of every environment of the tenant (its
/// minimum capacity at current prices, as the dry-run estimate prices it) with this change applied. A change
/// that does not raise the projection is always allowed, so a tenant over budget can still shrink.
async fn check_budget(
    txn: &DatabaseTransaction,
    context: &AuditContext,
    tenant: &tenant::Model,
    name: &str,
    spec: &JenkinsEnvironmentSpec,
    current: Option<&JenkinsEnvironmentSpec>,
    (region, prices): (&str, &PriceList),
) -> Result<(), OperationError> {
    let Some(budget) = crate::store::budgets::budget_of(txn, &tenant.name).await? else { return Ok(()) };
    let now = chrono::Utc::now();
    let spot = crate::store::costs::cached_spot_prices(txn, region, now - chrono::Duration::days(1)).await?;
    let hourly = |spec: &JenkinsEnvironmentSpec| crate::cost::estimate::hourly(&spec.capacity, region, prices, &spot);
    let others: f64 = crate::store::environments::specs_of(txn, &tenant.name)
        .await?
        .iter()
        .filter(|(other, _)| other != name)
        .map(|(_, spec)| hourly(spec).usd_per_hour)
        .sum();
    let before = others + current.map_or(0.0, |spec| hourly(spec).usd_per_hour);
    let after = others + hourly(spec).usd_per_hour;
    if after <= before {
        return Ok(());
    }
    let (spent, hours_left) = crate::store::budgets::month_so_far(txn, &tenant.name, now).await?;
    let projected = spent + after * hours_left;
    if projected <= budget {
        return Ok(());
    }
    // Whole dollars in the quota fields (rounded so the figures never understate), cents in the detail.
    Err(OperationError::QuotaExceeded {
        quota: "monthlyBudgetUsd",
        limit: budget.floor() as i64,
        used: spent.ceil() as i64,
        requested: projected.ceil() as i64,
        actor: context.actor.clone(),
        actor_kind: context.actor_kind,
        tenant: tenant.name.clone(),
    })
}

/// Checks what `spec` changes from `current` (None: a create) against the tenant's profile, Butler's prices and
/// the tenant's budget: the profile and the price list are read once for all three.
pub async fn check(
    txn: &DatabaseTransaction,
    context: &AuditContext,
    tenant: &tenant::Model,
    name: &str,
    spec: &JenkinsEnvironmentSpec,
    current: Option<&JenkinsEnvironmentSpec>,
) -> Result<(), OperationError> {
    let profile = cloud_profiles::find(txn, &tenant.cloud_profile).await?;
    let rails = profile.as_ref().map(ProfileRow::guardrails).unwrap_or_default();
    let region = profile.map_or_else(|| FALLBACK_REGION.to_owned(), |p| p.region);
    let mut errors = rails.review(spec, current);
    let prices = crate::store::costs::price_list(txn).await?;
    for (index, instance_type) in spec.capacity.instance_types.iter().enumerate() {
        let field = format!("spec.capacity.instanceTypes[{index}]");
        let added = current.is_none_or(|c| !c.capacity.instance_types.contains(instance_type));
        if added && prices.on_demand(&region, instance_type).is_none() && !errors.iter().any(|e| e.field == field) {
            errors.push(FieldError {
                field,
                message: format!(
                    "{instance_type} has no price in Butler's price list for {region}: its cost could not be metered \
                     or capped (a platform admin imports a price first)"
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(OperationError::Invalid(errors));
    }
    check_budget(txn, context, tenant, name, spec, current, (&region, &prices)).await
}
