//! `GET /api/v1/audit`: platform admins read everything; tenant admins read their tenant's entries.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::state::AppState;
use crate::store::audit::{self, AuditFilter};

/// Filters and page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    tenant: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Return entries older than this id (the `next` of the previous page).
    before: Option<i64>,
    limit: Option<u64>,
}

/// `GET /api/v1/audit`
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    match &query.tenant {
        Some(tenant) => caller.require(tenant, Role::Admin)?,
        None => caller.require_platform_admin()?,
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be between 1 and 1000".into()));
    }
    let filter = AuditFilter {
        tenant: query.tenant,
        actor: query.actor,
        action: query.action,
        since: query.since,
        until: query.until,
        before_id: query.before,
        limit,
    };
    let items = audit::list(&state.db, &filter).await?;
    let next = (items.len() as u64 == limit).then(|| items.last().map(|e| e.id)).flatten();
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items, "next": next }))
}
