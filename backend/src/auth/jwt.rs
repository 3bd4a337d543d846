//! JWTs: HS256 only (fixed server-side), `kid` names the key so keys can rotate, issuer, audience and expiry
//! always checked.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const ISSUER: &str = "butler";
const AUDIENCE: &str = "butler-api";

/// What a Butler JWT says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The browser session this token belongs to (cookie logins), checked against the sessions table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Signing and verification keys. The current key signs; previous keys still verify until they are dropped.
pub struct JwtKeys {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

fn key_id(secret: &SecretString) -> String {
    let digest = Sha256::digest(secret.expose_secret().as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl JwtKeys {
    /// Builds the key set from the current secret and any previous ones.
    pub fn new(current: &SecretString, previous: &[SecretString]) -> Self {
        let mut decoding = HashMap::new();
        for secret in std::iter::once(current).chain(previous) {
            decoding.insert(key_id(secret), DecodingKey::from_secret(secret.expose_secret().as_bytes()));
        }
        Self {
            current_kid: key_id(current),
            encoding: EncodingKey::from_secret(current.expose_secret().as_bytes()),
            decoding,
        }
    }

    /// The `kid` of the signing key.
    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    /// Signs a token for `user` valid for `ttl`.
    pub fn issue(&self, user: Uuid, session: Option<Uuid>, ttl: Duration) -> anyhow::Result<(String, Claims)> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(3600),
            jti: Uuid::new_v4(),
            sid: session,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        Ok((encode(&header, &claims, &self.encoding)?, claims))
    }

    /// Verifies signature (with the key its `kid` names), algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = decode_header(token).ok()?;
        // The algorithm is ours to fix, never the token's to choose (no `none`, no RS/HS confusion).
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let key = self.decoding.get(header.kid.as_deref()?)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Claims>(token, key, &validation).ok().map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn tokens_verify_with_their_key_and_fail_with_another() {
        let keys = JwtKeys::new(&secret("a-very-long-secret-of-at-least-32-bytes"), &[]);
        let (token, claims) = keys.issue(Uuid::new_v4(), None, Duration::from_secs(60)).expect("issue");
        assert_eq!(keys.verify(&token).expect("valid").sub, claims.sub);
        let other = JwtKeys::new(&secret("another-very-long-secret-of-32-bytes!!"), &[]);
        assert!(other.verify(&token).is_none());
    }

    #[test]
    fn rotated_keys_still_verify_old_tokens() {
        let old = secret("the-old-secret-that-is-long-enough-ok");
        let (token, _) = JwtKeys::new(&old, &[]).issue(Uuid::new_v4(), None, Duration::from_secs(60)).expect("issue");
        let rotated = JwtKeys::new(&secret("the-new-secret-that-is-long-enough-ok"), &[old]);
        assert!(rotated.verify(&token).is_some());
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let keys = JwtKeys::new(&secret("a-very-long-secret-of-at-least-32-bytes"), &[]);
        let (token, _) = keys.issue(Uuid::new_v4(), None, Duration::from_secs(60)).expect("issue");
        let payload = token.split('.').nth(1).expect("payload");
        let header =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{header}.{payload}.")).is_none());
    }
}
