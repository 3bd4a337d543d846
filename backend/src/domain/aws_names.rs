//! The names of an environment's AWS resources. They are injective — no two (tenant, environment) pairs share
//! one — and stable: an environment is given its names when it is created, they are recorded in its status
//! (`status.awsNames`), and every later pass uses the recorded names, so a change of scheme never re-creates
//! or orphans what exists.
//!
//! Scheme 2 (current) separates the tenant, the environment and the purpose with `_`, which neither a tenant
//! nor an environment name (DNS labels) can contain, so every name parses back into its parts. The Cloud Map
//! name is `<env>.<tenant>`: two DNS labels under the namespace, injective by the dot. IAM names carry the
//! whole uid (unique per environment, never chosen by a client).
//!
//! Scheme 1 (legacy) joined the parts with `-`, which is ambiguous (tenant `a-b`/env `c` and tenant `a`/env
//! `b-c` met on one cluster); environments created before scheme 2 keep it, and the `butler:uid` ownership
//! check keeps two of them from touching each other's resources.

use serde::{Deserialize, Serialize};

/// The scheme an environment's names were made with.
pub(crate) const CURRENT_SCHEME: u8 = 2;
/// The legacy scheme (before names were recorded).
pub(crate) const LEGACY_SCHEME: u8 = 1;

/// The recorded names of one environment's AWS resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Names {
    pub scheme: u8,
    cluster: String,
    /// The amazon-ecs plugin cloud's name: agent task definition families are `<this>-<template>`.
    agent_cloud: String,
    controller_role: String,
    agent_role: String,
    execution_role: String,
    instance_role: String,
    log_group_prefix: String,
    controller_security_group: String,
    agents_security_group: String,
    storage_security_group: String,
    discovery_service: String,
    launch_template: String,
    auto_scaling_group: String,
    capacity_provider: String,
    controller_family: String,
    admin_password_parameter: String,
    jenkins_home_root: String,
}

impl Names {
    /// The names a new environment gets (scheme 2).
    pub fn current(tenant: &str, environment: &str, uid: &uuid::Uuid) -> Self {
        let uid = uid.simple().to_string();
        let part = |purpose: &str| format!("butler-{tenant}_{environment}_{purpose}");
        Self {
            scheme: CURRENT_SCHEME,
            cluster: format!("butler-{tenant}_{environment}"),
            agent_cloud: part("agents"),
            controller_role: format!("butler-{uid}-controller"),
            agent_role: format!("butler-{uid}-agent"),
            execution_role: format!("butler-{uid}-execution"),
            instance_role: format!("butler-{uid}-instance"),
            log_group_prefix: format!("/butler/{tenant}/{environment}/"),
            controller_security_group: part("controller"),
            agents_security_group: part("agents"),
            storage_security_group: part("efs"),
            discovery_service: format!("{environment}.{tenant}"),
            launch_template: part("instances"),
            auto_scaling_group: part("asg"),
            capacity_provider: part("capacity"),
            controller_family: part("controller"),
            admin_password_parameter: format!("/butler/{tenant}/{environment}/admin-password"),
            jenkins_home_root: format!("/jenkins/{environment}"),
        }
    }

    /// The names environments got before names were recorded (scheme 1): kept by those environments only.
    pub fn legacy(tenant: &str, environment: &str, uid: &uuid::Uuid) -> Self {
        let short_uid = &uid.simple().to_string()[..12];
        let prefixed = |suffix: &str| format!("butler-{tenant}-{environment}-{suffix}");
        Self {
            scheme: LEGACY_SCHEME,
            cluster: format!("butler-{tenant}-{environment}"),
            agent_cloud: prefixed("agent"),
            controller_role: format!("butler-{short_uid}-controller"),
            agent_role: format!("butler-{short_uid}-agent"),
            execution_role: format!("butler-{short_uid}-execution"),
            instance_role: format!("butler-{short_uid}-instance"),
            log_group_prefix: format!("/butler/{tenant}/{environment}/"),
            controller_security_group: prefixed("controller"),
            agents_security_group: prefixed("agents"),
            storage_security_group: prefixed("efs"),
            discovery_service: format!("master-{tenant}-{environment}"),
            launch_template: prefixed("instances"),
            auto_scaling_group: prefixed("asg"),
            capacity_provider: prefixed("capacity"),
            controller_family: prefixed("controller"),
            admin_password_parameter: format!("/butler/{tenant}/{environment}/admin-password"),
            jenkins_home_root: format!("/jenkins/{environment}"),
        }
    }

    /// The names recorded in an environment's status, or the legacy names of an environment that has none
    /// recorded yet (it was created before names were recorded; its first pass records them).
    pub fn of(object: &super::object::JenkinsEnvironment) -> Self {
        let meta = &object.metadata;
        object.status.aws_names.clone().unwrap_or_else(|| Self::legacy(&meta.tenant, &meta.name, &meta.uid))
    }

    /// Every name Butler gives an AWS or DNS resource, with what it names (for tests and limits).
    pub fn all(&self) -> Vec<(&'static str, String)> {
        vec![
            ("cluster", self.cluster()),
            ("agent cloud", self.agent_family_prefix()),
            ("controller role", self.controller_role()),
            ("agent role", self.agent_role()),
            ("execution role", self.execution_role()),
            ("instance role", self.instance_role()),
            ("controller log group", self.controller_log_group()),
            ("agents log group", self.agents_log_group()),
            ("controller security group", self.controller_security_group()),
            ("agents security group", self.agents_security_group()),
            ("storage security group", self.storage_security_group()),
            ("discovery service", self.discovery_service()),
            ("launch template", self.launch_template()),
            ("auto scaling group", self.auto_scaling_group()),
            ("capacity provider", self.capacity_provider()),
            ("controller family", self.controller_family()),
            ("admin password parameter", self.admin_password_parameter()),
        ]
    }

    /// The ECS cluster.
    pub fn cluster(&self) -> String {
        self.cluster.clone()
    }

    /// The amazon-ecs plugin's cloud name; its agent task definition families start with this and a `-`.
    pub(crate) fn agent_family_prefix(&self) -> String {
        self.agent_cloud.clone()
    }

    /// The controller task's role (the amazon-ecs plugin's permissions).
    pub fn controller_role(&self) -> String {
        self.controller_role.clone()
    }

    /// The agent tasks' role.
    pub fn agent_role(&self) -> String {
        self.agent_role.clone()
    }

    /// The task execution role (image pulls, logs).
    pub fn execution_role(&self) -> String {
        self.execution_role.clone()
    }

    /// The container instances' role and instance profile.
    pub fn instance_role(&self) -> String {
        self.instance_role.clone()
    }

    /// The prefix every log group of the environment shares.
    pub(crate) fn log_group_prefix(&self) -> String {
        self.log_group_prefix.clone()
    }

    /// Log group of the controller.
    pub fn controller_log_group(&self) -> String {
        format!("{}controller", self.log_group_prefix)
    }

    /// Log group of the agents.
    pub fn agents_log_group(&self) -> String {
        format!("{}agents", self.log_group_prefix)
    }

    /// Security group of the controller task.
    pub fn controller_security_group(&self) -> String {
        self.controller_security_group.clone()
    }

    /// Security group of the agent tasks.
    pub fn agents_security_group(&self) -> String {
        self.agents_security_group.clone()
    }

    /// Security group of the EFS mount targets.
    pub fn storage_security_group(&self) -> String {
        self.storage_security_group.clone()
    }

    /// The Cloud Map service: the controller is `<this>.<namespace>`.
    pub fn discovery_service(&self) -> String {
        self.discovery_service.clone()
    }

    /// The controller's DNS name in the profile's namespace.
    pub(crate) fn controller_dns(&self, namespace: &str) -> String {
        format!("{}.{namespace}", self.discovery_service)
    }

    /// The container instances' launch template.
    pub fn launch_template(&self) -> String {
        self.launch_template.clone()
    }

    /// The mixed-instances Auto Scaling Group.
    pub fn auto_scaling_group(&self) -> String {
        self.auto_scaling_group.clone()
    }

    /// The ECS capacity provider on the ASG (names may not start with `aws`, `ecs` or `fargate`).
    pub fn capacity_provider(&self) -> String {
        self.capacity_provider.clone()
    }

    /// The controller's task definition family.
    pub fn controller_family(&self) -> String {
        self.controller_family.clone()
    }

    /// The controller's ECS service (one per cluster, and the cluster is the environment's own).
    pub fn controller_service(&self) -> String {
        "jenkins-controller".to_owned()
    }

    /// The SSM SecureString holding the generated Jenkins admin password.
    pub fn admin_password_parameter(&self) -> String {
        self.admin_password_parameter.clone()
    }

    /// The prefix of the environment's credentials in Secrets Manager (`butler/<tenant>/<environment>/`): the
    /// controller's role may read under it only. The separators make it injective (names hold no `/`).
    pub fn secrets_prefix(&self) -> String {
        self.log_group_prefix.trim_start_matches('/').to_owned()
    }

    /// The SSM SecureString holding the token the controller fetches its configuration with and reloads it by.
    pub fn controller_token_parameter(&self) -> String {
        format!("{}controller-token", self.log_group_prefix)
    }

    /// The environment's sign-in client secret (SSM SecureString).
    pub fn oidc_client_secret_parameter(&self) -> String {
        format!("{}oidc-client-secret", self.log_group_prefix)
    }

    /// The agent task definition families the amazon-ecs plugin registers: `<cloud name>-<template name>`.
    pub(crate) fn agent_family(&self, template: &str) -> String {
        format!("{}-{template}", self.agent_cloud)
    }

    /// JENKINS_HOME inside the file system (the access point's root).
    pub fn jenkins_home_root(&self) -> String {
        self.jenkins_home_root.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// A DNS label as validation admits it, from a tiny alphabet with dashes so that collisions would show.
    fn label() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[ab1]([ab1-]{0,8}[ab1])?").expect("regex")
    }

    #[test]
    fn the_legacy_scheme_collides_where_the_current_one_does_not() {
        let (one, two) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        assert_eq!(Names::legacy("a-b", "c", &one).cluster(), Names::legacy("a", "b-c", &two).cluster());
        let (a, b) = (Names::current("a-b", "c", &one), Names::current("a", "b-c", &two));
        for ((what, x), (_, y)) in a.all().into_iter().zip(b.all()) {
            assert_ne!(x, y, "{what}");
        }
    }

    #[test]
    fn names_stay_within_aws_limits_for_the_longest_admitted_names() {
        // Tenants are at most 32 characters; validation keeps tenant + environment within 55.
        let names = Names::current(&"t".repeat(32), &"e".repeat(23), &uuid::Uuid::new_v4());
        for (what, name) in names.all() {
            let limit = match what {
                // IAM role and instance profile names: 64.
                "controller role" | "agent role" | "execution role" | "instance role" => 64,
                // Cloud Map service names: 127, each DNS label at most 63.
                "discovery service" => 127,
                // Launch template names: 128.
                "launch template" => 128,
                // Log groups 512, SSM parameters 1011 (as a path under the account): well within.
                _ => 255,
            };
            assert!(name.len() <= limit, "{what} {name} is {} characters (limit {limit})", name.len());
            if what == "discovery service" {
                assert!(name.split('.').all(|label| label.len() <= 63), "{what} {name}");
            }
        }
        assert!(names.controller_dns("jenkins.local").len() <= 253);
        assert!(!names.capacity_provider().starts_with("aws") && !names.capacity_provider().starts_with("ecs"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// No two different (tenant, environment) pairs share any name Butler makes.
        #[test]
        fn current_names_are_injective(
            pairs in proptest::collection::vec((label(), label()), 2..12)
        ) {
            let mut seen: HashMap<String, (String, String)> = HashMap::new();
            let mut distinct: Vec<(String, String)> = pairs.clone();
            distinct.sort();
            distinct.dedup();
            for (tenant, environment) in distinct {
                let names = Names::current(&tenant, &environment, &uuid::Uuid::new_v4());
                let mut own: Vec<String> = names.all().into_iter().map(|(_, name)| name).collect();
                own.push(names.controller_dns("jenkins.local"));
                own.sort();
                own.dedup();
                for name in own {
                    if let Some(other) = seen.insert(name.clone(), (tenant.clone(), environment.clone())) {
                        prop_assert!(false, "{name} made for {other:?} and {:?}", (tenant, environment));
                    }
                }
                // Agent families of one environment never fall under another's cloud prefix (the IAM scope).
                let family = names.agent_family("default");
                for (name, owner) in &seen {
                    if owner != &(tenant.clone(), environment.clone()) && name.ends_with("_agents") {
                        prop_assert!(!family.starts_with(&format!("{name}-")), "{family} under {name}");
                    }
                }
            }
        }
    }
}
