//! The controller's task definition as ECS takes it: the image with Butler's entry point, the EFS volume through
//! the access point with transit encryption and IAM authorization, ports 8080 and 50000, awslogs, the admin
//! password as a secret from SSM, the container health check. `ecs::SdkEcs` delegates here.

use aws_config::retry::RetryConfig;
use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    ContainerDefinition, EfsAuthorizationConfig, EfsAuthorizationConfigIam, EfsTransitEncryption,
    EfsVolumeConfiguration, HealthCheck, KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode,
    PortMapping, Secret, TransportProtocol, Volume,
};

use super::ecs::{invalid, tags, ControllerTask, SdkEcs};
use super::error::AwsError;
use super::limits::ApiFamily;

/// The Jenkins web port and the agents' port.
const PORTS: [i32; 2] = [8080, 50000];
/// Where JENKINS_HOME is in the official image.
const JENKINS_HOME: &str = "/var/jenkins_home";

pub(super) async fn register_controller_task(
    ecs: &SdkEcs,
    task: &ControllerTask,
    tag_set: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let operation = "ecs:RegisterTaskDefinition";
    let efs = EfsVolumeConfiguration::builder()
        .file_system_id(&task.file_system_id)
        // With an access point the root must be "/" (the access point's root is JENKINS_HOME).
        .root_directory("/")
        .transit_encryption(EfsTransitEncryption::Enabled)
        .authorization_config(
            EfsAuthorizationConfig::builder()
                .access_point_id(&task.access_point_id)
                .iam(EfsAuthorizationConfigIam::Enabled)
                .build(),
        )
        .build()
        .map_err(|e| invalid(operation, e))?;
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &task.log_group)
        .options("awslogs-region", &task.region)
        .options("awslogs-stream-prefix", "controller")
        .build()
        .map_err(|e| invalid(operation, e))?;
    let container = ContainerDefinition::builder()
        .name("jenkins")
        .image(&task.image)
        .essential(true)
        .set_port_mappings(Some(
            PORTS
                .iter()
                .map(|port| PortMapping::builder().container_port(*port).protocol(TransportProtocol::Tcp).build())
                .collect(),
        ))
        .mount_points(MountPoint::builder().source_volume("jenkins-home").container_path(JENKINS_HOME).build())
        .set_environment(Some(
            task.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect(),
        ))
        .set_secrets(Some(
            task.secrets
                .iter()
                .map(|(name, from)| Secret::builder().name(name).value_from(from).build())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(operation, e))?,
        ))
        .set_entry_point((!task.entry_point.is_empty()).then(|| task.entry_point.clone()))
        .set_health_check(
            (!task.health_check.is_empty())
                .then(|| {
                    // 5 minutes to start (plugins download first: AWS's maximum start period), then a failing
                    // answer three times 30 s apart marks the task unhealthy and ECS replaces it.
                    HealthCheck::builder()
                        .set_command(Some(task.health_check.clone()))
                        .interval(30)
                        .timeout(5)
                        .retries(3)
                        .start_period(300)
                        .build()
                        .map_err(|e| invalid(operation, e))
                })
                .transpose()?,
        )
        .log_configuration(logs)
        .build();
    let request = ecs
        .client
        .register_task_definition()
        .family(&task.family)
        .network_mode(NetworkMode::Awsvpc)
        .task_role_arn(&task.task_role)
        .execution_role_arn(&task.execution_role)
        .cpu(task.cpu.to_string())
        .memory(task.memory.to_string())
        .container_definitions(container)
        .volumes(Volume::builder().name("jenkins-home").efs_volume_configuration(efs).build())
        .set_tags(Some(tags(tag_set)))
        // Not retried by the SDK: RegisterTaskDefinition has no idempotency token, so a retry of one whose answer
        // was lost registers a second revision. The next pass retries instead, and it looks first: the latest
        // revision carrying this definition's hash is taken as made.
        .customize()
        .config_override(aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()))
        .send();
    let output = ecs.account.call(operation, ApiFamily::EcsRegisterTaskDefinition, request).await?;
    output
        .task_definition()
        .and_then(|definition| definition.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::malformed(operation, "no TaskDefinitionArn"))
}
