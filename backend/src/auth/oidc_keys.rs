//! The OpenID Connect provider's signing keys: ES256 (P-256) key pairs made with a kept implementation (the
//! `p256` crate), the private part stored only encrypted (AES-256-GCM under a key derived from Butler's JWT
//! secret, which never enters the database), the public part published as a JWK with its `kid`. A key signs for
//! `ROTATION` and is then retired; a retired key stays published for `PUBLISHED_AFTER_RETIREMENT`, far longer than
//! any token it signed lives, so those tokens keep verifying.

use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand::RngCore;
use sea_orm::{DatabaseConnection, TransactionTrait};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::oidc::{self, SigningKeyRow};
use crate::store::StoreError;

/// How long a key signs before the next one takes over.
pub(crate) const ROTATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a retired key stays in the JWKS (tokens live minutes; relying parties cache the JWKS for hours).
pub(crate) const PUBLISHED_AFTER_RETIREMENT: Duration = Duration::from_secs(24 * 3600);
const ALGORITHM: &str = "ES256";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing keys could not be read or stored")]
    Store(#[from] StoreError),
    #[error("a signing key could not be decrypted (was BUTLER_JWT_SECRET changed?)")]
    Decrypt,
    #[error("a signing key is malformed: {0}")]
    Malformed(String),
    #[error("a token could not be signed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// How long this process signs with the key it last loaded before looking again: another replica may have
/// rotated (the key it replaced stays published for a day, so tokens signed meanwhile still verify).
const SIGNING_KEY_CACHE: Duration = Duration::from_secs(60);

/// The signing keys, with the secret their private parts are encrypted under.
pub struct OidcKeys {
    cipher: Aes256Gcm,
    /// The current key, decrypted and parsed once, with when it was loaded.
    cached: std::sync::RwLock<Option<(std::time::Instant, std::sync::Arc<SigningKey>)>>,
}

/// A key able to sign.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

impl OidcKeys {
    /// Keys encrypted under a key derived from `secret` (Butler's JWT secret).
    pub fn new(secret: &SecretString) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"butler oidc signing keys v1\0");
        hasher.update(secret.expose_secret().as_bytes());
        let key = hasher.finalize();
        Self { cipher: Aes256Gcm::new(&key), cached: std::sync::RwLock::new(None) }
    }

    fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| KeyError::Malformed("encryption failed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn decrypt(&self, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < 12 {
            return Err(KeyError::Decrypt);
        }
        let (nonce, body) = sealed.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), body).map_err(|_| KeyError::Decrypt)
    }

    /// Makes a new key pair, stores it (private part encrypted) as the current key, retiring the previous one.
    pub async fn rotate(&self, db: &DatabaseConnection) -> Result<String, KeyError> {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let public = secret.public_key();
        let der = secret.to_pkcs8_der().map_err(|e| KeyError::Malformed(e.to_string()))?;
        let mut kid_hash = Sha256::new();
        kid_hash.update(public.to_public_key_der().map_err(|e| KeyError::Malformed(e.to_string()))?.as_bytes());
        let kid: String = kid_hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        let mut jwk: serde_json::Value =
            serde_json::from_str(&public.to_jwk_string()).map_err(|e| KeyError::Malformed(e.to_string()))?;
        jwk["kid"] = kid.clone().into();
        jwk["use"] = "sig".into();
        jwk["alg"] = ALGORITHM.into();
        let row = SigningKeyRow {
            kid: kid.clone(),
            algorithm: ALGORITHM.to_owned(),
            public_jwk: jwk,
            encrypted_private_key: self.encrypt(der.as_bytes())?,
            created_at: Utc::now(),
            retired_at: None,
        };
        let txn = db.begin().await.map_err(StoreError::from)?;
        oidc::add_key(&txn, &row).await?;
        txn.commit().await.map_err(StoreError::from)?;
        if let Ok(mut cached) = self.cached.write() {
            *cached = None;
        }
        tracing::info!(kid = %kid, "OpenID Connect signing key rotated");
        Ok(kid)
    }

    /// The current key: this process's copy while fresh, else loaded (and made when there is none or it is older
    /// than `ROTATION`).
    async fn current(&self, db: &DatabaseConnection) -> Result<std::sync::Arc<SigningKey>, KeyError> {
        if let Some((loaded, key)) = self.cached.read().ok().and_then(|cached| cached.clone()) {
            if loaded.elapsed() < SIGNING_KEY_CACHE {
                return Ok(key);
            }
        }
        let key = std::sync::Arc::new(self.load_current(db).await?);
        if let Ok(mut cached) = self.cached.write() {
            *cached = Some((std::time::Instant::now(), key.clone()));
        }
        Ok(key)
    }

    async fn load_current(&self, db: &DatabaseConnection) -> Result<SigningKey, KeyError> {
        let keys = self.published(db).await?;
        let rotation = chrono::Duration::from_std(ROTATION).unwrap_or_default();
        let current = keys.into_iter().find(|k| k.retired_at.is_none());
        // A key this process cannot decrypt (BUTLER_JWT_SECRET changed) is retired like an old one: a new key
        // signs from now on, and the old one stays published, so what it signed still verifies.
        let usable = current.filter(|row| Utc::now() - row.created_at < rotation).and_then(|row| {
            match self.decrypt(&row.encrypted_private_key) {
                Ok(der) => Some((row, der)),
                Err(_) => {
                    tracing::warn!(kid = %row.kid, "the signing key cannot be decrypted (was BUTLER_JWT_SECRET changed?); a new key is made");
                    None
                }
            }
        });
        let (row, der) = match usable {
            Some(usable) => usable,
            None => {
                let kid = self.rotate(db).await?;
                let row = self
                    .published(db)
                    .await?
                    .into_iter()
                    .find(|k| k.kid == kid)
                    .ok_or(KeyError::Store(StoreError::NotFound))?;
                let der = self.decrypt(&row.encrypted_private_key)?;
                (row, der)
            }
        };
        let secret = p256::SecretKey::from_pkcs8_der(&der).map_err(|e| KeyError::Malformed(e.to_string()))?;
        let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Malformed(e.to_string()))?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes())?;
        Ok(SigningKey { kid: row.kid, encoding })
    }

    async fn published(&self, db: &DatabaseConnection) -> Result<Vec<SigningKeyRow>, KeyError> {
        let since = Utc::now() - chrono::Duration::from_std(PUBLISHED_AFTER_RETIREMENT).unwrap_or_default();
        Ok(oidc::published_keys(db, since).await?)
    }

    /// The JWKS document: public parts only (each JWK is built from the public key alone).
    pub async fn jwks(&self, db: &DatabaseConnection) -> Result<serde_json::Value, KeyError> {
        let mut keys = self.published(db).await?;
        if keys.iter().all(|k| k.retired_at.is_some()) {
            self.current(db).await?;
            keys = self.published(db).await?;
        }
        Ok(serde_json::json!({ "keys": keys.into_iter().map(|k| k.public_jwk).collect::<Vec<_>>() }))
    }

    /// Signs `claims` with the current key, naming it in `kid`.
    pub async fn sign(&self, db: &DatabaseConnection, claims: &impl Serialize) -> Result<String, KeyError> {
        let key = self.current(db).await?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    /// Verifies a token Butler signed (any published key, by its `kid`), with `validation`'s checks.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        db: &DatabaseConnection,
        token: &str,
        validation: &Validation,
    ) -> Result<Option<T>, KeyError> {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(None) };
        if header.alg != Algorithm::ES256 {
            return Ok(None);
        }
        let keys = self.published(db).await?;
        let Some(row) = keys.into_iter().find(|k| Some(&k.kid) == header.kid.as_ref()) else { return Ok(None) };
        let (Some(x), Some(y)) = (row.public_jwk["x"].as_str(), row.public_jwk["y"].as_str()) else {
            return Err(KeyError::Malformed(format!("key {} has no coordinates", row.kid)));
        };
        let decoding = DecodingKey::from_ec_components(x, y)?;
        Ok(jsonwebtoken::decode::<T>(token, &decoding, validation).ok().map(|data| data.claims))
    }
}
