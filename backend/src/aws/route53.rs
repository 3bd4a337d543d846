//! Route 53: each environment's alias record (`A`, alias to its pool load balancer) in the profile's hosted zone.
//! UPSERT makes a record exactly as wanted whatever was there; a read compares the alias target.

use async_trait::async_trait;
use aws_sdk_route53::types::{AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType};

use super::context::AwsAccount;
use super::error::{AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// An alias record: a name pointing at a load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// Without the trailing dot.
    pub name: String,
    /// The load balancer's DNS name, without the trailing dot, lower case.
    pub target_dns_name: String,
    /// The load balancer's canonical hosted zone.
    pub target_zone_id: String,
}

/// What the reconciler needs of Route 53.
#[async_trait]
pub trait DnsApi: Send + Sync {
    /// The `A` record named `name` in `zone`: Some(alias) when it is an alias, Some with empty target when it is
    /// a plain record, None when absent.
    async fn find_alias(&self, zone: &str, name: &str) -> Result<Option<AliasRecord>, AwsError>;
    /// Creates or replaces the `A` alias record.
    async fn upsert_alias(&self, zone: &str, record: &AliasRecord) -> Result<(), AwsError>;
    /// Deletes the `A` alias record exactly as given; gone is fine.
    async fn delete_alias(&self, zone: &str, record: &AliasRecord) -> Result<(), AwsError>;
}

/// The SDK-backed Route 53 adapter.
pub struct SdkRoute53 {
    account: AwsAccount,
    client: aws_sdk_route53::Client,
}

impl SdkRoute53 {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_route53::Client::new(&account.config) }
    }
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// An alias target as AWS writes ELB names (`dualstack.` is added by the console; the API takes either).
fn target_name(record: &AliasRecord) -> String {
    normal(&record.target_dns_name)
}

fn change(operation: &'static str, action: ChangeAction, record: &AliasRecord) -> Result<ChangeBatch, AwsError> {
    let invalid = |e: aws_sdk_route53::error::BuildError| AwsError::malformed(operation, &e.to_string());
    let alias = AliasTarget::builder()
        .hosted_zone_id(&record.target_zone_id)
        .dns_name(target_name(record))
        // Route 53 answers only while the load balancer has a healthy target group behind it somewhere.
        .evaluate_target_health(true)
        .build()
        .map_err(invalid)?;
    let set = ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(RrType::A)
        .alias_target(alias)
        .build()
        .map_err(invalid)?;
    let change = Change::builder().action(action).resource_record_set(set).build().map_err(invalid)?;
    ChangeBatch::builder().changes(change).build().map_err(invalid)
}

#[async_trait]
impl DnsApi for SdkRoute53 {
    async fn find_alias(&self, zone: &str, name: &str) -> Result<Option<AliasRecord>, AwsError> {
        let request = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::A)
            .max_items(1)
            .send();
        let output = self.account.call("route53:ListResourceRecordSets", ApiFamily::Route53, request).await?;
        // The listing starts at the name; the first set may be the next name in the zone.
        let found = output
            .resource_record_sets()
            .iter()
            .find(|set| normal(set.name()) == normal(name) && set.r#type() == &RrType::A);
        Ok(found.map(|set| AliasRecord {
            name: normal(set.name()),
            target_dns_name: set.alias_target().map(|a| normal(a.dns_name())).unwrap_or_default(),
            target_zone_id: set.alias_target().map(|a| a.hosted_zone_id().to_owned()).unwrap_or_default(),
        }))
    }

    async fn upsert_alias(&self, zone: &str, record: &AliasRecord) -> Result<(), AwsError> {
        let operation = "route53:ChangeResourceRecordSets";
        let batch = change(operation, ChangeAction::Upsert, record)?;
        let request = self.client.change_resource_record_sets().hosted_zone_id(zone).change_batch(batch).send();
        self.account.call(operation, ApiFamily::Route53, request).await.map(|_| ())
    }

    async fn delete_alias(&self, zone: &str, record: &AliasRecord) -> Result<(), AwsError> {
        let operation = "route53:ChangeResourceRecordSets";
        let batch = change(operation, ChangeAction::Delete, record)?;
        let request = self.client.change_resource_record_sets().hosted_zone_id(zone).change_batch(batch).send();
        match self.account.call(operation, ApiFamily::Route53, request).await {
            Ok(_) => Ok(()),
            // InvalidChangeBatch "…not found": already gone.
            Err(error) if error.kind == AwsErrorKind::NotFound || error.message.contains("not found") => Ok(()),
            Err(error) => Err(error),
        }
    }
}
