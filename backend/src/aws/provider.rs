//! Which AWS clients a reconcile pass or a meter pass uses: one connected account per region and role, cached.

use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;

use super::autoscaling::{AutoScalingApi, SdkAutoScaling};
use super::context::{AccountTarget, AwsAccount, AwsSettings};
use super::discovery::{DiscoveryApi, SdkDiscovery};
use super::ec2::{Ec2Api, SdkEc2};
use super::ecs::{EcsApi, SdkEcs};
use super::efs::{EfsApi, SdkEfs};
use super::elb::{ElbApi, SdkElb};
use super::iam::{IamApi, SdkIam};
use super::logs::{LogsApi, SdkLogs};
use super::route53::{DnsApi, SdkRoute53};
use super::secrets::{SdkSecrets, SecretsApi};
use super::ssm::{SdkSsm, SsmApi};

/// The adapters of one account.
#[derive(Clone)]
pub struct AwsServices {
    pub ec2: Arc<dyn Ec2Api>,
    pub efs: Arc<dyn EfsApi>,
    pub discovery: Arc<dyn DiscoveryApi>,
    pub iam: Arc<dyn IamApi>,
    pub logs: Arc<dyn LogsApi>,
    pub ecs: Arc<dyn EcsApi>,
    pub autoscaling: Arc<dyn AutoScalingApi>,
    pub ssm: Arc<dyn SsmApi>,
    pub elb: Arc<dyn ElbApi>,
    pub dns: Arc<dyn DnsApi>,
    pub secrets: Arc<dyn SecretsApi>,
}

/// Gives a pass the adapters for its profile (tests give in-memory fakes).
#[async_trait]
pub trait AwsProvider: Send + Sync {
    /// The adapters for the account `role_arn` reaches (the default credential chain's when None) in `region`.
    async fn services(&self, region: &str, role_arn: Option<&str>) -> AwsServices;
}

/// SDK adapters, one connected account per (region, role).
pub struct SdkProvider {
    settings: AwsSettings,
    accounts: DashMap<(String, Option<String>), AwsServices>,
}

impl SdkProvider {
    /// A provider using `settings` (endpoint override, counters, rate limits).
    pub fn new(settings: AwsSettings) -> Self {
        Self { settings, accounts: DashMap::new() }
    }
}

#[async_trait]
impl AwsProvider for SdkProvider {
    async fn services(&self, region: &str, role_arn: Option<&str>) -> AwsServices {
        let key = (region.to_owned(), role_arn.map(str::to_owned));
        if let Some(services) = self.accounts.get(&key) {
            return services.clone();
        }
        let target = AccountTarget { region: key.0.clone(), role_arn: key.1.clone() };
        let account = AwsAccount::connect(&self.settings, &target).await;
        let services = AwsServices {
            ec2: Arc::new(SdkEc2::new(&account)),
            efs: Arc::new(SdkEfs::new(&account)),
            discovery: Arc::new(SdkDiscovery::new(&account)),
            iam: Arc::new(SdkIam::new(&account)),
            logs: Arc::new(SdkLogs::new(&account)),
            ecs: Arc::new(SdkEcs::new(&account)),
            autoscaling: Arc::new(SdkAutoScaling::new(&account)),
            ssm: Arc::new(SdkSsm::new(&account)),
            elb: Arc::new(SdkElb::new(&account)),
            dns: Arc::new(SdkRoute53::new(&account)),
            secrets: Arc::new(SdkSecrets::new(&account)),
        };
        self.accounts.insert(key, services.clone());
        services
    }
}
