//! ECS services: the controller's service as Butler wants it (one task, max 100 % / min 0 % so two controllers
//! never share JENKINS_HOME, the deployment circuit breaker with rollback, its subnets and security group, no public
//! address, its Cloud Map registry, never on Spot), how it is read back, created, put back, and why its tasks
//! stopped. `ecs::SdkEcs` delegates here.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus,
    LoadBalancer, NetworkConfiguration, PlacementConstraint, PlacementConstraintType, ServiceRegistry,
};

use super::ecs::{invalid, tags, SdkEcs};
use super::error::{AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// DescribeServices takes at most this many services a call.
const SERVICES_PER_DESCRIBE: usize = 10;
/// How long a new controller task may fail its health check before ECS counts it: Jenkins loads plugins first.
const HEALTH_CHECK_GRACE_SECONDS: i32 = 120;

/// Where a service's tasks are placed in the VPC.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceNetwork {
    /// Sorted.
    pub subnets: Vec<String>,
    /// Sorted.
    pub security_groups: Vec<String>,
    pub public_ip: bool,
}

/// A service as the reconciler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub task_definition: String,
    /// The primary deployment's rollout: `COMPLETED` once its tasks run and pass their health checks.
    pub rollout_state: Option<String>,
    pub rollout_reason: Option<String>,
    /// Tasks of the primary deployment that stopped (a crash loop counts up here).
    pub failed_tasks: i32,
    /// Its awsvpc network configuration, if it has one.
    pub network: Option<ServiceNetwork>,
    /// The ARNs of the Cloud Map services its tasks register in.
    pub registries: Vec<String>,
    /// The target groups its tasks register in (container `jenkins`, port 8080).
    pub target_groups: Vec<String>,
    /// The deployment circuit breaker: (enable, rollback), when the service reports one.
    pub circuit_breaker: Option<(bool, bool)>,
    /// Deployments ECS gave up on (`rolloutState` FAILED): their task definition and ECS's reason.
    pub failed_deployments: Vec<(String, String)>,
}

/// A controller task that stopped: why, and how its container exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedTask {
    pub reason: String,
    pub exit_code: Option<i32>,
    /// The revision it ran (a task stopped by a deployment ran the previous one).
    pub task_definition: String,
}

/// The controller's service, in Butler's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerService {
    pub cluster: String,
    pub name: String,
    pub task_definition: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub registry_arn: String,
    /// Idempotency token (CreateService `clientToken`).
    pub client_token: String,
    /// Keep the controller off Spot (`attribute:lifecycle != spot`).
    pub on_demand_only: bool,
    /// The target group of its load balancer, when the profile has ingress.
    pub target_group: Option<String>,
}

/// The container the load balancer sends to, and its port.
const CONTROLLER_CONTAINER: &str = "jenkins";
const CONTROLLER_PORT: i32 = 8080;

impl ControllerService {
    /// The network the service should report.
    pub fn network(&self) -> ServiceNetwork {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        ServiceNetwork {
            subnets: sorted(self.subnets.clone()),
            security_groups: sorted(self.security_groups.clone()),
            public_ip: false,
        }
    }

    /// What of `found` differs from this (the settings DescribeServices reports back), in words; empty when none.
    pub(crate) fn differences(&self, found: &Service) -> Vec<String> {
        let mut differences = Vec::new();
        if found.desired != 1 {
            differences.push(format!("desired count {} set back to 1", found.desired));
        }
        if found.task_definition != self.task_definition {
            differences.push(format!("task definition {}", self.task_definition));
        }
        if found.network.as_ref() != Some(&self.network()) {
            differences.push(format!("network {:?} set back", found.network));
        }
        if found.registries != [self.registry_arn.clone()] {
            differences.push(format!("Cloud Map registries {:?} set back", found.registries));
        }
        if found.target_groups != self.target_group.iter().cloned().collect::<Vec<_>>() {
            differences.push(format!("target groups {:?} set back to {:?}", found.target_groups, self.target_group));
        }
        differences
    }
}

fn network_configuration(
    operation: &'static str,
    service: &ControllerService,
) -> Result<NetworkConfiguration, AwsError> {
    let network = AwsVpcConfiguration::builder()
        .set_subnets(Some(service.subnets.clone()))
        .set_security_groups(Some(service.security_groups.clone()))
        // The controller is reached through the VPC (agents, the load balancer), never directly.
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| invalid(operation, e))?;
    Ok(NetworkConfiguration::builder().awsvpc_configuration(network).build())
}

fn placement(service: &ControllerService) -> Option<Vec<PlacementConstraint>> {
    // The controller stays on the on-demand base: a Spot reclaim must not restart Jenkins.
    service.on_demand_only.then(|| {
        vec![PlacementConstraint::builder()
            .r#type(PlacementConstraintType::MemberOf)
            .expression("attribute:lifecycle != spot")
            .build()]
    })
}

/// The load balancer entry of the service: the whole list (an update replaces it; empty removes it).
fn load_balancers(service: &ControllerService) -> Vec<LoadBalancer> {
    service
        .target_group
        .iter()
        .map(|arn| {
            LoadBalancer::builder()
                .target_group_arn(arn)
                .container_name(CONTROLLER_CONTAINER)
                .container_port(CONTROLLER_PORT)
                .build()
        })
        .collect()
}

/// One controller per JENKINS_HOME, ever: stop the old task before starting the new one. A revision whose tasks
/// never become healthy is rolled back by ECS to the last deployment that completed (the circuit breaker).
fn one_at_a_time() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .maximum_percent(100)
        .minimum_healthy_percent(0)
        .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
        .build()
}

pub(super) fn service_of(service: &aws_sdk_ecs::types::Service) -> Service {
    let primary = service.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
    let network = service.network_configuration().and_then(|n| n.awsvpc_configuration()).map(|vpc| {
        let mut subnets = vpc.subnets().to_vec();
        subnets.sort();
        let mut security_groups = vpc.security_groups().to_vec();
        security_groups.sort();
        ServiceNetwork { subnets, security_groups, public_ip: vpc.assign_public_ip() == Some(&AssignPublicIp::Enabled) }
    });
    Service {
        name: service.service_name().unwrap_or_default().to_owned(),
        arn: service.service_arn().unwrap_or_default().to_owned(),
        status: service.status().unwrap_or_default().to_owned(),
        desired: service.desired_count(),
        running: service.running_count(),
        pending: service.pending_count(),
        task_definition: service.task_definition().unwrap_or_default().to_owned(),
        rollout_state: primary.and_then(|d| d.rollout_state()).map(|s| s.as_str().to_owned()),
        rollout_reason: primary.and_then(|d| d.rollout_state_reason()).map(str::to_owned),
        failed_tasks: primary.map_or(0, |d| d.failed_tasks()),
        network,
        registries: service.service_registries().iter().filter_map(|r| r.registry_arn().map(str::to_owned)).collect(),
        target_groups: service
            .load_balancers()
            .iter()
            .filter_map(|l| l.target_group_arn().map(str::to_owned))
            .collect(),
        circuit_breaker: service
            .deployment_configuration()
            .and_then(|c| c.deployment_circuit_breaker())
            .map(|b| (b.enable(), b.rollback())),
        failed_deployments: service
            .deployments()
            .iter()
            .filter(|d| d.rollout_state().is_some_and(|s| s.as_str() == "FAILED"))
            .map(|d| {
                let reason = d.rollout_state_reason().unwrap_or("the deployment failed").to_owned();
                (d.task_definition().unwrap_or_default().to_owned(), reason)
            })
            .collect(),
    }
}

pub(super) async fn describe_services(ecs: &SdkEcs, cluster: &str, names: &[String]) -> Result<Vec<Service>, AwsError> {
    let mut services = Vec::new();
    for chunk in names.chunks(SERVICES_PER_DESCRIBE) {
        let request = ecs.client.describe_services().cluster(cluster).set_services(Some(chunk.to_vec())).send();
        let output = ecs.account.call("ecs:DescribeServices", ApiFamily::EcsRead, request).await?;
        services.extend(output.services().iter().filter(|s| s.status() != Some("INACTIVE")).map(service_of));
    }
    Ok(services)
}

pub(super) async fn create_controller_service(
    ecs: &SdkEcs,
    service: &ControllerService,
    tag_set: &BTreeMap<String, String>,
) -> Result<Service, AwsError> {
    let operation = "ecs:CreateService";
    let request = ecs
        .client
        .create_service()
        .cluster(&service.cluster)
        .service_name(&service.name)
        .task_definition(&service.task_definition)
        .desired_count(1)
        .client_token(&service.client_token)
        .deployment_configuration(one_at_a_time())
        .set_placement_constraints(placement(service))
        .network_configuration(network_configuration(operation, service)?)
        .service_registries(ServiceRegistry::builder().registry_arn(&service.registry_arn).build())
        .set_load_balancers(Some(load_balancers(service)))
        .health_check_grace_period_seconds(HEALTH_CHECK_GRACE_SECONDS)
        .set_tags(Some(tags(tag_set)))
        .send();
    let output = ecs.account.call(operation, ApiFamily::EcsServiceWrite, request).await?;
    output.service().map(service_of).ok_or_else(|| AwsError::malformed(operation, "no Service"))
}

/// Puts every setting of the controller's service back in one UpdateService (ECS starts a new deployment).
pub(super) async fn update_controller_service(ecs: &SdkEcs, service: &ControllerService) -> Result<(), AwsError> {
    let operation = "ecs:UpdateService";
    let request = ecs
        .client
        .update_service()
        .cluster(&service.cluster)
        .service(&service.name)
        .desired_count(1)
        .task_definition(&service.task_definition)
        .deployment_configuration(one_at_a_time())
        // An empty list removes constraints; None would leave whatever is there.
        .set_placement_constraints(Some(placement(service).unwrap_or_default()))
        .network_configuration(network_configuration(operation, service)?)
        .service_registries(ServiceRegistry::builder().registry_arn(&service.registry_arn).build())
        .set_load_balancers(Some(load_balancers(service)))
        .health_check_grace_period_seconds(HEALTH_CHECK_GRACE_SECONDS)
        .send();
    ecs.account.call(operation, ApiFamily::EcsServiceWrite, request).await.map(|_| ())
}

pub(super) async fn update_service(
    ecs: &SdkEcs,
    cluster: &str,
    name: &str,
    desired: i32,
    task_definition: Option<&str>,
) -> Result<(), AwsError> {
    let request = ecs
        .client
        .update_service()
        .cluster(cluster)
        .service(name)
        .desired_count(desired)
        .set_task_definition(task_definition.map(str::to_owned))
        .send();
    ecs.account.call("ecs:UpdateService", ApiFamily::EcsServiceWrite, request).await.map(|_| ())
}

pub(super) async fn stopped_tasks(ecs: &SdkEcs, cluster: &str, service: &str) -> Result<Vec<StoppedTask>, AwsError> {
    let request = ecs
        .client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .max_results(10)
        .send();
    let arns = match ecs.account.call("ecs:ListTasks", ApiFamily::EcsRead, request).await {
        Ok(output) => output.task_arns().to_vec(),
        Err(error) if error.kind == AwsErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let request = ecs.client.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send();
    let output = ecs.account.call("ecs:DescribeTasks", ApiFamily::EcsRead, request).await?;
    Ok(output
        .tasks()
        .iter()
        .map(|task| StoppedTask {
            reason: task.stopped_reason().unwrap_or("stopped").to_owned(),
            exit_code: task.containers().iter().find_map(|c| c.exit_code()),
            task_definition: task.task_definition_arn().unwrap_or_default().to_owned(),
        })
        .collect())
}
