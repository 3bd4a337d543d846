//! Every AWS call the amazon-ecs plugin makes for the cloud Butler configures, evaluated against the controller's
//! task role policy by a small IAM evaluator (actions, resources with wildcards, and the condition operators the
//! policy uses: `StringEquals`, `ArnEquals` on `ecs:cluster` and `ecs:CreateAction`). Each call must be allowed;
//! the same calls aimed at another environment's cluster, families, tasks or roles must not be.
//!
//! The calls, from jenkinsci/amazon-ecs-plugin at 4d48ab37 (2025-04-17), `ECSService.java`:
//! - `registerTemplate`: `DescribeTaskDefinition` and `ListTagsForResource` of the family's latest revision, then
//!   `RegisterTaskDefinition` *with tags* (`jenkins.label`, `jenkins.templatename`; tag-on-create also needs
//!   `ecs:TagResource` with `ecs:CreateAction = RegisterTaskDefinition`), `iam:PassRole` of the task and
//!   execution roles it names; `DeregisterTaskDefinition` of a template removed from the cloud.
//! - `runEcsTask`: `RunTask` in the cloud's cluster with the capacity provider strategy, `propagateTags` and
//!   tags (tag-on-create: `ecs:TagResource` with `ecs:CreateAction = RunTask`).
//! - `describeTasks` / `stopTask` on the agent tasks of the cluster.
//! - `areSufficientClusterResourcesAvailable`: `ListContainerInstances` and `DescribeContainerInstances`.
//! - The cloud's configuration page: `ListClusters`, `DescribeClusters`, `ListTaskDefinitions`.

#![cfg(test)]

use serde_json::Value;

use super::names::Names;
use super::policies::controller_task_policy;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

/// One request as IAM sees it.
struct Call<'a> {
    action: &'a str,
    resource: String,
    context: Vec<(&'a str, String)>,
}

fn call<'a>(action: &'a str, resource: impl Into<String>, context: &[(&'a str, String)]) -> Call<'a> {
    Call { action, resource: resource.into(), context: context.to_vec() }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one (case-sensitive, as for resources).
fn glob(pattern: &str, text: &str) -> bool {
    fn at(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => at(&p[1..], t) || (!t.is_empty() && at(p, &t[1..])),
            (Some(b'?'), Some(_)) => at(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => at(&p[1..], &t[1..]),
            _ => false,
        }
    }
    at(pattern.as_bytes(), text.as_bytes())
}

fn condition_holds(condition: &Value, call: &Call<'_>) -> bool {
    let Some(operators) = condition.as_object() else { return true };
    operators.iter().all(|(operator, keys)| {
        keys.as_object().is_some_and(|keys| {
            keys.iter().all(|(key, wanted)| {
                let Some((_, actual)) = call.context.iter().find(|(k, _)| k == key) else { return false };
                let wanted = strings(wanted);
                match operator.as_str() {
                    "StringEquals" => wanted.iter().any(|w| w == actual),
                    // ArnEquals and ArnLike both match wildcards within the ARN.
                    "ArnEquals" | "ArnLike" | "StringLike" => wanted.iter().any(|w| glob(w, actual)),
                    other => panic!("the evaluator does not know {other}: teach it before the policy uses it"),
                }
            })
        })
    })
}

fn allowed(policy: &Value, call: &Call<'_>) -> bool {
    let statements = policy["Statement"].as_array().expect("statements");
    assert!(statements.iter().all(|s| s["Effect"] == "Allow"), "the evaluator handles Allow statements only");
    statements.iter().any(|statement| {
        strings(&statement["Action"]).iter().any(|a| glob(a, call.action))
            && strings(&statement["Resource"]).iter().any(|r| glob(r, &call.resource))
            && condition_holds(&statement["Condition"], call)
    })
}

fn ecs(resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}")
}

/// The plugin's calls for the environment `names` (template `default`).
fn plugin_calls(names: &Names) -> Vec<Call<'static>> {
    let cluster = ecs(&format!("cluster/{}", names.cluster()));
    let family = names.agent_family("default");
    let revision = ecs(&format!("task-definition/{family}:7"));
    let task = ecs(&format!("task/{}/0123456789abcdef", names.cluster()));
    let on_cluster = [("ecs:cluster", cluster.clone())];
    let role = |name: String| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    vec![
        call("ecs:ListClusters", "*", &[]),
        call("ecs:DescribeClusters", cluster.clone(), &[]),
        call("ecs:ListTaskDefinitions", "*", &[]),
        call("ecs:DescribeTaskDefinition", "*", &[]),
        call("ecs:ListTagsForResource", revision.clone(), &[]),
        call("ecs:RegisterTaskDefinition", "*", &[]),
        call("ecs:TagResource", revision.clone(), &[("ecs:CreateAction", "RegisterTaskDefinition".into())]),
        call("iam:PassRole", role(names.agent_role()), &[]),
        call("iam:PassRole", role(names.execution_role()), &[]),
        call("ecs:RunTask", revision.clone(), &on_cluster),
        call("ecs:TagResource", task.clone(), &[("ecs:CreateAction", "RunTask".into())]),
        call("ecs:DescribeTasks", task.clone(), &on_cluster),
        call("ecs:StopTask", task, &on_cluster),
        call("ecs:ListContainerInstances", cluster.clone(), &[]),
        call("ecs:DescribeContainerInstances", "*", &on_cluster),
        call("ecs:DeregisterTaskDefinition", "*", &[]),
    ]
}

#[test]
fn every_call_the_plugin_makes_is_allowed() {
    let names = Names::current("payments", "ci", &uuid::Uuid::new_v4());
    let policy = controller_task_policy(&names, REGION);
    for call in plugin_calls(&names) {
        assert!(allowed(&policy, &call), "{} on {} ({:?}) is denied", call.action, call.resource, call.context);
    }
}

#[test]
fn the_same_calls_on_another_environment_are_denied() {
    let mine = Names::current("red", "prod-ci", &uuid::Uuid::new_v4());
    let theirs = Names::current("red-prod", "ci", &uuid::Uuid::new_v4());
    let policy = controller_task_policy(&mine, REGION);
    let their_cluster = ecs(&format!("cluster/{}", theirs.cluster()));
    let their_revision = ecs(&format!("task-definition/{}:1", theirs.agent_family("default")));
    let their_task = ecs(&format!("task/{}/0123456789abcdef", theirs.cluster()));
    let my_revision = ecs(&format!("task-definition/{}:1", mine.agent_family("default")));
    let denied = [
        call("ecs:RunTask", their_revision.clone(), &[("ecs:cluster", their_cluster.clone())]),
        call("ecs:RunTask", their_revision.clone(), &[("ecs:cluster", ecs(&format!("cluster/{}", mine.cluster())))]),
        // My agents into their cluster (agents joining another team's controller).
        call("ecs:RunTask", my_revision, &[("ecs:cluster", their_cluster.clone())]),
        call("ecs:StopTask", their_task.clone(), &[("ecs:cluster", their_cluster.clone())]),
        call("ecs:DescribeTasks", their_task.clone(), &[("ecs:cluster", their_cluster.clone())]),
        call("ecs:DescribeClusters", their_cluster.clone(), &[]),
        call("ecs:TagResource", their_revision, &[("ecs:CreateAction", "RegisterTaskDefinition".into())]),
        call("ecs:TagResource", their_task, &[("ecs:CreateAction", "RunTask".into())]),
        call("ecs:DescribeContainerInstances", "*", &[("ecs:cluster", their_cluster)]),
        call("ecs:ListTagsForResource", ecs(&format!("task-definition/{}:1", theirs.agent_family("default"))), &[]),
        call("iam:PassRole", format!("arn:aws:iam::{ACCOUNT}:role/{}", theirs.agent_role()), &[]),
        call("iam:PassRole", format!("arn:aws:iam::{ACCOUNT}:role/{}", mine.controller_role()), &[]),
        // Tagging anything else at will (tags drive cost allocation and ownership).
        call("ecs:TagResource", ecs(&format!("cluster/{}", mine.cluster())), &[]),
    ];
    for call in denied {
        assert!(!allowed(&policy, &call), "{} on {} ({:?}) is allowed", call.action, call.resource, call.context);
    }
}

#[test]
fn the_evaluator_matches_wildcards_as_iam_does() {
    assert!(glob("arn:aws:ecs:eu-west-1:*:cluster/a", "arn:aws:ecs:eu-west-1:1:cluster/a"));
    assert!(!glob("arn:aws:ecs:eu-west-1:*:cluster/a", "arn:aws:ecs:eu-west-1:1:cluster/ab"));
    assert!(glob("task-definition/x-*", "task-definition/x-default:1"));
    assert!(!glob("task-definition/x-*", "task-definition/y-default:1"));
}
