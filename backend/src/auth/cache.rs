//! A per-process cache of who callers are (users with memberships, API tokens, sessions), so a request costs
//! no identity query while nothing changed. Every change to users, memberships, tokens or sessions sends a
//! NOTIFY in its transaction; each process clears the cache when it hears one (and this process clears it at
//! once after its own writes), so a revocation takes effect immediately everywhere. A short TTL bounds the
//! damage if a notification is ever lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use uuid::Uuid;

use super::Role;

/// The NOTIFY channel identity changes are announced on.
pub(crate) const CHANNEL: &str = crate::store::IDENTITY_CHANNEL;
/// Longest an entry is trusted without a notification.
const TTL: Duration = Duration::from_secs(10);

/// A user as authorization needs them.
#[derive(Debug, Clone)]
pub struct UserIdentity {
    pub id: Uuid,
    pub email: String,
    pub platform_admin: bool,
    pub disabled: bool,
    pub memberships: HashMap<String, Role>,
    /// JWTs issued before this (a password reset, a disabling) are refused.
    pub credentials_changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A live API token as authorization needs it.
#[derive(Debug, Clone)]
pub struct TokenIdentity {
    pub id: Uuid,
    pub name: String,
    pub tenant: String,
    pub role: Role,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    pub user_id: Uuid,
    pub csrf_token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

struct Entry<T> {
    loaded: Instant,
    value: Arc<T>,
}

/// The cache.
#[derive(Default)]
pub struct IdentityCache {
    users: DashMap<Uuid, Entry<UserIdentity>>,
    tokens: DashMap<String, Entry<TokenIdentity>>,
    sessions: DashMap<Uuid, Entry<SessionIdentity>>,
    /// When this process last recorded a token's use (`last_used_at` is written at most once a minute).
    token_touches: DashMap<Uuid, Instant>,
}

fn fresh<K: std::hash::Hash + Eq, T>(map: &DashMap<K, Entry<T>>, key: &K) -> Option<Arc<T>> {
    map.get(key).filter(|entry| entry.loaded.elapsed() < TTL).map(|entry| entry.value.clone())
}

impl IdentityCache {
    /// A cached user.
    pub fn user(&self, id: Uuid) -> Option<Arc<UserIdentity>> {
        fresh(&self.users, &id)
    }

    /// Caches a user.
    pub(crate) fn put_user(&self, user: UserIdentity) -> Arc<UserIdentity> {
        let value = Arc::new(user);
        self.users.insert(value.id, Entry { loaded: Instant::now(), value: value.clone() });
        value
    }

    /// A cached live token by its digest.
    pub fn token(&self, digest: &str) -> Option<Arc<TokenIdentity>> {
        fresh(&self.tokens, &digest.to_owned())
            .filter(|token| token.expires_at.is_none_or(|at| at > chrono::Utc::now()))
    }

    /// Caches a live token.
    pub(crate) fn put_token(&self, digest: String, token: TokenIdentity) -> Arc<TokenIdentity> {
        let value = Arc::new(token);
        self.tokens.insert(digest, Entry { loaded: Instant::now(), value: value.clone() });
        value
    }

    /// A cached live session.
    pub fn session(&self, id: Uuid) -> Option<Arc<SessionIdentity>> {
        fresh(&self.sessions, &id).filter(|session| session.expires_at > chrono::Utc::now())
    }

    /// Caches a live session.
    pub(crate) fn put_session(&self, id: Uuid, session: SessionIdentity) -> Arc<SessionIdentity> {
        let value = Arc::new(session);
        self.sessions.insert(id, Entry { loaded: Instant::now(), value: value.clone() });
        value
    }

    /// Whether the token's use should be written now (once a minute per process).
    pub(crate) fn should_touch(&self, token: Uuid) -> bool {
        let now = Instant::now();
        let mut due = false;
        self.token_touches
            .entry(token)
            .and_modify(|last| {
                if now.duration_since(*last) >= Duration::from_secs(60) {
                    *last = now;
                    due = true;
                }
            })
            .or_insert_with(|| {
                due = true;
                now
            });
        due
    }

    /// Forgets everything (an identity changed somewhere).
    pub fn clear(&self) {
        self.users.clear();
        self.tokens.clear();
        self.sessions.clear();
    }
}
