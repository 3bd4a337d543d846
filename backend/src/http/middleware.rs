//! Middleware of our own: refused attempts (401/403 on writes, and any look into a tenant the caller is not a
//! member of) go to the audit log; security headers.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::caller::{client_address, request_id};
use crate::domain::actor::ActorKind;
use crate::error::Refusal;
use crate::state::AppState;
use crate::store::audit::{AuditContext, AuditEntry};

/// Records every refused state-changing request, with whoever the refusal names.
pub(crate) async fn audit_refusals(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    let request_id = request_id(&parts);
    let ip = client_address(&parts).map(|a| a.ip());
    let address = ip.map(|ip| ip.to_string());
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status().as_u16();
    let is_write = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    // A 404 that carries a refusal is a look into a tenant the caller is not a member of (reads too).
    let probe = status == 404 && response.extensions().get::<Refusal>().is_some();
    if (is_write && (status == 401 || status == 403)) || probe {
        let refusal = response.extensions().get::<Refusal>().cloned();
        let (actor, actor_kind, tenant, detail) = match refusal {
            Some(r) => (r.actor, r.actor_kind, r.tenant, r.detail),
            None => ("anonymous".into(), ActorKind::Anonymous, None, String::new()),
        };
        if (actor_kind == ActorKind::Anonymous || probe) && !state.refusal_limiter.should_record(ip) {
            tracing::debug!("refusal not recorded: the address is over its audit rate");
            return response;
        }
        // The tenant is the one the refusal names (a caller who may see it), never one read off the path: an
        // anonymous request must not file entries under any tenant it likes.
        let context = AuditContext { actor, actor_kind, request_id, client_address: address };
        let action = format!("{} {}", method, truncated(&path, MAX_AUDITED_PATH));
        let mut entry = AuditEntry::allowed(&context, &action, "Request", status).detail(&detail);
        entry.outcome = if status == 401 { "unauthenticated" } else { "denied" };
        entry.tenant = tenant.as_deref();
        if let Err(error) = crate::services::refusals::record(&state.services(), &entry).await {
            tracing::error!(error = %error, "could not record a refused request in the audit log");
        }
    }
    response
}

/// The longest path an audit entry keeps of a refused request.
const MAX_AUDITED_PATH: usize = 200;

fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Headers every response carries; HSTS only when Butler is served over TLS.
pub(crate) async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    if state.config.secure_cookies {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    headers.remove(header::SERVER);
    response
}
