//! Environment writes: the transactional work (with its audit entry and change-log row) is
//! `environments::writes`; this adds what follows the commit — the change in this process's cache and watches
//! at once (read-your-writes), before NOTIFY brings it to the others.

use sea_orm::DatabaseConnection;

use super::Services;
use crate::domain::manifest::EnvironmentManifest;
use crate::domain::object::JenkinsEnvironmentStatus;
use crate::environments::writes::{self, Deletion, Outcome};
use crate::environments::OperationError;
use crate::feed::Feed;
use crate::store::audit::AuditContext;

/// Creates an environment (or with `dry_run`, shows what would be stored).
pub async fn create(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    manifest: EnvironmentManifest,
    dry_run: bool,
) -> Result<Outcome, OperationError> {
    let outcome = writes::create(&services.db, context, tenant, manifest, dry_run).await?;
    outcome.publish_to(&services.feed);
    Ok(outcome)
}

/// Replaces metadata and spec.
pub async fn replace(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
    manifest: EnvironmentManifest,
    dry_run: bool,
) -> Result<Outcome, OperationError> {
    let outcome = writes::replace(&services.db, context, tenant, name, manifest, dry_run).await?;
    outcome.publish_to(&services.feed);
    Ok(outcome)
}

/// Applies a JSON merge patch.
pub async fn merge_patch(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
    patch: &serde_json::Value,
    dry_run: bool,
) -> Result<Outcome, OperationError> {
    let outcome = writes::merge_patch(&services.db, context, tenant, name, patch, dry_run).await?;
    outcome.publish_to(&services.feed);
    Ok(outcome)
}

/// Deletes (or marks for deletion while finalizers remain).
pub async fn delete(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
) -> Result<(Outcome, Deletion), OperationError> {
    let (outcome, deletion) = writes::delete(&services.db, context, tenant, name).await?;
    outcome.publish_to(&services.feed);
    Ok((outcome, deletion))
}

/// The reconciler's status write.
pub async fn update_status(
    db: &DatabaseConnection,
    feed: &Feed,
    (tenant, name): (&str, &str),
    status: JenkinsEnvironmentStatus,
) -> Result<Outcome, OperationError> {
    let outcome = writes::update_status(db, tenant, name, status).await?;
    outcome.publish_to(feed);
    Ok(outcome)
}

/// The reconciler lets its finalizer go once nothing of the environment is left in AWS.
pub async fn remove_finalizer(
    db: &DatabaseConnection,
    feed: &Feed,
    context: &AuditContext,
    (tenant, name): (&str, &str),
    finalizer: &str,
) -> Result<Outcome, OperationError> {
    let outcome = writes::remove_finalizer(db, context, tenant, name, finalizer).await?;
    outcome.publish_to(feed);
    Ok(outcome)
}
