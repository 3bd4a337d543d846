//! Who acted, by kind: what the audit log files an entry under and what a refusal is counted as.

use serde::Serialize;

/// The kind of actor behind a request or a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A person, by JWT or browser session.
    User,
    /// A tenant's API token.
    Token,
    /// Butler itself (the reconciler, the meter, bootstrap, administration commands).
    System,
    /// No credentials, or bad ones.
    Anonymous,
}

impl ActorKind {
    /// As stored in `audit_log.actor_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Token => "token",
            Self::System => "system",
            Self::Anonymous => "anonymous",
        }
    }
}
