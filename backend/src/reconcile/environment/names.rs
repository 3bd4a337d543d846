//! Deterministic names of an environment's AWS resources: the same environment always maps to the same
//! names, so a lookup before create finds what an earlier, interrupted reconcile made.

/// Names for one environment.
#[derive(Debug, Clone)]
pub struct Names {
    pub tenant: String,
    pub environment: String,
    /// The first 12 hex digits of the uid: IAM role names must fit 64 characters, tenant and environment may not.
    short_uid: String,
}

impl Names {
    /// Names of `tenant`/`environment` with `uid`.
    pub fn new(tenant: &str, environment: &str, uid: &uuid::Uuid) -> Self {
        let short_uid = uid.simple().to_string()[..12].to_owned();
        Self { tenant: tenant.to_owned(), environment: environment.to_owned(), short_uid }
    }

    /// The ECS cluster.
    pub fn cluster(&self) -> String {
        format!("butler-{}-{}", self.tenant, self.environment)
    }

    /// The amazon-ecs plugin's agent task definition families start with this (`<cloud>-<template>`).
    pub fn agent_family_prefix(&self) -> String {
        format!("butler-{}-{}-agent", self.tenant, self.environment)
    }

    fn role(&self, purpose: &str) -> String {
        format!("butler-{}-{purpose}", self.short_uid)
    }

    /// The controller task's role (the amazon-ecs plugin's permissions).
    pub fn controller_role(&self) -> String {
        self.role("controller")
    }

    /// The agent tasks' role.
    pub fn agent_role(&self) -> String {
        self.role("agent")
    }

    /// The task execution role (image pulls, logs).
    pub fn execution_role(&self) -> String {
        self.role("execution")
    }

    /// The container instances' role and instance profile.
    pub fn instance_role(&self) -> String {
        self.role("instance")
    }

    /// The prefix every log group of the environment shares.
    pub fn log_group_prefix(&self) -> String {
        format!("/butler/{}/{}/", self.tenant, self.environment)
    }

    /// Log group of the controller.
    pub fn controller_log_group(&self) -> String {
        format!("/butler/{}/{}/controller", self.tenant, self.environment)
    }

    /// Log group of the agents.
    pub fn agents_log_group(&self) -> String {
        format!("/butler/{}/{}/agents", self.tenant, self.environment)
    }

    fn prefixed(&self, suffix: &str) -> String {
        format!("butler-{}-{}-{suffix}", self.tenant, self.environment)
    }

    /// Security group of the controller task.
    pub fn controller_security_group(&self) -> String {
        self.prefixed("controller")
    }

    /// Security group of the agent tasks.
    pub fn agents_security_group(&self) -> String {
        self.prefixed("agents")
    }

    /// Security group of the EFS mount targets.
    pub fn storage_security_group(&self) -> String {
        self.prefixed("efs")
    }

    /// The Cloud Map service: the controller is `<this>.<namespace>`.
    pub fn discovery_service(&self) -> String {
        format!("master-{}-{}", self.tenant, self.environment)
    }

    /// The controller's DNS name in the profile's namespace.
    pub fn controller_dns(&self, namespace: &str) -> String {
        format!("{}.{namespace}", self.discovery_service())
    }

    /// The container instances' launch template.
    pub fn launch_template(&self) -> String {
        self.prefixed("instances")
    }

    /// The mixed-instances Auto Scaling Group.
    pub fn auto_scaling_group(&self) -> String {
        self.prefixed("asg")
    }

    /// The ECS capacity provider on the ASG (names may not start with `aws`, `ecs` or `fargate`).
    pub fn capacity_provider(&self) -> String {
        self.prefixed("capacity")
    }

    /// The controller's task definition family.
    pub fn controller_family(&self) -> String {
        self.prefixed("controller")
    }

    /// The controller's ECS service.
    pub fn controller_service(&self) -> String {
        "jenkins-controller".to_owned()
    }

    /// The SSM SecureString holding the generated Jenkins admin password.
    pub fn admin_password_parameter(&self) -> String {
        format!("/butler/{}/{}/admin-password", self.tenant, self.environment)
    }

    /// The agent task definition families the amazon-ecs plugin registers: `<cloud name>-<template name>`.
    pub fn agent_family(&self, template: &str) -> String {
        format!("{}-{template}", self.agent_family_prefix())
    }

    /// JENKINS_HOME inside the file system (the access point's root).
    pub fn jenkins_home_root(&self) -> String {
        format!("/jenkins/{}", self.environment)
    }
}
