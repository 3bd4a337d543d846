//! Deletion in the safe order of the inventory (for the parts this reconciler manages): the Cloud Map service
//! (after deregistering instances), the access point and mount targets, the file system unless
//! `deletionPolicy: Retain`, the security groups last; each step waits for the one before, retries on
//! ResourceInUse / DependencyViolation, and says in `Ready` what blocks. Then Butler's finalizer goes.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use super::conditions::{self, READY};
use super::Pass;
use crate::aws::efs::Lifecycle;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType, Phase};
use crate::domain::spec::DeletionPolicy;
use crate::domain::AWS_RESOURCES_FINALIZER;
use crate::environments::writes;
use crate::feed::Feed;
use crate::reconcile::Action;
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

    // 1. Discovery: the environment's service (the shared namespace stays).
    let namespace_id = match &pass.profile.namespace_id {
        Some(id) => Some(id.clone()),
        None => pass.aws.discovery.find_namespace(&pass.profile.namespace_name).await?.map(|n| n.id),
    };
    if let Some(namespace_id) = namespace_id {
        let name = pass.names.discovery_service();
        if let Some(service) = pass.aws.discovery.find_service(&namespace_id, &name).await? {
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

    // 2. Storage: access points and mount targets always go; the file system only with deletionPolicy Delete.
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

    // 3. Security groups last: network interfaces detach slowly (DependencyViolation until they have).
    let vpc = pass.profile.vpc_id.clone();
    let names = pass.names.clone();
    for name in [names.storage_security_group(), names.controller_security_group(), names.agents_security_group()] {
        if let Some(id) = pass.aws.ec2.find_security_group(&vpc, &name).await? {
            match pass.aws.ec2.delete_security_group(&id).await {
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

    // 4. Logs, the instance profile and roles: nothing uses them any more.
    super::access::remove(pass).await?;

    // 5. Nothing of ours is left: let the row go (or wait for other finalizers).
    let context = AuditContext::system("reconciler");
    let (tenant, name) = (pass.object.metadata.tenant.clone(), pass.object.metadata.name.clone());
    let outcome = writes::remove_finalizer(db, &context, &tenant, &name, AWS_RESOURCES_FINALIZER)
        .await
        .map_err(|e| AwsError::malformed("butler:RemoveFinalizer", &e.to_string()))?;
    feed.publish(&outcome);
    Ok(Action::AwaitChange)
}
