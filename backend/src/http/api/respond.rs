//! Response helpers: pre-serialized JSON bodies and Kubernetes-style `Warning` headers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::error::ApiError;

/// A JSON response from bytes already serialized (the cache's, or a fresh serialization).
pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serializes a value as a JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json_bytes(status, Bytes::from(body)))
}

/// Adds one `Warning: 299 - "..."` header per warning (RFC 7234 form, as the Kubernetes API sends them).
pub(crate) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text: String = warning
            .chars()
            .map(|c| if c == '"' || c == '\\' || !(' '..='~').contains(&c) { '\'' } else { c })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}
