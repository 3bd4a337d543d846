//! Credential writes: recording one written to Secrets Manager (its row, an event and the audit entry, none with
//! the value) and forgetting one deleted there. A credential the team's configuration or a seed job still uses
//! cannot be deleted.

use super::{Effect, ServiceError, Services};
use crate::domain::object::EventType;
use crate::store::audit::{AuditContext, AuditEntry};
use crate::store::credentials::{self, CredentialRow};
use crate::store::{environments, events};

/// Records credential `row` of `tenant/name` as written now by `context`'s actor; the stored row.
pub async fn record_put(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
    row: CredentialRow,
) -> Result<(CredentialRow, bool), ServiceError> {
    let write = services.begin().await?;
    let env = environments::find(write.txn(), tenant, name)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("environment {name:?} not found")))?;
    let existed = credentials::find(write.txn(), env.uid, &row.credential_id).await?.is_some();
    let stored = credentials::upsert(write.txn(), &CredentialRow { environment_uid: env.uid, ..row }).await?;
    let verb = if existed { "replaced" } else { "added" };
    let message = format!("{} {verb} credential {} ({})", context.actor, stored.credential_id, stored.credential_type);
    events::record(write.txn(), env.uid, tenant, EventType::Normal, "CredentialChanged", &message).await?;
    let detail = format!("credential {} ({})", stored.credential_id, stored.credential_type);
    let entry = AuditEntry::allowed(context, "credential.put", "JenkinsEnvironment", if existed { 200 } else { 201 })
        .in_tenant(tenant)
        .named(name)
        .detail(&detail);
    write.commit(&entry, Effect::Nothing).await?;
    Ok((stored, existed))
}

/// Forgets credential `id` of `tenant/name` (deleted from Secrets Manager just before).
pub async fn record_delete(
    services: &Services,
    context: &AuditContext,
    (tenant, name): (&str, &str),
    id: &str,
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    let env = environments::find(write.txn(), tenant, name)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("environment {name:?} not found")))?;
    if !credentials::delete(write.txn(), env.uid, id).await? {
        return Err(ServiceError::NotFound(format!("credential {id:?} not found")));
    }
    let message = format!("{} deleted credential {id}", context.actor);
    events::record(write.txn(), env.uid, tenant, EventType::Normal, "CredentialDeleted", &message).await?;
    let detail = format!("credential {id}");
    let entry = AuditEntry::allowed(context, "credential.delete", "JenkinsEnvironment", 204)
        .in_tenant(tenant)
        .named(name)
        .detail(&detail);
    write.commit(&entry, Effect::Nothing).await
}
