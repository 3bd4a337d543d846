//! CloudWatch Logs: the environment's log groups (controller, agents) with a retention, so logs never pile up,
//! and the last lines of a group's newest stream (what the controller said last, for the environment page).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::context::AwsAccount;
use super::error::{AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// What the reconciler needs of CloudWatch Logs.
#[async_trait]
pub trait LogsApi: Send + Sync {
    /// The group's retention in days (`Some(None)`: exists, kept forever), or None when absent.
    async fn find_log_group(&self, name: &str) -> Result<Option<Option<i32>>, AwsError>;
    /// Every group whose name starts with `prefix` and its retention, in one call (an environment's groups
    /// share a prefix).
    async fn log_groups_with_prefix(&self, prefix: &str) -> Result<BTreeMap<String, Option<i32>>, AwsError>;
    /// Creates a tagged log group; one that exists already is fine.
    async fn create_log_group(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError>;
    /// Sets the retention.
    async fn put_retention(&self, name: &str, days: i32) -> Result<(), AwsError>;
    /// Deletes a log group; gone is fine.
    async fn delete_log_group(&self, name: &str) -> Result<(), AwsError>;
    /// The last `lines` events of the group's most recently written stream, oldest first (empty when the group
    /// has no stream yet). Two calls.
    async fn tail(&self, name: &str, lines: i32) -> Result<Vec<LogLine>, AwsError>;
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// The SDK-backed adapter.
pub struct SdkLogs {
    account: AwsAccount,
    client: aws_sdk_cloudwatchlogs::Client,
}

impl SdkLogs {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_cloudwatchlogs::Client::new(&account.config) }
    }
}

#[async_trait]
impl LogsApi for SdkLogs {
    async fn find_log_group(&self, name: &str) -> Result<Option<Option<i32>>, AwsError> {
        let request = self.client.describe_log_groups().log_group_name_prefix(name).send();
        let output = self.account.call("logs:DescribeLogGroups", ApiFamily::Logs, request).await?;
        Ok(output
            .log_groups()
            .iter()
            .find(|group| group.log_group_name() == Some(name))
            .map(|group| group.retention_in_days()))
    }

    async fn log_groups_with_prefix(&self, prefix: &str) -> Result<BTreeMap<String, Option<i32>>, AwsError> {
        // Pages of 50: one environment's prefix fits in one; the content check's `/butler/` takes one per 25.
        let mut groups = BTreeMap::new();
        let mut token = None;
        loop {
            let request =
                self.client.describe_log_groups().log_group_name_prefix(prefix).set_next_token(token.take()).send();
            let output = self.account.call("logs:DescribeLogGroups", ApiFamily::Logs, request).await?;
            groups.extend(
                output
                    .log_groups()
                    .iter()
                    .filter_map(|group| Some((group.log_group_name()?.to_owned(), group.retention_in_days()))),
            );
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(groups),
            }
        }
    }

    async fn create_log_group(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let request = self
            .client
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .send();
        match self.account.call("logs:CreateLogGroup", ApiFamily::Logs, request).await {
            Err(error) if error.kind == AwsErrorKind::AlreadyExists => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn put_retention(&self, name: &str, days: i32) -> Result<(), AwsError> {
        let request = self.client.put_retention_policy().log_group_name(name).retention_in_days(days).send();
        self.account.call("logs:PutRetentionPolicy", ApiFamily::Logs, request).await.map(|_| ())
    }

    async fn delete_log_group(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_log_group().log_group_name(name).send();
        match self.account.call("logs:DeleteLogGroup", ApiFamily::Logs, request).await {
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn tail(&self, name: &str, lines: i32) -> Result<Vec<LogLine>, AwsError> {
        let request = self
            .client
            .describe_log_streams()
            .log_group_name(name)
            .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LastEventTime)
            .descending(true)
            .limit(1)
            .send();
        let streams = match self.account.call("logs:DescribeLogStreams", ApiFamily::Logs, request).await {
            Ok(output) => output.log_streams().to_vec(),
            Err(error) if error.kind == AwsErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let Some(stream) = streams.first().and_then(|s| s.log_stream_name()) else {
            return Ok(Vec::new());
        };
        // From the end: the newest `lines` events, which GetLogEvents still returns oldest first.
        let request = self
            .client
            .get_log_events()
            .log_group_name(name)
            .log_stream_name(stream)
            .start_from_head(false)
            .limit(lines)
            .send();
        let output = self.account.call("logs:GetLogEvents", ApiFamily::Logs, request).await?;
        Ok(output
            .events()
            .iter()
            .map(|event| LogLine {
                timestamp: event.timestamp().unwrap_or_default(),
                message: event.message().unwrap_or_default().trim_end().to_owned(),
            })
            .collect())
    }
}
