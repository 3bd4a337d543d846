//! Password hashing with argon2id (PHC strings), off the async runtime: hashing is deliberately slow.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

/// Shortest password accepted.
pub(crate) const MIN_PASSWORD_CHARS: usize = 12;

/// A PHC string of a freshly salted argon2id hash.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
    })
    .await?
}

/// Whether `password` matches `phc` (constant time inside argon2). A malformed hash never matches.
pub async fn verify(password: SecretString, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|parsed| Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the account does not exist, so an unknown email
/// takes as long as a wrong password (no account enumeration by timing).
pub(crate) async fn decoy_hash() -> String {
    hash(SecretString::from(uuid::Uuid::new_v4().to_string())).await.unwrap_or_default()
}

/// Checks a new password's strength; the message is for the person choosing it.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.trim().chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must have at least {MIN_PASSWORD_CHARS} characters that are not spaces"));
    }
    let distinct: std::collections::HashSet<char> = password.chars().filter(|c| !c.is_whitespace()).collect();
    if distinct.len() < 5 {
        return Err("must use at least 5 different characters".to_owned());
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.iter().any(|common| lower.contains(common) && lower.len() < common.len() + 6) {
        return Err("is too easy to guess: it is mostly a common password".to_owned());
    }
    Ok(())
}

/// Passwords attackers try first (a password that is one of these with fewer than six characters around it is refused).
const COMMON_PASSWORDS: &[&str] = &[
    "password", "passw0rd", "qwerty", "123456", "letmein", "welcome", "admin", "jenkins", "butler", "iloveyou",
    "abc123", "monkey", "dragon", "changeme", "secret",
];

/// The one form of an email address both the sign-in limiter and the account lookup use.
pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_and_whitespace_passwords_are_refused() {
        for weak in
            ["            ", "   short   pw  ", "aaaaaaaaaaaaaaa", "abababababababab", "password1234", "Jenkins12345"]
        {
            assert!(check_strength(weak).is_err(), "{weak:?} accepted");
        }
        check_strength("correct horse battery staple").expect("a passphrase");
    }
}
