//! Butler as an OpenID Connect provider (authorization code flow with PKCE, confidential clients: one per
//! environment). The rules follow OpenID Connect Core 1.0 §3.1 and RFC 6749 §4.1 / §5.2, RFC 7636: what is
//! checked at the authorization endpoint (client and redirect URI before anything is sent back to it), what a
//! code is bound to (client, redirect URI, PKCE challenge, person, nonce; one minute, one use), what the token
//! endpoint answers (an ID token and an access token, signed ES256), and the error codes of each refusal.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use rand::RngCore;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::oidc_keys::{KeyError, OidcKeys};
use crate::auth::Role;
use crate::domain::oidc::{self as rules, CODE_LIFETIME_SECONDS, TOKEN_LIFETIME_SECONDS};
use crate::store::oidc::{self, ClientRow, CodeRow};
use crate::store::{users, StoreError};

/// The audience of Butler's access tokens (only its userinfo endpoint takes them).
const USERINFO_AUDIENCE: &str = "butler-userinfo";

/// A provider failure of Butler's own (not the client's).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// The authorization request's parameters (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
}

/// What the authorization endpoint does.
#[derive(Debug, PartialEq, Eq)]
pub enum Authorized {
    /// Back to the client's registered redirect URI (a code, or an error the client may see).
    Redirect(String),
    /// A page for the person, never a redirect: the client or redirect URI cannot be trusted, or the person may
    /// not sign in to this Jenkins.
    Refuse { status: u16, title: String, detail: String },
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{}", serializer.finish())
}

/// Decides an authorization request of the signed-in person `user` (with their memberships).
pub async fn authorize(
    db: &DatabaseConnection,
    issuer: &str,
    user: Uuid,
    memberships: &HashMap<String, Role>,
    request: &AuthorizeRequest,
) -> Result<Authorized, ProviderError> {
    let refuse =
        |status: u16, title: &str, detail: String| Authorized::Refuse { status, title: title.to_owned(), detail };
    // §4.1.2.1: with an unknown client or an unregistered redirect URI, nothing is sent to that URI.
    let Some(client_id) = request.client_id.as_deref() else {
        return Ok(refuse(400, "Sign-in request without a client", "The request names no client_id.".into()));
    };
    let Some(client) = oidc::client(db, client_id).await? else {
        return Ok(refuse(400, "Unknown client", format!("No Jenkins environment is registered as {client_id:?}.")));
    };
    if request.redirect_uri.as_deref() != Some(client.redirect_uri.as_str()) {
        return Ok(refuse(
            400,
            "Redirect URI not registered",
            "The request's redirect_uri is not this Jenkins' own sign-in address; Butler sends nothing there.".into(),
        ));
    }
    let back = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description), ("iss", issuer)];
        if let Some(state) = request.state.as_deref() {
            pairs.push(("state", state));
        }
        Authorized::Redirect(with_query(&client.redirect_uri, &pairs))
    };
    if request.response_type.as_deref() != Some("code") {
        return Ok(back("unsupported_response_type", "only the authorization code flow (response_type=code)"));
    }
    let scopes: Vec<&str> = request.scope.as_deref().unwrap_or_default().split_whitespace().collect();
    if !scopes.contains(&"openid") {
        return Ok(back("invalid_scope", "the openid scope is required"));
    }
    let challenge = request.code_challenge.as_deref().unwrap_or_default();
    if request.code_challenge_method.as_deref() != Some("S256") || !rules::challenge_is_well_formed(challenge) {
        return Ok(back("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256"));
    }
    if !memberships.contains_key(&client.tenant) {
        // Never a code; the client learns only that access was denied, if the person goes back at all.
        return Ok(refuse(
            403,
            "Not a member of this team",
            format!(
                "You are not a member of the tenant {:?}, so you cannot sign in to its Jenkins {:?}. One of its \
                 admins can invite you.",
                client.tenant, client.name
            ),
        ));
    }
    let code = random_token();
    let kept: Vec<&str> = scopes.into_iter().filter(|s| rules::SCOPES.contains(s)).collect();
    let row = CodeRow {
        client_id: client.client_id.clone(),
        redirect_uri: client.redirect_uri.clone(),
        user_id: user,
        nonce: request.nonce.clone(),
        code_challenge: challenge.to_owned(),
        scope: kept.join(" "),
        expires_at: Utc::now() + chrono::Duration::seconds(CODE_LIFETIME_SECONDS),
    };
    oidc::add_code(db, &rules::digest(&code), &row).await?;
    let mut pairs = vec![("code", code.as_str()), ("iss", issuer)];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    Ok(Authorized::Redirect(with_query(&client.redirect_uri, &pairs)))
}

/// The token request's parameters (RFC 6749 §4.1.3), client credentials included when posted.
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A refusal at the token endpoint (RFC 6749 §5.2).
#[derive(Debug, PartialEq, Eq)]
pub struct TokenError {
    /// 400, or 401 for a client that failed to authenticate.
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

fn token_error(status: u16, error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError { status, error, description: description.into() }
}

/// The token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub scope: String,
}

/// What Butler's ID tokens say.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub azp: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub preferred_username: String,
    pub groups: Vec<String>,
}

/// What Butler's access tokens say (only its userinfo endpoint reads them).
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub client_id: String,
    pub scope: String,
}

/// Authenticates the client: HTTP Basic (client_secret_basic) or the posted pair (client_secret_post), never
/// both. The secret is compared by its digest in constant time.
async fn client_of(
    db: &DatabaseConnection,
    basic: Option<(String, String)>,
    request: &TokenRequest,
) -> Result<Result<ClientRow, TokenError>, ProviderError> {
    let (id, secret) = match (basic, &request.client_id, &request.client_secret) {
        (Some(_), _, Some(_)) => {
            return Ok(Err(token_error(400, "invalid_request", "use one client authentication method, not two")))
        }
        (Some((id, secret)), posted, None) => {
            if posted.as_ref().is_some_and(|posted| *posted != id) {
                return Ok(Err(token_error(400, "invalid_request", "client_id differs from the authenticated client")));
            }
            (id, secret)
        }
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        (None, _, _) => return Ok(Err(token_error(401, "invalid_client", "client authentication is required"))),
    };
    // RFC 6749 §5.2: 401 for a failed client authentication.
    let Some(client) = oidc::client(db, &id).await? else {
        return Ok(Err(token_error(401, "invalid_client", "unknown client or wrong secret")));
    };
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(rules::digest(&secret).as_bytes(), client.secret_hash.as_bytes()).into();
    if !matches {
        return Ok(Err(token_error(401, "invalid_client", "unknown client or wrong secret")));
    }
    Ok(Ok(client))
}

/// Exchanges a code for tokens.
pub async fn token(
    db: &DatabaseConnection,
    keys: &OidcKeys,
    issuer: &str,
    basic: Option<(String, String)>,
    request: &TokenRequest,
) -> Result<Result<TokenResponse, TokenError>, ProviderError> {
    if request.grant_type.as_deref() != Some("authorization_code") {
        let error = if request.grant_type.is_none() { "invalid_request" } else { "unsupported_grant_type" };
        return Ok(Err(token_error(400, error, "only grant_type=authorization_code")));
    }
    let client = match client_of(db, basic, request).await? {
        Ok(client) => client,
        Err(error) => return Ok(Err(error)),
    };
    let (Some(code), Some(redirect_uri), Some(verifier)) =
        (request.code.as_deref(), request.redirect_uri.as_deref(), request.code_verifier.as_deref())
    else {
        return Ok(Err(token_error(400, "invalid_request", "code, redirect_uri and code_verifier are required")));
    };
    let invalid = |why: &str| Ok(Err(token_error(400, "invalid_grant", why)));
    // Taken even when it turns out foreign or expired: a code is tried once.
    let Some(issued) = oidc::take_code(db, &rules::digest(code)).await? else {
        return invalid("the code is unknown or was already used");
    };
    if issued.client_id != client.client_id {
        return invalid("the code was issued to another client");
    }
    if issued.expires_at < Utc::now() {
        return invalid("the code has expired");
    }
    if issued.redirect_uri != redirect_uri {
        return invalid("redirect_uri differs from the authorization request's");
    }
    if !rules::pkce_matches(verifier, &issued.code_challenge) {
        return invalid("the code_verifier does not match the code_challenge");
    }
    // Membership is checked again: one removed between the two requests gets nothing.
    let Some(user) = users::find_by_id(db, issued.user_id).await?.filter(|u| !u.disabled) else {
        return invalid("the account is disabled or gone");
    };
    let memberships = users::memberships_of(db, user.id).await?;
    let Some((_, role)) = memberships.iter().find(|(tenant, _)| *tenant == client.tenant) else {
        return invalid("the person is no longer a member of the environment's tenant");
    };
    let now = Utc::now().timestamp();
    let id_claims = IdClaims {
        iss: issuer.to_owned(),
        sub: user.id.to_string(),
        aud: client.client_id.clone(),
        exp: now + TOKEN_LIFETIME_SECONDS,
        iat: now,
        auth_time: now,
        nonce: issued.nonce.clone(),
        azp: client.client_id.clone(),
        email: user.email.clone(),
        email_verified: true,
        name: user.email.clone(),
        preferred_username: user.email.clone(),
        groups: vec![rules::group(&client.tenant, role)],
    };
    let access_claims = AccessClaims {
        iss: issuer.to_owned(),
        sub: user.id.to_string(),
        aud: USERINFO_AUDIENCE.to_owned(),
        exp: now + TOKEN_LIFETIME_SECONDS,
        iat: now,
        client_id: client.client_id.clone(),
        scope: issued.scope.clone(),
    };
    Ok(Ok(TokenResponse {
        access_token: keys.sign(db, &access_claims).await?,
        token_type: "Bearer",
        expires_in: TOKEN_LIFETIME_SECONDS,
        id_token: keys.sign(db, &id_claims).await?,
        scope: issued.scope,
    }))
}

/// The userinfo claims for a valid access token (OpenID Connect Core §5.3); None when the token is not valid or
/// its person may no longer sign in.
pub async fn userinfo(
    db: &DatabaseConnection,
    keys: &OidcKeys,
    issuer: &str,
    token: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[USERINFO_AUDIENCE]);
    validation.set_issuer(&[issuer]);
    let Some(claims) = keys.verify::<AccessClaims>(db, token, &validation).await? else { return Ok(None) };
    let Ok(user_id) = claims.sub.parse::<Uuid>() else { return Ok(None) };
    let Some(client) = oidc::client(db, &claims.client_id).await? else { return Ok(None) };
    let Some(user) = users::find_by_id(db, user_id).await?.filter(|u| !u.disabled) else { return Ok(None) };
    let memberships = users::memberships_of(db, user.id).await?;
    let Some((_, role)) = memberships.iter().find(|(tenant, _)| *tenant == client.tenant) else { return Ok(None) };
    Ok(Some(serde_json::json!({
        "sub": user.id.to_string(),
        "email": user.email,
        "email_verified": true,
        "name": user.email,
        "preferred_username": user.email,
        "groups": [rules::group(&client.tenant, role)],
    })))
}

/// The discovery document (OpenID Connect Discovery 1.0 §3).
pub fn discovery(issuer: &str) -> serde_json::Value {
    let base = issuer.trim_end_matches('/');
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "jwks_uri": format!("{base}/oauth2/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": rules::SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "email",
                             "email_verified", "name", "preferred_username", "groups"],
        "authorization_response_iss_parameter_supported": true,
    })
}
