//! The web console: server-rendered pages (askama templates in `web/templates`) for people, on the same stores
//! and the same authorization as the JSON API. Pages read; their writes go through the JSON API itself (the
//! page script sends the form as JSON with the session's CSRF token), so validation and authorization exist
//! once. Static files (`web/static`) are compiled in: no CDN, no build step.

mod chrome;
mod costs;
mod environment_forms;
mod environments;
mod oidc;
mod platform;
pub mod redirect;
mod tenant;
mod view;

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub(crate) use chrome::{Chrome, PageCaller};

use crate::caller::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::invitations::{self, InvitationRow};

const CONSOLE_JS: &str = include_str!("../../../web/static/console.js");
const CONSOLE_CSS: &str = include_str!("../../../web/static/console.css");

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/invitations", get(my_invitations))
        .route("/static/console.js", get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }))
        .route("/static/console.css", get(|| async { asset("text/css; charset=utf-8", CONSOLE_CSS) }))
        .merge(environments::routes())
        .merge(environment_forms::routes())
        .merge(tenant::routes())
        .merge(platform::routes())
        .merge(costs::routes())
        .merge(oidc::routes())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// Renders a template, or a 500 page saying it could not.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "a page failed to render");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The page could not be shown.")
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    detail: &'a str,
}

fn error_response(status: StatusCode, title: &str, detail: &str) -> Response {
    let page = ErrorPage { status: status.as_u16(), title, detail };
    let html = page.render().unwrap_or_else(|_| format!("<!doctype html><title>{title}</title><p>{detail}"));
    (status, Html(html)).into_response()
}

/// The error page for an API error (404 for another tenant's things, 403 for a role too low, …). A refusal
/// keeps what the audit layer records about it.
pub(crate) fn error_page(error: ApiError) -> Response {
    let status = error.status();
    let (title, detail) = match status {
        StatusCode::NOT_FOUND => ("Not found", "There is nothing here, or it is not yours to see.".to_owned()),
        StatusCode::FORBIDDEN => ("Not allowed", error.detail()),
        StatusCode::INTERNAL_SERVER_ERROR => ("Something went wrong", "Try again in a moment.".to_owned()),
        _ => ("That did not work", error.detail()),
    };
    let api = error.into_response();
    let mut page = error_response(status, title, &detail);
    if let Some(refusal) = api.extensions().get::<crate::error::Refusal>().cloned() {
        page.extensions_mut().insert(refusal);
    }
    page
}

/// The HTML 404 for paths that are not API routes.
pub(crate) fn not_found_page() -> Response {
    error_response(StatusCode::NOT_FOUND, "Not found", "There is nothing here, or it is not yours to see.")
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login(axum::extract::Query(query): axum::extract::Query<LoginQuery>) -> Response {
    // Only a path on this site: never an open redirect.
    let next = redirect::safe_next(query.next.as_deref());
    render(&LoginPage { next })
}

async fn home(State(state): State<AppState>, PageCaller(caller): PageCaller) -> Response {
    let first_tenant = match &caller.principal {
        Principal::User { memberships, .. } => memberships.keys().min().cloned(),
        Principal::Token { tenant, .. } => Some(tenant.clone()),
    };
    match first_tenant {
        Some(tenant) => Redirect::to(&format!("/t/{tenant}/environments")).into_response(),
        None if caller.is_platform_admin() => Redirect::to("/admin/tenants").into_response(),
        // Someone new: their invitations are where they start.
        None => match &caller.principal {
            Principal::User { email, .. } => match invitations::for_email(&state.db, email).await {
                Ok(open) if !open.is_empty() => Redirect::to("/invitations").into_response(),
                _ => {
                    error_response(StatusCode::OK, "No tenant yet", "Ask a tenant admin to invite you to their tenant.")
                }
            },
            Principal::Token { .. } => error_response(StatusCode::OK, "No tenant yet", "This token has no tenant."),
        },
    }
}

#[derive(Template)]
#[template(path = "invitations.html")]
struct InvitationsPage {
    chrome: Chrome,
    invitations: Vec<InvitationRow>,
}

/// The signed-in person's open invitations, each with a button to join.
async fn my_invitations(State(state): State<AppState>, PageCaller(caller): PageCaller) -> Response {
    let Principal::User { email, .. } = &caller.principal else {
        return error_response(StatusCode::OK, "Invitations", "Invitations are for people, not API tokens.");
    };
    match invitations::for_email(&state.db, email).await {
        Ok(invitations) => {
            let chrome = Chrome::new(&state, &caller, None, "invitations").await;
            render(&InvitationsPage { chrome, invitations })
        }
        Err(error) => error_page(error.into()),
    }
}
