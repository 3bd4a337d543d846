//! Sign-in writes: rotating an environment's client secret (the reconciler makes the new one and rolls the
//! controller) and recording a break-glass reveal of the local admin password (audited with its reason and put
//! on the environment's timeline, in one transaction, before the password is handed out).

use super::{Effect, ServiceError, Services};
use crate::domain::object::EventType;
use crate::store::audit::{AuditContext, AuditEntry};
use crate::store::{environments, events, oidc, queue};

/// Asks for a new client secret for `tenant/name` and makes the environment due. NotFound when the environment
/// has no client (Butler runs without a public URL, or it was never reconciled).
pub async fn rotate_client_secret(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    let row = environments::find(write.txn(), tenant, name)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("environment {name:?} not found")))?;
    if !oidc::request_rotation(write.txn(), row.uid).await? {
        return Err(ServiceError::NotFound(format!(
            "environment {name:?} has no sign-in client yet (Butler needs BUTLER_PUBLIC_URL, and a first reconcile)"
        )));
    }
    queue::make_due(write.txn(), row.uid).await?;
    events::record(
        write.txn(),
        row.uid,
        tenant,
        EventType::Normal,
        "OidcClientSecretRotationRequested",
        &format!("{} asked for a new sign-in client secret", context.actor),
    )
    .await?;
    let entry = AuditEntry::allowed(context, "environment.rotate-oidc-secret", "JenkinsEnvironment", 202)
        .in_tenant(tenant)
        .named(name);
    write.commit(&entry, Effect::Nothing).await
}

/// Records that `context`'s actor reveals the break-glass password of `tenant/name` for `reason`.
pub async fn record_reveal(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
    reason: &str,
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    let row = environments::find(write.txn(), tenant, name)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("environment {name:?} not found")))?;
    let message = format!("{} revealed the break-glass admin password: {reason}", context.actor);
    events::record(write.txn(), row.uid, tenant, EventType::Warning, "AdminPasswordRevealed", &message).await?;
    let detail = format!("reason: {reason}");
    let entry = AuditEntry::allowed(context, "environment.reveal-admin-password", "JenkinsEnvironment", 200)
        .in_tenant(tenant)
        .named(name)
        .detail(&detail);
    write.commit(&entry, Effect::Nothing).await
}
