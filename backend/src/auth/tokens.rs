//! Long-lived API tokens: `butler_` + 32 random bytes; only their SHA-256 is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every API token starts with this, so secret scanners and the `Caller` extractor can tell it from a JWT.
pub(crate) const TOKEN_PREFIX: &str = "butler_";

/// A new token secret (shown to its creator once).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token secret. Lookups are by this hash, so comparing secrets never happens.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
