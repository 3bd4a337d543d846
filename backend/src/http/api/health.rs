//! Liveness (`/healthz`) and readiness (`/readyz`: database reachable, migrations applied, cache loaded; with
//! the reconcile queue's figures, so a stalled claim loop is visible).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::respond;
use crate::error::ApiError;
use crate::state::AppState;

/// How long readiness waits for the database.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The process is up.
pub(crate) async fn get_healthz() -> Result<Response, ApiError> {
    respond::json(StatusCode::OK, &json!({ "status": "ok" }))
}

/// The process can serve: the database answers, every migration is applied and the cache is loaded.
pub(crate) async fn get_readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    // Bounded: a readiness probe must answer, red, while the database does not.
    let probe = tokio::time::timeout(READINESS_TIMEOUT, state.db.execute_unprepared("SELECT 1")).await;
    if !matches!(probe, Ok(Ok(_))) {
        tracing::warn!("readiness: database unreachable");
        return Err(ApiError::Unavailable("the database is not reachable".into()));
    }
    let pending = Migrator::get_pending_migrations(&state.db)
        .await
        .map_err(|_| ApiError::Unavailable("the migration table cannot be read; run `butler migrate`".into()))?;
    if !pending.is_empty() {
        return Err(ApiError::Unavailable(format!("{} migration(s) not applied; run `butler migrate`", pending.len())));
    }
    if !state.feed.is_ready() {
        return Err(ApiError::Unavailable("the environment cache is still loading".into()));
    }
    // The queue is reported, not judged: a backlog must not take every replica out of service at once.
    let queue = crate::store::queue::health(&state.db).await?;
    respond::json(StatusCode::OK, &json!({ "status": "ready", "queue": queue }))
}
