//! Auto Scaling: the environment's mixed-instances group (an on-demand base for the controller, Spot above it),
//! described fifty names a call, created and updated from one `GroupSpec`, and force-deleted on teardown.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    InstancesDistribution, LaunchTemplate as AsgLaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
    MixedInstancesPolicy, Tag,
};

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError};
use super::limits::ApiFamily;

/// DescribeAutoScalingGroups takes at most this many names a call.
const GROUPS_PER_DESCRIBE: usize = 50;

/// What Butler sets on a group; compared field by field with what AWS reports to find drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: String,
    pub launch_template_id: String,
    pub subnets: Vec<String>,
    pub instance_types: Vec<String>,
    pub on_demand_base: i32,
    pub on_demand_percent_above_base: i32,
    pub spot_allocation_strategy: String,
    pub capacity_rebalance: bool,
    pub min: i32,
    pub max: i32,
    /// Which launch template version new instances use (Butler: `$Latest`).
    pub launch_template_version: String,
    /// Whether new instances start protected from scale-in (managed termination protection needs it).
    pub protected_from_scale_in: bool,
}

/// The launch template version Butler's groups follow: a new version (a new AMI, new user data) reaches new
/// instances without touching the group.
pub const LATEST: &str = "$Latest";

/// One instance of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstance {
    pub id: String,
    pub instance_type: String,
    pub availability_zone: String,
    pub lifecycle_state: String,
    pub protected_from_scale_in: bool,
}

/// A group as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub arn: String,
    /// What the group is set to, in the same shape Butler asks for.
    pub spec: GroupSpec,
    pub desired: i32,
    pub instances: Vec<GroupInstance>,
    /// `Delete in progress` while a forced delete runs.
    pub status: Option<String>,
    /// The group's `butler:uid` tag: whose it is.
    pub owner: Option<String>,
}

/// What the reconciler needs of Auto Scaling.
#[async_trait]
pub trait AutoScalingApi: Send + Sync {
    /// Groups by name, fifty a call; absent ones are left out.
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<Group>, AwsError>;
    /// Creates the group (desired = min; the capacity provider scales it from there), tags propagated to
    /// instances, new instances protected from scale-in (managed termination protection needs it).
    async fn create_group(&self, spec: &GroupSpec, tags: &BTreeMap<String, String>) -> Result<(), AwsError>;
    /// Puts the group back to `spec` (never touches desired, which the capacity provider owns).
    async fn update_group(&self, spec: &GroupSpec) -> Result<(), AwsError>;
    /// Lets teardown take instances away: min/max/desired 0.
    async fn drain_group(&self, name: &str) -> Result<(), AwsError>;
    /// Clears scale-in protection of instances (it outlives the capacity provider).
    async fn unprotect_instances(&self, name: &str, instance_ids: &[String]) -> Result<(), AwsError>;
    /// Deletes the group and terminates its instances; gone is fine.
    async fn force_delete_group(&self, name: &str) -> Result<(), AwsError>;
}

/// The SDK-backed Auto Scaling adapter.
pub struct SdkAutoScaling {
    account: AwsAccount,
    client: aws_sdk_autoscaling::Client,
}

impl SdkAutoScaling {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_autoscaling::Client::new(&account.config) }
    }
}

fn mixed_instances_policy(spec: &GroupSpec) -> MixedInstancesPolicy {
    let template = LaunchTemplateSpecification::builder()
        .launch_template_id(&spec.launch_template_id)
        .version(&spec.launch_template_version)
        .build();
    let overrides =
        spec.instance_types.iter().map(|t| LaunchTemplateOverrides::builder().instance_type(t).build()).collect();
    MixedInstancesPolicy::builder()
        .launch_template(
            AsgLaunchTemplate::builder().launch_template_specification(template).set_overrides(Some(overrides)).build(),
        )
        .instances_distribution(
            // The API's defaults (lowest-price, 100 % on-demand above base) are never what Butler wants: set both.
            InstancesDistribution::builder()
                .on_demand_base_capacity(spec.on_demand_base)
                .on_demand_percentage_above_base_capacity(spec.on_demand_percent_above_base)
                .spot_allocation_strategy(&spec.spot_allocation_strategy)
                .build(),
        )
        .build()
}

fn group_of(group: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Group {
    let policy = group.mixed_instances_policy();
    let template = policy.and_then(|p| p.launch_template());
    let distribution = policy.and_then(|p| p.instances_distribution());
    let mut subnets: Vec<String> = group
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().to_owned())
        .collect();
    subnets.sort();
    Group {
        arn: group.auto_scaling_group_arn().unwrap_or_default().to_owned(),
        spec: GroupSpec {
            name: group.auto_scaling_group_name().unwrap_or_default().to_owned(),
            launch_template_id: template
                .and_then(|t| t.launch_template_specification())
                .and_then(|s| s.launch_template_id())
                .unwrap_or_default()
                .to_owned(),
            subnets,
            instance_types: template
                .map(|t| t.overrides().iter().filter_map(|o| o.instance_type().map(str::to_owned)).collect())
                .unwrap_or_default(),
            on_demand_base: distribution.and_then(|d| d.on_demand_base_capacity()).unwrap_or(0),
            on_demand_percent_above_base: distribution
                .and_then(|d| d.on_demand_percentage_above_base_capacity())
                .unwrap_or(100),
            spot_allocation_strategy: distribution
                .and_then(|d| d.spot_allocation_strategy())
                .unwrap_or("lowest-price")
                .to_owned(),
            capacity_rebalance: group.capacity_rebalance().unwrap_or(false),
            min: group.min_size().unwrap_or(0),
            max: group.max_size().unwrap_or(0),
            launch_template_version: template
                .and_then(|t| t.launch_template_specification())
                .and_then(|s| s.version())
                .unwrap_or_default()
                .to_owned(),
            protected_from_scale_in: group.new_instances_protected_from_scale_in().unwrap_or(false),
        },
        desired: group.desired_capacity().unwrap_or(0),
        instances: group
            .instances()
            .iter()
            .map(|instance| GroupInstance {
                id: instance.instance_id().unwrap_or_default().to_owned(),
                instance_type: instance.instance_type().unwrap_or_default().to_owned(),
                availability_zone: instance.availability_zone().unwrap_or_default().to_owned(),
                lifecycle_state: instance.lifecycle_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                protected_from_scale_in: instance.protected_from_scale_in().unwrap_or(false),
            })
            .collect(),
        status: group.status().map(str::to_owned),
        owner: group
            .tags()
            .iter()
            .find(|tag| tag.key() == Some(super::tags::UID))
            .and_then(|tag| tag.value())
            .map(str::to_owned),
    }
}

#[async_trait]
impl AutoScalingApi for SdkAutoScaling {
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<Group>, AwsError> {
        let mut groups = Vec::new();
        for chunk in names.chunks(GROUPS_PER_DESCRIBE) {
            let request =
                self.client.describe_auto_scaling_groups().set_auto_scaling_group_names(Some(chunk.to_vec())).send();
            let output =
                self.account.call("autoscaling:DescribeAutoScalingGroups", ApiFamily::AutoScaling, request).await?;
            groups.extend(output.auto_scaling_groups().iter().map(group_of));
        }
        Ok(groups)
    }

    async fn create_group(&self, spec: &GroupSpec, tag_set: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let tags = tag_set
            .iter()
            .map(|(key, value)| {
                Tag::builder()
                    .key(key)
                    .value(value)
                    .resource_id(&spec.name)
                    .resource_type("auto-scaling-group")
                    .propagate_at_launch(true)
                    .build()
            })
            .collect();
        let request = self
            .client
            .create_auto_scaling_group()
            .auto_scaling_group_name(&spec.name)
            .mixed_instances_policy(mixed_instances_policy(spec))
            .vpc_zone_identifier(spec.subnets.join(","))
            .min_size(spec.min)
            .max_size(spec.max)
            .desired_capacity(spec.min)
            .capacity_rebalance(spec.capacity_rebalance)
            .new_instances_protected_from_scale_in(spec.protected_from_scale_in)
            .set_tags(Some(tags))
            .send();
        // AlreadyExists reaches the caller, which looks the group up: an earlier pass made it.
        self.account.call("autoscaling:CreateAutoScalingGroup", ApiFamily::AutoScaling, request).await.map(|_| ())
    }

    async fn update_group(&self, spec: &GroupSpec) -> Result<(), AwsError> {
        let request = self
            .client
            .update_auto_scaling_group()
            .auto_scaling_group_name(&spec.name)
            .mixed_instances_policy(mixed_instances_policy(spec))
            .vpc_zone_identifier(spec.subnets.join(","))
            .min_size(spec.min)
            .max_size(spec.max)
            .capacity_rebalance(spec.capacity_rebalance)
            .new_instances_protected_from_scale_in(spec.protected_from_scale_in)
            .send();
        self.account.call("autoscaling:UpdateAutoScalingGroup", ApiFamily::AutoScaling, request).await.map(|_| ())
    }

    async fn drain_group(&self, name: &str) -> Result<(), AwsError> {
        let request = self
            .client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(0)
            .max_size(0)
            .desired_capacity(0)
            .send();
        gone_is_fine(
            self.account.call("autoscaling:UpdateAutoScalingGroup", ApiFamily::AutoScaling, request).await.map(|_| ()),
        )
    }

    async fn unprotect_instances(&self, name: &str, instance_ids: &[String]) -> Result<(), AwsError> {
        if instance_ids.is_empty() {
            return Ok(());
        }
        let request = self
            .client
            .set_instance_protection()
            .auto_scaling_group_name(name)
            .set_instance_ids(Some(instance_ids.to_vec()))
            .protected_from_scale_in(false)
            .send();
        gone_is_fine(
            self.account.call("autoscaling:SetInstanceProtection", ApiFamily::AutoScaling, request).await.map(|_| ()),
        )
    }

    async fn force_delete_group(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_auto_scaling_group().auto_scaling_group_name(name).force_delete(true).send();
        match self.account.call("autoscaling:DeleteAutoScalingGroup", ApiFamily::AutoScaling, request).await {
            // "AutoScalingGroup name not found" comes back as a ValidationError.
            Err(error) if error.message.contains("not found") => Ok(()),
            other => gone_is_fine(other.map(|_| ())),
        }
    }
}
