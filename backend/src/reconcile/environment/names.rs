//! Deterministic names of an environment's AWS resources: the same environment always maps to the same
//! names, so a lookup before create finds what an earlier, interrupted reconcile made.

/// Names for one environment.
#[derive(Debug, Clone)]
pub struct Names {
    pub tenant: String,
    pub environment: String,
}

impl Names {
    /// Names of `tenant`/`environment`.
    pub fn new(tenant: &str, environment: &str) -> Self {
        Self { tenant: tenant.to_owned(), environment: environment.to_owned() }
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

    /// JENKINS_HOME inside the file system (the access point's root).
    pub fn jenkins_home_root(&self) -> String {
        format!("/jenkins/{}", self.environment)
    }
}
