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
    /// Deletes a role after removing its inline and managed policies and instance profiles; gone is fine.
    async fn delete_role(&self, name: &str) -> Result<(), AwsError>;
    /// The instance profile's ARN, creating it around `role` if needed.
    async fn ensure_instance_profile(&self, name: &str, role: &str) -> Result<String, AwsError>;
    /// Deletes an instance profile (after removing its roles); gone is fine.
    async fn delete_instance_profile(&self, name: &str) -> Result<(), AwsError>;
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

#[async_trait]
impl IamApi for SdkIam {
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

    async fn ensure_instance_profile(&self, name: &str, role: &str) -> Result<String, AwsError> {
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
            Err(error) if error.kind == AwsErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let profile = match profile {
            Some(profile) => profile,
            None => {
                let request = self.client.create_instance_profile().instance_profile_name(name).send();
                let output = self.account.call("iam:CreateInstanceProfile", ApiFamily::Iam, request).await?;
                output
                    .instance_profile()
                    .cloned()
                    .ok_or_else(|| AwsError::malformed("iam:CreateInstanceProfile", "no profile"))?
            }
        };
        if !profile.roles().iter().any(|r| r.role_name() == role) {
            let request = self.client.add_role_to_instance_profile().instance_profile_name(name).role_name(role).send();
            self.account.call("iam:AddRoleToInstanceProfile", ApiFamily::Iam, request).await?;
        }
        Ok(profile.arn().to_owned())
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
