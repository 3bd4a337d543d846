//! The last lines of an environment's controller log (its CloudWatch log group), read live for the API and the
//! environment page: when a controller will not start, what Jenkins said last is the first thing to look at.

use std::time::Duration;

use crate::aws::context::{AccountTarget, Accounts, AwsSettings};
use crate::aws::logs::{LogLine, LogsApi, SdkLogs};
use crate::aws::AwsError;
use crate::domain::aws_names::Names;
use crate::domain::object::JenkinsEnvironment;
use crate::store::cloud_profiles::ProfileRow;

/// Lines shown when the caller does not say.
pub(crate) const DEFAULT_LINES: i32 = 50;
/// The most lines one request may ask for (GetLogEvents returns at most 10,000; a page needs far fewer).
pub(crate) const MAX_LINES: i32 = 500;
/// A page must not hang on CloudWatch; two calls normally take milliseconds, a busy endpoint seconds.
const TAIL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the controller logged last.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerLog {
    pub log_group: String,
    pub lines: Vec<LogLine>,
}

/// Reads the last `lines` lines (clamped to 1..=MAX_LINES) of the environment's controller log group.
pub async fn tail(
    accounts: &Accounts,
    settings: &AwsSettings,
    profile: &ProfileRow,
    object: &JenkinsEnvironment,
    lines: i32,
) -> Result<ControllerLog, AwsError> {
    let log_group = Names::of(object).controller_log_group();
    let target = AccountTarget { region: profile.region.clone(), role_arn: profile.role_arn.clone() };
    let logs = SdkLogs::new(&accounts.get(settings, &target).await);
    let read = logs.tail(&log_group, lines.clamp(1, MAX_LINES));
    let lines = tokio::time::timeout(TAIL_TIMEOUT, read).await.map_err(|_| AwsError {
        kind: crate::aws::AwsErrorKind::Transient,
        operation: "logs:GetLogEvents",
        code: "Timeout".into(),
        message: format!("CloudWatch Logs did not answer within {} s", TAIL_TIMEOUT.as_secs()),
    })??;
    let lines = lines.into_iter().map(|line| LogLine { message: redact_tokens(&line.message), ..line }).collect();
    Ok(ControllerLog { log_group, lines })
}

/// Jenkins may log the URL it fetches its configuration from, token and all: the token is cut before a line leaves.
fn redact_tokens(message: &str) -> String {
    static TOKEN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r#"(token=)[^&\s"']+"#).expect("static regex"));
    TOKEN.replace_all(message, "${1}[redacted]").into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_configuration_url_in_a_line_loses_its_token() {
        let line = "Failed to fetch https://butler.example/casc/0af/jenkins.yaml?token=abcDEF123&x=1 (HTTP 502)";
        assert_eq!(
            super::redact_tokens(line),
            "Failed to fetch https://butler.example/casc/0af/jenkins.yaml?token=[redacted]&x=1 (HTTP 502)"
        );
    }
}
