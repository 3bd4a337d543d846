//! `GET /metrics`: Prometheus text. AWS calls and failures by operation and code (calls per reconcile is a
//! product metric), and the reconcile queue's backlog, oldest due item and expired leases — so a claim loop
//! that died shows up instead of hiding behind a green health check.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::queue;

/// Escapes a label value (backslash, quote, newline).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Whether the request may read metrics: the scraper's token, or a platform admin's own credentials. Metrics
/// name AWS operations and queue figures of every tenant: not for the public, nor for tenant users.
async fn authorize(state: &AppState, parts: &mut Parts) -> Result<(), ApiError> {
    if let Some(expected) = &state.config.metrics_token {
        let sent = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.expose_secret().as_bytes())) {
            return Ok(());
        }
    }
    Caller::from_request_parts(parts, state).await?.require_platform_admin()
}

/// The metrics of this process (AWS counters) and of the shared queue (database).
pub(crate) async fn get_metrics(State(state): State<AppState>, mut parts: Parts) -> Result<Response, ApiError> {
    authorize(&state, &mut parts).await?;
    let health = queue::health(&state.db).await?;
    let mut text = String::new();
    let mut line = |s: String| {
        let _ = writeln!(text, "{s}");
    };
    line("# HELP butler_db_queries_total SQL statements this process has sent to PostgreSQL.".into());
    line("# TYPE butler_db_queries_total counter".into());
    line(format!("butler_db_queries_total {}", crate::store::queries()));
    line("# HELP butler_aws_calls_total AWS API calls made by this process, by operation.".into());
    line("# TYPE butler_aws_calls_total counter".into());
    for (operation, count) in state.aws.calls.snapshot() {
        line(format!("butler_aws_calls_total{{operation=\"{}\"}} {count}", label(operation)));
    }
    line("# HELP butler_aws_errors_total Failed AWS API calls, by operation and error code.".into());
    line("# TYPE butler_aws_errors_total counter".into());
    for ((operation, code), count) in state.aws.calls.error_snapshot() {
        line(format!(
            "butler_aws_errors_total{{operation=\"{}\",code=\"{}\"}} {count}",
            label(operation),
            label(&code)
        ));
    }
    line("# HELP butler_reconcile_due Environments due for a reconcile and not claimed.".into());
    line("# TYPE butler_reconcile_due gauge".into());
    line(format!("butler_reconcile_due {}", health.due));
    line("# HELP butler_reconcile_oldest_due_seconds How long the oldest due environment has waited.".into());
    line("# TYPE butler_reconcile_oldest_due_seconds gauge".into());
    line(format!("butler_reconcile_oldest_due_seconds {}", health.oldest_due_seconds));
    line("# HELP butler_reconcile_leases_expired Claims whose lease ran out unrenewed (a worker died).".into());
    line("# TYPE butler_reconcile_leases_expired gauge".into());
    line(format!("butler_reconcile_leases_expired {}", health.expired_leases));
    line("# HELP butler_reconcile_leases_held Reconciles in progress across all workers.".into());
    line("# TYPE butler_reconcile_leases_held gauge".into());
    line(format!("butler_reconcile_leases_held {}", health.leased));
    let mut response = (StatusCode::OK, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(response)
}
