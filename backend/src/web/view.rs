//! View models: what the templates show of an environment (phase badge, the first condition not yet True,
//! age, links to the AWS console), shaped once here so templates stay plain.

use chrono::{DateTime, Utc};

use crate::domain::object::{ConditionStatus, JenkinsEnvironment, Phase};

/// One row of the environments list.
pub(crate) struct EnvironmentRow {
    pub name: String,
    pub phase: String,
    pub badge: &'static str,
    /// The first part not yet True, with its reason ("" when Ready).
    pub waiting_on: String,
    pub age: String,
    pub url: Option<String>,
    pub labels: String,
    /// "0.1312 USD/h · 12.40 USD this month", or empty before the first sample.
    pub cost: String,
}

/// How a current cost reads on a page.
pub(crate) fn cost_text(cost: Option<&crate::store::costs::CurrentCost>) -> String {
    cost.map_or_else(String::new, |c| format!("{:.4} USD/h · {:.2} USD this month", c.per_hour, c.month_to_date))
}

/// The CSS class of a phase's badge.
pub(crate) fn badge(phase: Phase) -> &'static str {
    match phase {
        Phase::Ready => "badge ok",
        Phase::Provisioning | Phase::Pending => "badge busy",
        Phase::Deleting => "badge muted",
        Phase::Degraded | Phase::Failed => "badge bad",
    }
}

/// "3d", "5h", "12m", "40s".
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - since).num_seconds().max(0);
    match seconds {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The phase's name as shown: the API's own word for it.
pub(crate) fn phase_name(phase: Phase) -> String {
    phase.as_str().to_owned()
}

impl EnvironmentRow {
    /// The row of `object`.
    pub fn of(
        object: &JenkinsEnvironment,
        now: DateTime<Utc>,
        cost: Option<&crate::store::costs::CurrentCost>,
    ) -> Self {
        let status = &object.status;
        let waiting_on = status
            .conditions
            .iter()
            .find(|c| c.condition_type != "Ready" && c.status != ConditionStatus::True)
            .or_else(|| status.conditions.iter().find(|c| c.status != ConditionStatus::True))
            .map(|c| format!("{}: {}", c.condition_type, c.reason))
            .unwrap_or_default();
        Self {
            name: object.metadata.name.clone(),
            phase: phase_name(status.phase),
            badge: badge(status.phase),
            waiting_on,
            age: age(object.metadata.creation_timestamp, now),
            url: (status.phase == Phase::Ready).then(|| status.outputs.url.clone()).flatten(),
            labels: object.metadata.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
            cost: cost_text(cost),
        }
    }
}

/// The environment's address as the page shows it: the HTTPS link and its health (`IngressReady`), or why
/// there is none.
pub(crate) struct Address {
    /// The HTTPS URL, when the profile has ingress and Butler has made it.
    pub url: Option<String>,
    /// The load balancer sees the controller healthy.
    pub healthy: bool,
    /// `IngressReady`'s message (health, or "no ingress on this profile").
    pub health: String,
}

impl Address {
    /// The address of `object`.
    pub fn of(object: &JenkinsEnvironment) -> Self {
        let status = &object.status;
        use crate::reconcile::environment::{conditions::INGRESS_READY, ingress::NO_INGRESS};
        let condition = status.conditions.iter().find(|c| c.condition_type == INGRESS_READY);
        let url = status.outputs.url.clone().filter(|url| url.starts_with("https://"));
        Self {
            url,
            healthy: condition.is_some_and(|c| c.status == ConditionStatus::True && c.reason != NO_INGRESS),
            health: condition.map_or_else(|| "not observed yet".to_owned(), |c| c.message.clone()),
        }
    }
}

/// An output of the detail page, with a link to the AWS console when there is one.
pub(crate) struct Output {
    pub label: &'static str,
    pub value: String,
    pub link: Option<String>,
}

/// The environment's outputs with AWS console links for `region`.
pub fn outputs(object: &JenkinsEnvironment, region: &str) -> Vec<Output> {
    let o = &object.status.outputs;
    let console = |path: String| Some(format!("https://{region}.console.aws.amazon.com/{path}"));
    let mut rows = Vec::new();
    let mut push = |label, value: &Option<String>, link: Option<String>| {
        if let Some(value) = value {
            rows.push(Output { label, value: value.clone(), link });
        }
    };
    push("Jenkins URL", &o.url, None);
    push("Controller DNS name", &o.controller_dns, None);
    push(
        "File system (JENKINS_HOME)",
        &o.file_system_id,
        o.file_system_id.as_ref().and_then(|id| console(format!("efs/home?region={region}#/file-systems/{id}"))),
    );
    push("Access point", &o.access_point_id, None);
    push(
        "Cloud Map service",
        &o.discovery_service_id,
        o.namespace_id.as_ref().and_then(|ns| console(format!("cloudmap/home/namespaces/{ns}?region={region}"))),
    );
    let cluster = o.cluster_arn.as_ref().and_then(|arn| arn.rsplit('/').next().map(str::to_owned));
    push(
        "ECS cluster",
        &o.cluster_arn,
        cluster.as_ref().and_then(|c| console(format!("ecs/v2/clusters/{c}/services?region={region}"))),
    );
    push(
        "Controller service",
        &o.service_arn,
        cluster
            .as_ref()
            .and_then(|c| console(format!("ecs/v2/clusters/{c}/services/jenkins-controller/health?region={region}"))),
    );
    push("Task definition", &o.task_definition_arn, None);
    push(
        "Auto Scaling group",
        &o.auto_scaling_group,
        o.auto_scaling_group
            .as_ref()
            .and_then(|g| console(format!("ec2/home?region={region}#AutoScalingGroupDetails:id={g};view=details"))),
    );
    rows
}
