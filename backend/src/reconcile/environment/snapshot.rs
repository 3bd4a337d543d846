//! The content check's batched look at a cloud profile's account: one set of calls that each describe many
//! resources (IAM's account authorization details for every Butler role, the VPC's security groups, every file
//! system and access point, the log groups under `/butler/`, clusters and capacity providers a hundred names a
//! call, Auto Scaling groups fifty), shared by the content checks of every environment of the profile for a few
//! minutes. A step that finds its resource here reads nothing itself; what AWS cannot describe in bulk (mount
//! targets and their groups, the file system policy, launch template versions, the task definition, the service,
//! the Cloud Map service) each check still reads.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::names::Names;
use super::AwsServices;
use crate::aws::autoscaling::Group;
use crate::aws::ec2::FoundGroup;
use crate::aws::ecs::{CapacityProvider, Cluster};
use crate::aws::efs::{AccessPoint, FileSystem};
use crate::aws::iam::RoleInventory;
use crate::aws::AwsError;
use crate::domain::object::JenkinsEnvironment;
use crate::store::cloud_profiles::ProfileRow;

/// How long a snapshot serves the profile's content checks.
pub(crate) const SNAPSHOT_TTL: Duration = Duration::from_secs(300);
/// Security group names per DescribeSecurityGroups filter (EC2 takes up to 200 values).
const GROUP_NAMES_PER_CALL: usize = 150;

/// What the profile's account held when the snapshot was taken.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub taken_at: DateTime<Utc>,
    pub roles: RoleInventory,
    /// By name.
    pub security_groups: BTreeMap<String, FoundGroup>,
    /// Name → retention.
    pub log_groups: BTreeMap<String, Option<i32>>,
    /// By creation token (the environment's uid).
    pub file_systems: BTreeMap<String, FileSystem>,
    /// By file system id.
    pub access_points: BTreeMap<String, Vec<AccessPoint>>,
    /// By name.
    pub groups: BTreeMap<String, Group>,
    pub clusters: BTreeMap<String, Cluster>,
    pub providers: BTreeMap<String, CapacityProvider>,
    /// The pool load balancers a content check has already looked at under this snapshot: each is read once per
    /// snapshot, not once per environment on it.
    looked_at_balancers: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Snapshot {
    /// True the first time it is asked about `balancer` (the caller then looks at it), false after.
    pub fn first_look_at_balancer(&self, balancer: &str) -> bool {
        self.looked_at_balancers.lock().map(|mut seen| seen.insert(balancer.to_owned())).unwrap_or(true)
    }

    /// Whether it may stand in for `object`'s own reads: taken after the environment's status last changed
    /// (anything Butler itself changed for it since would be missing).
    pub fn serves(&self, object: &JenkinsEnvironment, now: DateTime<Utc>) -> bool {
        let young = now - self.taken_at < chrono::Duration::from_std(SNAPSHOT_TTL).unwrap_or_default();
        young && object.status.last_observed_time.is_none_or(|seen| seen < self.taken_at)
    }
}

/// Takes the snapshot of `profile`'s account for `environments` (the profile's, their names as recorded).
pub async fn take(
    aws: &AwsServices,
    profile: &ProfileRow,
    environments: &[JenkinsEnvironment],
) -> Result<Snapshot, AwsError> {
    let taken_at = Utc::now();
    let names: Vec<Names> = environments.iter().map(Names::of).collect();
    let roles = aws.iam.roles_with_prefix("butler-").await?;
    let group_names: Vec<String> = names
        .iter()
        .flat_map(|n| [n.agents_security_group(), n.controller_security_group(), n.storage_security_group()])
        .collect();
    let mut security_groups = BTreeMap::new();
    for chunk in group_names.chunks(GROUP_NAMES_PER_CALL) {
        security_groups.extend(aws.ec2.find_security_groups(&profile.vpc_id, chunk).await?);
    }
    let log_groups = aws.logs.log_groups_with_prefix("/butler/").await?;
    let file_systems = aws.efs.file_systems_by_token().await?;
    let access_points = aws.efs.all_access_points().await?;
    let asg_names: Vec<String> = names.iter().map(Names::auto_scaling_group).collect();
    let groups = aws.autoscaling.describe_groups(&asg_names).await?.into_iter().map(|g| (g.spec.name.clone(), g));
    let cluster_names: Vec<String> = names.iter().map(Names::cluster).collect();
    let clusters = aws.ecs.describe_clusters(&cluster_names).await?.into_iter().map(|c| (c.name.clone(), c));
    let provider_names: Vec<String> = names.iter().map(Names::capacity_provider).collect();
    let providers =
        aws.ecs.describe_capacity_providers(&provider_names).await?.into_iter().map(|p| (p.name.clone(), p));
    Ok(Snapshot {
        taken_at,
        roles,
        security_groups,
        log_groups,
        file_systems,
        access_points,
        groups: groups.collect(),
        clusters: clusters.collect(),
        providers: providers.collect(),
        looked_at_balancers: Default::default(),
    })
}
