//! AWS Secrets Manager: an environment's Jenkins credentials, one secret each, named under the environment's prefix
//! and tagged the way the aws-secrets-manager-credentials-provider plugin reads them. Butler writes and deletes
//! them; it never reads a value back.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// A secret's value: text (SecretString) or bytes (SecretBinary), as the credential type wants.
pub enum SecretValue<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// A secret as listed: its name, ARN and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    pub name: String,
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// A secret's settings as Secrets Manager reports them (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretDescription {
    pub arn: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
}

/// What Butler needs of Secrets Manager.
#[async_trait]
pub trait SecretsApi: Send + Sync {
    /// Creates `name` with this value, description and tags, or, when it exists, gives it a new current version
    /// with this value and makes its description and tags these (tags it had under `managed_tag_prefix` and no
    /// longer needs are removed). Returns its ARN.
    async fn put_secret(
        &self,
        name: &str,
        value: SecretValue<'_>,
        description: &str,
        tags: &BTreeMap<String, String>,
        managed_tag_prefix: &str,
    ) -> Result<String, AwsError>;
    /// Its description and tags; None when there is no such secret.
    async fn describe_secret(&self, name: &str) -> Result<Option<SecretDescription>, AwsError>;
    /// The secrets whose names start with `prefix` (ListSecrets' `name` filter is a prefix match).
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretSummary>, AwsError>;
    /// Deletes at once, without the recovery window (a credential deleted on purpose, or its environment's
    /// teardown); gone is fine. The window would also keep the name taken, so the same id could not come back.
    async fn delete_secret(&self, name: &str) -> Result<(), AwsError>;
}

/// The SDK-backed adapter.
pub struct SdkSecrets {
    account: AwsAccount,
    client: aws_sdk_secretsmanager::Client,
}

impl SdkSecrets {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_secretsmanager::Client::new(&account.config) }
    }

    async fn call<T, E>(
        &self,
        operation: &'static str,
        request: impl std::future::Future<
            Output = Result<T, aws_sdk_secretsmanager::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
        >,
    ) -> Result<T, AwsError>
    where
        E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.account.call(operation, ApiFamily::SecretsManager, request).await
    }
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// Secrets Manager says "not found" as ResourceNotFoundException (kind NotFound already) and "exists" as
/// ResourceExistsException, which the generic mapping does not know.
fn exists(error: &AwsError) -> bool {
    error.kind == AwsErrorKind::AlreadyExists || error.code == "ResourceExistsException"
}

/// A name whose secret is scheduled for deletion (InvalidRequestException, "scheduled for deletion").
fn scheduled_for_deletion(error: &AwsError) -> bool {
    error.code == "InvalidRequestException" && error.message.contains("scheduled for deletion")
}

#[async_trait]
impl SecretsApi for SdkSecrets {
    async fn put_secret(
        &self,
        name: &str,
        value: SecretValue<'_>,
        description: &str,
        tags: &BTreeMap<String, String>,
        managed_tag_prefix: &str,
    ) -> Result<String, AwsError> {
        let (text, binary) = match value {
            SecretValue::Text(text) => (Some(text.to_owned()), None),
            SecretValue::Binary(bytes) => (None, Some(Blob::new(bytes))),
        };
        let create = self
            .client
            .create_secret()
            .name(name)
            .description(description)
            .set_secret_string(text.clone())
            .set_secret_binary(binary.clone())
            .set_tags(Some(sdk_tags(tags)))
            .send();
        match self.call("secretsmanager:CreateSecret", create).await {
            Ok(output) => return Ok(output.arn().unwrap_or_default().to_owned()),
            Err(error) if exists(&error) => {}
            Err(error) if scheduled_for_deletion(&error) => {
                let restore = self.client.restore_secret().secret_id(name).send();
                self.call("secretsmanager:RestoreSecret", restore).await?;
            }
            Err(error) => return Err(error),
        }
        // It exists: a new current version, then the description and tags.
        let put =
            self.client.put_secret_value().secret_id(name).set_secret_string(text).set_secret_binary(binary).send();
        let arn = self.call("secretsmanager:PutSecretValue", put).await?.arn().unwrap_or_default().to_owned();
        let update = self.client.update_secret().secret_id(name).description(description).send();
        self.call("secretsmanager:UpdateSecret", update).await?;
        let found = self.describe_secret(name).await?.unwrap_or_default();
        let stale: Vec<String> = found
            .tags
            .keys()
            .filter(|key| key.starts_with(managed_tag_prefix) && !tags.contains_key(*key))
            .cloned()
            .collect();
        if !stale.is_empty() {
            let untag = self.client.untag_resource().secret_id(name).set_tag_keys(Some(stale)).send();
            self.call("secretsmanager:UntagResource", untag).await?;
        }
        let tag = self.client.tag_resource().secret_id(name).set_tags(Some(sdk_tags(tags))).send();
        self.call("secretsmanager:TagResource", tag).await?;
        Ok(arn)
    }

    async fn describe_secret(&self, name: &str) -> Result<Option<SecretDescription>, AwsError> {
        let request = self.client.describe_secret().secret_id(name).send();
        let output = match self.call("secretsmanager:DescribeSecret", request).await {
            Ok(output) => output,
            Err(error) if error.kind == AwsErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(Some(SecretDescription {
            arn: output.arn().unwrap_or_default().to_owned(),
            description: output.description().unwrap_or_default().to_owned(),
            tags: output
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect(),
        }))
    }

    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretSummary>, AwsError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let filter = Filter::builder().key(FilterNameStringType::Name).values(prefix).build();
            let request = self.client.list_secrets().filters(filter).set_next_token(token.clone()).send();
            let output = self.call("secretsmanager:ListSecrets", request).await?;
            for secret in output.secret_list() {
                let name = secret.name().unwrap_or_default();
                // The filter matches prefixes of words too on some implementations: keep only true prefixes.
                if name.starts_with(prefix) {
                    let arn = secret.arn().unwrap_or_default().to_owned();
                    let tags = secret
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                        .collect();
                    found.push(SecretSummary { name: name.to_owned(), arn, tags });
                }
            }
            token = output.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(found);
            }
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_secret().secret_id(name).force_delete_without_recovery(true).send();
        gone_is_fine(self.call("secretsmanager:DeleteSecret", request).await.map(|_| ()))
    }
}
