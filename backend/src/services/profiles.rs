//! Cloud profile writes (platform admins).

use super::{Effect, ServiceError, Services};
use crate::store::audit::{AuditContext, AuditEntry};
use crate::store::cloud_profiles::{self, ProfileInput, ProfileRow};

/// Creates or replaces a profile; true when created. Environments that failed for want of it (or for a wrong
/// role or AMI in it) are due again at once.
pub async fn put(
    services: &Services,
    context: &AuditContext,
    name: &str,
    input: &ProfileInput<'_>,
) -> Result<(ProfileRow, bool), ServiceError> {
    let write = services.begin().await?;
    let (row, created) = cloud_profiles::upsert(write.txn(), name, input).await?;
    crate::store::queue::make_due_for_profile(write.txn(), name).await?;
    let status = if created { 201 } else { 200 };
    let entry = AuditEntry::allowed(context, "cloudprofile.put", "CloudProfile", status).named(name);
    write.commit(&entry, Effect::Nothing).await?;
    Ok((row, created))
}

/// Deletes a profile (the caller has checked that no tenant uses it).
pub async fn delete(services: &Services, context: &AuditContext, name: &str) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    if !cloud_profiles::delete(write.txn(), name).await? {
        return Err(ServiceError::NotFound(format!("cloud profile {name:?} not found")));
    }
    let entry = AuditEntry::allowed(context, "cloudprofile.delete", "CloudProfile", 204).named(name);
    write.commit(&entry, Effect::Nothing).await
}
