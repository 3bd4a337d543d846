//! Invitations: a tenant admin invites an email with a role (`POST …/members`), the person accepts once signed
//! in (`POST /api/v1/me/invitations/{tenant}`). The answer to an invitation is the same whether or not the email
//! has an account, so tenant admins cannot use it to learn who has one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::TransactionTrait;
use serde::Deserialize;

use super::members::require_existing_tenant;
use super::respond;
use crate::auth::password::normalize_email;
use crate::auth::Role;
use crate::caller::{Caller, Principal};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::audit::{self, AuditEntry};
use crate::store::{invitations, users, StoreError};

/// Body of `POST …/members`: whom to invite, with which role.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    email: String,
    role: Role,
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && email.len() <= 254 && !email.chars().any(char::is_whitespace)
}

/// `POST /api/v1/tenants/{tenant}/members`: invites an email (202, whether or not it has an account).
pub async fn invite_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<Invite>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    require_existing_tenant(&state, &tenant).await?;
    let email = normalize_email(&body.email);
    if !looks_like_email(&email) {
        return Err(ApiError::invalid_field("email", "must be an email address"));
    }
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    let invitation = invitations::invite(&txn, &tenant, &email, body.role.as_str(), &caller.actor()).await?;
    let context = caller.audit();
    let detail = format!("{email} invited as {}", body.role.as_str());
    let entry = AuditEntry::allowed(&context, "member.invite", "Invitation", 202).in_tenant(&tenant).named(&email);
    audit::append(&txn, &entry.detail(&detail)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    respond::json(StatusCode::ACCEPTED, &invitation)
}

/// `GET /api/v1/tenants/{tenant}/invitations`: the tenant's open invitations (tenant admins).
pub async fn list_invitations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    require_existing_tenant(&state, &tenant).await?;
    let items = invitations::of_tenant(&state.db, &tenant).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// `DELETE /api/v1/tenants/{tenant}/invitations/{email}`: withdraws an invitation (tenant admins).
pub async fn withdraw_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, email)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let email = normalize_email(&email);
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    if !invitations::withdraw(&txn, &tenant, &email).await? {
        return Err(ApiError::NotFound(format!("no open invitation of {email:?} to {tenant:?}")));
    }
    let context = caller.audit();
    let entry = AuditEntry::allowed(&context, "member.uninvite", "Invitation", 204).in_tenant(&tenant).named(&email);
    audit::append(&txn, &entry).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The signed-in person's email (tokens have none: invitations are for people).
fn person(caller: &Caller) -> Result<(uuid::Uuid, String), ApiError> {
    match &caller.principal {
        Principal::User { id, email, .. } => Ok((*id, email.clone())),
        Principal::Token { .. } => Err(caller.forbidden(None, "invitations are for people, not API tokens".into())),
    }
}

/// `GET /api/v1/me/invitations`: the open invitations naming the caller's email.
pub async fn my_invitations(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (_, email) = person(&caller)?;
    let items = invitations::for_email(&state.db, &email).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// `POST /api/v1/me/invitations/{tenant}`: accepts an invitation: the caller joins with the invited role.
pub async fn accept_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (user, email) = person(&caller)?;
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    let invitation = invitations::take(&txn, &tenant, &email)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no open invitation to tenant {tenant:?}")))?;
    users::set_membership(&txn, &tenant, user, &invitation.role).await?;
    let context = caller.audit();
    let detail = format!("{email} joined as {} (invited by {})", invitation.role, invitation.invited_by);
    let entry = AuditEntry::allowed(&context, "member.accept", "Member", 200).in_tenant(&tenant).named(&email);
    audit::append(&txn, &entry.detail(&detail)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.identity.clear();
    respond::json(StatusCode::OK, &serde_json::json!({ "tenant": tenant, "role": invitation.role }))
}
