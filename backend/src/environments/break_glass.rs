//! The break-glass read: the local admin password of an environment's Jenkins (the oic-auth plugin's escape
//! hatch), decrypted from its SSM SecureString. Only a tenant admin's reveal, recorded first, reaches here.

use crate::aws::context::{AccountTarget, Accounts, AwsSettings};
use crate::aws::ssm::{SdkSsm, SsmApi};
use crate::aws::AwsError;
use crate::domain::aws_names::Names;
use crate::domain::object::JenkinsEnvironment;
use crate::store::cloud_profiles::ProfileRow;

/// The password, or None when the environment has none yet.
pub async fn admin_password(
    accounts: &Accounts,
    settings: &AwsSettings,
    profile: &ProfileRow,
    object: &JenkinsEnvironment,
) -> Result<Option<secrecy::SecretString>, AwsError> {
    let target = AccountTarget { region: profile.region.clone(), role_arn: profile.role_arn.clone() };
    let ssm = SdkSsm::new(&accounts.get(settings, &target).await);
    Ok(ssm.read_secret(&Names::of(object).admin_password_parameter()).await?.map(secrecy::SecretString::from))
}
