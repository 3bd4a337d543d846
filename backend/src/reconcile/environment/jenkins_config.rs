//! The controller's Jenkins configuration, generated: JCasC YAML (no builds on the controller, agent port
//! 50000, an admin whose password comes from the environment, never from this file, and one amazon-ecs cloud
//! whose `jenkinsUrl` and `tunnel` name the Cloud Map address) and the plugin list.

use serde_json::{json, Value};

use super::names::Names;
use crate::domain::object::JenkinsEnvironment;
use crate::store::cloud_profiles::ProfileRow;

/// Where JCasC is read from in the controller container: outside JENKINS_HOME, so a new configuration is
/// always the one applied (files under JENKINS_HOME persist on EFS and would shadow it), and somewhere the
/// image's user (uid 1000) may write, since the entry point wrapper writes it at start.
pub const CASC_PATH: &str = "/tmp/butler/casc/jenkins.yaml";
/// The environment variable the admin password comes from (a generated secret, injected by ECS).
pub const ADMIN_PASSWORD_VARIABLE: &str = "JENKINS_ADMIN_PASSWORD";
/// Seconds an idle agent is kept before the plugin stops it.
const AGENT_RETENTION_MINUTES: u32 = 5;
/// Seconds the plugin waits for an agent task to connect.
const AGENT_CONNECT_TIMEOUT_SECONDS: u32 = 900;

/// The generated configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsConfig {
    /// The JCasC document, YAML.
    pub casc: String,
    /// `plugins.txt` lines for jenkins-plugin-cli.
    pub plugins: Vec<String>,
    /// Where the controller reads `casc`.
    pub casc_path: &'static str,
}

/// Renders the configuration. `cluster_arn` is the ECS cluster once known (the plugin wants an ARN); until
/// then the cluster's name stands in. `agent_security_group` likewise once the group exists.
pub fn render(
    object: &JenkinsEnvironment,
    profile: &ProfileRow,
    cluster_arn: Option<&str>,
    agent_security_group: Option<&str>,
) -> Result<JenkinsConfig, serde_yaml_ng::Error> {
    let names = Names::of(object);
    let dns = names.controller_dns(&profile.namespace_name);
    let subnets: Vec<String> = serde_json::from_value(profile.subnet_ids.clone()).unwrap_or_default();
    let templates: Vec<Value> = object
        .spec
        .agents
        .templates
        .iter()
        .map(|template| {
            let mut entry = json!({
                "templateName": template.name,
                "label": template.label,
                "image": template.image,
                "launchType": "EC2",
                "networkMode": "awsvpc",
                "cpu": template.cpu,
                "memory": template.memory,
                "remoteFSRoot": "/home/jenkins",
                // ECS accepts role names for task and execution roles: no account id needed here.
                "taskrole": names.agent_role(),
                "executionRole": names.execution_role(),
                "logDriver": "awslogs",
                "logDriverOptions": [
                    { "name": "awslogs-group", "value": names.agents_log_group() },
                    { "name": "awslogs-region", "value": profile.region },
                    { "name": "awslogs-stream-prefix", "value": template.name }
                ],
                "subnets": subnets.join(","),
                "capacityProviderStrategies": [{ "provider": names.capacity_provider(), "base": 0, "weight": 1 }]
            });
            if let Some(group) = agent_security_group {
                entry["securityGroups"] = json!(group);
            }
            entry
        })
        .collect();
    let document = json!({
        "jenkins": {
            "systemMessage": format!(
                "Managed by Butler ({}/{}): changes made here are replaced by the environment's spec.",
                object.metadata.tenant, object.metadata.name
            ),
            "numExecutors": 0,
            "slaveAgentPort": 50000,
            "securityRealm": {
                "local": {
                    "allowsSignup": false,
                    "users": [{ "id": "admin", "password": format!("${{{ADMIN_PASSWORD_VARIABLE}}}") }]
                }
            },
            // Only the admin administers; signed-in users read. Never "every signed-in user is an admin".
            "authorizationStrategy": {
                "globalMatrix": {
                    "entries": [
                        { "user": { "name": "admin", "permissions": ["Overall/Administer"] } },
                        { "group": { "name": "authenticated", "permissions": ["Overall/Read"] } }
                    ]
                }
            },
            "clouds": [{
                "ecs": {
                    "name": names.agent_family_prefix(),
                    "credentialsId": "",
                    "cluster": cluster_arn.map(str::to_owned).unwrap_or_else(|| names.cluster()),
                    "regionName": profile.region,
                    "jenkinsUrl": format!("http://{dns}:8080/"),
                    "tunnel": format!("{dns}:50000"),
                    "numExecutors": 1,
                    "maxAgents": object.spec.agents.max_agents,
                    "retentionTimeout": AGENT_RETENTION_MINUTES,
                    "slaveTimeoutInSeconds": AGENT_CONNECT_TIMEOUT_SECONDS,
                    "templates": templates
                }
            }]
        },
        "unclassified": { "location": { "url": format!("http://{dns}:8080/") } }
    });
    Ok(JenkinsConfig {
        casc: serde_yaml_ng::to_string(&document)?,
        plugins: object.spec.controller.plugins.clone(),
        casc_path: CASC_PATH,
    })
}
