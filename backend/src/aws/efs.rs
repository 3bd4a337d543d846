//! EFS: the JENKINS_HOME file system (found by its creation token, the environment's uid), a mount target per
//! subnet, and the access point that makes uid/gid 1000 own `/jenkins/<env>`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_efs::types::{CreationInfo, LifeCycleState, PosixUser, RootDirectory, Tag, ThroughputMode};

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError};
use super::limits::ApiFamily;

/// The uid and gid of the `jenkins` user in the official image.
pub const JENKINS_UID: i64 = 1000;

/// Lifecycle of EFS resources as Butler cares about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Creating,
    Available,
    Updating,
    Deleting,
    Deleted,
    Error,
}

fn lifecycle(state: &LifeCycleState) -> Lifecycle {
    match state {
        LifeCycleState::Available => Lifecycle::Available,
        LifeCycleState::Creating => Lifecycle::Creating,
        LifeCycleState::Updating => Lifecycle::Updating,
        LifeCycleState::Deleting => Lifecycle::Deleting,
        LifeCycleState::Deleted => Lifecycle::Deleted,
        _ => Lifecycle::Error,
    }
}

/// Throughput as the spec asks for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throughput {
    Elastic,
    Bursting,
    Provisioned(f64),
}

/// A file system.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSystem {
    pub id: String,
    pub arn: String,
    pub lifecycle: Lifecycle,
    pub size_bytes: i64,
    pub throughput: Throughput,
    pub encrypted: bool,
}

/// A mount target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountTarget {
    pub id: String,
    pub subnet_id: String,
    pub lifecycle: Lifecycle,
}

/// An access point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    pub id: String,
    pub arn: String,
    pub root_path: String,
    /// The POSIX user every request through the access point is made as.
    pub uid: Option<i64>,
    pub gid: Option<i64>,
    pub lifecycle: Lifecycle,
}

impl AccessPoint {
    /// Whether requests through it are the jenkins user's (an access point cannot be changed, only replaced).
    pub fn is_jenkins(&self) -> bool {
        self.uid == Some(JENKINS_UID) && self.gid == Some(JENKINS_UID)
    }
}

/// What the reconciler needs of EFS.
#[async_trait]
pub trait EfsApi: Send + Sync {
    /// The file system created with this token, if any (the lookup before create).
    async fn find_file_system(&self, creation_token: &str) -> Result<Option<FileSystem>, AwsError>;
    /// Every file system's size by creation token, a page of up to 100 a call (the cost meter).
    async fn file_system_sizes(&self) -> Result<BTreeMap<String, i64>, AwsError>;
    /// Creates an encrypted file system; a taken token is `AlreadyExists` (then look it up).
    async fn create_file_system(
        &self,
        creation_token: &str,
        throughput: Throughput,
        tags: &BTreeMap<String, String>,
    ) -> Result<FileSystem, AwsError>;
    /// Changes the throughput mode.
    async fn update_throughput(&self, file_system_id: &str, throughput: Throughput) -> Result<(), AwsError>;
    /// Deletes a file system; gone already is fine.
    async fn delete_file_system(&self, file_system_id: &str) -> Result<(), AwsError>;
    /// The file system's mount targets.
    async fn mount_targets(&self, file_system_id: &str) -> Result<Vec<MountTarget>, AwsError>;
    /// Creates a mount target in a subnet behind a security group.
    async fn create_mount_target(
        &self,
        file_system_id: &str,
        subnet_id: &str,
        security_group_id: &str,
    ) -> Result<MountTarget, AwsError>;
    /// Deletes a mount target; gone already is fine.
    async fn delete_mount_target(&self, mount_target_id: &str) -> Result<(), AwsError>;
    /// The security groups of a mount target.
    async fn mount_target_security_groups(&self, mount_target_id: &str) -> Result<Vec<String>, AwsError>;
    /// Replaces the security groups of a mount target.
    async fn set_mount_target_security_groups(&self, mount_target_id: &str, groups: &[String]) -> Result<(), AwsError>;
    /// The file system's access points.
    async fn access_points(&self, file_system_id: &str) -> Result<Vec<AccessPoint>, AwsError>;
    /// Every file system of the account by creation token (pages of 100): the content check's batched look.
    async fn file_systems_by_token(&self) -> Result<BTreeMap<String, FileSystem>, AwsError>;
    /// Every access point of the account by file system (pages of 1,000): the content check's batched look.
    async fn all_access_points(&self) -> Result<BTreeMap<String, Vec<AccessPoint>>, AwsError>;
    /// Creates the access point for `root_path` owned by the jenkins user (idempotent through `client_token`).
    async fn create_access_point(
        &self,
        file_system_id: &str,
        client_token: &str,
        root_path: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<AccessPoint, AwsError>;
    /// Deletes an access point; gone already is fine.
    async fn delete_access_point(&self, access_point_id: &str) -> Result<(), AwsError>;
    /// The file system's resource policy (None: none, so EFS's default, which lets any client in).
    async fn file_system_policy(&self, file_system_id: &str) -> Result<Option<serde_json::Value>, AwsError>;
    /// Sets the file system's resource policy.
    async fn put_file_system_policy(&self, file_system_id: &str, policy: &str) -> Result<(), AwsError>;
}

/// The SDK-backed EFS adapter.
pub struct SdkEfs {
    account: AwsAccount,
    client: aws_sdk_efs::Client,
}

impl SdkEfs {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_efs::Client::new(&account.config) }
    }
}

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

fn throughput_of(mode: Option<&ThroughputMode>, mibps: Option<f64>) -> Throughput {
    match mode {
        Some(ThroughputMode::Provisioned) => Throughput::Provisioned(mibps.unwrap_or_default()),
        Some(ThroughputMode::Bursting) => Throughput::Bursting,
        _ => Throughput::Elastic,
    }
}

fn file_system(description: &aws_sdk_efs::types::FileSystemDescription) -> FileSystem {
    FileSystem {
        id: description.file_system_id().to_owned(),
        arn: description.file_system_arn().unwrap_or_default().to_owned(),
        lifecycle: lifecycle(description.life_cycle_state()),
        size_bytes: description.size_in_bytes().map_or(0, |size| size.value()),
        throughput: throughput_of(description.throughput_mode(), description.provisioned_throughput_in_mibps()),
        encrypted: description.encrypted().unwrap_or(false),
    }
}

fn access_point_of(point: &aws_sdk_efs::types::AccessPointDescription) -> Option<AccessPoint> {
    Some(AccessPoint {
        id: point.access_point_id()?.to_owned(),
        arn: point.access_point_arn().unwrap_or_default().to_owned(),
        root_path: point.root_directory().and_then(|root| root.path()).unwrap_or("/").to_owned(),
        uid: point.posix_user().map(|user| user.uid()),
        gid: point.posix_user().map(|user| user.gid()),
        lifecycle: point.life_cycle_state().map_or(Lifecycle::Available, lifecycle),
    })
}

#[async_trait]
impl EfsApi for SdkEfs {
    async fn file_systems_by_token(&self) -> Result<BTreeMap<String, FileSystem>, AwsError> {
        let mut found = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let request = self.client.describe_file_systems().max_items(100).set_marker(marker.take()).send();
            let output = self.account.call("efs:DescribeFileSystems", ApiFamily::Efs, request).await?;
            for description in output.file_systems() {
                found.insert(description.creation_token().to_owned(), file_system(description));
            }
            match output.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
                _ => return Ok(found),
            }
        }
    }

    async fn all_access_points(&self) -> Result<BTreeMap<String, Vec<AccessPoint>>, AwsError> {
        let mut found: BTreeMap<String, Vec<AccessPoint>> = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let request = self.client.describe_access_points().max_results(1000).set_next_token(token.take()).send();
            let output = self.account.call("efs:DescribeAccessPoints", ApiFamily::Efs, request).await?;
            for point in output.access_points() {
                if let (Some(file_system), Some(point)) = (point.file_system_id(), access_point_of(point)) {
                    found.entry(file_system.to_owned()).or_default().push(point);
                }
            }
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(found),
            }
        }
    }

    async fn find_file_system(&self, creation_token: &str) -> Result<Option<FileSystem>, AwsError> {
        let request = self.client.describe_file_systems().creation_token(creation_token).send();
        let output = self.account.call("efs:DescribeFileSystems", ApiFamily::Efs, request).await?;
        Ok(output.file_systems().first().map(file_system))
    }

    async fn file_system_sizes(&self) -> Result<BTreeMap<String, i64>, AwsError> {
        let mut sizes = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let request = self.client.describe_file_systems().max_items(100).set_marker(marker.take()).send();
            let output = self.account.call("efs:DescribeFileSystems", ApiFamily::Efs, request).await?;
            for description in output.file_systems() {
                sizes.insert(
                    description.creation_token().to_owned(),
                    description.size_in_bytes().map_or(0, |size| size.value()),
                );
            }
            match output.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
                _ => return Ok(sizes),
            }
        }
    }

    async fn create_file_system(
        &self,
        creation_token: &str,
        throughput: Throughput,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<FileSystem, AwsError> {
        let mut request = self
            .client
            .create_file_system()
            .creation_token(creation_token)
            .encrypted(true)
            .set_tags(Some(tags(tag_set)));
        request = match throughput {
            Throughput::Elastic => request.throughput_mode(ThroughputMode::Elastic),
            Throughput::Bursting => request.throughput_mode(ThroughputMode::Bursting),
            Throughput::Provisioned(mibps) => {
                request.throughput_mode(ThroughputMode::Provisioned).provisioned_throughput_in_mibps(mibps)
            }
        };
        let output = self.account.call("efs:CreateFileSystem", ApiFamily::Efs, request.send()).await?;
        Ok(FileSystem {
            id: output.file_system_id().to_owned(),
            arn: output.file_system_arn().unwrap_or_default().to_owned(),
            lifecycle: lifecycle(output.life_cycle_state()),
            size_bytes: output.size_in_bytes().map_or(0, |size| size.value()),
            throughput,
            encrypted: output.encrypted().unwrap_or(true),
        })
    }

    async fn update_throughput(&self, file_system_id: &str, throughput: Throughput) -> Result<(), AwsError> {
        let request = self.client.update_file_system().file_system_id(file_system_id);
        let request = match throughput {
            Throughput::Elastic => request.throughput_mode(ThroughputMode::Elastic),
            Throughput::Bursting => request.throughput_mode(ThroughputMode::Bursting),
            Throughput::Provisioned(mibps) => {
                request.throughput_mode(ThroughputMode::Provisioned).provisioned_throughput_in_mibps(mibps)
            }
        };
        self.account.call("efs:UpdateFileSystem", ApiFamily::Efs, request.send()).await.map(|_| ())
    }

    async fn delete_file_system(&self, file_system_id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_file_system().file_system_id(file_system_id).send();
        gone_is_fine(self.account.call("efs:DeleteFileSystem", ApiFamily::Efs, request).await.map(|_| ()))
    }

    async fn mount_targets(&self, file_system_id: &str) -> Result<Vec<MountTarget>, AwsError> {
        let request = self.client.describe_mount_targets().file_system_id(file_system_id).send();
        let output = self.account.call("efs:DescribeMountTargets", ApiFamily::Efs, request).await?;
        Ok(output
            .mount_targets()
            .iter()
            .map(|target| MountTarget {
                id: target.mount_target_id().to_owned(),
                subnet_id: target.subnet_id().to_owned(),
                lifecycle: lifecycle(target.life_cycle_state()),
            })
            .collect())
    }

    async fn create_mount_target(
        &self,
        file_system_id: &str,
        subnet_id: &str,
        security_group_id: &str,
    ) -> Result<MountTarget, AwsError> {
        let request = self
            .client
            .create_mount_target()
            .file_system_id(file_system_id)
            .subnet_id(subnet_id)
            .security_groups(security_group_id)
            .send();
        let output = self.account.call("efs:CreateMountTarget", ApiFamily::Efs, request).await?;
        Ok(MountTarget {
            id: output.mount_target_id().to_owned(),
            subnet_id: output.subnet_id().to_owned(),
            lifecycle: lifecycle(output.life_cycle_state()),
        })
    }

    async fn delete_mount_target(&self, mount_target_id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_mount_target().mount_target_id(mount_target_id).send();
        gone_is_fine(self.account.call("efs:DeleteMountTarget", ApiFamily::Efs, request).await.map(|_| ()))
    }

    async fn mount_target_security_groups(&self, mount_target_id: &str) -> Result<Vec<String>, AwsError> {
        let request = self.client.describe_mount_target_security_groups().mount_target_id(mount_target_id).send();
        let output = self.account.call("efs:DescribeMountTargetSecurityGroups", ApiFamily::Efs, request).await?;
        Ok(output.security_groups().to_vec())
    }

    async fn set_mount_target_security_groups(&self, mount_target_id: &str, groups: &[String]) -> Result<(), AwsError> {
        let request = self
            .client
            .modify_mount_target_security_groups()
            .mount_target_id(mount_target_id)
            .set_security_groups(Some(groups.to_vec()))
            .send();
        self.account.call("efs:ModifyMountTargetSecurityGroups", ApiFamily::Efs, request).await.map(|_| ())
    }

    async fn access_points(&self, file_system_id: &str) -> Result<Vec<AccessPoint>, AwsError> {
        let request = self.client.describe_access_points().file_system_id(file_system_id).send();
        let output = self.account.call("efs:DescribeAccessPoints", ApiFamily::Efs, request).await?;
        Ok(output.access_points().iter().filter_map(access_point_of).collect())
    }

    async fn create_access_point(
        &self,
        file_system_id: &str,
        client_token: &str,
        root_path: &str,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<AccessPoint, AwsError> {
        let operation = "efs:CreateAccessPoint";
        // The access point replaces `chown -R 1000:1000`: EFS creates the root owned by the jenkins user.
        let posix_user = PosixUser::builder()
            .uid(JENKINS_UID)
            .gid(JENKINS_UID)
            .build()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let creation_info = CreationInfo::builder()
            .owner_uid(JENKINS_UID)
            .owner_gid(JENKINS_UID)
            .permissions("0755")
            .build()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let request = self
            .client
            .create_access_point()
            .file_system_id(file_system_id)
            .client_token(client_token)
            .posix_user(posix_user)
            .root_directory(RootDirectory::builder().path(root_path).creation_info(creation_info).build())
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = self.account.call(operation, ApiFamily::Efs, request).await?;
        Ok(AccessPoint {
            id: output
                .access_point_id()
                .map(str::to_owned)
                .ok_or_else(|| AwsError::malformed(operation, "no AccessPointId"))?,
            arn: output.access_point_arn().unwrap_or_default().to_owned(),
            root_path: root_path.to_owned(),
            uid: output.posix_user().map(|user| user.uid()),
            gid: output.posix_user().map(|user| user.gid()),
            lifecycle: output.life_cycle_state().map_or(Lifecycle::Creating, lifecycle),
        })
    }

    async fn delete_access_point(&self, access_point_id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_access_point().access_point_id(access_point_id).send();
        gone_is_fine(self.account.call("efs:DeleteAccessPoint", ApiFamily::Efs, request).await.map(|_| ()))
    }

    async fn file_system_policy(&self, file_system_id: &str) -> Result<Option<serde_json::Value>, AwsError> {
        let request = self.client.describe_file_system_policy().file_system_id(file_system_id).send();
        match self.account.call("efs:DescribeFileSystemPolicy", ApiFamily::Efs, request).await {
            Ok(output) => Ok(output.policy().map(crate::aws::iam::policy_document)),
            Err(error) if error.kind == super::AwsErrorKind::NotFound || error.code == "PolicyNotFound" => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn put_file_system_policy(&self, file_system_id: &str, policy: &str) -> Result<(), AwsError> {
        let request = self.client.put_file_system_policy().file_system_id(file_system_id).policy(policy).send();
        self.account.call("efs:PutFileSystemPolicy", ApiFamily::Efs, request).await.map(|_| ())
    }
}
