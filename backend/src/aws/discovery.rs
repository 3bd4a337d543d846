//! Cloud Map: the profile's shared private DNS namespace (one per profile: Cloud Map allows 50 per Region)
//! and one service per environment, `<env>.<tenant>` (legacy `master-<tenant>-<env>`), an A record the controller task registers in.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsConfigChange, DnsRecord, FilterCondition, HealthCheckCustomConfig, NamespaceFilter,
    NamespaceFilterName, OperationStatus, RecordType, RoutingPolicy, ServiceChange, ServiceFilter, ServiceFilterName,
    Tag,
};

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError};
use super::limits::ApiFamily;

/// TTL of the controller's A record: short, so a replaced controller is found quickly.
pub(crate) const RECORD_TTL_SECONDS: i64 = 10;

/// A namespace or a service: id and ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// The creator request id it was made with (Butler uses the environment's uid for a service).
    pub creator_request_id: Option<String>,
    /// A service's DNS records: type and TTL.
    pub dns_records: Vec<(String, i64)>,
}

/// The records the controller's service answers with: one A record with a short TTL.
pub fn controller_records() -> Vec<(String, i64)> {
    vec![("A".to_owned(), RECORD_TTL_SECONDS)]
}

/// Where an asynchronous namespace creation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationState {
    Pending,
    Succeeded { namespace_id: Option<String> },
    Failed { reason: String },
}

/// What the reconciler needs of Cloud Map.
#[async_trait]
pub trait DiscoveryApi: Send + Sync {
    /// The private DNS namespace with this name, if any.
    async fn find_namespace(&self, name: &str) -> Result<Option<Resource>, AwsError>;
    /// Starts creating a private DNS namespace in the VPC; returns the operation id.
    async fn create_namespace(
        &self,
        name: &str,
        vpc_id: &str,
        creator_request_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError>;
    /// Where a namespace creation is.
    async fn operation(&self, operation_id: &str) -> Result<OperationState, AwsError>;
    /// The service with this name in the namespace, if any.
    async fn find_service(&self, namespace_id: &str, name: &str) -> Result<Option<Resource>, AwsError>;
    /// Creates the A-record service with a custom health check (ECS reports task health; the failure threshold
    /// is always 1 now, so it is not set).
    async fn create_service(
        &self,
        namespace_id: &str,
        name: &str,
        creator_request_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Resource, AwsError>;
    /// Sets a service's DNS records back to `controller_records` (UpdateService; the routing policy and health
    /// check cannot change, and Butler never changes them).
    async fn set_controller_records(&self, service_id: &str) -> Result<(), AwsError>;
    /// Instances registered in a service.
    async fn instances(&self, service_id: &str) -> Result<Vec<String>, AwsError>;
    /// Deregisters an instance; gone already is fine.
    async fn deregister_instance(&self, service_id: &str, instance_id: &str) -> Result<(), AwsError>;
    /// Deletes a service (ResourceInUse while instances remain: a `Conflict`); gone already is fine.
    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError>;
}

/// The SDK-backed Cloud Map adapter.
pub struct SdkDiscovery {
    account: AwsAccount,
    client: aws_sdk_servicediscovery::Client,
}

impl SdkDiscovery {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_servicediscovery::Client::new(&account.config) }
    }
}

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

#[async_trait]
impl DiscoveryApi for SdkDiscovery {
    async fn find_namespace(&self, name: &str) -> Result<Option<Resource>, AwsError> {
        let filter = NamespaceFilter::builder()
            .name(NamespaceFilterName::Type)
            .values("DNS_PRIVATE")
            .condition(FilterCondition::Eq)
            .build()
            .map_err(|e| AwsError::malformed("servicediscovery:ListNamespaces", &e.to_string()))?;
        let mut next_token = None;
        loop {
            let request = self.client.list_namespaces().filters(filter.clone()).set_next_token(next_token).send();
            let output =
                self.account.call("servicediscovery:ListNamespaces", ApiFamily::ServiceDiscovery, request).await?;
            let found = output.namespaces().iter().find(|namespace| namespace.name() == Some(name));
            if let Some(namespace) = found {
                return Ok(Some(Resource {
                    id: namespace.id().unwrap_or_default().to_owned(),
                    arn: namespace.arn().unwrap_or_default().to_owned(),
                    name: name.to_owned(),
                    creator_request_id: None,
                    dns_records: Vec::new(),
                }));
            }
            match output.next_token() {
                Some(token) => next_token = Some(token.to_owned()),
                None => return Ok(None),
            }
        }
    }

    async fn create_namespace(
        &self,
        name: &str,
        vpc_id: &str,
        creator_request_id: &str,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let request = self
            .client
            .create_private_dns_namespace()
            .name(name)
            .vpc(vpc_id)
            .creator_request_id(creator_request_id)
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = self
            .account
            .call("servicediscovery:CreatePrivateDnsNamespace", ApiFamily::ServiceDiscovery, request)
            .await?;
        output
            .operation_id()
            .map(str::to_owned)
            .ok_or_else(|| AwsError::malformed("servicediscovery:CreatePrivateDnsNamespace", "no OperationId"))
    }

    async fn operation(&self, operation_id: &str) -> Result<OperationState, AwsError> {
        let request = self.client.get_operation().operation_id(operation_id).send();
        let output = self.account.call("servicediscovery:GetOperation", ApiFamily::ServiceDiscovery, request).await?;
        let Some(operation) = output.operation() else { return Ok(OperationState::Pending) };
        Ok(match operation.status() {
            Some(OperationStatus::Success) => OperationState::Succeeded {
                namespace_id: operation
                    .targets()
                    .and_then(|targets| targets.iter().find(|(kind, _)| kind.as_str() == "NAMESPACE"))
                    .map(|(_, id)| id.clone()),
            },
            Some(OperationStatus::Fail) => {
                OperationState::Failed { reason: operation.error_message().unwrap_or("failed").to_owned() }
            }
            _ => OperationState::Pending,
        })
    }

    async fn find_service(&self, namespace_id: &str, name: &str) -> Result<Option<Resource>, AwsError> {
        let filter = ServiceFilter::builder()
            .name(ServiceFilterName::NamespaceId)
            .values(namespace_id)
            .condition(FilterCondition::Eq)
            .build()
            .map_err(|e| AwsError::malformed("servicediscovery:ListServices", &e.to_string()))?;
        let mut next_token = None;
        loop {
            let request = self.client.list_services().filters(filter.clone()).set_next_token(next_token).send();
            let output =
                self.account.call("servicediscovery:ListServices", ApiFamily::ServiceDiscovery, request).await?;
            if let Some(service) = output.services().iter().find(|service| service.name() == Some(name)) {
                // ListServices leaves out the creator request id, which says whose the service is.
                let id = service.id().unwrap_or_default().to_owned();
                let request = self.client.get_service().id(&id).send();
                let found =
                    self.account.call("servicediscovery:GetService", ApiFamily::ServiceDiscovery, request).await?;
                return Ok(Some(Resource {
                    id,
                    arn: service.arn().unwrap_or_default().to_owned(),
                    name: name.to_owned(),
                    creator_request_id: found.service().and_then(|s| s.creator_request_id()).map(str::to_owned),
                    dns_records: found
                        .service()
                        .and_then(|s| s.dns_config())
                        .map(|dns| {
                            dns.dns_records()
                                .iter()
                                .map(|record| (record.r#type().as_str().to_owned(), record.ttl()))
                                .collect()
                        })
                        .unwrap_or_default(),
                }));
            }
            match output.next_token() {
                Some(token) => next_token = Some(token.to_owned()),
                None => return Ok(None),
            }
        }
    }

    async fn create_service(
        &self,
        namespace_id: &str,
        name: &str,
        creator_request_id: &str,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<Resource, AwsError> {
        let operation = "servicediscovery:CreateService";
        let record = DnsRecord::builder()
            .r#type(RecordType::A)
            .ttl(RECORD_TTL_SECONDS)
            .build()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let dns = DnsConfig::builder()
            .routing_policy(RoutingPolicy::Multivalue)
            .dns_records(record)
            .build()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let request = self
            .client
            .create_service()
            .namespace_id(namespace_id)
            .name(name)
            .creator_request_id(creator_request_id)
            .dns_config(dns)
            .health_check_custom_config(HealthCheckCustomConfig::builder().build())
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = self.account.call(operation, ApiFamily::ServiceDiscovery, request).await?;
        let service = output.service().ok_or_else(|| AwsError::malformed(operation, "no Service"))?;
        Ok(Resource {
            id: service.id().unwrap_or_default().to_owned(),
            arn: service.arn().unwrap_or_default().to_owned(),
            name: name.to_owned(),
            creator_request_id: Some(creator_request_id.to_owned()),
            dns_records: controller_records(),
        })
    }

    async fn set_controller_records(&self, service_id: &str) -> Result<(), AwsError> {
        let operation = "servicediscovery:UpdateService";
        let records = controller_records()
            .into_iter()
            .map(|(kind, ttl)| DnsRecord::builder().r#type(RecordType::from(kind.as_str())).ttl(ttl).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let dns = DnsConfigChange::builder()
            .set_dns_records(Some(records))
            .build()
            .map_err(|e| AwsError::malformed(operation, &e.to_string()))?;
        let request = self
            .client
            .update_service()
            .id(service_id)
            .service(ServiceChange::builder().dns_config(dns).build())
            .send();
        self.account.call(operation, ApiFamily::ServiceDiscovery, request).await.map(|_| ())
    }

    async fn instances(&self, service_id: &str) -> Result<Vec<String>, AwsError> {
        let request = self.client.list_instances().service_id(service_id).send();
        let output = self.account.call("servicediscovery:ListInstances", ApiFamily::ServiceDiscovery, request).await?;
        Ok(output.instances().iter().filter_map(|instance| instance.id().map(str::to_owned)).collect())
    }

    async fn deregister_instance(&self, service_id: &str, instance_id: &str) -> Result<(), AwsError> {
        let request = self.client.deregister_instance().service_id(service_id).instance_id(instance_id).send();
        gone_is_fine(
            self.account
                .call("servicediscovery:DeregisterInstance", ApiFamily::ServiceDiscovery, request)
                .await
                .map(|_| ()),
        )
    }

    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_service().id(service_id).send();
        gone_is_fine(
            self.account.call("servicediscovery:DeleteService", ApiFamily::ServiceDiscovery, request).await.map(|_| ()),
        )
    }
}
