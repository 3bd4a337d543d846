//! Invitations: a tenant admin invites an email with a role (`POST …/members`), the person accepts once signed
//! in (`POST /api/v1/me/invitations/{tenant}`). The answer to an invitation is the same whether or not the email
//! has an account, so tenant admins cannot use it to learn who has one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::members::require_existing_tenant;
use super::respond;
use crate::auth::password::normalize_email;
use crate::auth::Role;
use crate::caller::{Caller, Principal};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::identity;
use crate::state::AppState;
use crate::store::invitations;

/// Body of `POST …/members`: whom to invite, with which role.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invite {
    email: String,
    role: Role,
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && email.len() <= 254 && !email.chars().any(char::is_whitespace)
}

/// `POST /api/v1/tenants/{tenant}/members`: invites an email (202, whether or not it has an account).
pub(crate) async fn invite_member(
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
    let invitation = identity::invite(&state.services(), &caller.audit(), &tenant, &email, body.role.as_str()).await?;
    respond::json(StatusCode::ACCEPTED, &invitation)
}

/// `GET /api/v1/tenants/{tenant}/invitations`: the tenant's open invitations (tenant admins).
pub(crate) async fn list_invitations(
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
pub(crate) async fn withdraw_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, email)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let email = normalize_email(&email);
    identity::withdraw_invitation(&state.services(), &caller.audit(), &tenant, &email).await?;
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
pub(crate) async fn my_invitations(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (_, email) = person(&caller)?;
    let items = invitations::for_email(&state.db, &email).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// `POST /api/v1/me/invitations/{tenant}`: accepts an invitation: the caller joins with the invited role.
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (user, email) = person(&caller)?;
    let invitation = identity::accept_invitation(&state.services(), &caller.audit(), &tenant, (user, &email)).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "tenant": tenant, "role": invitation.role }))
}
