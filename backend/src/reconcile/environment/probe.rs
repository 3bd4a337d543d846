//! The idle resync of a Ready environment: two reads (its controller service and its Auto Scaling group) tell
//! whether anything drifted. Both express the health of everything under them (a lost file system, role or
//! security group stops the controller task), so only a failed probe pays for a full pass.

use super::capacity::{desired_group, observe_instances};
use super::conditions::{self, READY};
use super::Pass;
use crate::aws::AwsError;
use crate::domain::object::{ConditionStatus, Phase};

/// True when the environment is Ready for its current spec and AWS still says so.
pub async fn converged(pass: &mut Pass) -> Result<bool, AwsError> {
    let status = &pass.object.status;
    let current = status.phase == Phase::Ready
        && status.observed_generation == pass.object.metadata.generation
        && conditions::status_of(status, READY) == ConditionStatus::True;
    let Some(task_definition) = status.outputs.task_definition_arn.clone().filter(|_| current) else {
        return Ok(false);
    };
    let cluster = pass.names.cluster();
    let service_name = pass.names.controller_service();
    let services = pass.aws.ecs.describe_services(&cluster, std::slice::from_ref(&service_name)).await?;
    let service_ok = services.first().is_some_and(|s| {
        s.desired == 1
            && s.running >= 1
            && s.task_definition == task_definition
            && s.rollout_state.as_deref() == Some("COMPLETED")
    });
    if !service_ok {
        return Ok(false);
    }
    let group_name = pass.names.auto_scaling_group();
    let Some(group) = pass.aws.autoscaling.describe_groups(std::slice::from_ref(&group_name)).await?.pop() else {
        return Ok(false);
    };
    let owned = super::ownership::owns(pass, group.owner.as_deref());
    if !owned || group.status.is_some() || group.spec != desired_group(pass, &group.spec.launch_template_id) {
        return Ok(false);
    }
    observe_instances(pass, &group);
    Ok(true)
}
