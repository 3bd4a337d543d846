//! Tenant members and their roles (tenant admins). People join by invitation (`invitations`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::identity;
use crate::state::AppState;
use crate::store::{tenants, users};

pub(super) async fn require_existing_tenant(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    tenants::find(&state.db, tenant)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant:?} not found")))
}

/// `GET /api/v1/tenants/{tenant}/members`
pub(crate) async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    require_existing_tenant(&state, &tenant).await?;
    let items = users::members(&state.db, &tenant).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// Body of `PUT …/members/{userId}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRole {
    role: Role,
}

async fn set_role(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    user: Uuid,
    email: &str,
    role: Role,
    status: u16,
) -> Result<Response, ApiError> {
    identity::set_member_role(&state.services(), &caller.audit(), tenant, (user, email), role.as_str(), status).await?;
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    respond::json(code, &serde_json::json!({ "userId": user, "email": email, "role": role }))
}

/// `PUT /api/v1/tenants/{tenant}/members/{userId}`: changes a member's role.
pub(crate) async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, user_id)): ApiPath<(String, Uuid)>,
    ApiJson(body): ApiJson<SetRole>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    require_existing_tenant(&state, &tenant).await?;
    let is_member = users::members(&state.db, &tenant).await?.into_iter().find(|m| m.user_id == user_id);
    let member =
        is_member.ok_or_else(|| ApiError::NotFound(format!("user {user_id} is not a member of {tenant:?}")))?;
    set_role(&state, &caller, &tenant, user_id, &member.email, body.role, 200).await
}

/// `DELETE /api/v1/tenants/{tenant}/members/{userId}`
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, user_id)): ApiPath<(String, Uuid)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    identity::remove_member(&state.services(), &caller.audit(), &tenant, user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
