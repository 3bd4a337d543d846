//! Capped exponential backoff with equal jitter (half the ceiling fixed, half random), and jittered resync
//! intervals.

use std::time::Duration;

use rand::Rng;

/// First retry delay.
pub(crate) const BASE: Duration = Duration::from_secs(1);
/// Longest retry delay (field lesson: 1 s → 5 min, reset on success).
pub(crate) const CAP: Duration = Duration::from_secs(300);

/// The delay before retry number `attempts + 1`: uniformly random in [cap/2, cap] where cap = min(CAP, BASE·2^n),
/// so a burst of failures spreads out instead of retrying in lockstep.
pub fn retry_delay(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let ceiling = BASE.saturating_mul(1 << exponent).min(CAP);
    let low = ceiling / 2;
    let spread = ceiling.saturating_sub(low).as_millis() as u64;
    low + Duration::from_millis(rand::rng().random_range(0..=spread))
}

/// `interval` ± 5 %, so resyncs of many environments do not line up.
pub(crate) fn jittered(interval: Duration) -> Duration {
    let millis = interval.as_millis() as f64;
    let factor = rand::rng().random_range(0.95..=1.05);
    Duration::from_millis((millis * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_stay_under_the_cap() {
        for attempts in 0..40 {
            let delay = retry_delay(attempts);
            assert!(delay <= CAP, "{attempts}: {delay:?}");
            let ceiling = BASE.saturating_mul(1 << attempts.min(16)).min(CAP);
            assert!(delay >= ceiling / 2, "{attempts}: {delay:?}");
        }
        assert!(retry_delay(0) <= Duration::from_secs(1));
        assert!(retry_delay(20) >= Duration::from_secs(150));
    }

    #[test]
    fn resync_jitter_stays_within_five_percent() {
        for _ in 0..100 {
            let delay = jittered(Duration::from_secs(600));
            assert!(delay >= Duration::from_secs(570) && delay <= Duration::from_secs(630), "{delay:?}");
        }
    }
}
