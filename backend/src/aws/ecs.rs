//! ECS: clusters (described 100 a call, with their settings and default strategy), the capacity provider on the
//! environment's ASG, and the controller's task definition revisions (found by family, tagged with what they
//! say). What a revision holds is built in `ecs_tasks`; services live in `ecs_services`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProviderField, CapacityProviderStrategyItem,
    ClusterField, ClusterSetting, ClusterSettingName, Tag, TaskDefinitionField,
};

use super::context::AwsAccount;
use super::ecs_providers::{draining, managed_scaling, settings_of, termination_protection};
pub use super::ecs_providers::{ProviderSettings, PROVIDER_SETTINGS};
pub use super::ecs_services::{ControllerService, Service, ServiceNetwork, StoppedTask};
use super::error::{gone_is_fine, AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// DescribeClusters takes at most this many clusters a call.
const CLUSTERS_PER_DESCRIBE: usize = 100;

/// DescribeCapacityProviders takes at most this many names a call.
const CAPACITY_PROVIDERS_PER_DESCRIBE: usize = 100;

/// A cluster as the reconciler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    pub status: String,
    /// Capacity providers associated with the cluster.
    pub capacity_providers: Vec<String>,
    /// The cluster's `butler:uid` tag: whose it is.
    pub owner: Option<String>,
    /// The `containerInsights` setting (`disabled`, `enabled`, `enhanced`).
    pub container_insights: Option<String>,
    /// The default capacity provider strategy: provider, weight, base.
    pub default_strategy: Vec<(String, i32, i32)>,
}

/// Container Insights on every cluster would add CloudWatch metrics to each tenant's bill that the cost meter does
/// not see: Butler's clusters say `disabled` explicitly (an account may default new clusters to enabled).
pub const CONTAINER_INSIGHTS: &str = "disabled";

impl Cluster {
    /// The default strategy Butler sets: everything on the environment's one provider.
    pub fn wanted_strategy(provider: &str) -> Vec<(String, i32, i32)> {
        vec![(provider.to_owned(), 1, 0)]
    }
}

/// A capacity provider as the reconciler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityProvider {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub auto_scaling_group_arn: String,
    /// `DELETE_IN_PROGRESS`, `UPDATE_FAILED`, … while AWS works on it.
    pub update_status: Option<String>,
    /// The provider's `butler:uid` tag: whose it is.
    pub owner: Option<String>,
    /// How it scales and protects its group, as AWS reports it.
    pub settings: ProviderSettings,
}

/// The newest active revision of a task definition family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionRevision {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// The controller's task definition, in Butler's terms.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ControllerTask {
    pub family: String,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    pub task_role: String,
    pub execution_role: String,
    pub file_system_id: String,
    pub access_point_id: String,
    pub log_group: String,
    pub region: String,
    pub environment: BTreeMap<String, String>,
    /// Variables ECS fills from SSM parameters (name → parameter ARN or name), never stored in the definition.
    pub secrets: BTreeMap<String, String>,
    /// Replaces the image's entry point (the wrapper that writes the generated configuration, then starts Jenkins).
    pub entry_point: Vec<String>,
    /// The container health check's command (`CMD-SHELL`, …): Jenkins itself answering, not only a process.
    pub health_check: Vec<String>,
}

/// What the reconciler needs of ECS.
#[async_trait]
pub trait EcsApi: Send + Sync {
    /// Clusters by name, in as few calls as the API allows; absent ones are left out.
    async fn describe_clusters(&self, names: &[String]) -> Result<Vec<Cluster>, AwsError>;
    /// Creates a tagged cluster (ECS returns the existing one for a taken name).
    async fn create_cluster(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<Cluster, AwsError>;
    /// Deletes a cluster; gone is fine.
    async fn delete_cluster(&self, name: &str) -> Result<(), AwsError>;
    /// Capacity providers by name; absent or inactive ones are left out.
    async fn describe_capacity_providers(&self, names: &[String]) -> Result<Vec<CapacityProvider>, AwsError>;
    /// Creates a capacity provider on an ASG with `PROVIDER_SETTINGS`.
    async fn create_capacity_provider(
        &self,
        name: &str,
        auto_scaling_group_arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<CapacityProvider, AwsError>;
    /// Puts a capacity provider's scaling and protection back to `settings`.
    async fn update_capacity_provider(&self, name: &str, settings: &ProviderSettings) -> Result<(), AwsError>;
    /// Sets the cluster's capacity providers, the first one as the default strategy (empty: none).
    async fn put_cluster_capacity_providers(&self, cluster: &str, providers: &[String]) -> Result<(), AwsError>;
    /// Deletes a capacity provider; gone is fine.
    async fn delete_capacity_provider(&self, name: &str) -> Result<(), AwsError>;
    /// The newest active revision of `family`, with its tags; None when the family has none.
    async fn latest_task_definition(&self, family: &str) -> Result<Option<TaskDefinitionRevision>, AwsError>;
    /// Every active revision of `family` (exactly that family, not others sharing its prefix).
    async fn task_definition_revisions(&self, family: &str) -> Result<Vec<String>, AwsError>;
    /// Tasks of a cluster that are not stopped.
    async fn list_tasks(&self, cluster: &str) -> Result<Vec<String>, AwsError>;
    /// Stops a task; gone is fine.
    async fn stop_task(&self, cluster: &str, task: &str) -> Result<(), AwsError>;
    /// The service's recently stopped tasks (ECS keeps them about an hour): why each stopped, its exit code.
    async fn stopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<StoppedTask>, AwsError>;
    /// Registers a revision of the controller's task definition; returns its ARN.
    async fn register_controller_task(
        &self,
        task: &ControllerTask,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError>;
    /// Deregisters a task definition revision; gone is fine.
    async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError>;
    /// Sets the cluster's `containerInsights` back to `CONTAINER_INSIGHTS`.
    async fn set_cluster_settings(&self, name: &str) -> Result<(), AwsError>;
    /// Services of a cluster by name, ten a call; absent or deleted ones are left out.
    async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<Vec<Service>, AwsError>;
    /// Creates the controller's service.
    async fn create_controller_service(
        &self,
        service: &ControllerService,
        tags: &BTreeMap<String, String>,
    ) -> Result<Service, AwsError>;
    /// Puts every setting of the controller's service (count, revision, network, registry, placement) back.
    async fn update_controller_service(&self, service: &ControllerService) -> Result<(), AwsError>;
    /// Sets a service's desired count (and task definition, when given).
    async fn update_service(
        &self,
        cluster: &str,
        name: &str,
        desired: i32,
        task_definition: Option<&str>,
    ) -> Result<(), AwsError>;
    /// Deletes a service (forced: it need not be scaled to 0 first); gone is fine.
    async fn delete_service(&self, cluster: &str, name: &str) -> Result<(), AwsError>;
}

/// The SDK-backed ECS adapter.
pub struct SdkEcs {
    pub(super) account: AwsAccount,
    pub(super) client: aws_sdk_ecs::Client,
}

impl SdkEcs {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_ecs::Client::new(&account.config) }
    }
}

pub(super) fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn owner_of(tags: &[Tag]) -> Option<String> {
    tags.iter().find(|tag| tag.key() == Some(super::tags::UID)).and_then(|tag| tag.value()).map(str::to_owned)
}

fn insights() -> ClusterSetting {
    ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(CONTAINER_INSIGHTS).build()
}

fn cluster_of(c: &aws_sdk_ecs::types::Cluster, owner: Option<String>) -> Cluster {
    Cluster {
        name: c.cluster_name().unwrap_or_default().to_owned(),
        arn: c.cluster_arn().unwrap_or_default().to_owned(),
        status: c.status().unwrap_or_default().to_owned(),
        capacity_providers: c.capacity_providers().to_vec(),
        owner,
        container_insights: c
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .map(str::to_owned),
        default_strategy: c
            .default_capacity_provider_strategy()
            .iter()
            .map(|item| (item.capacity_provider().to_owned(), item.weight(), item.base()))
            .collect(),
    }
}

pub(super) fn invalid(operation: &'static str, error: impl std::fmt::Display) -> AwsError {
    AwsError::malformed(operation, &error.to_string())
}

#[async_trait]
impl EcsApi for SdkEcs {
    async fn describe_clusters(&self, names: &[String]) -> Result<Vec<Cluster>, AwsError> {
        let mut clusters = Vec::new();
        for chunk in names.chunks(CLUSTERS_PER_DESCRIBE) {
            let request = self
                .client
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .include(ClusterField::Tags)
                .include(ClusterField::Settings)
                .send();
            let output = self.account.call("ecs:DescribeClusters", ApiFamily::EcsRead, request).await?;
            clusters.extend(
                output
                    .clusters()
                    .iter()
                    .filter(|c| c.status() != Some("INACTIVE"))
                    .map(|c| cluster_of(c, owner_of(c.tags()))),
            );
        }
        Ok(clusters)
    }

    async fn create_cluster(&self, name: &str, tag_set: &BTreeMap<String, String>) -> Result<Cluster, AwsError> {
        let request =
            self.client.create_cluster().cluster_name(name).settings(insights()).set_tags(Some(tags(tag_set))).send();
        let output = self.account.call("ecs:CreateCluster", ApiFamily::EcsWrite, request).await?;
        let cluster = output.cluster().ok_or_else(|| AwsError::malformed("ecs:CreateCluster", "no Cluster"))?;
        Ok(cluster_of(cluster, tag_set.get(super::tags::UID).cloned()))
    }

    async fn delete_cluster(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_cluster().cluster(name).send();
        gone_is_fine(self.account.call("ecs:DeleteCluster", ApiFamily::EcsWrite, request).await.map(|_| ()))
    }

    async fn register_controller_task(
        &self,
        task: &ControllerTask,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        super::ecs_tasks::register_controller_task(self, task, tag_set).await
    }

    async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError> {
        let request = self.client.deregister_task_definition().task_definition(arn).send();
        gone_is_fine(self.account.call("ecs:DeregisterTaskDefinition", ApiFamily::EcsWrite, request).await.map(|_| ()))
    }

    async fn set_cluster_settings(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.update_cluster().cluster(name).settings(insights()).send();
        self.account.call("ecs:UpdateCluster", ApiFamily::EcsWrite, request).await.map(|_| ())
    }

    async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<Vec<Service>, AwsError> {
        super::ecs_services::describe_services(self, cluster, names).await
    }

    async fn create_controller_service(
        &self,
        service: &ControllerService,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<Service, AwsError> {
        super::ecs_services::create_controller_service(self, service, tag_set).await
    }

    async fn update_controller_service(&self, service: &ControllerService) -> Result<(), AwsError> {
        super::ecs_services::update_controller_service(self, service).await
    }

    async fn update_service(
        &self,
        cluster: &str,
        name: &str,
        desired: i32,
        task_definition: Option<&str>,
    ) -> Result<(), AwsError> {
        super::ecs_services::update_service(self, cluster, name, desired, task_definition).await
    }

    async fn stopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<StoppedTask>, AwsError> {
        super::ecs_services::stopped_tasks(self, cluster, service).await
    }

    async fn delete_service(&self, cluster: &str, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_service().cluster(cluster).service(name).force(true).send();
        gone_is_fine(self.account.call("ecs:DeleteService", ApiFamily::EcsServiceWrite, request).await.map(|_| ()))
    }

    async fn describe_capacity_providers(&self, names: &[String]) -> Result<Vec<CapacityProvider>, AwsError> {
        let mut providers = Vec::new();
        for chunk in names.chunks(CAPACITY_PROVIDERS_PER_DESCRIBE) {
            let request = self
                .client
                .describe_capacity_providers()
                .set_capacity_providers(Some(chunk.to_vec()))
                .include(CapacityProviderField::Tags)
                .send();
            let output = self.account.call("ecs:DescribeCapacityProviders", ApiFamily::EcsRead, request).await?;
            providers.extend(output.capacity_providers().iter().filter_map(capacity_provider_of));
        }
        Ok(providers)
    }

    async fn create_capacity_provider(
        &self,
        name: &str,
        auto_scaling_group_arn: &str,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<CapacityProvider, AwsError> {
        let operation = "ecs:CreateCapacityProvider";
        let provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(auto_scaling_group_arn)
            .managed_scaling(managed_scaling(&PROVIDER_SETTINGS))
            .managed_termination_protection(termination_protection(PROVIDER_SETTINGS.termination_protection))
            .managed_draining(draining(PROVIDER_SETTINGS.draining))
            .build()
            .map_err(|e| invalid(operation, e))?;
        let request = self
            .client
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(provider)
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = match self.account.call(operation, ApiFamily::EcsWrite, request).await {
            // ECS says "The specified capacity provider already exists" as a ClientException.
            Err(error) if error.message.contains("already exists") => {
                return Err(AwsError { kind: AwsErrorKind::AlreadyExists, ..error });
            }
            other => other?,
        };
        output
            .capacity_provider()
            .and_then(capacity_provider_of)
            .ok_or_else(|| AwsError::malformed(operation, "no CapacityProvider"))
    }

    async fn update_capacity_provider(&self, name: &str, settings: &ProviderSettings) -> Result<(), AwsError> {
        let operation = "ecs:UpdateCapacityProvider";
        let update = AutoScalingGroupProviderUpdate::builder()
            .managed_scaling(managed_scaling(settings))
            .managed_termination_protection(termination_protection(settings.termination_protection))
            .managed_draining(draining(settings.draining))
            .build();
        let request = self.client.update_capacity_provider().name(name).auto_scaling_group_provider(update).send();
        self.account.call(operation, ApiFamily::EcsWrite, request).await.map(|_| ())
    }

    async fn put_cluster_capacity_providers(&self, cluster: &str, providers: &[String]) -> Result<(), AwsError> {
        let operation = "ecs:PutClusterCapacityProviders";
        let strategy = providers
            .first()
            .map(|first| CapacityProviderStrategyItem::builder().capacity_provider(first).weight(1).base(0).build())
            .transpose()
            .map_err(|e| invalid(operation, e))?;
        let request = self
            .client
            .put_cluster_capacity_providers()
            .cluster(cluster)
            .set_capacity_providers(Some(providers.to_vec()))
            .set_default_capacity_provider_strategy(Some(strategy.into_iter().collect()))
            .send();
        self.account.call(operation, ApiFamily::EcsWrite, request).await.map(|_| ())
    }

    async fn delete_capacity_provider(&self, name: &str) -> Result<(), AwsError> {
        let request = self.client.delete_capacity_provider().capacity_provider(name).send();
        match self.account.call("ecs:DeleteCapacityProvider", ApiFamily::EcsWrite, request).await {
            // ECS says "The specified capacity provider does not exist" as a ClientException.
            Err(error) if error.message.contains("does not exist") => Ok(()),
            other => gone_is_fine(other.map(|_| ())),
        }
    }

    async fn latest_task_definition(&self, family: &str) -> Result<Option<TaskDefinitionRevision>, AwsError> {
        let request =
            self.client.describe_task_definition().task_definition(family).include(TaskDefinitionField::Tags).send();
        match self.account.call("ecs:DescribeTaskDefinition", ApiFamily::EcsRead, request).await {
            Ok(output) => Ok(output
                .task_definition()
                .filter(|d| d.status().map(|s| s.as_str()) != Some("INACTIVE"))
                .and_then(|definition| {
                    Some(TaskDefinitionRevision {
                        arn: definition.task_definition_arn()?.to_owned(),
                        tags: output
                            .tags()
                            .iter()
                            .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned())))
                            .collect(),
                    })
                })),
            Err(error) if error.kind == AwsErrorKind::NotFound || error.message.contains("Unable to describe") => {
                Ok(None)
            }
            // ECS answers an unknown family with a ClientException.
            Err(error) if error.code == "ClientException" => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn task_definition_revisions(&self, family: &str) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut next_token = None;
        loop {
            let request =
                self.client.list_task_definitions().family_prefix(family).set_next_token(next_token.take()).send();
            let output = self.account.call("ecs:ListTaskDefinitions", ApiFamily::EcsRead, request).await?;
            // familyPrefix is a prefix: keep exactly this family's revisions (`…:task-definition/<family>:<n>`).
            arns.extend(
                output
                    .task_definition_arns()
                    .iter()
                    .filter(|arn| {
                        arn.rsplit_once('/')
                            .and_then(|(_, tail)| tail.rsplit_once(':'))
                            .is_some_and(|(name, _)| name == family)
                    })
                    .cloned(),
            );
            match output.next_token() {
                Some(token) => next_token = Some(token.to_owned()),
                None => return Ok(arns),
            }
        }
    }

    async fn list_tasks(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let request = self.client.list_tasks().cluster(cluster).send();
        match self.account.call("ecs:ListTasks", ApiFamily::EcsRead, request).await {
            Ok(output) => Ok(output.task_arns().to_vec()),
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    async fn stop_task(&self, cluster: &str, task: &str) -> Result<(), AwsError> {
        let request = self.client.stop_task().cluster(cluster).task(task).reason("environment deleted").send();
        gone_is_fine(self.account.call("ecs:StopTask", ApiFamily::EcsWrite, request).await.map(|_| ()))
    }
}

fn capacity_provider_of(provider: &aws_sdk_ecs::types::CapacityProvider) -> Option<CapacityProvider> {
    let status = provider.status().map(|s| s.as_str().to_owned()).unwrap_or_default();
    if status == "INACTIVE" {
        return None;
    }
    Some(CapacityProvider {
        name: provider.name()?.to_owned(),
        arn: provider.capacity_provider_arn().unwrap_or_default().to_owned(),
        status,
        auto_scaling_group_arn: provider
            .auto_scaling_group_provider()
            .map(|p| p.auto_scaling_group_arn().to_owned())
            .unwrap_or_default(),
        update_status: provider.update_status().map(|s| s.as_str().to_owned()),
        owner: owner_of(provider.tags()),
        settings: provider.auto_scaling_group_provider().map(settings_of).unwrap_or_default(),
    })
}
