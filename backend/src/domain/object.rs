//! The `JenkinsEnvironment` object as the API serves it: metadata, spec, status with conditions, and events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::spec::JenkinsEnvironmentSpec;

/// A JenkinsEnvironment as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsEnvironment {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: JenkinsEnvironmentSpec,
    pub status: JenkinsEnvironmentStatus,
}

/// Server-managed metadata (Kubernetes conventions; `tenant` plays the namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub tenant: String,
    pub name: String,
    pub uid: Uuid,
    /// Bumped on every spec change.
    pub generation: i64,
    /// Opaque to clients: compare for equality, send back for optimistic concurrency, resume watches from it.
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub finalizers: Vec<String>,
    pub creation_timestamp: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<DateTime<Utc>>,
}

/// Where an environment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Phase {
    #[default]
    Pending,
    Provisioning,
    Ready,
    Degraded,
    Deleting,
    Failed,
}

impl Phase {
    /// The name the API writes (and the console shows and filters by).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Provisioning => "Provisioning",
            Self::Ready => "Ready",
            Self::Degraded => "Degraded",
            Self::Deleting => "Deleting",
            Self::Failed => "Failed",
        }
    }
}

/// True, False or Unknown, as Kubernetes conditions say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// One observed aspect of the environment (StorageReady, DiscoveryReady, CapacityReady, ControllerReady, Ready).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub condition_type: String,
    pub status: ConditionStatus,
    /// CamelCase, for machines.
    pub reason: String,
    /// For people.
    pub message: String,
    /// Changes only when `status` flips.
    pub last_transition_time: DateTime<Utc>,
    pub observed_generation: i64,
}

/// What Butler built for the environment, once known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentOutputs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_dns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    /// The environment's Cloud Map service (the controller's DNS name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_service_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_service_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_arn: Option<String>,
    /// The controller's task definition revision the service runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group: Option<String>,
    /// The agents' security group (the Jenkins configuration names it for every agent task).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents_security_group_id: Option<String>,
    /// The shared load balancer the environment is placed on (a profile with ingress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    /// The environment's target group behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// The environment's client id at Butler's OpenID Connect provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_client_id: Option<String>,
    /// The SSM parameter holding its client secret (never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_client_secret_parameter: Option<String>,
    /// The provider Jenkins signs people in with (Butler's public URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
    /// Which secret the controller runs with (a rotation makes a new one and rolls the controller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_secret_version: Option<i32>,
    /// The hash of the JCasC the running controller applied (at its start, or at Butler's last reload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_hash: Option<String>,
}

/// The observed state, written only by Butler (the `/status` subresource).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsEnvironmentStatus {
    pub phase: Phase,
    /// The generation the status describes; behind `metadata.generation` while a change is being applied.
    pub observed_generation: i64,
    pub conditions: Vec<Condition>,
    pub outputs: EnvironmentOutputs,
    /// The container instances of the environment's ASG at the last look.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceStatus>,
    /// When the reconciler last looked at AWS for this environment, so a stalled reconciler is visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<DateTime<Utc>>,
    /// The names of the environment's AWS resources, given when it was created and never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_names: Option<super::aws_names::Names>,
    /// When a full pass last read every resource's content and found it (or put it back) as the spec says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_content_check_time: Option<DateTime<Utc>>,
    /// While the environment is first provisioned: what earlier passes made, so later ones neither look it up
    /// nor make it again. Dropped once it has converged (from then on passes read what they compare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<ProvisioningRecord>,
    /// A change that restarts the controller, while it waits for builds, rolls, or after ECS rolled it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// Where a restart-needing change of the controller stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// The task definition revision being rolled out.
    pub revision: String,
    pub phase: RolloutPhase,
    /// When this phase began.
    pub since: DateTime<Utc>,
    /// Draining: when the change rolls even if builds still run (`spec.controller.drainTimeoutSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// Draining: builds running at the last look (None while Jenkins does not answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_builds: Option<u32>,
    /// In words, for people.
    pub message: String,
}

/// The phases of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutPhase {
    /// Jenkins is in quiet-down; the change waits for running builds or the drain timeout.
    Draining,
    /// ECS is replacing the controller with the new revision.
    Rolling,
    /// The new revision never became healthy; ECS's circuit breaker went back to the previous one, which runs.
    RolledBack,
}

/// What the first provisioning of an environment has made so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningRecord {
    /// The generation being provisioned: a spec change meanwhile voids the record.
    pub generation: i64,
    /// What was made (`role/<name>`, `securityGroup/agents`, …) and its id.
    pub made: std::collections::BTreeMap<String, String>,
}

/// One container instance of the environment's Auto Scaling Group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    pub id: String,
    pub instance_type: String,
    pub availability_zone: String,
    /// The ASG's lifecycle state (`InService`, `Pending`, `Terminating`, …).
    pub lifecycle_state: String,
}

/// Normal or Warning, as Kubernetes events say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Something that happened to an environment; repeats are folded into `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_is_shown_as_the_api_writes_it() {
        for phase in
            [Phase::Pending, Phase::Provisioning, Phase::Ready, Phase::Degraded, Phase::Deleting, Phase::Failed]
        {
            assert_eq!(serde_json::to_value(phase).expect("phase"), phase.as_str());
        }
    }
}
