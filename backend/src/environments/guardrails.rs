//! Admission against the tenant's cloud profile: its guard rails (images, instance types, EFS throughput) and
//! Butler's price list (a type without a price is refused, never estimated at zero). Runs inside the write's
//! transaction, so a refused write changes nothing.

use sea_orm::DatabaseTransaction;

use super::OperationError;
use crate::cost::prices::FALLBACK_REGION;
use crate::domain::spec::JenkinsEnvironmentSpec;
use crate::domain::validation::FieldError;
use crate::store::cloud_profiles::{self, ProfileRow};
use crate::store::entity::tenant;

/// Checks what `spec` changes from `current` (None: a create) against the tenant's profile.
pub async fn check(
    txn: &DatabaseTransaction,
    tenant: &tenant::Model,
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
    if errors.is_empty() {
        Ok(())
    } else {
        Err(OperationError::Invalid(errors))
    }
}
