//! AWS emulator access for tests: each test gets its own 12-digit account (STS AssumeRole into it), so tests
//! run in parallel against one moto server without seeing each other's resources.

use butler::aws::context::{AccountTarget, AwsAccount, AwsSettings};
use rand::Rng;

/// The emulator's region in tests.
pub const REGION: &str = "us-east-1";

/// A fresh emulator account, or a panic saying how to run the tests (./dev/test starts the emulator).
pub async fn fresh_account() -> AwsAccount {
    fresh_account_with_role().await.0
}

/// A fresh emulator account and the role ARN that reaches it (for cloud profiles in end-to-end tests).
pub async fn fresh_account_with_role() -> (AwsAccount, String) {
    let settings = AwsSettings::from_env();
    assert!(
        settings.endpoint_url.is_some(),
        "BUTLER_AWS_ENDPOINT_URL is not set: run the tests through ./dev/test, which starts the AWS emulator"
    );
    let account: u64 = rand::rng().random_range(100_000_000_000..999_999_999_999);
    let role = format!("arn:aws:iam::{account}:role/butler-test");
    let target = AccountTarget { region: REGION.into(), role_arn: Some(role.clone()) };
    (AwsAccount::connect(&settings, &target).await, role)
}
