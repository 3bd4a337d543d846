//! Tenants: platform admins create them and set quotas and cloud profiles; members see theirs.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::respond;
use crate::auth::Role;
use crate::caller::{Caller, Principal};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::{self, tenants::TenantChanges};
use crate::state::AppState;
use crate::store::entity::tenant;
use crate::store::tenants::{self, NewTenant, Usage};

/// A tenant as the API shows it; usage only to its admins.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantView {
    name: String,
    display_name: String,
    cloud_profile: String,
    quotas: Quotas,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    created_at: DateTime<Utc>,
}

/// Per-tenant limits.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Quotas {
    max_environments: i32,
    max_instances: i32,
}

fn view(tenant: tenant::Model, usage: Option<Usage>) -> TenantView {
    TenantView {
        name: tenant.name,
        display_name: tenant.display_name,
        cloud_profile: tenant.cloud_profile,
        quotas: Quotas { max_environments: tenant.max_environments, max_instances: tenant.max_instances },
        usage,
        created_at: tenant.created_at.to_utc(),
    }
}

/// `GET /api/v1/tenants`: every tenant for platform admins, otherwise the caller's own.
pub(crate) async fn list_tenants(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let rows = match &caller.principal {
        _ if caller.is_platform_admin() => tenants::list(&state.db).await?,
        Principal::User { memberships, .. } => {
            tenants::list_named(&state.db, &memberships.keys().cloned().collect::<Vec<_>>()).await?
        }
        Principal::Token { tenant, .. } => tenants::list_named(&state.db, std::slice::from_ref(tenant)).await?,
    };
    let items: Vec<TenantView> = rows.into_iter().map(|t| view(t, None)).collect();
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// Body of `POST /api/v1/tenants`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    display_name: Option<String>,
    max_environments: Option<i32>,
    max_instances: Option<i32>,
    cloud_profile: Option<String>,
}

fn check_quota(field: &str, value: Option<i32>) -> Result<(), ApiError> {
    match value {
        Some(v) if !(0..=100_000).contains(&v) => Err(ApiError::invalid_field(field, "must be between 0 and 100000")),
        _ => Ok(()),
    }
}

fn check_tenant_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_field("name", "must be a DNS label of at most 32 characters (it is part of AWS names)"))
    }
}

/// `POST /api/v1/tenants` (platform admin).
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTenant>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    check_tenant_name(&body.name)?;
    check_quota("maxEnvironments", body.max_environments)?;
    check_quota("maxInstances", body.max_instances)?;
    let display_name = body.display_name.clone().unwrap_or_else(|| body.name.clone());
    let new = NewTenant {
        name: &body.name,
        display_name: &display_name,
        max_environments: body.max_environments.unwrap_or(state.config.default_max_environments),
        max_instances: body.max_instances.unwrap_or(state.config.default_max_instances),
        cloud_profile: body.cloud_profile.as_deref().unwrap_or("default"),
    };
    let created = services::tenants::create(&state.services(), &caller.audit(), &new).await?;
    let mut response = respond::json(StatusCode::CREATED, &view(created.clone(), Some(Usage::default())))?;
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/tenants/{}", created.name)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /api/v1/tenants/{tenant}` (tenant admin): quotas and usage.
pub(crate) async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let row = tenants::find(&state.db, &tenant)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant:?} not found")))?;
    let usage = tenants::usage(&state.db, &tenant).await?;
    respond::json(StatusCode::OK, &view(row, Some(usage)))
}

/// Body of `PATCH /api/v1/tenants/{tenant}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateTenant {
    display_name: Option<String>,
    max_environments: Option<i32>,
    max_instances: Option<i32>,
    cloud_profile: Option<String>,
}

/// `PATCH /api/v1/tenants/{tenant}` (platform admin): display name, quotas, cloud profile.
pub(crate) async fn update_tenant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    check_quota("maxEnvironments", body.max_environments)?;
    check_quota("maxInstances", body.max_instances)?;
    let changes = TenantChanges {
        display_name: body.display_name.as_deref(),
        max_environments: body.max_environments,
        max_instances: body.max_instances,
        cloud_profile: body.cloud_profile.as_deref(),
    };
    let (updated, usage) = services::tenants::update(&state.services(), &caller.audit(), &tenant, &changes).await?;
    respond::json(StatusCode::OK, &view(updated, Some(usage)))
}
