//! Strict validation of a JenkinsEnvironment: everything AWS or Jenkins would reject later, named by field path.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::catalog::{self, check_task_size};
use super::labels;
use super::spec::{AgentTemplate, ControllerPlacement, JenkinsEnvironmentSpec, StorageSpec, ThroughputMode};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path in the manifest, e.g. `spec.capacity.instanceTypes[2]`.
    pub field: String,
    pub message: String,
}

/// The outcome of validation: errors refuse the write, warnings go back with the response.
#[derive(Debug, Clone, Default)]
pub(crate) struct Review {
    pub errors: Vec<FieldError>,
    pub warnings: Vec<String>,
}

impl Review {
    fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.into(), message: message.into() });
    }
}

/// The metadata fields clients control.
pub(crate) struct MetaInput<'a> {
    pub tenant: &'a str,
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub finalizers: &'a [String],
}

static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$").expect("static regex"));
// The Docker reference grammar: [registry[:port]/]path[:tag][@sha256:digest].
static IMAGE_REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$",
    )
    .expect("static regex")
});
static PLUGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(?::[A-Za-z0-9][A-Za-z0-9_.+-]*)?$").expect("static regex")
});
static INSTANCE_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$").expect("static regex"));
static AGENT_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.-]{1,63}$").expect("static regex"));
static QUALIFIED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$",
    )
    .expect("static regex")
});

/// Plugins Butler's generated configuration depends on.
const REQUIRED_PLUGINS: [&str; 2] = ["configuration-as-code", "amazon-ecs"];
/// Tenant and environment names together: every AWS name Butler derives from them (`butler-<tenant>_<env>_…`,
/// the Cloud Map name `<env>.<tenant>`) then stays within AWS's limits, as `aws_names` tests for the longest.
const TENANT_AND_NAME_BUDGET: usize = 55;
/// Labels an environment may carry.
const MAX_LABELS: usize = 64;
/// A launch template override list holds at most this many instance types.
const MAX_INSTANCE_TYPES: usize = 20;
/// EFS provisioned throughput ceiling (MiB/s) per file system.
const MAX_PROVISIONED_MIBPS: u32 = 3414;

/// Checks the whole environment and returns every error at once, plus advice.
pub(crate) fn review(meta: &MetaInput<'_>, spec: &JenkinsEnvironmentSpec) -> Review {
    let mut review = Review::default();
    review_meta(meta, &mut review);
    review_controller(spec, &mut review);
    review_agents(spec, &mut review);
    review_capacity(spec, &mut review);
    review_storage(&spec.storage, &mut review);
    review_jenkins(spec, &mut review);
    review
}

/// The most a restart-needing change may wait for running builds: a day.
const MAX_DRAIN_TIMEOUT_SECONDS: u32 = 86_400;

/// The team's configuration, its seed jobs and the drain timeout. Whether an interpolated or cloning credential
/// exists is checked where the environment's credentials are at hand (the write, in `environments`).
fn review_jenkins(spec: &JenkinsEnvironmentSpec, review: &mut Review) {
    match super::team_config::parse(&spec.jenkins.configuration_as_code) {
        Ok(document) => review.errors.extend(super::team_config::check(&document, None)),
        Err(error) => review.errors.push(error),
    }
    review.errors.extend(super::seed_jobs::review(&spec.jenkins.seed_jobs));
    if spec.controller.drain_timeout_seconds > MAX_DRAIN_TIMEOUT_SECONDS {
        review.error("spec.controller.drainTimeoutSeconds", "must be at most 86400 (a day)");
    }
}

fn review_meta(meta: &MetaInput<'_>, review: &mut Review) {
    let dns_budget = TENANT_AND_NAME_BUDGET.saturating_sub(meta.tenant.len());
    if meta.name.is_empty() {
        review.error("metadata.name", "is required");
    } else if !DNS_LABEL.is_match(meta.name) {
        review.error(
            "metadata.name",
            "must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit",
        );
    } else if meta.name.len() > dns_budget {
        review.error(
            "metadata.name",
            format!(
                "must be at most {dns_budget} characters in tenant {:?}, so the names of the environment's AWS \
                 resources stay within AWS's limits",
                meta.tenant
            ),
        );
    }
    // Labels are indexed and matched on every list: their number is bounded like their size.
    if meta.labels.len() > MAX_LABELS {
        review.error("metadata.labels", format!("must have at most {MAX_LABELS} labels"));
    }
    for (key, value) in meta.labels {
        if let Err(message) = labels::check_key(key) {
            review.error(format!("metadata.labels[{key}]"), message);
        }
        if let Err(message) = labels::check_value(value) {
            review.error(format!("metadata.labels[{key}]"), message);
        }
    }
    let mut annotation_bytes = 0;
    for (key, value) in meta.annotations {
        annotation_bytes += key.len() + value.len();
        if let Err(message) = labels::check_key(key) {
            review.error(format!("metadata.annotations[{key}]"), message);
        }
    }
    if annotation_bytes > 256 * 1024 {
        review.error("metadata.annotations", "must total at most 256 KiB");
    }
    let mut seen = HashSet::new();
    for (index, finalizer) in meta.finalizers.iter().enumerate() {
        if !QUALIFIED_NAME.is_match(finalizer) {
            review.error(format!("metadata.finalizers[{index}]"), "must be a qualified name like example.com/cleanup");
        } else if !seen.insert(finalizer) {
            review.error(format!("metadata.finalizers[{index}]"), format!("{finalizer} is listed twice"));
        }
    }
}

fn review_controller(spec: &JenkinsEnvironmentSpec, review: &mut Review) {
    let controller = &spec.controller;
    if !IMAGE_REFERENCE.is_match(&controller.image) {
        review.error("spec.controller.image", "must be an image reference like jenkins/jenkins:lts-jdk21");
    }
    if let Err(message) = check_task_size(controller.cpu, controller.memory, &spec.capacity.instance_types) {
        review.error("spec.controller.memory", message);
    }
    let mut seen = HashSet::new();
    for (index, plugin) in controller.plugins.iter().enumerate() {
        let field = format!("spec.controller.plugins[{index}]");
        if !PLUGIN.is_match(plugin) {
            review.error(field, "must be a plugin id, optionally pinned as id:version (e.g. git:5.2.2)");
            continue;
        }
        let id = plugin.split(':').next().unwrap_or(plugin);
        if !seen.insert(id.to_owned()) {
            review.error(field, format!("plugin {id} is listed twice"));
        }
    }
    for required in REQUIRED_PLUGINS {
        if !seen.contains(required) {
            review.error(
                "spec.controller.plugins",
                format!("must include {required}: Butler configures the controller and its ECS cloud through it"),
            );
        }
    }
    if controller.timezone.parse::<chrono_tz::Tz>().is_err() {
        review.error("spec.controller.timezone", "must be an IANA time zone such as Europe/London or UTC");
    }
    if let Err(message) = super::java_opts::check(&controller.java_opts) {
        review.error("spec.controller.javaOpts", message);
    }
    if controller.placement == ControllerPlacement::OnDemand && spec.capacity.on_demand_base == 0 {
        review.error(
            "spec.capacity.onDemandBase",
            "must be at least 1 while spec.controller.placement is on-demand: the controller runs on the base",
        );
    }
}

fn review_agents(spec: &JenkinsEnvironmentSpec, review: &mut Review) {
    let agents = &spec.agents;
    if !(1..=1000).contains(&agents.max_agents) {
        review.error("spec.agents.maxAgents", "must be between 1 and 1000");
    }
    if agents.templates.is_empty() {
        review.error("spec.agents.templates", "must have at least one template");
    }
    if agents.templates.len() > 20 {
        review.error("spec.agents.templates", "must have at most 20 templates");
    }
    let mut names = HashSet::new();
    for (index, template) in agents.templates.iter().enumerate() {
        review_template(index, template, &spec.capacity.instance_types, review);
        if !names.insert(template.name.as_str()) {
            review.error(format!("spec.agents.templates[{index}].name"), format!("{} is used twice", template.name));
        }
    }
}

fn review_template(index: usize, template: &AgentTemplate, instance_types: &[String], review: &mut Review) {
    let at = |field: &str| format!("spec.agents.templates[{index}].{field}");
    // The plugin registers task definition family `<cloud>-<template>`; keep the template a short DNS label.
    if template.name.len() > 32 || !DNS_LABEL.is_match(&template.name) {
        review.error(at("name"), "must be a DNS label of at most 32 characters");
    }
    if !AGENT_LABEL.is_match(&template.label) {
        review.error(at("label"), "must be 1-63 letters, digits, '-', '_' or '.' (a Jenkins label)");
    }
    if !IMAGE_REFERENCE.is_match(&template.image) {
        review.error(at("image"), "must be an image reference like jenkins/inbound-agent:latest");
    }
    if let Err(message) = check_task_size(template.cpu, template.memory, instance_types) {
        review.error(at("memory"), message);
    }
}

fn review_capacity(spec: &JenkinsEnvironmentSpec, review: &mut Review) {
    let capacity = &spec.capacity;
    if capacity.instance_types.is_empty() {
        review.error("spec.capacity.instanceTypes", "must list at least one instance type");
    }
    if capacity.instance_types.len() > MAX_INSTANCE_TYPES {
        review.error("spec.capacity.instanceTypes", format!("must list at most {MAX_INSTANCE_TYPES} instance types"));
    }
    let mut seen = HashSet::new();
    for (index, instance_type) in capacity.instance_types.iter().enumerate() {
        let field = format!("spec.capacity.instanceTypes[{index}]");
        if !INSTANCE_TYPE.is_match(instance_type) {
            review.error(field, format!("{instance_type:?} is not an EC2 instance type name like m5.large"));
        } else if !seen.insert(instance_type.as_str()) {
            review.error(field, format!("{instance_type} is listed twice"));
        } else if catalog::instance_type(instance_type).is_none() {
            review.warnings.push(format!(
                "{field}: {instance_type} is not in Butler's catalog, so task sizes were not checked against it"
            ));
        }
    }
    if (1..3).contains(&seen.len()) {
        review.warnings.push(format!(
            "spec.capacity.instanceTypes: only {} instance type(s); Spot needs at least 3 pools (AWS suggests up to \
             10 of one size) to ride out interruptions",
            seen.len()
        ));
    }
    if capacity.max == 0 || capacity.max > 1000 {
        review.error("spec.capacity.max", "must be between 1 and 1000");
    }
    if capacity.min > capacity.max {
        review.error("spec.capacity.min", format!("must be at most spec.capacity.max ({})", capacity.max));
    }
    if capacity.on_demand_base > capacity.max {
        review.error("spec.capacity.onDemandBase", format!("must be at most spec.capacity.max ({})", capacity.max));
    }
    if capacity.on_demand_percent_above_base > 100 {
        review.error("spec.capacity.onDemandPercentAboveBase", "must be between 0 and 100");
    }
}

fn review_storage(storage: &StorageSpec, review: &mut Review) {
    match (storage.throughput_mode, storage.provisioned_throughput_mibps) {
        (ThroughputMode::Provisioned, None) => review.error(
            "spec.storage.provisionedThroughputMibps",
            "is required when spec.storage.throughputMode is provisioned",
        ),
        (ThroughputMode::Provisioned, Some(mibps)) if !(1..=MAX_PROVISIONED_MIBPS).contains(&mibps) => review
            .error("spec.storage.provisionedThroughputMibps", format!("must be between 1 and {MAX_PROVISIONED_MIBPS}")),
        (ThroughputMode::Elastic | ThroughputMode::Bursting, Some(_)) => review.error(
            "spec.storage.provisionedThroughputMibps",
            "is only allowed when spec.storage.throughputMode is provisioned",
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta<'a>(name: &'a str, empty: &'a BTreeMap<String, String>) -> MetaInput<'a> {
        MetaInput { tenant: "payments", name, labels: empty, annotations: empty, finalizers: &[] }
    }

    fn fields(review: &Review) -> Vec<&str> {
        review.errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn defaults_are_valid_without_warnings() {
        let empty = BTreeMap::new();
        let review = review(&meta("ci", &empty), &JenkinsEnvironmentSpec::default());
        assert!(review.errors.is_empty(), "{:?}", review.errors);
        assert!(review.warnings.is_empty(), "{:?}", review.warnings);
    }

    #[test]
    fn errors_name_the_indexed_field() {
        let empty = BTreeMap::new();
        let mut spec = JenkinsEnvironmentSpec::default();
        spec.capacity.instance_types = vec!["m5.large".into(), "m5a.large".into(), "M5 LARGE".into()];
        let review = review(&meta("ci", &empty), &spec);
        assert_eq!(fields(&review), vec!["spec.capacity.instanceTypes[2]"]);
    }

    #[test]
    fn fewer_than_three_pools_is_a_warning_not_an_error() {
        let empty = BTreeMap::new();
        let mut spec = JenkinsEnvironmentSpec::default();
        spec.capacity.instance_types = vec!["m5.large".into()];
        let review = review(&meta("ci", &empty), &spec);
        assert!(review.errors.is_empty());
        assert_eq!(review.warnings.len(), 1);
    }

    #[test]
    fn capacity_bounds_are_checked() {
        let empty = BTreeMap::new();
        let mut spec = JenkinsEnvironmentSpec::default();
        spec.capacity.min = 5;
        spec.capacity.max = 2;
        spec.capacity.on_demand_base = 3;
        spec.capacity.instance_types.clear();
        let review = review(&meta("ci", &empty), &spec);
        assert_eq!(
            fields(&review),
            vec!["spec.capacity.instanceTypes", "spec.capacity.min", "spec.capacity.onDemandBase"]
        );
    }

    #[test]
    fn names_images_plugins_and_timezones_are_checked() {
        let empty = BTreeMap::new();
        let mut spec = JenkinsEnvironmentSpec::default();
        spec.controller.image = "Jenkins/Jenkins::lts".into();
        spec.controller.plugins = vec!["git".into(), "not a plugin".into()];
        spec.controller.timezone = "Mars/Olympus".into();
        spec.agents.templates[0].cpu = 8192;
        let review = review(&meta("Bad_Name", &empty), &spec);
        assert_eq!(
            fields(&review),
            vec![
                "metadata.name",
                "spec.controller.image",
                "spec.controller.plugins[1]",
                "spec.controller.plugins",
                "spec.controller.plugins",
                "spec.controller.timezone",
                "spec.agents.templates[0].memory",
            ]
        );
    }

    #[test]
    fn tenant_and_name_must_fit_the_aws_name_budget() {
        let empty = BTreeMap::new();
        let long = "a".repeat(50);
        let review = review(&meta(&long, &empty), &JenkinsEnvironmentSpec::default());
        assert_eq!(fields(&review), vec!["metadata.name"]);
        assert!(review.errors[0].message.contains("AWS's limits"), "{}", review.errors[0].message);
    }
}
