//! SSM Parameter Store: the ECS-optimised AMI's public parameter, and each controller's generated admin password
//! (a SecureString ECS injects into the container; Butler never reads it back, so it never reaches a log).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterType, Tag};

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// What the reconciler needs of SSM.
#[async_trait]
pub trait SsmApi: Send + Sync {
    /// A plain parameter's value (the public AMI parameters); None when absent.
    async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Whether a parameter exists (without decrypting it).
    async fn parameter_exists(&self, name: &str) -> Result<bool, AwsError>;
    /// Creates a tagged SecureString; an existing one is left as it is (AlreadyExists).
    async fn create_secret(&self, name: &str, value: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError>;
    /// Replaces a SecureString's value (its tags stay; PutParameter takes no tags with Overwrite).
    async fn overwrite_secret(&self, name: &str, value: &str) -> Result<(), AwsError>;
    /// A SecureString's value, decrypted (only the break-glass reveal asks); None when absent.
    async fn read_secret(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Deletes a parameter; gone is fine.
    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError>;
}

/// The SDK-backed SSM adapter.
pub struct SdkSsm {
    account: AwsAccount,
    client: aws_sdk_ssm::Client,
}

impl SdkSsm {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_ssm::Client::new(&account.config) }
    }
}

impl SdkSsm {
    /// One GetParameter (decrypted only when asked); None when the parameter does not exist.
    async fn read(&self, name: &str, decrypt: bool) -> Result<Option<aws_sdk_ssm::types::Parameter>, AwsError> {
        let request = self.client.get_parameter().name(name).with_decryption(decrypt).send();
        match self.account.call("ssm:GetParameter", ApiFamily::SsmRead, request).await {
            Ok(output) => Ok(output.parameter().cloned()),
            Err(error) if error.kind == AwsErrorKind::NotFound || error.code == "ParameterNotFound" => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl SsmApi for SdkSsm {
    async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.read(name, false).await?.and_then(|p| p.value().map(str::to_owned)))
    }

    async fn parameter_exists(&self, name: &str) -> Result<bool, AwsError> {
        // Without decryption: the answer carries the ciphertext at most, never the password.
        Ok(self.read(name, false).await?.is_some())
    }

    async fn create_secret(&self, name: &str, value: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let operation = "ssm:PutParameter";
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let request = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(false)
            .set_tags(Some(tags))
            .send();
        self.account.call(operation, ApiFamily::SsmWrite, request).await.map(|_| ())
    }

    async fn overwrite_secret(&self, name: &str, value: &str) -> Result<(), AwsError> {
        let request = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send();
        self.account.call("ssm:PutParameter", ApiFamily::SsmWrite, request).await.map(|_| ())
    }

    async fn read_secret(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.read(name, true).await?.and_then(|p| p.value().map(str::to_owned)))
    }

    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_parameter().name(name).send();
        match self.account.call("ssm:DeleteParameter", ApiFamily::SsmWrite, request).await {
            Err(error) if error.code == "ParameterNotFound" => Ok(()),
            other => gone_is_fine(other.map(|_| ())),
        }
    }
}
