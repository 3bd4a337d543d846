//! Deletion in the safe order of the inventory: the address first (host rule, alias record, target group, then
//! the place on the shared load balancer, which the pool sweep deletes once empty past its grace period), the
//! controller service (scaled to 0, then deleted) and any
//! agent tasks, the task definitions, the Cloud Map service (after deregistering instances), the capacity
//! provider, the ASG (drained, unprotected, force-deleted) and its launch template, the cluster, the access
//! point and mount targets, the file system unless `deletionPolicy: Retain`, logs, the admin password, roles,
//! and the security groups last. Each step waits for the one before, retries on ResourceInUse /
//! DependencyViolation, and says in `Ready` what blocks. Then Butler's finalizer goes. Only what carries the
//! environment's own `butler:uid` is deleted (see `ownership`): a foreign resource under one of its names stays.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use super::conditions::{self, READY};
use super::{ownership, Pass};
use crate::aws::efs::Lifecycle;
use crate::aws::tags::UID;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType, Phase};
use crate::domain::spec::DeletionPolicy;
use crate::domain::AWS_RESOURCES_FINALIZER;
use crate::feed::Feed;
use crate::reconcile::Action;
use crate::services::environments;
use crate::store::audit::AuditContext;

/// How long to wait while something AWS-side is still letting go.
const POLL_WHILE_DELETING: Duration = Duration::from_secs(5);

fn blocked(pass: &mut Pass, reason: &str, message: String) -> Action {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, READY, ConditionStatus::False, reason, &message, generation, pass.now);
    pass.status.phase = Phase::Deleting;
    Action::RequeueAfter(POLL_WHILE_DELETING)
}

/// A delete that AWS refuses for now (in use, dependency) is a wait, not a failure.
fn in_use(error: &AwsError) -> bool {
    error.kind == AwsErrorKind::Conflict
}

/// Tears the environment down; removes the finalizer when nothing is left.
pub async fn run(pass: &mut Pass, db: &DatabaseConnection, feed: &Feed) -> Result<Action, AwsError> {
    pass.status.phase = Phase::Deleting;

    // 0. The address: host rule, alias record, target group (traffic stops before the controller does).
    if let Some(message) = super::ingress::remove(pass, db).await? {
        return Ok(blocked(pass, "WaitingForTargetGroup", message));
    }

    // 1-3. The controller and agents, their task definitions.
    if let Some(action) = compute(pass).await? {
        return Ok(action);
    }

    // 4. Discovery: the environment's service (the shared namespace stays).
    let namespace_id = match &pass.profile.namespace_id {
        Some(id) => Some(id.clone()),
        None => pass.aws.discovery.find_namespace(&pass.profile.namespace_name).await?.map(|n| n.id),
    };
    if let Some(namespace_id) = namespace_id {
        let name = pass.names.discovery_service();
        let found = pass.aws.discovery.find_service(&namespace_id, &name).await?;
        let found =
            found.filter(|s| !ownership::foreign(pass, "Cloud Map service", &name, s.creator_request_id.as_deref()));
        if let Some(service) = found {
            for instance in pass.aws.discovery.instances(&service.id).await? {
                pass.aws.discovery.deregister_instance(&service.id, &instance).await?;
            }
            match pass.aws.discovery.delete_service(&service.id).await {
                Ok(()) => pass.event(
                    EventType::Normal,
                    "DiscoveryServiceDeleted",
                    format!("deleted Cloud Map service {name}"),
                ),
                Err(error) if in_use(&error) => {
                    return Ok(blocked(
                        pass,
                        "WaitingForDiscovery",
                        format!("Cloud Map service {name} still has instances"),
                    ))
                }
                Err(error) => return Err(error),
            }
        }
    }

    // 6-8. Capacity: the capacity provider, the ASG and its launch template, the cluster.
    if let Some(action) = capacity(pass).await? {
        return Ok(action);
    }

    // 9. Storage: access points and mount targets always go; the file system only with deletionPolicy Delete.
    let token = pass.object.metadata.uid.to_string();
    if let Some(file_system) = pass.aws.efs.find_file_system(&token).await? {
        for point in pass.aws.efs.access_points(&file_system.id).await? {
            pass.aws.efs.delete_access_point(&point.id).await?;
        }
        let targets = pass.aws.efs.mount_targets(&file_system.id).await?;
        for target in targets.iter().filter(|t| t.lifecycle != Lifecycle::Deleting) {
            pass.aws.efs.delete_mount_target(&target.id).await?;
        }
        if !pass.aws.efs.mount_targets(&file_system.id).await?.is_empty() {
            let message = format!("mount targets of {} are being deleted", file_system.id);
            return Ok(blocked(pass, "WaitingForMountTargets", message));
        }
        match pass.object.spec.storage.deletion_policy {
            DeletionPolicy::Delete => match pass.aws.efs.delete_file_system(&file_system.id).await {
                Ok(()) => pass.event(
                    EventType::Normal,
                    "FileSystemDeleted",
                    format!("deleted JENKINS_HOME {}", file_system.id),
                ),
                Err(error) if in_use(&error) => {
                    return Ok(blocked(pass, "WaitingForFileSystem", format!("{} is still in use", file_system.id)))
                }
                Err(error) => return Err(error),
            },
            DeletionPolicy::Retain => {
                let message = format!(
                    "kept JENKINS_HOME {} (deletionPolicy Retain); find it by tag butler:uid={}",
                    file_system.id, pass.object.metadata.uid
                );
                if !pass.events.iter().any(|(_, reason, _)| reason == "JenkinsHomeRetained") {
                    pass.event(EventType::Normal, "JenkinsHomeRetained", message);
                }
            }
        }
    }

    // 10-11. Logs, the admin password, the instance profile and roles: nothing uses them any more.
    pass.aws.ssm.delete_parameter(&pass.names.admin_password_parameter()).await?;
    pass.aws.ssm.delete_parameter(&pass.names.oidc_client_secret_parameter()).await?;
    pass.aws.ssm.delete_parameter(&pass.names.controller_token_parameter()).await?;
    crate::store::oidc::remove_client(db, pass.object.metadata.uid)
        .await
        .map_err(|e| AwsError::internal("butler:RemoveOidcClient", &e))?;
    credentials(pass, db).await?;
    super::access::remove(pass).await?;

    // 12. Security groups last: network interfaces detach slowly (DependencyViolation until they have).
    let vpc = pass.profile.vpc_id.clone();
    let names = pass.names.clone();
    for name in [names.storage_security_group(), names.controller_security_group(), names.agents_security_group()] {
        let found = pass.aws.ec2.find_security_group(&vpc, &name).await?;
        if let Some(found) = found.filter(|g| !ownership::foreign(pass, "security group", &name, g.owner.as_deref())) {
            match pass.aws.ec2.delete_security_group(&found.id).await {
                Ok(()) => {}
                Err(error) if in_use(&error) => {
                    return Ok(blocked(
                        pass,
                        "WaitingForNetworkInterfaces",
                        format!("security group {name} is still in use"),
                    ))
                }
                Err(error) => return Err(error),
            }
        }
    }

    // Nothing of ours is left: let the row go (or wait for other finalizers).
    let context = AuditContext::system("reconciler");
    let (tenant, name) = (pass.object.metadata.tenant.clone(), pass.object.metadata.name.clone());
    environments::remove_finalizer(db, feed, &context, (&tenant, &name), AWS_RESOURCES_FINALIZER)
        .await
        .map_err(|e| AwsError::internal("butler:RemoveFinalizer", &e))?;
    Ok(Action::AwaitChange)
}

/// The environment's credentials: deleted from Secrets Manager with it, or kept with JENKINS_HOME when it is
/// retained. Found by prefix and the environment's uid tag, so one written just before a crash (not yet recorded in
/// PostgreSQL) goes too, and a retained predecessor's of the same name stays.
async fn credentials(pass: &mut Pass, db: &DatabaseConnection) -> Result<(), AwsError> {
    let uid = pass.object.metadata.uid.to_string();
    let prefix = pass.names.secrets_prefix();
    let ours: Vec<String> = pass
        .aws
        .secrets
        .list_secrets(&prefix)
        .await?
        .into_iter()
        .filter(|secret| secret.tags.get(UID) == Some(&uid))
        .map(|secret| secret.name)
        .collect();
    if pass.object.spec.storage.deletion_policy == DeletionPolicy::Delete {
        for name in &ours {
            pass.aws.secrets.delete_secret(name).await?;
        }
        if !ours.is_empty() {
            pass.event(EventType::Normal, "CredentialsDeleted", format!("deleted {} credential(s)", ours.len()));
        }
    } else if !ours.is_empty() && !pass.events.iter().any(|(_, reason, _)| reason == "CredentialsRetained") {
        let message = format!(
            "kept {} credential(s) in Secrets Manager under {prefix} with JENKINS_HOME (deletionPolicy Retain)",
            ours.len()
        );
        pass.event(EventType::Normal, "CredentialsRetained", message);
    }
    let uid = pass.object.metadata.uid;
    crate::store::credentials::delete_all(db, uid)
        .await
        .map_err(|e| AwsError::internal("butler:RemoveCredentials", &e))?;
    crate::store::controller_tokens::delete(db, uid)
        .await
        .map_err(|e| AwsError::internal("butler:RemoveControllerToken", &e))
}

/// Stops the controller (scaled to 0 first, so its EFS mount and Cloud Map instance are let go), stops agent
/// tasks the plugin left, deletes the service and deregisters the task definitions. Some(action) while waiting.
async fn compute(pass: &mut Pass) -> Result<Option<Action>, AwsError> {
    let cluster = pass.names.cluster();
    let found = pass.aws.ecs.describe_clusters(std::slice::from_ref(&cluster)).await?.pop();
    if found.is_some_and(|c| !ownership::foreign(pass, "ECS cluster", &cluster, c.owner.as_deref())) {
        let name = pass.names.controller_service();
        if let Some(service) = pass.aws.ecs.describe_services(&cluster, std::slice::from_ref(&name)).await?.pop() {
            if service.desired > 0 {
                pass.aws.ecs.update_service(&cluster, &name, 0, None).await?;
                pass.event(EventType::Normal, "ControllerStopping", "controller service scaled to 0".to_owned());
            }
            if service.running > 0 || service.desired > 0 {
                let message = format!("the controller task of {cluster} is stopping");
                return Ok(Some(blocked(pass, "WaitingForControllerToStop", message)));
            }
            pass.aws.ecs.delete_service(&cluster, &name).await?;
            let message = format!("deleted the controller service of {cluster}");
            pass.event(EventType::Normal, "ControllerServiceDeleted", message);
        }
        for task in pass.aws.ecs.list_tasks(&cluster).await? {
            pass.aws.ecs.stop_task(&cluster, &task).await?;
        }
    }
    // Revisions outlive a cluster deleted out of band: deregister them whatever became of it.
    let mut families = vec![pass.names.controller_family()];
    families.extend(pass.object.spec.agents.templates.iter().map(|t| pass.names.agent_family(&t.name)));
    for family in families {
        let Some(latest) = pass.aws.ecs.latest_task_definition(&family).await? else { continue };
        if ownership::foreign(pass, "task definition family", &family, latest.tags.get(UID).map(String::as_str)) {
            continue;
        }
        for arn in pass.aws.ecs.task_definition_revisions(&family).await? {
            pass.aws.ecs.deregister_task_definition(&arn).await?;
        }
    }
    Ok(None)
}

/// Removes the capacity provider from the cluster and deletes it, drains and force-deletes the ASG (after
/// clearing scale-in protection, which outlives the capacity provider), deletes the launch template, then the
/// cluster. Some(action) while waiting.
async fn capacity(pass: &mut Pass) -> Result<Option<Action>, AwsError> {
    let cluster_name = pass.names.cluster();
    let provider = pass.names.capacity_provider();
    let cluster = pass.aws.ecs.describe_clusters(std::slice::from_ref(&cluster_name)).await?.pop();
    let cluster = cluster.filter(|c| !ownership::foreign(pass, "ECS cluster", &cluster_name, c.owner.as_deref()));
    if let Some(cluster) = &cluster {
        if cluster.capacity_providers.contains(&provider) {
            pass.aws.ecs.put_cluster_capacity_providers(&cluster.name, &[]).await?;
        }
    }
    let found = pass.aws.ecs.describe_capacity_providers(std::slice::from_ref(&provider)).await?.pop();
    if let Some(found) = found.filter(|p| !ownership::foreign(pass, "capacity provider", &provider, p.owner.as_deref()))
    {
        if found.update_status.as_deref() != Some("DELETE_IN_PROGRESS") {
            match pass.aws.ecs.delete_capacity_provider(&provider).await {
                Ok(()) => pass.event(EventType::Normal, "CapacityProviderDeleted", format!("deleted {provider}")),
                Err(error) if in_use(&error) => {}
                Err(error) => return Err(error),
            }
        }
        if !pass.aws.ecs.describe_capacity_providers(std::slice::from_ref(&provider)).await?.is_empty() {
            return Ok(Some(blocked(pass, "WaitingForCapacityProvider", format!("{provider} is being deleted"))));
        }
    }

    let group_name = pass.names.auto_scaling_group();
    let group = pass.aws.autoscaling.describe_groups(std::slice::from_ref(&group_name)).await?.pop();
    let group = group.filter(|g| !ownership::foreign(pass, "Auto Scaling group", &group_name, g.owner.as_deref()));
    if let Some(group) = group {
        if group.status.is_none() {
            pass.aws.autoscaling.drain_group(&group_name).await?;
            let protected: Vec<String> =
                group.instances.iter().filter(|i| i.protected_from_scale_in).map(|i| i.id.clone()).collect();
            pass.aws.autoscaling.unprotect_instances(&group_name, &protected).await?;
            pass.aws.autoscaling.force_delete_group(&group_name).await?;
            pass.event(
                EventType::Normal,
                "AutoScalingGroupDeleting",
                format!("deleting {group_name} and its {} instance(s)", group.instances.len()),
            );
        }
        if !pass.aws.autoscaling.describe_groups(std::slice::from_ref(&group_name)).await?.is_empty() {
            let message = format!("{group_name}: waiting for its instances to terminate");
            return Ok(Some(blocked(pass, "WaitingForInstances", message)));
        }
    }
    let template_name = pass.names.launch_template();
    let template = pass.aws.ec2.find_launch_template(&template_name).await?;
    if let Some(template) =
        template.filter(|t| !ownership::foreign(pass, "launch template", &template_name, t.owner.as_deref()))
    {
        pass.aws.ec2.delete_launch_template(&template.id).await?;
    }

    if cluster.is_some() {
        match pass.aws.ecs.delete_cluster(&cluster_name).await {
            Ok(()) => pass.event(EventType::Normal, "ClusterDeleted", format!("deleted ECS cluster {cluster_name}")),
            Err(error) if in_use(&error) => {
                let message = format!("{cluster_name} still has container instances or services");
                return Ok(Some(blocked(pass, "WaitingForCluster", message)));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(None)
}
