//! Which AWS clients a pass uses: one connected account per cloud profile (region and role), cached.

use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;

use crate::aws::autoscaling::{AutoScalingApi, SdkAutoScaling};
use crate::aws::context::{AccountTarget, AwsAccount, AwsSettings};
use crate::aws::discovery::{DiscoveryApi, SdkDiscovery};
use crate::aws::ec2::{Ec2Api, SdkEc2};
use crate::aws::ecs::{EcsApi, SdkEcs};
use crate::aws::efs::{EfsApi, SdkEfs};
use crate::aws::iam::{IamApi, SdkIam};
use crate::aws::logs::{LogsApi, SdkLogs};
use crate::aws::ssm::{SdkSsm, SsmApi};
use crate::reconcile::ReconcileError;
use crate::store::cloud_profiles::ProfileRow;

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
}

/// Gives a pass the adapters for its profile (tests give in-memory fakes).
#[async_trait]
pub trait AwsProvider: Send + Sync {
    /// The adapters for `profile`'s account and region.
    async fn services(&self, profile: &ProfileRow) -> Result<AwsServices, ReconcileError>;
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
    async fn services(&self, profile: &ProfileRow) -> Result<AwsServices, ReconcileError> {
        let key = (profile.region.clone(), profile.role_arn.clone());
        if let Some(services) = self.accounts.get(&key) {
            return Ok(services.clone());
        }
        let target = AccountTarget { region: profile.region.clone(), role_arn: profile.role_arn.clone() };
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
        };
        self.accounts.insert(key, services.clone());
        Ok(services)
    }
}
