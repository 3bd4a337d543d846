//! Storage: the environment's security groups (narrow rules only), the EFS file system found by its creation
//! token, a mount target per profile subnet, and the access point owned by uid 1000. Sets `StorageReady`.

use std::collections::BTreeMap;

use super::conditions::{self, STORAGE_READY};
use super::{ownership, Pass, Progress};
use crate::aws::ec2::{FoundGroup, IngressRule, Outbound};
use crate::aws::efs::{Lifecycle, Throughput};
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType};
use crate::domain::spec::ThroughputMode;

/// Jenkins' web port and agent (JNLP) port.
const JENKINS_HTTP_PORT: i32 = 8080;
const JENKINS_AGENT_PORT: i32 = 50000;
const NFS_PORT: i32 = 2049;

/// The profile's subnets.
pub fn subnets(pass: &Pass) -> Vec<String> {
    pass.profile.subnet_ids.0.clone()
}

/// What one of the environment's security groups lets in and out.
struct GroupRules<'a> {
    name: &'a str,
    description: &'a str,
    ingress: &'a [IngressRule],
    outbound: Outbound,
}

async fn security_group(
    pass: &mut Pass,
    existing: &BTreeMap<String, FoundGroup>,
    group: GroupRules<'_>,
) -> Result<String, AwsError> {
    let key = format!("securityGroup/{}", group.name);
    if let Some(id) = pass.made(&key) {
        return Ok(id);
    }
    let id = match existing.get(group.name) {
        Some(found) => converge_group(pass, found, &group).await?,
        None => create_group(pass, &group).await?,
    };
    pass.record(&key, &id);
    Ok(id)
}

/// Content, not existence: a group a crash left without its rules, or one edited out of band, is put back to
/// exactly its rules (the read that found it says what it has: no extra call when it is right).
async fn converge_group(pass: &mut Pass, found: &FoundGroup, group: &GroupRules<'_>) -> Result<String, AwsError> {
    let GroupRules { name, ingress: rules, outbound, .. } = *group;
    ownership::require(pass, "security group", name, found.owner.as_deref())?;
    {
        let mut desired = rules.to_vec();
        desired.sort();
        let mut changes = Vec::new();
        if found.ingress != desired || found.other_ingress {
            changes.extend(pass.aws.ec2.converge_ingress(&found.id, &desired).await?);
        }
        if found.outbound != outbound {
            changes.extend(pass.aws.ec2.converge_egress(&found.id, outbound).await?);
        }
        if !changes.is_empty() {
            pass.event(
                EventType::Normal,
                "DriftRepaired",
                format!("security group {name} ({}): {}", found.id, changes.join(", ")),
            );
        }
    }
    Ok(found.id.clone())
}

/// Creates a group with its rules; one found taken (made by a pass whose answer was lost) is converged instead.
async fn create_group(pass: &mut Pass, group: &GroupRules<'_>) -> Result<String, AwsError> {
    let GroupRules { name, description, ingress: rules, outbound } = *group;
    let vpc = pass.profile.vpc_id.clone();
    let id = match pass.aws.ec2.create_security_group(&vpc, name, description, &pass.tags()).await {
        Ok(id) => id,
        Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
            let found = pass.aws.ec2.find_security_group(&vpc, name).await?.ok_or(error)?;
            return converge_group(pass, &found, group).await;
        }
        Err(error) => return Err(error),
    };
    if !rules.is_empty() {
        pass.aws.ec2.authorize_ingress(&id, rules).await?;
    }
    // A new group lets everything out; one that needs nothing out loses exactly that rule (no read needed).
    if outbound == Outbound::Nothing {
        pass.aws.ec2.revoke_default_egress(&id).await?;
    }
    pass.event(EventType::Normal, "SecurityGroupCreated", format!("created security group {name} ({id})"));
    Ok(id)
}

/// The environment's security group ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroups {
    /// Agent tasks and the container instances: egress only.
    pub agents: String,
    pub controller: String,
    pub storage: String,
}

/// Finds or creates the security groups: agents (egress only), controller (8080 and 50000 from the agents;
/// never from the world), storage (NFS from the controller, nothing out: a file system starts no connection).
pub async fn security_groups(pass: &mut Pass) -> Result<SecurityGroups, AwsError> {
    let names = pass.names.clone();
    let all = [names.agents_security_group(), names.controller_security_group(), names.storage_security_group()];
    // One lookup for the three (none while first provisioning: creates that find a name taken look it up).
    let existing = match (&pass.snapshot, pass.fresh) {
        (_, true) => BTreeMap::new(),
        (Some(snapshot), _) => {
            all.iter().filter_map(|name| Some((name.clone(), snapshot.security_groups.get(name)?.clone()))).collect()
        }
        (None, _) => pass.aws.ec2.find_security_groups(&pass.profile.vpc_id, &all).await?,
    };
    let agents_group = GroupRules {
        name: &names.agents_security_group(),
        description: "Jenkins agents (egress only)",
        ingress: &[],
        outbound: Outbound::Everything,
    };
    let agents = security_group(pass, &existing, agents_group).await?;
    let mut controller_rules =
        vec![IngressRule::from_group(JENKINS_HTTP_PORT, &agents), IngressRule::from_group(JENKINS_AGENT_PORT, &agents)];
    // Its load balancer reaches the web UI; never the agent port (an ALB carries HTTP only).
    if let Some(placed) = &pass.ingress {
        controller_rules.push(IngressRule::from_group(JENKINS_HTTP_PORT, &placed.balancer.security_group_id));
    }
    controller_rules.sort();
    let controller_group = GroupRules {
        name: &names.controller_security_group(),
        description: "Jenkins controller: 8080 and 50000 from agents",
        ingress: &controller_rules,
        // Plugins, the update center, Git and ECS's API are all outside.
        outbound: Outbound::Everything,
    };
    let controller = security_group(pass, &existing, controller_group).await?;
    let storage_rules = [IngressRule::from_group(NFS_PORT, &controller)];
    let storage_group = GroupRules {
        name: &names.storage_security_group(),
        description: "JENKINS_HOME: NFS from the controller",
        ingress: &storage_rules,
        outbound: Outbound::Nothing,
    };
    let storage = security_group(pass, &existing, storage_group).await?;
    Ok(SecurityGroups { agents, controller, storage })
}

fn desired_throughput(pass: &Pass) -> Throughput {
    let storage = &pass.object.spec.storage;
    match storage.throughput_mode {
        ThroughputMode::Elastic => Throughput::Elastic,
        ThroughputMode::Bursting => Throughput::Bursting,
        ThroughputMode::Provisioned => {
            Throughput::Provisioned(f64::from(storage.provisioned_throughput_mibps.unwrap_or(1)))
        }
    }
}

/// Puts each available mount target back behind the storage group alone. Skipped while the environment is
/// first being made: CreateMountTarget sets the groups in the same call, so nothing can be half made, and the
/// extra read per target would be paid by every new environment.
async fn mount_target_groups(
    pass: &mut Pass,
    targets: &[crate::aws::efs::MountTarget],
    storage_group: &str,
) -> Result<(), AwsError> {
    if pass.fresh {
        return Ok(());
    }
    let wanted = vec![storage_group.to_owned()];
    for target in targets.iter().filter(|t| t.lifecycle == Lifecycle::Available) {
        let groups = pass.aws.efs.mount_target_security_groups(&target.id).await?;
        if groups != wanted {
            pass.aws.efs.set_mount_target_security_groups(&target.id, &wanted).await?;
            let message = format!("mount target {} security groups {groups:?} set back to {storage_group}", target.id);
            pass.event(EventType::Normal, "DriftRepaired", message);
        }
    }
    Ok(())
}

fn waiting(pass: &mut Pass, reason: &str, message: String) -> Progress {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, STORAGE_READY, ConditionStatus::False, reason, &message, generation, pass.now);
    Progress::Waiting(message)
}

/// Makes storage match the spec.
pub async fn ensure(pass: &mut Pass) -> Result<Progress, AwsError> {
    let groups = security_groups(pass).await?;
    let storage_group = groups.storage.clone();
    pass.status.outputs.agents_security_group_id = Some(groups.agents.clone());
    pass.security_groups = Some(groups);
    // Everything below made by earlier passes of this first provisioning (StorageReady says so already).
    if pass.made("storage").is_some() {
        return Ok(Progress::Done);
    }
    let Some((file_system_id, file_system_arn)) = file_system(pass).await? else {
        let id = pass.status.outputs.file_system_id.clone().unwrap_or_default();
        return Ok(waiting(pass, "FileSystemCreating", format!("EFS file system {id} is not available yet")));
    };
    if let Some(pending) = mount_targets(pass, &file_system_id, &storage_group).await? {
        return Ok(waiting(
            pass,
            "MountTargetsCreating",
            format!("{pending} mount target(s) of {file_system_id} not available yet"),
        ));
    }

    let token = pass.object.metadata.uid.to_string();
    let root = pass.names.jenkins_home_root();
    let mut points = match &pass.snapshot {
        Some(snapshot) => snapshot.access_points.get(&file_system_id).cloned().unwrap_or_default(),
        None => pass.aws.efs.access_points(&file_system_id).await?,
    };
    // The file system serves JENKINS_HOME through one access point, as the jenkins user: any other (another root,
    // another user) is a way around that, and an access point cannot be changed, only replaced.
    for point in points.iter().filter(|point| point.root_path != root || !point.is_jenkins()) {
        pass.aws.efs.delete_access_point(&point.id).await?;
        let message = format!(
            "access point {} ({} as uid {:?} gid {:?}) is not {root} as uid/gid 1000: deleted",
            point.id, point.root_path, point.uid, point.gid
        );
        pass.event(EventType::Normal, "DriftRepaired", message);
    }
    points.retain(|point| point.root_path == root && point.is_jenkins());
    let point = match points.into_iter().next() {
        Some(point) => point,
        None => {
            // The client token makes a retried create the same access point; one replacing a deleted one needs
            // a token of its own (EFS would answer a reused token with the deleted access point).
            let token = match &pass.status.outputs.access_point_id {
                Some(previous) => format!("{token}:{previous}"),
                None => token.clone(),
            };
            let created = pass.aws.efs.create_access_point(&file_system_id, &token, &root, &pass.tags()).await?;
            pass.event(
                EventType::Normal,
                "AccessPointCreated",
                format!("access point {} for {root} (uid 1000)", created.id),
            );
            created
        }
    };
    pass.status.outputs.access_point_id = Some(point.id.clone());
    if point.lifecycle != Lifecycle::Available {
        return Ok(waiting(pass, "AccessPointCreating", format!("access point {} is not available yet", point.id)));
    }
    if let Some(desired) = super::policies::file_system_policy(&pass.names, &file_system_arn, &point.arn) {
        // A first provisioning sets it without reading (PutFileSystemPolicy replaces whatever is there).
        let current = if pass.fresh { None } else { pass.aws.efs.file_system_policy(&file_system_id).await? };
        if current.as_ref() != Some(&desired) {
            pass.aws.efs.put_file_system_policy(&file_system_id, &desired.to_string()).await?;
            let reason = if current.is_some() { "DriftRepaired" } else { "FileSystemPolicySet" };
            let message = format!("{file_system_id}: TLS only; the controller role mounts through {}", point.id);
            pass.event(EventType::Normal, reason, message);
        }
    }
    let generation = pass.object.metadata.generation;
    let message = format!("{file_system_id} mounted in {} subnet(s); {root} owned by uid 1000", subnets(pass).len());
    conditions::set(
        &mut pass.status,
        STORAGE_READY,
        ConditionStatus::True,
        "Available",
        &message,
        generation,
        pass.now,
    );
    pass.record("storage", file_system_id);
    Ok(Progress::Done)
}

/// The file system's id and ARN once it is available (None while it is being created), with its throughput set
/// as the spec says. A first provisioning creates it without looking and, once seen available, looks no more.
async fn file_system(pass: &mut Pass) -> Result<Option<(String, String)>, AwsError> {
    if let (Some(arn), Some(id)) = (pass.made("fileSystem"), pass.status.outputs.file_system_id.clone()) {
        return Ok(Some((id, arn)));
    }
    let token = pass.object.metadata.uid.to_string();
    let throughput = desired_throughput(pass);
    let known_absent = pass.fresh && pass.status.outputs.file_system_id.is_none();
    let found = match (&pass.snapshot, known_absent) {
        (_, true) => None,
        (Some(snapshot), _) => snapshot.file_systems.get(&token).cloned(),
        (None, _) => pass.aws.efs.find_file_system(&token).await?,
    };
    let file_system = match found {
        Some(found) => found,
        None => match pass.aws.efs.create_file_system(&token, throughput, &pass.tags()).await {
            Ok(created) => {
                pass.event(EventType::Normal, "FileSystemCreated", format!("created EFS file system {}", created.id));
                created
            }
            Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                pass.aws.efs.find_file_system(&token).await?.ok_or(error)?
            }
            Err(error) => return Err(error),
        },
    };
    pass.status.outputs.file_system_id = Some(file_system.id.clone());
    if file_system.lifecycle != Lifecycle::Available {
        return Ok(None);
    }
    if file_system.throughput != throughput {
        pass.aws.efs.update_throughput(&file_system.id, throughput).await?;
        let message =
            format!("file system {} throughput {:?} set to {throughput:?}", file_system.id, file_system.throughput);
        super::capacity::change_event(pass, "ThroughputChanged", message);
    }
    pass.record("fileSystem", file_system.arn.clone());
    Ok(Some((file_system.id, file_system.arn)))
}

/// A mount target per profile subnet, behind the storage group, and none elsewhere. Returns how many are not
/// available yet (None: all are). A first provisioning creates them without looking first, then looks until
/// they are available, then no more.
async fn mount_targets(pass: &mut Pass, file_system_id: &str, storage_group: &str) -> Result<Option<usize>, AwsError> {
    if pass.made("mountTargetsAvailable").is_some() {
        return Ok(None);
    }
    let known_absent = pass.fresh && pass.made("mountTargets").is_none();
    let mut targets = if known_absent { Vec::new() } else { pass.aws.efs.mount_targets(file_system_id).await? };
    let wanted_subnets = subnets(pass);
    // A target outside the profile's subnets (the profile moved, or one made out of band) goes.
    for target in targets.iter().filter(|t| !wanted_subnets.contains(&t.subnet_id)) {
        if !matches!(target.lifecycle, Lifecycle::Deleting | Lifecycle::Deleted) {
            pass.aws.efs.delete_mount_target(&target.id).await?;
            let message =
                format!("mount target {} in {} is not in the profile's subnets: deleted", target.id, target.subnet_id);
            pass.event(EventType::Normal, "DriftRepaired", message);
        }
    }
    targets.retain(|t| wanted_subnets.contains(&t.subnet_id));
    mount_target_groups(pass, &targets, storage_group).await?;
    let mut pending = targets.iter().filter(|t| t.lifecycle != Lifecycle::Available).count();
    for subnet in wanted_subnets {
        if !targets.iter().any(|target| target.subnet_id == subnet) {
            match pass.aws.efs.create_mount_target(file_system_id, &subnet, storage_group).await {
                Ok(target) => {
                    pass.event(
                        EventType::Normal,
                        "MountTargetCreated",
                        format!("mount target {} in {subnet}", target.id),
                    );
                    if target.lifecycle != Lifecycle::Available {
                        pending += 1;
                    }
                }
                // MountTargetConflict: one exists in that zone already (an earlier pass); the next look finds it.
                Err(error) if error.kind == AwsErrorKind::AlreadyExists || error.kind == AwsErrorKind::Conflict => {
                    pending += 1
                }
                Err(error) => return Err(error),
            }
        }
    }
    pass.record("mountTargets", file_system_id);
    if pending > 0 {
        return Ok(Some(pending));
    }
    pass.record("mountTargetsAvailable", file_system_id);
    Ok(None)
}
