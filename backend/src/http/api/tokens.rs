//! API tokens of a tenant (tenant admins): created by people, shown once, stored hashed, revocable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::respond;
use crate::auth::{tokens, Role};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::identity::{self, NewToken};
use crate::state::AppState;
use crate::store::{api_tokens, tenants};

/// `GET /api/v1/tenants/{tenant}/tokens`: metadata only, never secrets.
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let items = api_tokens::list(&state.db, &tenant).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// Body of `POST …/tokens`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateToken {
    name: String,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/tenants/{tenant}/tokens`: the secret is in this response and nowhere else, ever.
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let creator = caller.user_id().ok_or_else(|| {
        caller.forbidden(Some(&tenant), "API tokens are created by people, not by other tokens".into())
    })?;
    let own_role = caller.tenant_role(&tenant).unwrap_or(Role::Viewer);
    if body.role > own_role {
        return Err(caller
            .forbidden(Some(&tenant), format!("a token's role cannot be higher than yours ({})", own_role.as_str())));
    }
    if body.name.is_empty() || body.name.len() > 64 {
        return Err(ApiError::invalid_field("name", "must be 1-64 characters"));
    }
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid_field("expiresAt", "must be in the future"));
    }
    if tenants::find(&state.db, &tenant).await?.is_none() {
        return Err(ApiError::NotFound(format!("tenant {tenant:?} not found")));
    }
    let secret = tokens::generate();
    let digest = tokens::digest(&secret);
    let token = NewToken {
        name: &body.name,
        role: body.role.as_str(),
        digest: &digest,
        created_by: creator,
        expires_at: body.expires_at,
    };
    let row = identity::create_token(&state.services(), &caller.audit(), &tenant, &token).await?;
    let mut view = serde_json::to_value(&row).map_err(|e| ApiError::Internal(e.into()))?;
    view["token"] = serde_json::Value::String(secret);
    respond::json(StatusCode::CREATED, &view)
}

/// `DELETE /api/v1/tenants/{tenant}/tokens/{tokenId}`: revokes at once (the next request with it is 401).
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, token_id)): ApiPath<(String, Uuid)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let row = identity::revoke_token(&state.services(), &caller.audit(), &tenant, token_id).await?;
    respond::json(StatusCode::OK, &row)
}
