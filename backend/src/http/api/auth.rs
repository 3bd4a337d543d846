//! Authentication endpoints: a JWT for scripts, a cookie session for browsers, logout, and "who am I".

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::respond;
use crate::auth::password;
use crate::caller::{Caller, Principal, SESSION_COOKIE};
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ClientAddress};
use crate::services::identity;
use crate::state::AppState;
use crate::store::users;

/// Email and password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    email: String,
    password: SecretString,
}

/// Checks credentials under the login rate limits. Every failure says the same thing.
async fn authenticate(
    state: &AppState,
    credentials: Credentials,
    address: Option<std::net::IpAddr>,
) -> Result<users::UserRow, ApiError> {
    state.login_limiter.check(&credentials.email, address).map_err(ApiError::TooManyRequests)?;
    let invalid = || ApiError::Unauthenticated("invalid email or password".into());
    let user = users::find_by_email(&state.db, &password::normalize_email(&credentials.email)).await?;
    let hash = user.as_ref().map_or_else(|| state.decoy_password_hash.clone(), |u| u.password_hash.clone());
    let matches = password::verify(credentials.password, hash).await;
    match user {
        Some(user) if matches && !user.disabled => Ok(user),
        _ => Err(invalid()),
    }
}

/// A signed token and when it stops working.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenResponse {
    token: String,
    token_type: &'static str,
    expires_at: DateTime<Utc>,
}

fn expiry(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_else(Utc::now)
}

/// `POST /api/v1/auth/token`: email + password → a short-lived JWT for `Authorization: Bearer`.
pub(crate) async fn create_token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let address = address.map(|a| a.ip());
    let user = authenticate(&state, credentials, address).await?;
    let (token, claims) = state.jwt.issue(user.id, None, state.config.jwt_ttl).map_err(ApiError::Internal)?;
    respond::json(StatusCode::OK, &TokenResponse { token, token_type: "Bearer", expires_at: expiry(claims.exp) })
}

/// A browser session's CSRF token (sent back in `X-CSRF-Token` or a form field on every write).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionResponse {
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

fn session_cookie(state: &AppState, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// `POST /api/v1/auth/session`: email + password → an HttpOnly, SameSite=Lax session cookie.
pub(crate) async fn create_session(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let address = address.map(|a| a.ip());
    let user = authenticate(&state, credentials, address).await?;
    let mut csrf = [0u8; 32];
    rand::rng().fill_bytes(&mut csrf);
    let csrf_token = URL_SAFE_NO_PAD.encode(csrf);
    let ttl = state.config.session_ttl;
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12));
    let session = identity::open_session(&state.services(), user.id, &csrf_token, expires_at).await?;
    let (token, _) = state.jwt.issue(user.id, Some(session), ttl).map_err(ApiError::Internal)?;
    let mut response = respond::json(StatusCode::CREATED, &SessionResponse { csrf_token, expires_at })?;
    if let Some(cookie) = session_cookie(&state, &token, ttl.as_secs()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `DELETE /api/v1/auth/session`: ends the caller's browser session and clears the cookie.
pub(crate) async fn delete_session(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Some(session) = caller.session {
        identity::end_session(&state.services(), session).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = session_cookie(&state, "", 0) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Who the caller is and what they may do.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    actor: String,
    kind: crate::domain::actor::ActorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    platform_admin: bool,
    memberships: Vec<MembershipView>,
}

/// A tenant and the caller's role in it.
#[derive(Serialize)]
struct MembershipView {
    tenant: String,
    role: &'static str,
}

/// `GET /api/v1/me`
pub(crate) async fn get_me(caller: Caller) -> Result<Response, ApiError> {
    let (email, memberships) = match &caller.principal {
        Principal::User { email, memberships, .. } => (
            Some(email.clone()),
            memberships.iter().map(|(t, r)| MembershipView { tenant: t.clone(), role: r.as_str() }).collect(),
        ),
        Principal::Token { tenant, role, .. } => {
            (None, vec![MembershipView { tenant: tenant.clone(), role: role.as_str() }])
        }
    };
    let mut memberships: Vec<MembershipView> = memberships;
    memberships.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    respond::json(
        StatusCode::OK,
        &Me {
            actor: caller.actor(),
            kind: caller.actor_kind(),
            email,
            platform_admin: caller.is_platform_admin(),
            memberships,
        },
    )
}
