//! Ownership: Butler adopts, changes and deletes only what carries the environment's own `butler:uid` (on
//! Cloud Map services, the creator request id it was made with). A resource under one of the environment's
//! names with a foreign or missing mark is never touched: provisioning stops with `Ready=False`
//! `ResourceNotOwned`, and teardown leaves it where it is and says so in an event.

use super::Pass;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::EventType;

/// The reason of the condition and events.
pub(crate) const NOT_OWNED: &str = "ResourceNotOwned";

/// Whether a resource marked `owner` is this environment's.
pub fn owns(pass: &Pass, owner: Option<&str>) -> bool {
    owner.is_some_and(|owner| owner == pass.object.metadata.uid.to_string())
}

fn whose(owner: Option<&str>) -> &'static str {
    // Never name the other environment: that would tell one tenant about another.
    match owner {
        Some(_) => "belongs to another environment",
        None => "carries no butler:uid tag of this environment",
    }
}

/// Ok when the environment owns the resource; otherwise the permanent error that stops the pass.
pub(crate) fn require(pass: &Pass, what: &str, name: &str, owner: Option<&str>) -> Result<(), AwsError> {
    if owns(pass, owner) {
        return Ok(());
    }
    Err(AwsError {
        kind: AwsErrorKind::Invalid,
        operation: "butler:CheckOwnership",
        code: NOT_OWNED.into(),
        message: format!(
            "{what} {name} exists but {}: Butler will not adopt, change or delete it (a platform admin removes or \
             renames it, then the environment converges)",
            whose(owner)
        ),
    })
}

/// For teardown: true (and an event) when the resource is not the environment's, so the caller skips it.
pub fn foreign(pass: &mut Pass, what: &str, name: &str, owner: Option<&str>) -> bool {
    if owns(pass, owner) {
        return false;
    }
    let message = format!("{what} {name} {}: left in place", whose(owner));
    if !pass.events.iter().any(|(_, reason, text)| reason == NOT_OWNED && *text == message) {
        pass.event(EventType::Warning, NOT_OWNED, message);
    }
    true
}
