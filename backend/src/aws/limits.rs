//! Client-side token buckets per AWS account and API family, at AWS's published refill rates, so a burst of
//! many environments waits its turn here instead of drowning in ThrottlingException there.

use std::num::NonZeroU32;
use std::sync::Arc;

use dashmap::DashMap;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Groups of calls that share one AWS rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFamily {
    /// ECS CreateService/UpdateService/DeleteService: 5/s (ECS API throttling docs).
    EcsServiceWrite,
    /// ECS RegisterTaskDefinition: 1/s.
    EcsRegisterTaskDefinition,
    /// Other ECS writes (clusters, capacity providers): 5/s.
    EcsWrite,
    /// ECS Describe*/List*: 20/s.
    EcsRead,
    /// EC2 mutating calls: 5/s (EC2 request token bucket, mutating actions).
    Ec2Write,
    /// EC2 Describe*: 20/s (non-mutating actions).
    Ec2Read,
    /// Auto Scaling: 5/s (conservative; its account-level limits are not published per action).
    AutoScaling,
    /// EFS: 5/s writes, shared with reads (conservative).
    Efs,
    /// Cloud Map: 5/s (conservative).
    ServiceDiscovery,
    /// IAM: 5/s (IAM is global and slow to settle; conservative).
    Iam,
    /// CloudWatch Logs control plane: 5/s.
    Logs,
    /// STS AssumeRole: 10/s.
    Sts,
    /// SSM GetParameter: 40/s (Parameter Store's default throughput).
    SsmRead,
    /// SSM PutParameter/DeleteParameter: 3/s.
    SsmWrite,
    /// Elastic Load Balancing v2: 10/s (conservative; ELB throttles per account and action).
    Elb,
    /// Secrets Manager: 20/s (conservative; its control-plane quotas are 50/s per action).
    SecretsManager,
    /// Route 53: 5/s per account (Route 53 quotas, "five requests per second per AWS account").
    Route53,
}

impl ApiFamily {
    /// Sustained calls per second (and burst).
    fn per_second(self) -> u32 {
        match self {
            Self::EcsRegisterTaskDefinition => 1,
            Self::EcsRead | Self::Ec2Read | Self::SecretsManager => 20,
            Self::Sts | Self::Elb => 10,
            Self::SsmRead => 40,
            Self::SsmWrite => 3,
            _ => 5,
        }
    }
}

/// The buckets of every account this process talks to.
#[derive(Default)]
pub struct RateLimits {
    buckets: DashMap<(String, ApiFamily), Arc<DefaultDirectRateLimiter>>,
}

impl RateLimits {
    /// Waits for a token of `family` in `account` (a profile: one account and region).
    pub async fn acquire(&self, account: &str, family: ApiFamily) {
        let bucket = self
            .buckets
            .entry((account.to_owned(), family))
            .or_insert_with(|| {
                let rate = NonZeroU32::new(family.per_second()).unwrap_or(NonZeroU32::MIN);
                Arc::new(RateLimiter::direct(Quota::per_second(rate)))
            })
            .clone();
        bucket.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn register_task_definition_waits_a_second_between_calls() {
        let limits = RateLimits::default();
        let started = Instant::now();
        for _ in 0..3 {
            limits.acquire("acct", ApiFamily::EcsRegisterTaskDefinition).await;
        }
        assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
        // Another account has its own bucket.
        let other = Instant::now();
        limits.acquire("other", ApiFamily::EcsRegisterTaskDefinition).await;
        assert!(other.elapsed() < Duration::from_millis(100));
    }
}
