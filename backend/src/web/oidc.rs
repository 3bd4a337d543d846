//! The OpenID Connect authorization endpoint: a browser page. A person who is not signed in goes through
//! Butler's sign-in page and comes back here; a signed-in member of the environment's tenant is sent back to
//! that Jenkins with a one-time code; anyone else gets a page saying why, never a code.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::chrome::PageCaller;
use crate::caller::Principal;
use crate::services::oidc::{self, AuthorizeRequest, Authorized};
use crate::state::AppState;

/// The page routes of the provider.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/oauth2/authorize", get(authorize))
}

async fn authorize(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(request): Query<AuthorizeRequest>,
) -> Response {
    let Principal::User { id, memberships, .. } = &caller.principal else {
        // An API token is no person: it signs nobody in.
        return super::error_response(StatusCode::FORBIDDEN, "Not a person", "Sign in to Butler in your browser.");
    };
    match oidc::authorize(&state.db, &state.issuer(), *id, memberships, &request).await {
        Ok(Authorized::Redirect(location)) => {
            let mut response = Redirect::to(&location).into_response();
            // The code is in the URL: keep it out of caches and of the Referer of the next page.
            response.headers_mut().insert(axum::http::header::CACHE_CONTROL, "no-store".parse().expect("static"));
            response
        }
        Ok(Authorized::Refuse { status, title, detail }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            super::error_response(status, &title, &detail)
        }
        Err(error) => {
            tracing::error!(error = %crate::telemetry::with_causes(&error), "authorization request failed");
            super::error_response(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Try again in a moment.")
        }
    }
}
