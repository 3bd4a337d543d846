//! In-memory ECS, Auto Scaling, SSM and Secrets Manager for what the emulator cannot show: a controller task
//! pending before it runs, an ASG that takes time to delete, a Spot instance replaced, a cluster that refuses to
//! go while something still uses it, a new revision ECS's circuit breaker rolls back.

use std::collections::BTreeMap;

use async_trait::async_trait;
use butler::aws::autoscaling::{AutoScalingApi, Group, GroupInstance, GroupSpec};
use butler::aws::ecs::{
    CapacityProvider, Cluster, ControllerService, ControllerTask, EcsApi, ProviderSettings, Service, StoppedTask,
    TaskDefinitionRevision, PROVIDER_SETTINGS,
};
use butler::aws::secrets::{SecretDescription, SecretSummary, SecretValue, SecretsApi};
use butler::aws::ssm::SsmApi;
use butler::aws::tags::UID;
use butler::aws::{AwsError, AwsErrorKind};

use crate::fakes::FakeAws;

fn conflict(operation: &'static str, code: &str) -> AwsError {
    AwsError { kind: AwsErrorKind::Conflict, operation, code: code.into(), message: "in use".into() }
}

impl FakeAws {
    /// Replaces instance `old` of `group` with a new one, as the ASG does after a Spot reclaim.
    pub fn replace_instance(&self, group: &str, old: &str) -> String {
        let mut state = self.state();
        let new_id = state.id("i");
        let (found, _) = state.groups.get_mut(group).expect("group");
        let instance = found.instances.iter_mut().find(|i| i.id == old).expect("instance");
        instance.id = new_id.clone();
        new_id
    }
}

#[async_trait]
impl EcsApi for FakeAws {
    async fn describe_clusters(&self, names: &[String]) -> Result<Vec<Cluster>, AwsError> {
        let state = self.state();
        Ok(names.iter().filter_map(|name| state.clusters.get(name).cloned()).collect())
    }
    async fn create_cluster(&self, name: &str, t: &BTreeMap<String, String>) -> Result<Cluster, AwsError> {
        let mut state = self.state();
        state.check("ecs:CreateCluster")?;
        if let Some(existing) = state.clusters.get(name) {
            return Ok(existing.clone());
        }
        let cluster = Cluster {
            name: name.to_owned(),
            arn: format!("arn:aws:ecs:eu-west-1:000000000000:cluster/{name}"),
            status: "ACTIVE".into(),
            capacity_providers: Vec::new(),
            owner: t.get(UID).cloned(),
            container_insights: Some(butler::aws::ecs::CONTAINER_INSIGHTS.to_owned()),
            default_strategy: Vec::new(),
        };
        state.clusters.insert(name.to_owned(), cluster.clone());
        state.created("ecs:CreateCluster");
        Ok(cluster)
    }
    async fn delete_cluster(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        let busy = state.ecs_services.keys().any(|(cluster, _)| cluster == name)
            || state.groups.values().any(|(group, _)| !group.instances.is_empty());
        if busy {
            return Err(conflict("ecs:DeleteCluster", "ClusterContainsContainerInstancesException"));
        }
        if state.clusters.remove(name).is_some() {
            state.mutated("ecs:DeleteCluster");
        }
        Ok(())
    }
    async fn describe_capacity_providers(&self, names: &[String]) -> Result<Vec<CapacityProvider>, AwsError> {
        let state = self.state();
        Ok(names.iter().filter_map(|name| state.capacity_providers.get(name).cloned()).collect())
    }
    async fn create_capacity_provider(
        &self,
        name: &str,
        auto_scaling_group_arn: &str,
        t: &BTreeMap<String, String>,
    ) -> Result<CapacityProvider, AwsError> {
        let mut state = self.state();
        let provider = CapacityProvider {
            name: name.to_owned(),
            arn: format!("arn:aws:ecs:eu-west-1:000000000000:capacity-provider/{name}"),
            status: "ACTIVE".into(),
            auto_scaling_group_arn: auto_scaling_group_arn.to_owned(),
            update_status: None,
            owner: t.get(UID).cloned(),
            settings: PROVIDER_SETTINGS,
        };
        state.capacity_providers.insert(name.to_owned(), provider.clone());
        state.created("ecs:CreateCapacityProvider");
        Ok(provider)
    }
    async fn update_capacity_provider(&self, name: &str, settings: &ProviderSettings) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("ecs:UpdateCapacityProvider");
        if let Some(provider) = state.capacity_providers.get_mut(name) {
            provider.settings = *settings;
        }
        Ok(())
    }
    async fn put_cluster_capacity_providers(&self, cluster: &str, providers: &[String]) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("ecs:PutClusterCapacityProviders");
        if let Some(found) = state.clusters.get_mut(cluster) {
            found.capacity_providers = providers.to_vec();
            found.default_strategy = providers.first().map(|p| Cluster::wanted_strategy(p)).unwrap_or_default();
        }
        Ok(())
    }
    async fn delete_capacity_provider(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        if state.clusters.values().any(|c| c.capacity_providers.iter().any(|p| p == name)) {
            return Err(conflict("ecs:DeleteCapacityProvider", "ResourceInUse"));
        }
        if state.capacity_providers.remove(name).is_some() {
            state.mutated("ecs:DeleteCapacityProvider");
        }
        Ok(())
    }
    async fn register_controller_task(
        &self,
        task: &ControllerTask,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut state = self.state();
        state.check("ecs:RegisterTaskDefinition")?;
        let revisions = state.task_definitions.entry(task.family.clone()).or_default();
        let arn = format!("arn:aws:ecs:eu-west-1:000000000000:task-definition/{}:{}", task.family, revisions.len() + 1);
        revisions.push((arn.clone(), tags.clone(), true));
        state.last_controller_task = Some(task.clone());
        state.created("ecs:RegisterTaskDefinition");
        Ok(arn)
    }
    async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("ecs:DeregisterTaskDefinition");
        for revisions in state.task_definitions.values_mut() {
            for revision in revisions.iter_mut().filter(|r| r.0 == arn) {
                revision.2 = false;
            }
        }
        Ok(())
    }
    async fn latest_task_definition(&self, family: &str) -> Result<Option<TaskDefinitionRevision>, AwsError> {
        let state = self.state();
        // An ARN names one revision (DescribeTaskDefinition takes a family, family:revision or an ARN).
        if family.starts_with("arn:") {
            return Ok(state
                .task_definitions
                .values()
                .flatten()
                .find(|r| r.0 == family && r.2)
                .map(|(arn, tags, _)| TaskDefinitionRevision { arn: arn.clone(), tags: tags.clone() }));
        }
        Ok(state.task_definitions.get(family).and_then(|revisions| {
            revisions
                .iter()
                .rev()
                .find(|r| r.2)
                .map(|(arn, tags, _)| TaskDefinitionRevision { arn: arn.clone(), tags: tags.clone() })
        }))
    }
    async fn task_definition_revisions(&self, family: &str) -> Result<Vec<String>, AwsError> {
        let state = self.state();
        Ok(state
            .task_definitions
            .get(family)
            .map(|revisions| revisions.iter().filter(|r| r.2).map(|r| r.0.clone()).collect())
            .unwrap_or_default())
    }
    async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<Vec<Service>, AwsError> {
        let mut state = self.state();
        let start_after = state.service_start_after;
        let (state_crash, unhealthy) = (state.controller_crash.clone(), state.jenkins_unhealthy);
        let mut found = Vec::new();
        for name in names {
            let key = (cluster.to_owned(), name.clone());
            let rollback = state.pending_rollbacks.get(&key).cloned();
            if let Some((service, looks)) = state.ecs_services.get_mut(&key) {
                *looks += 1;
                // The circuit breaker: the new revision's tasks failed; ECS marks its deployment FAILED and goes
                // back to the revision that ran, whose deployment completes.
                if let Some((previous, failed)) = rollback.filter(|_| *looks > start_after) {
                    service.task_definition = previous;
                    service.failed_deployments =
                        vec![(failed, "ECS deployment circuit breaker: tasks failed to start.".into())];
                    service.running = service.desired;
                    service.pending = 0;
                    service.rollout_state = Some("COMPLETED".into());
                    found.push(service.clone());
                    state.pending_rollbacks.remove(&key);
                    continue;
                }
                // The scheduler: pending for a while, then running = desired; the deployment completes once the
                // container's health check passes (never, while Jenkins does not answer). A crash-looping task
                // never stays running and counts up the deployment's failed tasks.
                if state_crash.is_some() {
                    service.running = 0;
                    service.pending = service.desired;
                    service.failed_tasks += 1;
                    service.rollout_state = Some("IN_PROGRESS".into());
                } else if *looks > start_after {
                    service.running = service.desired;
                    service.pending = 0;
                    let healthy = !unhealthy;
                    service.rollout_state = Some(if healthy { "COMPLETED" } else { "IN_PROGRESS" }.into());
                    service.rollout_reason = (!healthy).then(|| "waiting for the task to pass its health check".into());
                } else {
                    service.pending = service.desired - service.running;
                }
                found.push(service.clone());
            }
        }
        Ok(found)
    }
    async fn create_controller_service(
        &self,
        service: &ControllerService,
        _t: &BTreeMap<String, String>,
    ) -> Result<Service, AwsError> {
        let mut state = self.state();
        state.check("ecs:CreateService")?;
        let created = Service {
            name: service.name.clone(),
            arn: format!("arn:aws:ecs:eu-west-1:000000000000:service/{}/{}", service.cluster, service.name),
            status: "ACTIVE".into(),
            desired: 1,
            running: 0,
            pending: 1,
            task_definition: service.task_definition.clone(),
            rollout_state: Some("IN_PROGRESS".into()),
            rollout_reason: None,
            failed_tasks: 0,
            network: Some(service.network()),
            registries: vec![service.registry_arn.clone()],
            target_groups: service.target_group.iter().cloned().collect(),
            circuit_breaker: Some((true, true)),
            failed_deployments: Vec::new(),
        };
        state.ecs_services.insert((service.cluster.clone(), service.name.clone()), (created.clone(), 0));
        state.created("ecs:CreateService");
        Ok(created)
    }
    async fn set_cluster_settings(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("ecs:UpdateCluster");
        if let Some(found) = state.clusters.get_mut(name) {
            found.container_insights = Some(butler::aws::ecs::CONTAINER_INSIGHTS.to_owned());
        }
        Ok(())
    }
    async fn update_controller_service(&self, desired: &ControllerService) -> Result<(), AwsError> {
        self.update_service(&desired.cluster, &desired.name, 1, Some(&desired.task_definition)).await?;
        let mut state = self.state();
        if let Some((service, _)) = state.ecs_services.get_mut(&(desired.cluster.clone(), desired.name.clone())) {
            service.network = Some(desired.network());
            service.registries = vec![desired.registry_arn.clone()];
        }
        Ok(())
    }
    async fn update_service(
        &self,
        cluster: &str,
        name: &str,
        desired: i32,
        task_definition: Option<&str>,
    ) -> Result<(), AwsError> {
        let mut state = self.state();
        state.check("ecs:UpdateService")?;
        state.mutated("ecs:UpdateService");
        let key = (cluster.to_owned(), name.to_owned());
        let failing = state.new_revisions_fail;
        let (service, looks) = state
            .ecs_services
            .get_mut(&(cluster.to_owned(), name.to_owned()))
            .ok_or_else(|| crate::fakes::not_found("ecs:UpdateService"))?;
        service.desired = desired;
        service.running = service.running.min(desired);
        let mut rollback = None;
        if let Some(definition) = task_definition {
            if failing && service.task_definition != definition {
                rollback = Some((service.task_definition.clone(), definition.to_owned()));
            }
            service.task_definition = definition.to_owned();
            service.rollout_state = Some("IN_PROGRESS".into()); // a new deployment
            service.failed_deployments.clear();
        }
        *looks = 0;
        if let Some(rollback) = rollback {
            state.pending_rollbacks.insert(key, rollback);
        }
        Ok(())
    }
    async fn delete_service(&self, cluster: &str, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        if state.ecs_services.remove(&(cluster.to_owned(), name.to_owned())).is_some() {
            state.mutated("ecs:DeleteService");
        }
        Ok(())
    }
    async fn list_tasks(&self, _cluster: &str) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn stopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<StoppedTask>, AwsError> {
        let state = self.state();
        let running =
            state.ecs_services.get(&(cluster.to_owned(), service.to_owned())).map(|(s, _)| s.task_definition.clone());
        Ok(state
            .controller_crash
            .clone()
            .map(|crash| StoppedTask { task_definition: running.unwrap_or_default(), ..crash })
            .into_iter()
            .collect())
    }
    async fn stop_task(&self, _cluster: &str, _task: &str) -> Result<(), AwsError> {
        Ok(())
    }
}

#[async_trait]
impl AutoScalingApi for FakeAws {
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<Group>, AwsError> {
        let mut state = self.state();
        state.check("autoscaling:DescribeAutoScalingGroups")?;
        let mut found = Vec::new();
        for name in names {
            let Some((group, deleting)) = state.groups.get_mut(name) else { continue };
            match deleting {
                Some(0) => {
                    state.groups.remove(name);
                }
                Some(left) => {
                    *left -= 1;
                    found.push(group.clone());
                }
                None => found.push(group.clone()),
            }
        }
        Ok(found)
    }
    async fn create_group(&self, spec: &GroupSpec, tag_set: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let mut state = self.state();
        state.check("autoscaling:CreateAutoScalingGroup")?;
        if state.groups.contains_key(&spec.name) {
            return Err(AwsError {
                kind: AwsErrorKind::AlreadyExists,
                operation: "autoscaling:CreateAutoScalingGroup",
                code: "AlreadyExists".into(),
                message: String::new(),
            });
        }
        let instances = (0..spec.min)
            .map(|i| GroupInstance {
                id: state.id("i"),
                instance_type: spec.instance_types.first().cloned().unwrap_or_default(),
                availability_zone: format!("zone-{i}"),
                lifecycle_state: "InService".into(),
                protected_from_scale_in: true,
            })
            .collect();
        let group = Group {
            arn: format!(
                "arn:aws:autoscaling:eu-west-1:000000000000:autoScalingGroup:x:autoScalingGroupName/{}",
                spec.name
            ),
            spec: spec.clone(),
            desired: spec.min,
            instances,
            status: None,
            owner: tag_set.get(UID).cloned(),
        };
        state.groups.insert(spec.name.clone(), (group, None));
        state.created("autoscaling:CreateAutoScalingGroup");
        Ok(())
    }
    async fn update_group(&self, spec: &GroupSpec) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("autoscaling:UpdateAutoScalingGroup");
        if let Some((group, _)) = state.groups.get_mut(&spec.name) {
            group.spec = spec.clone();
        }
        Ok(())
    }
    async fn drain_group(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("autoscaling:UpdateAutoScalingGroup");
        if let Some((group, _)) = state.groups.get_mut(name) {
            group.spec.min = 0;
            group.spec.max = 0;
            group.desired = 0;
        }
        Ok(())
    }
    async fn unprotect_instances(&self, name: &str, instance_ids: &[String]) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("autoscaling:SetInstanceProtection");
        if let Some((group, _)) = state.groups.get_mut(name) {
            for instance in group.instances.iter_mut().filter(|i| instance_ids.contains(&i.id)) {
                instance.protected_from_scale_in = false;
            }
        }
        Ok(())
    }
    async fn force_delete_group(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("autoscaling:DeleteAutoScalingGroup");
        let settle_after = state.settle_after;
        if let Some((group, deleting)) = state.groups.get_mut(name) {
            // Instances terminate while the group shows "Delete in progress" for a few looks.
            group.status = Some("Delete in progress".into());
            group.instances.clear();
            deleting.get_or_insert(settle_after);
        }
        Ok(())
    }
}

#[async_trait]
impl SsmApi for FakeAws {
    async fn get_parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        if name.starts_with("/aws/service/ecs/") {
            return Ok((!self.state().no_ecs_ami).then(|| "ami-0fake0ecs0optimised".into()));
        }
        Ok(self.state().parameters.get(name).cloned())
    }
    async fn parameter_exists(&self, name: &str) -> Result<bool, AwsError> {
        Ok(self.state().parameters.contains_key(name))
    }
    async fn create_secret(&self, name: &str, value: &str, _t: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let mut state = self.state();
        if state.parameters.contains_key(name) {
            return Err(AwsError {
                kind: AwsErrorKind::AlreadyExists,
                operation: "ssm:PutParameter",
                code: "ParameterAlreadyExists".into(),
                message: String::new(),
            });
        }
        state.parameters.insert(name.to_owned(), value.to_owned());
        state.created("ssm:PutParameter");
        Ok(())
    }
    async fn overwrite_secret(&self, name: &str, value: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.parameters.insert(name.to_owned(), value.to_owned());
        state.mutated("ssm:PutParameter");
        Ok(())
    }
    async fn read_secret(&self, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.state().parameters.get(name).cloned())
    }
    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        if state.parameters.remove(name).is_some() {
            state.mutated("ssm:DeleteParameter");
        }
        Ok(())
    }
}

#[async_trait]
impl SecretsApi for FakeAws {
    async fn put_secret(
        &self,
        name: &str,
        _value: SecretValue<'_>,
        description: &str,
        tags: &BTreeMap<String, String>,
        _managed_tag_prefix: &str,
    ) -> Result<String, AwsError> {
        let mut state = self.state();
        state.mutated("secretsmanager:PutSecretValue");
        state.secrets.insert(name.to_owned(), (description.to_owned(), tags.clone()));
        Ok(format!("arn:aws:secretsmanager:eu-west-1:000000000000:secret:{name}-AbCdEf"))
    }
    async fn describe_secret(&self, name: &str) -> Result<Option<SecretDescription>, AwsError> {
        Ok(self.state().secrets.get(name).map(|(description, tags)| SecretDescription {
            arn: format!("arn:aws:secretsmanager:eu-west-1:000000000000:secret:{name}-AbCdEf"),
            description: description.clone(),
            tags: tags.clone(),
        }))
    }
    async fn list_secrets(&self, prefix: &str) -> Result<Vec<SecretSummary>, AwsError> {
        Ok(self
            .state()
            .secrets
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, (_, tags))| SecretSummary {
                name: name.clone(),
                arn: format!("arn:aws:secretsmanager:eu-west-1:000000000000:secret:{name}-AbCdEf"),
                tags: tags.clone(),
            })
            .collect())
    }
    async fn delete_secret(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        if state.secrets.remove(name).is_some() {
            state.mutated("secretsmanager:DeleteSecret");
        }
        Ok(())
    }
}
