//! An environment's credentials in AWS Secrets Manager: written (the value, the plugin's tags and the
//! environment's) and deleted in the request, before anything is recorded, so a refused or failed write changes
//! nothing Butler shows. Values only pass through; none is ever read back.

use crate::aws::context::{AccountTarget, Accounts, AwsSettings};
use crate::aws::secrets::{SdkSecrets, SecretValue, SecretsApi};
use crate::aws::AwsError;
use crate::domain::aws_names::Names;
use crate::domain::credentials::SecretPayload;
use crate::domain::object::JenkinsEnvironment;
use crate::store::cloud_profiles::ProfileRow;

/// Every secret's description in Secrets Manager. The team's own description stays in Butler: ListSecrets cannot be
/// scoped in IAM, so any controller of the account can list every secret's description and tags (never values).
const SECRET_DESCRIPTION: &str = "Jenkins credential managed by Butler";
/// The tags Butler manages on a credential's secret besides the environment's own.
const PLUGIN_TAG_PREFIX: &str = "jenkins:credentials:";

async fn secrets(accounts: &Accounts, settings: &AwsSettings, profile: &ProfileRow) -> SdkSecrets {
    let target = AccountTarget { region: profile.region.clone(), role_arn: profile.role_arn.clone() };
    SdkSecrets::new(&accounts.get(settings, &target).await)
}

/// The secret's name: the environment's prefix and the id.
pub fn secret_name(object: &JenkinsEnvironment, id: &str) -> String {
    format!("{}{id}", Names::of(object).secrets_prefix())
}

/// Writes credential `id` of `object`; returns the secret's ARN.
pub async fn put(
    (accounts, settings): (&Accounts, &AwsSettings),
    profile: &ProfileRow,
    object: &JenkinsEnvironment,
    id: &str,
    payload: &SecretPayload,
) -> Result<String, AwsError> {
    let meta = &object.metadata;
    let mut tags = crate::aws::tags::environment_tags(&meta.tenant, &meta.name, &meta.uid);
    tags.extend(payload.tags.clone());
    let value = match (&payload.text, &payload.binary) {
        (_, Some(bytes)) => SecretValue::Binary(bytes),
        (Some(text), None) => SecretValue::Text(text),
        (None, None) => SecretValue::Text(""),
    };
    let name = secret_name(object, id);
    secrets(accounts, settings, profile)
        .await
        .put_secret(&name, value, SECRET_DESCRIPTION, &tags, PLUGIN_TAG_PREFIX)
        .await
}

/// Deletes credential `id` of `object` (gone is fine).
pub async fn delete(
    (accounts, settings): (&Accounts, &AwsSettings),
    profile: &ProfileRow,
    object: &JenkinsEnvironment,
    id: &str,
) -> Result<(), AwsError> {
    secrets(accounts, settings, profile).await.delete_secret(&secret_name(object, id)).await
}
