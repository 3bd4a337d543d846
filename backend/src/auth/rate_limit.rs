//! Login rate limits per account and per client address (in-process: each replica counts its own).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per (address, account) per minute, per address, and per account from everywhere. Keying the
/// tight limit on the pair means a stranger cannot lock someone out of their account: the per-account limit
/// across addresses is loose, and every limit is a wait (backoff), never a lock.
const PER_ADDRESS_AND_ACCOUNT_PER_MINUTE: u32 = 10;
const PER_ADDRESS_PER_MINUTE: u32 = 30;
const PER_ACCOUNT_PER_MINUTE: u32 = 120;

/// The sign-in limiters.
pub struct LoginLimiter {
    pairs: DefaultKeyedRateLimiter<(Option<IpAddr>, String)>,
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            pairs: RateLimiter::keyed(per_minute(PER_ADDRESS_AND_ACCOUNT_PER_MINUTE)),
            accounts: RateLimiter::keyed(per_minute(PER_ACCOUNT_PER_MINUTE)),
            addresses: RateLimiter::keyed(per_minute(PER_ADDRESS_PER_MINUTE)),
        }
    }
}

impl LoginLimiter {
    /// Counts one attempt for the normalized `email`; `Err` carries how long to wait.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        let wait = |not_until: governor::NotUntil<_>| not_until.wait_time_from(now);
        let email = crate::auth::password::normalize_email(email);
        if let Some(address) = address {
            self.addresses.check_key(&address).map_err(wait)?;
        }
        self.pairs.check_key(&(address, email.clone())).map_err(wait)?;
        self.accounts.check_key(&email).map_err(wait)
    }

    /// Drops keys that have fully recovered, so memory stays bounded.
    pub fn clean(&self) {
        self.pairs.retain_recent();
        self.accounts.retain_recent();
        self.addresses.retain_recent();
    }
}

/// Refused anonymous writes recorded in the audit log, per address: a flood is refused all the same, but only
/// the first few a minute are written (the audit log is append-only; it must not be a way to fill the disk).
pub struct RefusalLimiter {
    addresses: DefaultKeyedRateLimiter<Option<IpAddr>>,
}

/// Audit entries per address per minute for refused anonymous writes.
const REFUSALS_RECORDED_PER_MINUTE: u32 = 20;

impl Default for RefusalLimiter {
    fn default() -> Self {
        Self { addresses: RateLimiter::keyed(per_minute(REFUSALS_RECORDED_PER_MINUTE)) }
    }
}

impl RefusalLimiter {
    /// Whether this refusal from `address` should be recorded.
    pub(crate) fn should_record(&self, address: Option<IpAddr>) -> bool {
        self.addresses.check_key(&address).is_ok()
    }

    /// Drops recovered keys.
    pub fn clean(&self) {
        self.addresses.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_of_an_email_share_a_limit_and_a_stranger_cannot_lock_the_owner_out() {
        let limiter = LoginLimiter::default();
        let stranger = Some(IpAddr::from([203, 0, 113, 9]));
        let owner = Some(IpAddr::from([198, 51, 100, 7]));
        let mut refused = false;
        for attempt in 0..PER_ADDRESS_AND_ACCOUNT_PER_MINUTE + 1 {
            let email = if attempt % 2 == 0 { " Target@Example.com" } else { "target@example.com  " };
            refused |= limiter.check(email, stranger).is_err();
        }
        assert!(refused, "whitespace and case variants were counted apart");
        assert!(limiter.check("target@example.com", owner).is_ok(), "the owner is locked out by a stranger");
    }
}
