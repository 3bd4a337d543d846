//! Request extractors whose rejections are problem+json: manifests (JSON or YAML), merge patches, query, path.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::domain::manifest::{manifest_from_value, parse_document, BodyFormat, EnvironmentManifest, ManifestError};
use crate::error::ApiError;

/// Largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

fn media_type(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(MAX_BODY_BYTES)
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

fn manifest_error(error: ManifestError) -> ApiError {
    match error {
        ManifestError::Syntax(message) => ApiError::BadRequest(format!("the body is not well-formed: {message}")),
        ManifestError::Shape { field, message } => ApiError::invalid_field(field, message),
    }
}

/// A JenkinsEnvironment manifest in `application/json` or `application/yaml`.
pub(crate) struct Manifest(pub EnvironmentManifest);

impl<S: Send + Sync> FromRequest<S> for Manifest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let format = match media_type(&parts).as_deref() {
            Some("application/json") => BodyFormat::Json,
            Some("application/yaml" | "application/x-yaml" | "text/yaml") => BodyFormat::Yaml,
            other => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Content-Type {} is not supported here: send application/json or application/yaml",
                    other.unwrap_or("(none)")
                )))
            }
        };
        let bytes = body_bytes(Request::from_parts(parts, body), state).await?;
        let value = parse_document(&bytes, format).map_err(manifest_error)?;
        manifest_from_value(value).map(Manifest).map_err(manifest_error)
    }
}

/// An RFC 7386 merge patch document (`application/merge-patch+json`).
pub(crate) struct MergePatch(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        if media_type(&parts).as_deref() != Some("application/merge-patch+json") {
            return Err(ApiError::UnsupportedMediaType(
                "PATCH takes Content-Type application/merge-patch+json (RFC 7386)".into(),
            ));
        }
        let bytes = body_bytes(Request::from_parts(parts, body), state).await?;
        let value = parse_document(&bytes, BodyFormat::Json).map_err(manifest_error)?;
        if !value.is_object() {
            return Err(ApiError::BadRequest("a merge patch must be a JSON object".into()));
        }
        Ok(MergePatch(value))
    }
}

/// Query parameters; a bad one is a 400 naming it.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| ApiError::BadRequest(format!("query parameter {}: {}", error.path(), error.inner())))
    }
}

/// Path parameters; a bad one is a 400.
pub(crate) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// A strict JSON body (`application/json`): malformed is 400, an unknown or mistyped field is 422 with its path.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        if !matches!(media_type(&parts).as_deref(), Some("application/json" | "application/merge-patch+json")) {
            return Err(ApiError::UnsupportedMediaType("send Content-Type application/json".into()));
        }
        let bytes = body_bytes(Request::from_parts(parts, body), state).await?;
        let value = parse_document(&bytes, BodyFormat::Json).map_err(manifest_error)?;
        serde_path_to_error::deserialize(value).map(ApiJson).map_err(|error| {
            let path = error.path().to_string();
            let message = error.inner().to_string();
            ApiError::invalid_field(if path == "." { String::new() } else { path }, message)
        })
    }
}

/// The peer address, when the server runs with connect info (it always does outside unit tests).
pub(crate) struct ClientAddress(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(crate::caller::client_address(parts)))
    }
}
