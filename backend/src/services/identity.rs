//! Writes that change who may do what: users, memberships, invitations and API tokens. Each one drops every
//! process's cached identities when it commits.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{taken, Effect, ServiceError, Services};
use crate::store::api_tokens::{self, TokenRow};
use crate::store::audit::{AuditContext, AuditEntry};
use crate::store::invitations::{self, InvitationRow};
use crate::store::users::{self, UserRow};

/// Creates a user (a platform admin's act; nothing is cached about a user nobody has signed in as yet).
pub(crate) async fn create_user(
    services: &Services,
    context: &AuditContext,
    email: &str,
    password_hash: &str,
    platform_admin: bool,
) -> Result<UserRow, ServiceError> {
    let write = services.begin().await?;
    let user = users::create(write.txn(), email, password_hash, platform_admin)
        .await
        .map_err(taken(|| "a user with this email exists".to_owned()))?;
    write.commit(&AuditEntry::allowed(context, "user.create", "User", 201).named(&user.email), Effect::Nothing).await?;
    Ok(user)
}

/// Disables or enables a user, grants or takes platform admin, or sets a new password hash.
pub(crate) async fn update_user(
    services: &Services,
    context: &AuditContext,
    id: Uuid,
    disabled: Option<bool>,
    platform_admin: Option<bool>,
    password_hash: Option<&str>,
) -> Result<UserRow, ServiceError> {
    let write = services.begin().await?;
    let user = users::update(write.txn(), id, disabled, platform_admin, password_hash)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("user {id} not found")))?;
    let detail = format!(
        "disabled {}, platform admin {}{}",
        user.disabled,
        user.is_platform_admin,
        if password_hash.is_some() { ", password reset" } else { "" }
    );
    let entry = AuditEntry::allowed(context, "user.update", "User", 200).named(&user.email).detail(&detail);
    write.commit(&entry, Effect::IdentityChanged).await?;
    Ok(user)
}

/// Gives `user` (`email`) `role` in `tenant`, as a new member or a changed one (`status` says which).
pub(crate) async fn set_member_role(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    (user, email): (Uuid, &str),
    role: &str,
    status: u16,
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    users::set_membership(write.txn(), tenant, user, role).await?;
    let detail = format!("{email} is {role}");
    let entry =
        AuditEntry::allowed(context, "member.set", "Member", status).in_tenant(tenant).named(email).detail(&detail);
    write.commit(&entry, Effect::IdentityChanged).await
}

/// Takes `user` out of `tenant`.
pub(crate) async fn remove_member(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    user: Uuid,
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    if !users::remove_membership(write.txn(), tenant, user).await? {
        return Err(ServiceError::NotFound(format!("user {user} is not a member of {tenant:?}")));
    }
    let name = user.to_string();
    let entry = AuditEntry::allowed(context, "member.remove", "Member", 204).in_tenant(tenant).named(&name);
    write.commit(&entry, Effect::IdentityChanged).await
}

/// Invites `email` to `tenant` as `role` (open until taken or withdrawn).
pub async fn invite(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    email: &str,
    role: &str,
) -> Result<InvitationRow, ServiceError> {
    let write = services.begin().await?;
    let invitation = invitations::invite(write.txn(), tenant, email, role, &context.actor).await?;
    let detail = format!("{email} invited as {role}");
    let entry = AuditEntry::allowed(context, "member.invite", "Invitation", 202).in_tenant(tenant).named(email);
    write.commit(&entry.detail(&detail), Effect::Nothing).await?;
    Ok(invitation)
}

/// Withdraws the open invitation of `email` to `tenant`.
pub(crate) async fn withdraw_invitation(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    email: &str,
) -> Result<(), ServiceError> {
    let write = services.begin().await?;
    if !invitations::withdraw(write.txn(), tenant, email).await? {
        return Err(ServiceError::NotFound(format!("no open invitation of {email:?} to {tenant:?}")));
    }
    let entry = AuditEntry::allowed(context, "member.uninvite", "Invitation", 204).in_tenant(tenant).named(email);
    write.commit(&entry, Effect::Nothing).await
}

/// The invited person (`user`, `email`) takes the invitation: they become a member with its role.
pub(crate) async fn accept_invitation(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    (user, email): (Uuid, &str),
) -> Result<InvitationRow, ServiceError> {
    let write = services.begin().await?;
    let invitation = invitations::take(write.txn(), tenant, email)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no open invitation to tenant {tenant:?}")))?;
    users::set_membership(write.txn(), tenant, user, &invitation.role).await?;
    let detail = format!("{email} joined as {} (invited by {})", invitation.role, invitation.invited_by);
    let entry = AuditEntry::allowed(context, "member.accept", "Member", 200).in_tenant(tenant).named(email);
    write.commit(&entry.detail(&detail), Effect::IdentityChanged).await?;
    Ok(invitation)
}

/// What a new token is: its name, role, the digest of its secret (the secret itself is never stored), who made
/// it and when it expires.
pub(crate) struct NewToken<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub digest: &'a str,
    pub created_by: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a tenant's new API token.
pub(crate) async fn create_token(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    token: &NewToken<'_>,
) -> Result<TokenRow, ServiceError> {
    let write = services.begin().await?;
    let row = api_tokens::create(
        write.txn(),
        tenant,
        token.name,
        token.role,
        token.digest,
        Some(token.created_by),
        token.expires_at,
    )
    .await
    .map_err(taken(|| format!("a live token named {:?} exists", token.name)))?;
    let entry = AuditEntry::allowed(context, "token.create", "ApiToken", 201).in_tenant(tenant).named(token.name);
    write.commit(&entry, Effect::Nothing).await?;
    Ok(row)
}

/// Revokes a token: the next request with it is refused, on every replica.
pub(crate) async fn revoke_token(
    services: &Services,
    context: &AuditContext,
    tenant: &str,
    id: Uuid,
) -> Result<TokenRow, ServiceError> {
    let write = services.begin().await?;
    let row = api_tokens::revoke(write.txn(), tenant, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("token {id} not found in tenant {tenant:?}")))?;
    let entry = AuditEntry::allowed(context, "token.revoke", "ApiToken", 200).in_tenant(tenant).named(&row.name);
    write.commit(&entry, Effect::IdentityChanged).await?;
    Ok(row)
}

/// Opens a browser session for `user` (signed in): its id.
pub(crate) async fn open_session(
    services: &Services,
    user: Uuid,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, ServiceError> {
    Ok(crate::store::sessions::create(&services.db, user, csrf_token, expires_at).await?)
}

/// Ends a browser session: its cookie stops working at once, on every replica.
pub(crate) async fn end_session(services: &Services, session: Uuid) -> Result<(), ServiceError> {
    crate::store::sessions::revoke(&services.db, session).await?;
    services.identity.clear();
    Ok(())
}
