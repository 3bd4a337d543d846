//! API tokens of a tenant (tenant admins): created by people, shown once, stored hashed, revocable.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use serde::Deserialize;
use uuid::Uuid;

use super::respond;
use crate::auth::{tokens, Role};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::audit::{self, AuditEntry};
use crate::store::{api_tokens, tenants, StoreError};

/// `GET /api/v1/tenants/{tenant}/tokens`: metadata only, never secrets.
pub async fn list_tokens(
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
pub struct CreateToken {
    name: String,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/tenants/{tenant}/tokens`: the secret is in this response and nowhere else, ever.
pub async fn create_token(
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
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    let row = api_tokens::create(
        &txn,
        &tenant,
        &body.name,
        body.role.as_str(),
        &tokens::digest(&secret),
        Some(creator),
        body.expires_at,
    )
    .await
    .map_err(|error| match error {
        StoreError::AlreadyExists => ApiError::AlreadyExists(format!("a live token named {:?} exists", body.name)),
        other => other.into(),
    })?;
    let context = caller.audit();
    audit::append(
        &txn,
        &AuditEntry::allowed(&context, "token.create", "ApiToken", 201).in_tenant(&tenant).named(&body.name),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    let mut view = serde_json::to_value(&row).map_err(|e| ApiError::Internal(e.into()))?;
    view["token"] = serde_json::Value::String(secret);
    respond::json(StatusCode::CREATED, &view)
}

/// `DELETE /api/v1/tenants/{tenant}/tokens/{tokenId}`: revokes at once (the next request with it is 401).
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, token_id)): ApiPath<(String, Uuid)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    let row = api_tokens::revoke(&txn, &tenant, token_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("token {token_id} not found in tenant {tenant:?}")))?;
    let context = caller.audit();
    audit::append(
        &txn,
        &AuditEntry::allowed(&context, "token.revoke", "ApiToken", 200).in_tenant(&tenant).named(&row.name),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.identity.clear();
    respond::json(StatusCode::OK, &row)
}
