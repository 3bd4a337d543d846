//! Capacity: the ECS cluster, the container instances' launch template (ECS-optimised AMI, user data that joins
//! the cluster, drains on Spot notices and labels each instance with its lifecycle), the mixed-instances ASG
//! from `spec.capacity`, and the ECS capacity provider on it as the cluster's default. Sets `CapacityReady`.

use super::conditions::{self, CAPACITY_READY};
use super::{ownership, Pass, Progress};
use crate::aws::autoscaling::{Group, GroupSpec};
use crate::aws::ec2::LaunchTemplateData;
use crate::aws::ecs::{Cluster, CONTAINER_INSIGHTS, PROVIDER_SETTINGS};
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType, InstanceStatus};

/// The public SSM parameter naming the current ECS-optimised Amazon Linux 2023 AMI of a region (Amazon Linux 2
/// left standard support on 2026-06-30; AL2023's ECS AMI reads the same `/etc/ecs/ecs.config`).
pub const ECS_AMI_PARAMETER: &str = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";

/// The container instances' user data: join the cluster, drain tasks when a Spot notice comes, give running
/// tasks 90 s to stop, keep awsvpc tasks (builds) away from the instance metadata service (else build code
/// reads the instance role, and with it the credentials of every task on the instance), and label the
/// instance with its lifecycle (`spot` or `on-demand`, from instance metadata) so the controller's placement
/// constraint keeps it on the on-demand base.
pub fn user_data(cluster: &str) -> String {
    format!(
        r#"#!/bin/bash
set -euo pipefail
cat >> /etc/ecs/ecs.config <<'EOF'
ECS_CLUSTER={cluster}
ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
ECS_CONTAINER_STOP_TIMEOUT=90s
ECS_AWSVPC_BLOCK_IMDS=true
EOF
TOKEN=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
LIFECYCLE=$(curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-life-cycle)
echo "ECS_INSTANCE_ATTRIBUTES={{\"lifecycle\":\"$LIFECYCLE\"}}" >> /etc/ecs/ecs.config
"#
    )
}

/// The group Butler wants for this pass's spec.
pub(crate) fn desired_group(pass: &Pass, launch_template_id: &str) -> GroupSpec {
    let capacity = &pass.object.spec.capacity;
    let mut subnets = super::storage::subnets(pass);
    subnets.sort();
    GroupSpec {
        name: pass.names.auto_scaling_group(),
        launch_template_id: launch_template_id.to_owned(),
        subnets,
        instance_types: capacity.instance_types.clone(),
        on_demand_base: to_i32(capacity.on_demand_base),
        on_demand_percent_above_base: to_i32(capacity.on_demand_percent_above_base),
        spot_allocation_strategy: capacity.spot_allocation_strategy.as_aws().to_owned(),
        capacity_rebalance: capacity.capacity_rebalance,
        min: to_i32(capacity.min),
        max: to_i32(capacity.max),
        launch_template_version: crate::aws::autoscaling::LATEST.to_owned(),
        // The capacity provider's managed termination protection, not the ASG, decides which instance goes.
        protected_from_scale_in: true,
    }
}

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn waiting(pass: &mut Pass, reason: &str, message: String) -> Progress {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, CAPACITY_READY, ConditionStatus::False, reason, &message, generation, pass.now);
    Progress::Waiting(message)
}

/// Whether the spec changed since the status was written (an update), as opposed to AWS drifting (a repair).
pub(crate) fn spec_changed(pass: &Pass) -> bool {
    pass.object.status.observed_generation != pass.object.metadata.generation
}

/// The event for putting something back: a spec change is an update, anything else is repaired drift.
pub(crate) fn change_event(pass: &mut Pass, updated_reason: &str, message: String) {
    let reason = if spec_changed(pass) { updated_reason } else { "DriftRepaired" };
    pass.event(EventType::Normal, reason, message);
}

async fn cluster(pass: &mut Pass) -> Result<Cluster, AwsError> {
    let name = pass.names.cluster();
    // A first provisioning creates without looking: CreateCluster answers a taken name with that cluster, and
    // with current (injective) names a taken name can only be this environment's own.
    let found = match (&pass.snapshot, pass.fresh) {
        (_, true) => None,
        (Some(snapshot), _) => snapshot.clusters.get(&name).cloned(),
        (None, _) => pass.aws.ecs.describe_clusters(std::slice::from_ref(&name)).await?.into_iter().next(),
    };
    if let Some(found) = found {
        ownership::require(pass, "ECS cluster", &name, found.owner.as_deref())?;
        if found.container_insights.as_deref() != Some(CONTAINER_INSIGHTS) {
            pass.aws.ecs.set_cluster_settings(&name).await?;
            let message = format!(
                "ECS cluster {name}: containerInsights {:?} set back to {CONTAINER_INSIGHTS}",
                found.container_insights
            );
            pass.event(EventType::Normal, "DriftRepaired", message);
        }
        return Ok(found);
    }
    // CreateCluster answers an existing name with that cluster: no duplicate after a crash.
    let created = pass.aws.ecs.create_cluster(&name, &pass.tags()).await?;
    // A cluster made meanwhile by someone else comes back as it is: check it too.
    ownership::require(pass, "ECS cluster", &name, created.owner.as_deref())?;
    pass.event(EventType::Normal, "ClusterCreated", format!("created ECS cluster {name}"));
    Ok(created)
}

async fn image_id(pass: &Pass) -> Result<String, AwsError> {
    if let Some(ami) = &pass.profile.ami_id {
        return Ok(ami.clone());
    }
    pass.aws.ssm.get_parameter(ECS_AMI_PARAMETER).await?.ok_or_else(|| AwsError {
        kind: AwsErrorKind::Invalid,
        operation: "ssm:GetParameter",
        code: "EcsAmiNotFound".into(),
        message: format!(
            "the region has no {ECS_AMI_PARAMETER}; set amiId on the cloud profile {:?}",
            pass.profile.name
        ),
    })
}

async fn launch_template(pass: &mut Pass, agents_group: &str) -> Result<String, AwsError> {
    let name = pass.names.launch_template();
    let mut desired = LaunchTemplateData {
        image_id: String::new(),
        instance_profile: pass.names.instance_role(),
        security_group_ids: vec![agents_group.to_owned()],
        user_data: user_data(&pass.names.cluster()),
    };
    let found = if pass.fresh { None } else { pass.aws.ec2.find_launch_template(&name).await? };
    match found {
        Some(template) => {
            ownership::require(pass, "launch template", &name, template.owner.as_deref())?;
            // The AMI moves only when the profile names one: a new "recommended" AMI never rolls instances by itself.
            desired.image_id = pass.profile.ami_id.clone().unwrap_or_else(|| template.data.image_id.clone());
            if template.data != desired {
                let updated = pass.aws.ec2.create_launch_template_version(&template, &desired).await?;
                change_event(
                    pass,
                    "LaunchTemplateUpdated",
                    format!("launch template {name} version {} (new instances use it)", updated.version),
                );
            }
            Ok(template.id)
        }
        None => {
            desired.image_id = image_id(pass).await?;
            match pass.aws.ec2.create_launch_template(&name, &desired, &pass.tags()).await {
                Ok(created) => {
                    pass.event(
                        EventType::Normal,
                        "LaunchTemplateCreated",
                        format!("created launch template {name} ({})", desired.image_id),
                    );
                    Ok(created.id)
                }
                Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                    let found = pass.aws.ec2.find_launch_template(&name).await?.ok_or(error)?;
                    ownership::require(pass, "launch template", &name, found.owner.as_deref())?;
                    Ok(found.id)
                }
                Err(error) => Err(error),
            }
        }
    }
}

async fn group(pass: &mut Pass, desired: &GroupSpec) -> Result<Option<Group>, AwsError> {
    let names = [desired.name.clone()];
    let found = match (&pass.snapshot, pass.fresh) {
        (_, true) => None,
        (Some(snapshot), _) => snapshot.groups.get(&desired.name).cloned(),
        (None, _) => pass.aws.autoscaling.describe_groups(&names).await?.into_iter().next(),
    };
    if let Some(found) = &found {
        ownership::require(pass, "Auto Scaling group", &desired.name, found.owner.as_deref())?;
    }
    match found {
        Some(found) if found.status.is_some() => Ok(Some(found)),
        Some(found) => {
            if found.spec != *desired {
                pass.aws.autoscaling.update_group(desired).await?;
                change_event(
                    pass,
                    "CapacityUpdated",
                    format!("Auto Scaling group {} set to the spec's instance types and sizes", desired.name),
                );
                return Ok(Some(Group { spec: desired.clone(), ..found }));
            }
            Ok(Some(found))
        }
        None => {
            match pass.aws.autoscaling.create_group(desired, &pass.tags()).await {
                Ok(()) => pass.event(
                    EventType::Normal,
                    "AutoScalingGroupCreated",
                    format!(
                        "created Auto Scaling group {} ({} on-demand base, Spot above it across {} instance types)",
                        desired.name,
                        desired.on_demand_base,
                        desired.instance_types.len()
                    ),
                ),
                Err(error) if error.kind == AwsErrorKind::AlreadyExists => {}
                Err(error) => return Err(error),
            }
            // CreateAutoScalingGroup returns nothing: the ARN the capacity provider needs comes from a describe.
            let created = pass.aws.autoscaling.describe_groups(&names).await?.into_iter().next();
            if let Some(created) = &created {
                ownership::require(pass, "Auto Scaling group", &desired.name, created.owner.as_deref())?;
            }
            Ok(created)
        }
    }
}

/// Records the group's instances and an event for each one that left since the last look (a Spot reclaim or
/// rebalance when it ran on Spot; the ASG launches its replacement).
pub(crate) fn observe_instances(pass: &mut Pass, group: &Group) {
    let now: Vec<InstanceStatus> = group
        .instances
        .iter()
        .map(|instance| InstanceStatus {
            id: instance.id.clone(),
            instance_type: instance.instance_type.clone(),
            availability_zone: instance.availability_zone.clone(),
            lifecycle_state: instance.lifecycle_state.clone(),
        })
        .collect();
    let gone: Vec<InstanceStatus> =
        pass.status.instances.iter().filter(|before| !now.iter().any(|after| after.id == before.id)).cloned().collect();
    let spot_above_base = group.spec.on_demand_percent_above_base < 100;
    for instance in gone {
        if spot_above_base {
            pass.spot_interruptions += 1;
        }
        let (reason, why) = if spot_above_base {
            ("SpotInstanceReplaced", "a Spot reclaim or rebalance when it ran on Spot")
        } else {
            ("InstanceReplaced", "scaled in or replaced")
        };
        pass.event(
            EventType::Normal,
            reason,
            format!(
                "instance {} ({} in {}) left {}: {why}",
                instance.id, instance.instance_type, instance.availability_zone, group.spec.name
            ),
        );
    }
    pass.status.instances = now;
}

/// Makes capacity match the spec.
pub async fn ensure(pass: &mut Pass) -> Result<Progress, AwsError> {
    let Some(groups) = pass.security_groups.clone() else {
        return Ok(waiting(pass, "WaitingForNetwork", "security groups are not known yet".to_owned()));
    };
    // Made by an earlier pass of this first provisioning (outputs and CapacityReady say so already).
    if pass.made("capacity").is_some() {
        return Ok(Progress::Done);
    }
    let cluster = cluster(pass).await?;
    pass.status.outputs.cluster_arn = Some(cluster.arn.clone());
    let template_id = launch_template(pass, &groups.agents).await?;
    let desired = desired_group(pass, &template_id);
    let Some(group) = group(pass, &desired).await? else {
        return Ok(waiting(pass, "AutoScalingGroupCreating", format!("{} is being created", desired.name)));
    };
    if let Some(status) = &group.status {
        return Ok(waiting(pass, "AutoScalingGroupBusy", format!("{}: {status}", desired.name)));
    }
    pass.status.outputs.auto_scaling_group = Some(desired.name.clone());
    observe_instances(pass, &group);

    let provider_name = pass.names.capacity_provider();
    let found = match (&pass.snapshot, pass.fresh) {
        (_, true) => None,
        (Some(snapshot), _) => snapshot.providers.get(&provider_name).cloned(),
        (None, _) => pass.aws.ecs.describe_capacity_providers(std::slice::from_ref(&provider_name)).await?.pop(),
    };
    let provider = match found {
        Some(provider) => {
            ownership::require(pass, "capacity provider", &provider_name, provider.owner.as_deref())?;
            provider
        }
        None => match pass.aws.ecs.create_capacity_provider(&provider_name, &group.arn, &pass.tags()).await {
            Ok(created) => {
                pass.event(
                    EventType::Normal,
                    "CapacityProviderCreated",
                    format!("created capacity provider {provider_name} on {}", desired.name),
                );
                created
            }
            // Made by a pass whose answer was lost: look at it.
            Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                let found = pass.aws.ecs.describe_capacity_providers(std::slice::from_ref(&provider_name)).await?.pop();
                let found = found.ok_or(error)?;
                ownership::require(pass, "capacity provider", &provider_name, found.owner.as_deref())?;
                found
            }
            Err(error) => return Err(error),
        },
    };
    if let Some(update) = provider.update_status.as_deref().filter(|s| s.ends_with("IN_PROGRESS")) {
        return Ok(waiting(pass, "CapacityProviderBusy", format!("{provider_name}: {update}")));
    }
    if provider.settings != PROVIDER_SETTINGS {
        // Providers made before these settings, or changed out of band, scale the way Butler says again.
        pass.aws.ecs.update_capacity_provider(&provider_name, &PROVIDER_SETTINGS).await?;
        change_event(
            pass,
            "CapacityProviderUpdated",
            format!("capacity provider {provider_name}: managed scaling, protection and draining set back"),
        );
    }
    // Exactly this provider, as the default strategy: another one (FARGATE_SPOT, say) added out of band would
    // run the controller or builds where Butler neither meters nor protects them.
    let strategy = Cluster::wanted_strategy(&provider_name);
    if cluster.capacity_providers != [provider_name.clone()] || cluster.default_strategy != strategy {
        pass.aws.ecs.put_cluster_capacity_providers(&cluster.name, std::slice::from_ref(&provider_name)).await?;
        if cluster.capacity_providers.is_empty() {
            let message = format!("{provider_name} is the default capacity of {}", cluster.name);
            pass.event(EventType::Normal, "CapacityProviderAssociated", message);
        } else {
            let message = format!(
                "ECS cluster {}: capacity providers {:?} and default strategy {:?} set back to {provider_name}",
                cluster.name, cluster.capacity_providers, cluster.default_strategy
            );
            pass.event(EventType::Normal, "DriftRepaired", message);
        }
    }
    let generation = pass.object.metadata.generation;
    let message = format!(
        "{}: {} instance(s), min {} max {}; capacity provider {provider_name}",
        desired.name,
        group.instances.len(),
        desired.min,
        desired.max
    );
    conditions::set(
        &mut pass.status,
        CAPACITY_READY,
        ConditionStatus::True,
        "Available",
        &message,
        generation,
        pass.now,
    );
    pass.record("capacity", cluster.arn);
    Ok(Progress::Done)
}
