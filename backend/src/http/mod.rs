//! HTTP: the router with its middleware (request ids, tracing, body limit, problem+json fallbacks).

pub mod api;
pub mod extract;
pub mod middleware;
pub mod routes;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::response::IntoResponse;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::state::AppState;
use routes::RouteTable;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the product, recorded.
pub fn route_table() -> RouteTable {
    api::routes(RouteTable::default())
}

/// The application: routes, fallbacks and middleware.
pub fn router(state: AppState) -> Router {
    route_table()
        .into_router()
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::audit_refusals))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let request_id =
                                request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                            // The path only: query strings may one day carry tokens.
                            tracing::info_span!(
                                "request",
                                method = %request.method(),
                                path = %request.uri().path(),
                                request_id = %request_id,
                            )
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // A panic in a handler becomes a logged 500 problem instead of a dropped connection.
                .layer(CatchPanicLayer::custom(panic_response)),
        )
        .with_state(state)
}

async fn not_found(request: Request) -> axum::response::Response {
    // People get the console's 404 page; programs (anything under /api, or not asking for HTML) a problem.
    let wants_html = request
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !request.uri().path().starts_with("/api/") {
        return crate::web::not_found_page();
    }
    ApiError::NotFound(format!("no route for {}", request.uri().path())).into_response()
}

async fn method_not_allowed(request: Request) -> impl IntoResponse {
    ApiError::MethodNotAllowed(format!("{} is not allowed on {}", request.method(), request.uri().path()))
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
}
