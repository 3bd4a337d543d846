//! The OpenID Connect rules that need no I/O: which redirect URIs an environment's client has (its own
//! `securityRealm/finishLogin` and its own URL, nothing else, so an open redirect cannot be registered), what a
//! client id looks like, PKCE (RFC 7636, S256 only), which scopes Butler knows and what `groups` says.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// How long an authorization code may wait for its exchange (RFC 6749 §4.1.2 recommends at most ten minutes).
pub const CODE_LIFETIME_SECONDS: i64 = 60;
/// How long ID and access tokens live.
pub const TOKEN_LIFETIME_SECONDS: i64 = 300;
/// The scopes Butler serves; `openid` is required.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "groups"];

/// The client id of an environment: `env-` and its uid (never chosen by a client, never reused).
pub fn client_id(uid: &uuid::Uuid) -> String {
    format!("env-{}", uid.simple())
}

/// The one redirect URI of an environment whose Jenkins is at `url` (ending in `/`): the oic-auth plugin's.
pub fn redirect_uri(url: &str) -> String {
    format!("{}/securityRealm/finishLogin", url.trim_end_matches('/'))
}

/// Where Jenkins may send a person after logging out: its own front page.
pub fn post_logout_redirect_uri(url: &str) -> String {
    format!("{}/", url.trim_end_matches('/'))
}

/// Whether `verifier` is a valid PKCE verifier (43–128 unreserved characters) whose S256 transform is `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !valid {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// Whether a code challenge has the S256 shape (43 base64url characters).
pub fn challenge_is_well_formed(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The group a member of `tenant` with `role` is in, in the ID token and in Jenkins' authorization matrix.
pub fn group(tenant: &str, role: &str) -> String {
    format!("{tenant}:{role}")
}

/// The stored form of a client secret or code: SHA-256, hex (both are 256 random bits: no slow hash needed).
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636, Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(challenge_is_well_formed(challenge));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", challenge), "another verifier");
        assert!(!pkce_matches("short", challenge), "a verifier under 43 characters");
    }

    #[test]
    fn redirects_are_the_environments_own() {
        assert_eq!(
            redirect_uri("https://ci-payments-8.jenkins.example.com/"),
            "https://ci-payments-8.jenkins.example.com/securityRealm/finishLogin"
        );
        assert_eq!(post_logout_redirect_uri("https://x.example.com"), "https://x.example.com/");
    }
}
