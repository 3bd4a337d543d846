//! IAM: the environment's roles (controller, agent, execution, instance) with inline or managed policies, and
//! the instance profile of its container instances.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// A role's name and ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub arn: String,
}

/// What a role says: its trust policy, its inline policies by name and its attached managed policies.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleContent {
    pub trust: serde_json::Value,
    pub inline: BTreeMap<String, serde_json::Value>,
    pub attached: Vec<String>,
}

/// Every role of a prefix with its content, and the roles in each instance profile of those roles: what the
/// content check reads in one GetAccountAuthorizationDetails call per 1,000 roles instead of four calls a role.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleInventory {
    pub roles: BTreeMap<String, RoleContent>,
    pub instance_profiles: BTreeMap<String, Vec<String>>,
}

/// IAM hands policy documents back URL-encoded (RFC 3986); the emulator hands them back as sent. Either way,
/// the JSON they say.
pub fn policy_document(text: &str) -> serde_json::Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    serde_json::from_slice(&decoded).unwrap_or(serde_json::Value::Null)
}

/// What the reconciler needs of IAM.
#[async_trait]
pub trait IamApi: Send + Sync {
    /// A role by name.
    async fn get_role(&self, name: &str) -> Result<Option<Role>, AwsError>;
    /// Creates a role with a trust policy.
    async fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Role, AwsError>;
    /// Sets an inline policy (replacing one of the same name).
    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<(), AwsError>;
    /// Attaches a managed policy (attaching twice is fine).
    async fn attach_managed_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    /// What a role says (None: no such role).
    async fn role_content(&self, name: &str) -> Result<Option<RoleContent>, AwsError>;
    /// Replaces a role's trust policy.
    async fn update_trust(&self, role: &str, document: &str) -> Result<(), AwsError>;
    /// Removes an inline policy; gone is fine.
    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), AwsError>;
    /// Detaches a managed policy; gone is fine.
    async fn detach_managed_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    /// Deletes a role after removing its inline and managed policies and instance profiles; gone is fine.
    async fn delete_role(&self, name: &str) -> Result<(), AwsError>;
    /// Makes the instance profile hold exactly `role` (creating it if needed; `look_first` false: create without
    /// looking, a taken name falling back to the lookup). Returns what it changed.
    async fn ensure_instance_profile(&self, name: &str, role: &str, look_first: bool) -> Result<Vec<String>, AwsError>;
    /// Deletes an instance profile (after removing its roles); gone is fine.
    async fn delete_instance_profile(&self, name: &str) -> Result<(), AwsError>;
    /// Every role whose name starts with `prefix`, with its content and instance profiles, in pages of 1,000.
    async fn roles_with_prefix(&self, prefix: &str) -> Result<RoleInventory, AwsError>;
}

/// The SDK-backed IAM adapter.
pub struct SdkIam {
    account: AwsAccount,
    client: aws_sdk_iam::Client,
}

impl SdkIam {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_iam::Client::new(&account.config) }
    }
}

impl SdkIam {
    async fn instance_profile(&self, name: &str) -> Result<Option<aws_sdk_iam::types::InstanceProfile>, AwsError> {
        let request = self.client.get_instance_profile().instance_profile_name(name).send();
        match self.account.call("iam:GetInstanceProfile", ApiFamily::Iam, request).await {
            Ok(output) => Ok(output.instance_profile().cloned()),
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl IamApi for SdkIam {
    async fn roles_with_prefix(&self, prefix: &str) -> Result<RoleInventory, AwsError> {
        let mut inventory = RoleInventory::default();
        let mut marker = None;
        loop {
            let request = self
                .client
                .get_account_authorization_details()
                .filter(aws_sdk_iam::types::EntityType::Role)
                .max_items(1000)
                .set_marker(marker.take())
                .send();
            let output = self.account.call("iam:GetAccountAuthorizationDetails", ApiFamily::Iam, request).await?;
            for role in output.role_detail_list() {
                let Some(name) = role.role_name().filter(|name| name.starts_with(prefix)) else { continue };
                let inline = role
                    .role_policy_list()
                    .iter()
                    .filter_map(|p| Some((p.policy_name()?.to_owned(), policy_document(p.policy_document()?))))
                    .collect();
                let attached =
                    role.attached_managed_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect();
                let trust = role.assume_role_policy_document().map(policy_document).unwrap_or_default();
                inventory.roles.insert(name.to_owned(), RoleContent { trust, inline, attached });
                for profile in role.instance_profile_list() {
                    let roles = profile.roles().iter().map(|r| r.role_name().to_owned()).collect();
                    inventory.instance_profiles.insert(profile.instance_profile_name().to_owned(), roles);
                }
            }
            match output.marker().filter(|_| output.is_truncated()) {
                Some(next) => marker = Some(next.to_owned()),
                None => return Ok(inventory),
            }
        }
    }

    async fn get_role(&self, name: &str) -> Result<Option<Role>, AwsError> {
        match self.account.call("iam:GetRole", ApiFamily::Iam, self.client.get_role().role_name(name).send()).await {
            Ok(output) => {
                Ok(output.role().map(|role| Role { name: role.role_name().to_owned(), arn: role.arn().to_owned() }))
            }
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Role, AwsError> {
        let tags = tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
        let request = self
            .client
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .description("Managed by Butler")
            .set_tags(Some(tags))
            .send();
        let output = self.account.call("iam:CreateRole", ApiFamily::Iam, request).await?;
        let role = output.role().ok_or_else(|| AwsError::malformed("iam:CreateRole", "no Role"))?;
        Ok(Role { name: role.role_name().to_owned(), arn: role.arn().to_owned() })
    }

    async fn role_content(&self, name: &str) -> Result<Option<RoleContent>, AwsError> {
        let trust =
            match self.account.call("iam:GetRole", ApiFamily::Iam, self.client.get_role().role_name(name).send()).await
            {
                Ok(output) => output.role().and_then(|r| r.assume_role_policy_document()).map(policy_document),
                Err(error) if error.kind == AwsErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            };
        let request = self.client.list_role_policies().role_name(name).send();
        let names = self.account.call("iam:ListRolePolicies", ApiFamily::Iam, request).await?.policy_names().to_vec();
        let mut inline = BTreeMap::new();
        for policy in names {
            let request = self.client.get_role_policy().role_name(name).policy_name(&policy).send();
            let output = self.account.call("iam:GetRolePolicy", ApiFamily::Iam, request).await?;
            inline.insert(policy, policy_document(output.policy_document()));
        }
        let request = self.client.list_attached_role_policies().role_name(name).send();
        let output = self.account.call("iam:ListAttachedRolePolicies", ApiFamily::Iam, request).await?;
        let attached = output.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect();
        Ok(Some(RoleContent { trust: trust.unwrap_or_default(), inline, attached }))
    }

    async fn update_trust(&self, role: &str, document: &str) -> Result<(), AwsError> {
        let request = self.client.update_assume_role_policy().role_name(role).policy_document(document).send();
        self.account.call("iam:UpdateAssumeRolePolicy", ApiFamily::Iam, request).await.map(|_| ())
    }

    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_role_policy().role_name(role).policy_name(policy_name).send();
        gone_is_fine(self.account.call("iam:DeleteRolePolicy", ApiFamily::Iam, request).await.map(|_| ()))
    }

    async fn detach_managed_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError> {
        let request = self.client.detach_role_policy().role_name(role).policy_arn(policy_arn).send();
        gone_is_fine(self.account.call("iam:DetachRolePolicy", ApiFamily::Iam, request).await.map(|_| ()))
    }

    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<(), AwsError> {
        let request =
            self.client.put_role_policy().role_name(role).policy_name(policy_name).policy_document(document).send();
        self.account.call("iam:PutRolePolicy", ApiFamily::Iam, request).await.map(|_| ())
    }

    async fn attach_managed_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError> {
        let request = self.client.attach_role_policy().role_name(role).policy_arn(policy_arn).send();
        self.account.call("iam:AttachRolePolicy", ApiFamily::Iam, request).await.map(|_| ())
    }

    async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        // IAM refuses to delete a role that still has policies or instance profiles.
        let inline = gone_is_fine(
            self.account
                .call("iam:ListRolePolicies", ApiFamily::Iam, self.client.list_role_policies().role_name(name).send())
                .await
                .map(|output| output.policy_names().to_vec()),
        )?;
        for policy in inline {
            let request = self.client.delete_role_policy().role_name(name).policy_name(policy).send();
            gone_is_fine(self.account.call("iam:DeleteRolePolicy", ApiFamily::Iam, request).await.map(|_| ()))?;
        }
        let attached = gone_is_fine(
            self.account
                .call(
                    "iam:ListAttachedRolePolicies",
                    ApiFamily::Iam,
                    self.client.list_attached_role_policies().role_name(name).send(),
                )
                .await
                .map(|output| {
                    output
                        .attached_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(str::to_owned))
                        .collect::<Vec<_>>()
                }),
        )?;
        for policy in attached {
            let request = self.client.detach_role_policy().role_name(name).policy_arn(policy).send();
            gone_is_fine(self.account.call("iam:DetachRolePolicy", ApiFamily::Iam, request).await.map(|_| ()))?;
        }
        gone_is_fine(
            self.account
                .call("iam:DeleteRole", ApiFamily::Iam, self.client.delete_role().role_name(name).send())
                .await
                .map(|_| ()),
        )
    }

    async fn ensure_instance_profile(&self, name: &str, role: &str, look_first: bool) -> Result<Vec<String>, AwsError> {
        let mut changes = Vec::new();
        let profile = if look_first { self.instance_profile(name).await? } else { None };
        let profile = match profile {
            Some(profile) => profile,
            None => {
                let request = self.client.create_instance_profile().instance_profile_name(name).send();
                match self.account.call("iam:CreateInstanceProfile", ApiFamily::Iam, request).await {
                    Ok(output) => {
                        changes.push("created".to_owned());
                        output
                            .instance_profile()
                            .cloned()
                            .ok_or_else(|| AwsError::malformed("iam:CreateInstanceProfile", "no profile"))?
                    }
                    // Made by a pass whose answer was lost: read what it holds.
                    Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                        self.instance_profile(name).await?.ok_or(error)?
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        // A profile holds one role: another one there (swapped out of band) would give instances its rights.
        for other in profile.roles().iter().map(|r| r.role_name()).filter(|other| *other != role) {
            let request =
                self.client.remove_role_from_instance_profile().instance_profile_name(name).role_name(other).send();
            self.account.call("iam:RemoveRoleFromInstanceProfile", ApiFamily::Iam, request).await?;
            changes.push(format!("role {other} removed"));
        }
        if !profile.roles().iter().any(|r| r.role_name() == role) {
            let request = self.client.add_role_to_instance_profile().instance_profile_name(name).role_name(role).send();
            match self.account.call("iam:AddRoleToInstanceProfile", ApiFamily::Iam, request).await {
                Ok(_) => {}
                // A retry of an add whose answer was lost finds the profile full (LimitExceeded): it is ours if
                // the role in it is the one we added.
                Err(error) => {
                    let now = self.instance_profile(name).await?;
                    if !now.is_some_and(|p| p.roles().iter().map(|r| r.role_name()).eq([role])) {
                        return Err(error);
                    }
                }
            }
            changes.push(format!("role {role} added"));
        }
        Ok(changes)
    }

    async fn delete_instance_profile(&self, name: &str) -> Result<(), AwsError> {
        let existing = self
            .account
            .call(
                "iam:GetInstanceProfile",
                ApiFamily::Iam,
                self.client.get_instance_profile().instance_profile_name(name).send(),
            )
            .await;
        let profile = match existing {
            Ok(output) => output.instance_profile().cloned(),
            Err(error) if error.kind == AwsErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for role in profile.iter().flat_map(|p| p.roles()) {
            let request = self
                .client
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(role.role_name())
                .send();
            gone_is_fine(
                self.account.call("iam:RemoveRoleFromInstanceProfile", ApiFamily::Iam, request).await.map(|_| ()),
            )?;
        }
        let request = self.client.delete_instance_profile().instance_profile_name(name).send();
        gone_is_fine(self.account.call("iam:DeleteInstanceProfile", ApiFamily::Iam, request).await.map(|_| ()))
    }
}
