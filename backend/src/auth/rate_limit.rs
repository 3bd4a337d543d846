//! Login rate limits per account and per client address (in-process: each replica counts its own).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per account per minute (burst), and per client address.
const PER_ACCOUNT_PER_MINUTE: u32 = 10;
const PER_ADDRESS_PER_MINUTE: u32 = 30;

/// Both limiters.
pub struct LoginLimiter {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            accounts: RateLimiter::keyed(per_minute(PER_ACCOUNT_PER_MINUTE)),
            addresses: RateLimiter::keyed(per_minute(PER_ADDRESS_PER_MINUTE)),
        }
    }
}

impl LoginLimiter {
    /// Counts one attempt; `Err` carries how long to wait.
    pub fn check(&self, email: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        if let Some(address) = address {
            self.addresses.check_key(&address).map_err(|not_until| not_until.wait_time_from(now))?;
        }
        self.accounts.check_key(&email.to_lowercase()).map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Drops keys that have fully recovered, so memory stays bounded.
    pub fn clean(&self) {
        self.accounts.retain_recent();
        self.addresses.retain_recent();
    }
}
