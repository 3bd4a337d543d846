//! Users (platform admins): create, list, read, disable, reset password, grant platform admin.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::respond;
use crate::auth::password;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::store::audit::{self, AuditEntry};
use crate::store::users::{self, UserRow};
use crate::store::StoreError;

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
pub struct ListUsers {
    after: Option<String>,
    limit: Option<u64>,
}

/// `GET /api/v1/users`
pub async fn list_users(
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
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    check_email(&body.email)?;
    password::check_strength(body.password.expose_secret()).map_err(|m| ApiError::invalid_field("password", m))?;
    let hash = password::hash(body.password).await.map_err(ApiError::Internal)?;
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    let user = users::create(&txn, &body.email, &hash, body.platform_admin).await.map_err(|error| match error {
        StoreError::AlreadyExists => ApiError::AlreadyExists("a user with this email exists".into()),
        other => other.into(),
    })?;
    let context = caller.audit();
    audit::append(&txn, &AuditEntry::allowed(&context, "user.create", "User", 201).named(&user.email)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    respond::json(StatusCode::CREATED, &view(user))
}

/// `GET /api/v1/users/{userId}`
pub async fn get_user(
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
pub struct UpdateUser {
    disabled: Option<bool>,
    platform_admin: Option<bool>,
    password: Option<SecretString>,
}

/// `PATCH /api/v1/users/{userId}`
pub async fn update_user(
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
    let txn = state.db.begin().await.map_err(StoreError::from)?;
    let user = users::update(&txn, id, body.disabled, body.platform_admin, hash.as_deref())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))?;
    let context = caller.audit();
    let detail = format!(
        "disabled {}, platform admin {}{}",
        user.disabled,
        user.is_platform_admin,
        if hash.is_some() { ", password reset" } else { "" }
    );
    audit::append(&txn, &AuditEntry::allowed(&context, "user.update", "User", 200).named(&user.email).detail(&detail))
        .await?;
    txn.commit().await.map_err(StoreError::from)?;
    state.identity.clear();
    respond::json(StatusCode::OK, &view(user))
}
