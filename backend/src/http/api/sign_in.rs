//! Sign-in administration of one environment: `POST …/rotate-oidc-secret` (a new client secret, made by the
//! reconciler) and `POST …/reveal-admin-password` (the break-glass password, tenant admins only, with a reason
//! that is audited and shown on the environment's timeline before the password is returned).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::validation::FieldError;
use crate::environments::break_glass;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::sign_in;
use crate::state::AppState;

/// The longest reason kept.
const MAX_REASON_CHARS: usize = 500;

/// `POST …/{name}/rotate-oidc-secret`: 202, the reconciler makes the new secret and rolls the controller.
pub(crate) async fn rotate_oidc_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    sign_in::rotate_client_secret(&state.services(), &caller.audit(), (&tenant, &name)).await?;
    respond::json(StatusCode::ACCEPTED, &serde_json::json!({ "status": "rotation requested" }))
}

/// Body of the reveal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevealBody {
    reason: String,
}

/// `POST …/{name}/reveal-admin-password`
pub(crate) async fn reveal_admin_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RevealBody>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        let message = format!("must say why, in 1 to {MAX_REASON_CHARS} characters");
        return Err(ApiError::Invalid {
            detail: format!("reason: {message}"),
            errors: vec![FieldError { field: "reason".into(), message }],
        });
    }
    let (object, profile) = super::jenkins_config::environment_with_profile(&state, &tenant, &name).await?;
    let password = break_glass::admin_password(&state.accounts, &state.aws, &profile, &object)
        .await
        .map_err(|error| ApiError::Unavailable(format!("the password could not be read: {error}")))?
        .ok_or_else(|| ApiError::Conflict("the environment has no admin password yet".into()))?;
    // Recorded before anything is handed out: no reveal without its audit entry and event.
    sign_in::record_reveal(&state.services(), &caller.audit(), (&tenant, &name), reason).await?;
    let mut response = respond::json(
        StatusCode::OK,
        &serde_json::json!({ "username": "admin", "password": password.expose_secret(), "loginPath": "securityRealm/escapeHatch" }),
    )?;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
