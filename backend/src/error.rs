//! `ApiError`: every failure the API reports, as `application/problem+json` (RFC 9457) with a stable `type`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::actor::ActorKind;
use crate::domain::validation::FieldError;
use crate::environments::OperationError;
use crate::store::StoreError;

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An API failure. 500s log their cause once, here, and tell the client nothing internal.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthenticated(String),
    /// A caller who may not do this; `actor` lets the audit layer attribute the refusal.
    #[error("{detail}")]
    Forbidden { detail: String, actor: String, actor_kind: ActorKind, tenant: Option<String> },
    #[error("{detail}")]
    QuotaExceeded {
        detail: String,
        quota: &'static str,
        limit: i64,
        used: i64,
        requested: i64,
        actor: String,
        actor_kind: ActorKind,
        tenant: String,
    },
    #[error("too many attempts; try again in {} seconds", .0.as_secs().max(1))]
    TooManyRequests(std::time::Duration),
    #[error("{0}")]
    NotFound(String),
    /// A tenant the caller is not a member of: answered exactly like `NotFound`, audited as a probe.
    #[error("{detail}")]
    HiddenTenant { detail: String, actor: String, actor_kind: ActorKind, tenant: String },
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    Invalid { detail: String, errors: Vec<FieldError> },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Attached to 401/403 responses so the audit layer can record refused attempts with their actor.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub actor: String,
    pub actor_kind: ActorKind,
    pub tenant: Option<String>,
    pub detail: String,
}

/// The quota numbers of a quota refusal.
#[derive(Serialize)]
struct QuotaFields {
    quota: &'static str,
    limit: i64,
    used: i64,
    requested: i64,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    quota: Option<QuotaFields>,
}

impl ApiError {
    /// Status, stable type slug and title.
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated"),
            Self::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::QuotaExceeded { .. } => (StatusCode::FORBIDDEN, "quota-exceeded", "Quota exceeded"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
            Self::NotFound(_) | Self::HiddenTenant { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::AlreadyExists(_) => (StatusCode::CONFLICT, "already-exists", "Already exists"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            Self::Gone(_) => (StatusCode::GONE, "gone", "Gone"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error"),
        }
    }

    /// A one-field validation error.
    pub(crate) fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let errors = vec![FieldError { field: field.into(), message: message.into() }];
        Self::Invalid { detail: summary(&errors), errors }
    }
}

fn summary(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) })
        .collect();
    parts.join("; ")
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.kind().0
    }

    /// What a person is told (internal causes stay in the log).
    pub fn detail(&self) -> String {
        match self {
            Self::Internal(_) => "the server could not complete the request; it has been logged".to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.kind();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %format!("{cause:#}"), "request failed");
        }
        let detail = match &self {
            Self::Internal(_) => "the server could not complete the request; it has been logged".to_owned(),
            other => other.to_string(),
        };
        let errors = match &self {
            Self::Invalid { errors, .. } => Some(errors.as_slice()),
            _ => None,
        };
        let quota = match &self {
            Self::QuotaExceeded { quota, limit, used, requested, .. } => {
                Some(QuotaFields { quota, limit: *limit, used: *used, requested: *requested })
            }
            _ => None,
        };
        let problem = Problem {
            problem_type: format!("https://butler.dev/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.clone(),
            errors,
            quota,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self {
            Self::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="butler""#));
                response.extensions_mut().insert(Refusal {
                    actor: "anonymous".into(),
                    actor_kind: ActorKind::Anonymous,
                    tenant: None,
                    detail,
                });
            }
            Self::TooManyRequests(wait) => {
                if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            Self::Unavailable(_) => {
                // Long enough for a database restart or failover to finish, short enough not to stall clients.
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Forbidden { actor, actor_kind, tenant, .. } => {
                response.extensions_mut().insert(Refusal { actor, actor_kind, tenant, detail });
            }
            Self::QuotaExceeded { actor, actor_kind, tenant, .. } => {
                response.extensions_mut().insert(Refusal { actor, actor_kind, tenant: Some(tenant), detail });
            }
            Self::HiddenTenant { actor, actor_kind, tenant, .. } => {
                // Filed under no tenant (the probed tenant's people must not learn who is looking), with the
                // probed name in the detail for platform admins.
                let detail = format!("not a member of tenant {tenant:?}");
                response.extensions_mut().insert(Refusal { actor, actor_kind, tenant: None, detail });
            }
            _ => {}
        }
        response
    }
}

impl From<OperationError> for ApiError {
    fn from(error: OperationError) -> Self {
        match error {
            OperationError::TenantNotFound(_) | OperationError::NotFound { .. } => Self::NotFound(error.to_string()),
            OperationError::AlreadyExists { .. } => Self::AlreadyExists(error.to_string()),
            OperationError::Conflict(message) => Self::Conflict(message),
            OperationError::Invalid(errors) => Self::Invalid { detail: summary(&errors), errors },
            OperationError::QuotaExceeded { quota, limit, used, requested, actor, actor_kind, tenant } => {
                Self::QuotaExceeded {
                    detail: if quota == "monthlyBudgetUsd" {
                        format!(
                        "this change would bring tenant {tenant:?}'s projected spend this month to {requested} USD, \
                         above its monthly budget of {limit} USD ({used} USD spent so far)"
                    )
                    } else {
                        format!(
                        "tenant {tenant:?} would exceed its {quota} quota: limit {limit}, in use {used}, this change asks for {requested}"
                    )
                    },
                    quota,
                    limit,
                    used,
                    requested,
                    actor,
                    actor_kind,
                    tenant,
                }
            }
            OperationError::TooManyChanges { retry_after_seconds, .. } => {
                Self::TooManyRequests(std::time::Duration::from_secs(retry_after_seconds.max(1) as u64))
            }
            OperationError::Store(store) => store.into(),
        }
    }
}

impl From<crate::services::ServiceError> for ApiError {
    fn from(error: crate::services::ServiceError) -> Self {
        use crate::services::ServiceError;
        match error {
            ServiceError::NotFound(message) => Self::NotFound(message),
            ServiceError::AlreadyExists(message) => Self::AlreadyExists(message),
            ServiceError::Store(store) => store.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::AlreadyExists => Self::AlreadyExists("already exists".into()),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Unavailable(error) => {
                tracing::warn!(error = %crate::telemetry::with_causes(&error), "database unreachable: answering 503");
                Self::Unavailable("the database is not reachable right now; try again shortly".into())
            }
            other => Self::Internal(other.into()),
        }
    }
}
