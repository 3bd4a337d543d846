//! The OpenID Connect provider's machine endpoints: discovery, JWKS, token and userinfo. Their answers follow
//! the specifications' shapes (RFC 6749 §5.1/§5.2 for the token endpoint, OpenID Connect Core §5.3.3 and RFC 6750
//! §3 for userinfo), not Butler's problem+json, because relying parties nobody here wrote read them. The
//! authorization endpoint is a page (`web::oidc`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::respond;
use crate::error::ApiError;
use crate::services::oidc::{self, ProviderError, TokenRequest};
use crate::state::AppState;

fn internal(error: ProviderError) -> ApiError {
    ApiError::Internal(anyhow::Error::new(error))
}

/// Token responses are never cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /.well-known/openid-configuration`
pub(crate) async fn get_openid_configuration(State(state): State<AppState>) -> Result<Response, ApiError> {
    respond::json(StatusCode::OK, &oidc::discovery(&state.issuer()))
}

/// `GET /oauth2/jwks`: public keys only.
pub(crate) async fn get_jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys = state.oidc_keys.jwks(&state.db).await.map_err(|e| internal(e.into()))?;
    respond::json(StatusCode::OK, &keys)
}

/// The client's id and secret from `Authorization: Basic` (RFC 6749 §2.3.1: each form-urlencoded first).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let text = value.to_str().map_err(|_| ())?;
    let Some(encoded) = text.strip_prefix("Basic ").or_else(|| text.strip_prefix("basic ")) else { return Ok(None) };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    let unescape =
        |part: &str| form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Ok(Some((unescape(id).ok_or(())?, unescape(secret).ok_or(())?)))
}

fn token_error(status: u16, error: &str, description: &str, basic: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::json!({ "error": error, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if basic { "Basic realm=\"butler\"" } else { "Bearer realm=\"butler\"" };
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    no_store(response)
}

/// `POST /oauth2/token`: the authorization code grant, the client authenticated by Basic or by the form.
pub(crate) async fn post_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(request)) = form else {
        return Ok(token_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded", false));
    };
    let Ok(basic) = basic_credentials(&headers) else {
        return Ok(token_error(401, "invalid_client", "malformed Basic credentials", true));
    };
    let by_basic = basic.is_some();
    match oidc::token(&state.db, &state.oidc_keys, &state.issuer(), basic, &request).await.map_err(internal)? {
        Ok(tokens) => Ok(no_store(respond::json(StatusCode::OK, &tokens)?)),
        Err(refused) => Ok(token_error(refused.status, refused.error, &refused.description, by_basic)),
    }
}

/// `GET /oauth2/userinfo` with `Authorization: Bearer <access token>`.
pub(crate) async fn get_userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let refuse = |error: &'static str| {
        let value = format!("Bearer realm=\"butler\", error=\"{error}\"");
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(token) = bearer else { return Ok(refuse("invalid_request")) };
    match oidc::userinfo(&state.db, &state.oidc_keys, &state.issuer(), token).await.map_err(internal)? {
        Some(claims) => Ok(no_store(respond::json(StatusCode::OK, &claims)?)),
        None => Ok(refuse("invalid_token")),
    }
}
