//! Identity: password hashing, JWTs, API tokens, browser sessions, the identity cache and login rate limits.
//! Who is asking in a request (the `Caller` extractor) and what they may do are in `crate::caller`.

pub mod cache;
pub mod jwt;
pub mod oidc_keys;
pub mod password;
pub mod rate_limit;
pub mod tokens;

use serde::{Deserialize, Serialize};

/// A role in one tenant; ordered: a higher role can do everything a lower one can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads environments, events, status.
    Viewer,
    /// Creates, changes and deletes environments.
    Editor,
    /// Manages members and API tokens; sees quotas and the tenant's audit log.
    Admin,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "editor" => Some(Self::Editor),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}
