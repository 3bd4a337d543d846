//! Tenant writes (platform admins): creation, quotas, display name and cloud profile.

use super::{taken, Effect, ServiceError, Services};
use crate::store::audit::{AuditContext, AuditEntry};
use crate::store::entity::tenant;
use crate::store::tenants::{self, NewTenant, Usage};

/// Creates a tenant.
pub async fn create(
    services: &Services,
    context: &AuditContext,
    new: &NewTenant<'_>,
) -> Result<tenant::Model, ServiceError> {
    let write = services.begin().await?;
    let created =
        tenants::insert(write.txn(), new).await.map_err(taken(|| format!("tenant {:?} already exists", new.name)))?;
    let entry =
        AuditEntry::allowed(context, "tenant.create", "Tenant", 201).in_tenant(&created.name).named(&created.name);
    write.commit(&entry, Effect::Nothing).await?;
    Ok(created)
}

/// What a tenant update changes (None: unchanged).
#[derive(Debug, Default)]
pub struct TenantChanges<'a> {
    pub display_name: Option<&'a str>,
    pub max_environments: Option<i32>,
    pub max_instances: Option<i32>,
    pub cloud_profile: Option<&'a str>,
}

/// Updates a tenant; a new cloud profile makes its environments due at once. The tenant and its usage.
pub async fn update(
    services: &Services,
    context: &AuditContext,
    name: &str,
    changes: &TenantChanges<'_>,
) -> Result<(tenant::Model, Usage), ServiceError> {
    let write = services.begin().await?;
    let updated = tenants::update(
        write.txn(),
        name,
        changes.display_name,
        changes.max_environments,
        changes.max_instances,
        changes.cloud_profile,
    )
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("tenant {name:?} not found")))?;
    if changes.cloud_profile.is_some() {
        crate::store::queue::make_due_for_tenant(write.txn(), name).await?;
    }
    let detail = format!(
        "quotas: environments {}, instances {}; cloud profile {}",
        updated.max_environments, updated.max_instances, updated.cloud_profile
    );
    let usage = tenants::usage(write.txn(), name).await?;
    let entry =
        AuditEntry::allowed(context, "tenant.update", "Tenant", 200).in_tenant(name).named(name).detail(&detail);
    write.commit(&entry, Effect::Nothing).await?;
    Ok((updated, usage))
}
