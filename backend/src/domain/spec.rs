//! `JenkinsEnvironmentSpec`: what a team asks for, with the defaults Butler fills in and stores.
//!
//! Every field has a default so `spec: {}` is a complete, sensible environment; the stored spec always carries
//! the defaulted values so people see exactly what was applied. Unknown fields are rejected (422 with the path).

use serde::{Deserialize, Serialize};

/// The desired state of one Jenkins environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct JenkinsEnvironmentSpec {
    pub controller: ControllerSpec,
    pub agents: AgentsSpec,
    pub capacity: CapacitySpec,
    pub storage: StorageSpec,
    pub jenkins: JenkinsSpec,
}

/// The team's own part of the Jenkins configuration: JCasC merged under Butler's, and job-dsl seed jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct JenkinsSpec {
    /// JCasC YAML merged under the document Butler generates; the keys Butler sets are refused at admission.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub configuration_as_code: String,
    /// Git repositories of job-dsl scripts: one seed job each, run at start and on every change.
    pub seed_jobs: Vec<SeedJob>,
}

/// One seed job: job-dsl over the scripts `targets` matches in `repository` at `branch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SeedJob {
    /// The seed job is `seed-<name>` in Jenkins.
    pub name: String,
    /// An `https://` or `ssh://` (or `git@host:path`) Git URL.
    pub repository: String,
    pub branch: String,
    /// Ant-style glob of job-dsl scripts in the repository.
    pub targets: String,
    /// A credential of this environment (`…/credentials/{id}`) to clone with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_id: Option<String>,
    /// Also run on this Jenkins cron schedule (e.g. `H 3 * * *`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Also run when the repository notifies a push (the git plugin's `/git/notifyCommit`).
    pub on_push: bool,
}

impl Default for SeedJob {
    fn default() -> Self {
        Self {
            name: String::new(),
            repository: String::new(),
            branch: "main".to_owned(),
            targets: "jobs/**/*.groovy".to_owned(),
            credentials_id: None,
            schedule: None,
            on_push: false,
        }
    }
}

/// Where the controller task may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ControllerPlacement {
    /// Only on the on-demand base instance (placement constraint `attribute:lifecycle != spot`).
    #[default]
    OnDemand,
    /// Anywhere in the ASG, Spot included: cheaper, but a reclaimed instance restarts Jenkins.
    Any,
}

/// The Jenkins controller container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ControllerSpec {
    pub image: String,
    /// CPU units (1024 = one vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
    /// Jenkins plugin ids, optionally pinned as `id:version`.
    pub plugins: Vec<String>,
    /// IANA time zone name passed as `TZ`.
    pub timezone: String,
    pub java_opts: String,
    pub placement: ControllerPlacement,
    /// How long a change that restarts Jenkins waits for running builds (in quiet-down) before it rolls anyway.
    pub drain_timeout_seconds: u32,
}

/// Half an hour: most builds finish, and a change is not held back for a day by one stuck job.
pub(crate) const DEFAULT_DRAIN_TIMEOUT_SECONDS: u32 = 1800;

/// The plugins every Butler controller needs (configuration as code, the ECS cloud, pipelines).
pub(crate) const DEFAULT_PLUGINS: [&str; 9] = [
    "configuration-as-code",
    "amazon-ecs",
    "workflow-aggregator",
    "git",
    "job-dsl",
    "matrix-auth",
    "credentials-binding",
    "timestamper",
    "ws-cleanup",
];

/// JAVA_OPTS that skip the setup wizard (JCasC configures Jenkins) and make the node provisioner start agents
/// without the default delay, as the EC2 Spot CI/CD workshop does.
pub(crate) const DEFAULT_JAVA_OPTS: &str = "-Djenkins.install.runSetupWizard=false \
-Dhudson.slaves.NodeProvisioner.initialDelay=0 -Dhudson.slaves.NodeProvisioner.MARGIN=50 \
-Dhudson.slaves.NodeProvisioner.MARGIN0=0.85";

impl Default for ControllerSpec {
    fn default() -> Self {
        Self {
            image: "jenkins/jenkins:lts-jdk21".to_owned(),
            cpu: 1024,
            memory: 2048,
            plugins: DEFAULT_PLUGINS.iter().map(|p| (*p).to_owned()).collect(),
            timezone: "UTC".to_owned(),
            java_opts: DEFAULT_JAVA_OPTS.to_owned(),
            placement: ControllerPlacement::OnDemand,
            drain_timeout_seconds: DEFAULT_DRAIN_TIMEOUT_SECONDS,
        }
    }
}

/// Build agents, launched by the Jenkins amazon-ecs plugin as standalone ECS tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AgentsSpec {
    pub max_agents: u32,
    pub templates: Vec<AgentTemplate>,
}

impl Default for AgentsSpec {
    fn default() -> Self {
        Self { max_agents: 10, templates: vec![AgentTemplate::default()] }
    }
}

/// One amazon-ecs plugin agent template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AgentTemplate {
    pub name: String,
    /// The Jenkins label jobs use to ask for this agent.
    pub label: String,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
}

impl Default for AgentTemplate {
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            label: "ecs-agents".to_owned(),
            image: "jenkins/inbound-agent:latest-jdk21".to_owned(),
            cpu: 512,
            memory: 1536,
        }
    }
}

/// How the Auto Scaling Group picks Spot capacity pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SpotAllocationStrategy {
    /// AWS's recommendation for CI/CD since 2022: low price from the pools least likely to be interrupted.
    #[default]
    PriceCapacityOptimized,
    CapacityOptimized,
    CapacityOptimizedPrioritized,
    LowestPrice,
}

impl SpotAllocationStrategy {
    /// The value the Auto Scaling API expects.
    pub(crate) fn as_aws(self) -> &'static str {
        match self {
            Self::PriceCapacityOptimized => "price-capacity-optimized",
            Self::CapacityOptimized => "capacity-optimized",
            Self::CapacityOptimizedPrioritized => "capacity-optimized-prioritized",
            Self::LowestPrice => "lowest-price",
        }
    }
}

/// The mixed-instances Auto Scaling Group: an on-demand base for the controller, Spot above it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CapacitySpec {
    /// Instance types of one size from many families: each is a separate Spot pool.
    pub instance_types: Vec<String>,
    pub on_demand_base: u32,
    pub on_demand_percent_above_base: u32,
    pub spot_allocation_strategy: SpotAllocationStrategy,
    pub capacity_rebalance: bool,
    pub min: u32,
    pub max: u32,
}

/// Six pools of one size (2 vCPU, 8 GiB): the diversification AWS recommends for Spot.
pub(crate) const DEFAULT_INSTANCE_TYPES: [&str; 6] =
    ["m5.large", "m5a.large", "m6i.large", "m6a.large", "m7i.large", "m7a.large"];

impl Default for CapacitySpec {
    fn default() -> Self {
        Self {
            instance_types: DEFAULT_INSTANCE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            on_demand_base: 1,
            on_demand_percent_above_base: 0,
            spot_allocation_strategy: SpotAllocationStrategy::PriceCapacityOptimized,
            capacity_rebalance: true,
            min: 1,
            max: 6,
        }
    }
}

/// EFS throughput mode for JENKINS_HOME.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ThroughputMode {
    /// Pays for what is used; no burst credits to run out under Jenkins' small-file load.
    #[default]
    Elastic,
    Bursting,
    Provisioned,
}

/// What happens to JENKINS_HOME when the environment is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeletionPolicy {
    /// Keep the EFS file system (jobs, build history, credentials) after the environment goes.
    #[default]
    Retain,
    /// Delete the file system with the environment.
    Delete,
}

/// JENKINS_HOME on EFS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct StorageSpec {
    pub throughput_mode: ThroughputMode,
    /// Only with `throughputMode: provisioned`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput_mibps: Option<u32>,
    pub deletion_policy: DeletionPolicy,
}
