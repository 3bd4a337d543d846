//! `AppState`: the one typed state every handler extracts.

use std::ops::Deref;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::auth::cache::IdentityCache;
use crate::auth::jwt::JwtKeys;
use crate::auth::rate_limit::{LoginLimiter, RefusalLimiter};
use crate::aws::context::AwsSettings;
use crate::config::Config;
use crate::feed::Feed;

/// Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// The OpenID Connect issuer: Butler's public URL (`BUTLER_PUBLIC_URL`), or where it listens when unset
    /// (development: Jenkins must reach Butler at this address).
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// The use cases, with what their commits must reach.
    pub fn services(&self) -> crate::services::Services {
        crate::services::Services { db: self.db.clone(), feed: self.feed.clone(), identity: self.identity.clone() }
    }
}

/// What `AppState` holds.
pub struct Inner {
    pub db: DatabaseConnection,
    pub config: Config,
    pub feed: Arc<Feed>,
    /// Cancelled on SIGTERM: long-lived responses (watch streams) end so shutdown can complete.
    pub shutdown: CancellationToken,
    pub jwt: JwtKeys,
    /// Who callers are, kept exact by NOTIFY on every identity change.
    pub identity: Arc<IdentityCache>,
    pub login_limiter: LoginLimiter,
    /// How many refused anonymous writes per address reach the audit log.
    pub refusal_limiter: RefusalLimiter,
    /// AWS endpoint, call counters and rate limits shared by every reconcile of this process.
    pub aws: AwsSettings,
    /// AWS accounts the request handlers read from (the controller log tail).
    pub accounts: crate::aws::context::Accounts,
    /// Verified against when a login names no account, so both failures take as long.
    pub decoy_password_hash: String,
    /// The OpenID Connect provider's signing keys.
    pub oidc_keys: crate::auth::oidc_keys::OidcKeys,
    /// The OpenID Connect issuer (Butler's public URL).
    pub issuer: String,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
