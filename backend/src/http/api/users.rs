//! Users (platform admins): create, list, read, disable, reset password, grant platform admin.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::respond;
use crate::auth::password;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::services::identity;
use crate::state::AppState;
use crate::store::users::{self, UserRow};

/// A user as the API shows it (never the hash).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserView {
    id: Uuid,
    email: String,
    disabled: bool,
    platform_admin: bool,
    created_at: DateTime<Utc>,
}

fn view(user: UserRow) -> UserView {
    UserView {
        id: user.id,
        email: user.email,
        disabled: user.disabled,
        platform_admin: user.is_platform_admin,
        created_at: user.created_at,
    }
}

/// `?after=<email>&limit=`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListUsers {
    after: Option<String>,
    limit: Option<u64>,
}

/// `GET /api/v1/users`
pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListUsers>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let rows = users::list(&state.db, query.after.as_deref().unwrap_or(""), limit).await?;
    let items: Vec<UserView> = rows.into_iter().map(view).collect();
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// Body of `POST /api/v1/users`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    password: SecretString,
    #[serde(default)]
    platform_admin: bool,
}

fn check_email(email: &str) -> Result<(), ApiError> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_field("email", "must be an email address"))
    }
}

/// `POST /api/v1/users`
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    check_email(&body.email)?;
    password::check_strength(body.password.expose_secret()).map_err(|m| ApiError::invalid_field("password", m))?;
    let hash = password::hash(body.password).await.map_err(ApiError::Internal)?;
    let user =
        identity::create_user(&state.services(), &caller.audit(), &body.email, &hash, body.platform_admin).await?;
    respond::json(StatusCode::CREATED, &view(user))
}

/// `GET /api/v1/users/{userId}`
pub(crate) async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    let user =
        users::find_by_id(&state.db, id).await?.ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))?;
    respond::json(StatusCode::OK, &view(user))
}

/// Body of `PATCH /api/v1/users/{userId}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateUser {
    disabled: Option<bool>,
    platform_admin: Option<bool>,
    password: Option<SecretString>,
}

/// `PATCH /api/v1/users/{userId}`
pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    let hash = match body.password {
        Some(password) => {
            password::check_strength(password.expose_secret()).map_err(|m| ApiError::invalid_field("password", m))?;
            Some(password::hash(password).await.map_err(ApiError::Internal)?)
        }
        None => None,
    };
    let (disabled, admin) = (body.disabled, body.platform_admin);
    let user = identity::update_user(&state.services(), &caller.audit(), id, disabled, admin, hash.as_deref()).await?;
    respond::json(StatusCode::OK, &view(user))
}
