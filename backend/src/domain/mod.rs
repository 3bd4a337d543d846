//! The JenkinsEnvironment resource: its spec with server-side defaults, status, metadata and validation.

pub mod actor;
pub mod aws_names;
pub mod catalog;
pub mod cost_arithmetic;
pub mod credentials;
pub mod guardrails;
pub mod ingress;
pub mod java_opts;
pub mod labels;
pub mod manifest;
pub mod object;
pub mod oidc;
pub mod prices;
pub mod proxy;
pub mod seed_jobs;
pub mod spec;
pub mod team_config;
pub mod validation;

/// `apiVersion` of every Butler resource.
pub(crate) const API_VERSION: &str = "butler.dev/v1alpha1";
/// `kind` of the environment resource.
pub(crate) const KIND: &str = "JenkinsEnvironment";
/// The finalizer Butler puts on every environment so its AWS resources are torn down before the row goes.
pub const AWS_RESOURCES_FINALIZER: &str = "butler.dev/aws-resources";
