//! The `Caller` extractor: who is asking (a user by JWT or session cookie, or an API token), from where, with
//! which request id. Missing or bad credentials are 401 with `WWW-Authenticate`; nothing about the credential
//! is ever logged. With `authz`, the one place that decides what a caller may do. It sits above the identity
//! primitives (`auth`) and beside `state` and `error`: it is the edge where a request becomes a principal.

mod authz;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth::cache::{SessionIdentity, TokenIdentity, UserIdentity};
use crate::auth::{tokens, Role};
use crate::domain::actor::ActorKind;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::audit::AuditContext;
use crate::store::{api_tokens, sessions, users};

/// The cookie carrying a browser session's JWT.
pub(crate) const SESSION_COOKIE: &str = "butler_session";
/// The header a cookie-authenticated caller sends on state-changing requests (forms send a field).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    User { id: Uuid, email: String, platform_admin: bool, memberships: HashMap<String, Role> },
    Token { id: Uuid, name: String, tenant: String, role: Role },
}

/// An authenticated request's caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The browser session, when authenticated by cookie (logout revokes it).
    pub session: Option<Uuid>,
    pub request_id: Option<String>,
    pub client_address: Option<SocketAddr>,
}

impl Caller {
    /// `user:<email>` or `token:<tenant>/<name>`, as audit entries name actors.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { email, .. } => format!("user:{email}"),
            Principal::Token { tenant, name, .. } => format!("token:{tenant}/{name}"),
        }
    }

    /// `user` or `token`.
    pub fn actor_kind(&self) -> ActorKind {
        match self.principal {
            Principal::User { .. } => ActorKind::User,
            Principal::Token { .. } => ActorKind::Token,
        }
    }

    /// The user id, for people.
    pub fn user_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Token { .. } => None,
        }
    }

    /// What the audit log records about this request.
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor: self.actor(),
            actor_kind: self.actor_kind(),
            request_id: self.request_id.clone(),
            client_address: self.client_address.map(|a| a.ip().to_string()),
        }
    }
}

fn unauthenticated(detail: &str) -> ApiError {
    ApiError::Unauthenticated(detail.to_owned())
}

/// The request id set by the request-id layer.
pub fn request_id(parts: &Parts) -> Option<String> {
    parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The peer address, when the server was started with connect info.
pub fn client_address(parts: &Parts) -> Option<SocketAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| *address)
}

fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = request_id(parts);
        let client_address = client_address(parts);
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim));
        let (principal, session) = match bearer {
            Some(None) => return Err(unauthenticated("the Authorization header must be `Bearer <token>`")),
            Some(Some(secret)) if secret.starts_with(tokens::TOKEN_PREFIX) => (api_token(state, secret).await?, None),
            Some(Some(jwt)) => user_from_jwt(state, jwt, false).await?,
            None => match cookie_value(parts, SESSION_COOKIE) {
                Some(jwt) => {
                    let (principal, session) = user_from_jwt(state, jwt, true).await?;
                    check_csrf(state, parts, session).await?;
                    (principal, session)
                }
                None => return Err(unauthenticated("credentials are required: send `Authorization: Bearer <token>`")),
            },
        };
        Ok(Caller { principal, session, request_id, client_address })
    }
}

async fn api_token(state: &AppState, secret: &str) -> Result<Principal, ApiError> {
    let digest = tokens::digest(secret);
    let token = match state.identity.token(&digest) {
        Some(token) => token,
        None => {
            let row = api_tokens::find_live_by_digest(&state.db, &digest)
                .await?
                .ok_or_else(|| unauthenticated("the API token is unknown, expired or revoked"))?;
            let role = Role::parse(&row.role).ok_or_else(|| unauthenticated("the API token has no valid role"))?;
            let identity =
                TokenIdentity { id: row.id, name: row.name, tenant: row.tenant, role, expires_at: row.expires_at };
            state.identity.put_token(digest, identity)
        }
    };
    if state.identity.should_touch(token.id) {
        api_tokens::touch(&state.db, token.id).await?;
    }
    Ok(Principal::Token { id: token.id, name: token.name.clone(), tenant: token.tenant.clone(), role: token.role })
}

/// The CSRF token of a live browser session (the console's pages hand it to their script).
pub async fn csrf_token(state: &AppState, session: Uuid) -> Option<String> {
    self::session(state, session).await.ok().flatten().map(|s| s.csrf_token.clone())
}

async fn session(state: &AppState, id: Uuid) -> Result<Option<std::sync::Arc<SessionIdentity>>, ApiError> {
    if let Some(hit) = state.identity.session(id) {
        return Ok(Some(hit));
    }
    Ok(sessions::find_live(&state.db, id).await?.map(|row| {
        state.identity.put_session(
            id,
            SessionIdentity { user_id: row.user_id, csrf_token: row.csrf_token, expires_at: row.expires_at },
        )
    }))
}

async fn user(state: &AppState, id: Uuid) -> Result<Option<std::sync::Arc<UserIdentity>>, ApiError> {
    if let Some(hit) = state.identity.user(id) {
        return Ok(Some(hit));
    }
    let Some(row) = users::find_by_id(&state.db, id).await? else { return Ok(None) };
    let memberships = users::memberships_of(&state.db, id)
        .await?
        .into_iter()
        .filter_map(|(tenant, role)| Role::parse(&role).map(|role| (tenant, role)))
        .collect();
    Ok(Some(state.identity.put_user(UserIdentity {
        id,
        email: row.email,
        platform_admin: row.is_platform_admin,
        disabled: row.disabled,
        memberships,
        credentials_changed_at: row.credentials_changed_at,
    })))
}

async fn user_from_jwt(state: &AppState, jwt: &str, from_cookie: bool) -> Result<(Principal, Option<Uuid>), ApiError> {
    let claims = state.jwt.verify(jwt).ok_or_else(|| unauthenticated("the token is invalid or expired"))?;
    if from_cookie && claims.sid.is_none() {
        return Err(unauthenticated("the session cookie is not a session"));
    }
    if let Some(id) = claims.sid {
        let live = session(state, id).await?;
        if live.is_none_or(|s| s.user_id != claims.sub) {
            return Err(unauthenticated("the session has ended; sign in again"));
        }
    }
    let user = user(state, claims.sub)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| unauthenticated("the account is unknown or disabled"))?;
    // JWT times are whole seconds: a token issued in the second of the change counts as issued before it.
    if user.credentials_changed_at.is_some_and(|changed| claims.iat <= changed.timestamp()) {
        return Err(unauthenticated("the token was issued before the account's credentials changed; sign in again"));
    }
    let principal = Principal::User {
        id: user.id,
        email: user.email.clone(),
        platform_admin: user.platform_admin,
        memberships: user.memberships.clone(),
    };
    Ok((principal, claims.sid))
}

/// Cookie-authenticated writes must echo the session's CSRF token (a cross-site form cannot read it).
async fn check_csrf(state: &AppState, parts: &Parts, session: Option<Uuid>) -> Result<(), ApiError> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let Some(session) = session else { return Err(unauthenticated("no session")) };
    let expected = self::session(state, session).await?.map(|s| s.csrf_token.clone()).unwrap_or_default();
    let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if expected.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::Forbidden {
            detail: "the CSRF token is missing or wrong".into(),
            actor: "anonymous".into(),
            actor_kind: ActorKind::Anonymous,
            tenant: None,
        });
    }
    Ok(())
}
