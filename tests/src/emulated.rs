//! End-to-end reconciler tests against the AWS emulator: a Butler with its own emulator account (a cloud
//! profile assuming a role into it), passes driven one at a time, and an inventory of what AWS holds for an
//! environment, to prove "exactly one of each" and "nothing left".

use std::sync::Arc;

use butler::aws::autoscaling::{AutoScalingApi, SdkAutoScaling};
use butler::aws::context::{AwsAccount, AwsSettings};
use butler::aws::discovery::{DiscoveryApi, SdkDiscovery};
use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::ecs::{EcsApi, SdkEcs};
use butler::aws::efs::{EfsApi, SdkEfs};
use butler::aws::emulator::ensure_network;
use butler::aws::iam::{IamApi, SdkIam};
use butler::aws::logs::{LogsApi, SdkLogs};
use butler::aws::ssm::{SdkSsm, SsmApi};
use butler::reconcile::environment::names::Names;
use butler::reconcile::environment::{EnvironmentReconciler, SdkProvider};
use butler::reconcile::Action;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::aws::{fresh_account_with_role, REGION};
use crate::{environment_path, TestApp};

/// A Butler, its emulator account and the profile's network.
pub struct World {
    pub app: TestApp,
    pub reconciler: EnvironmentReconciler,
    pub settings: AwsSettings,
    pub account: AwsAccount,
    pub vpc: String,
}

impl World {
    /// A Butler whose `default` profile points at a fresh emulator account.
    pub async fn new() -> Self {
        let app = TestApp::spawn().await;
        let (account, role) = fresh_account_with_role().await;
        let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
        let profile =
            json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role });
        let created = app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await;
        assert_eq!(created.status, StatusCode::CREATED);
        let settings = AwsSettings::from_env();
        let reconciler = Self::reconciler_with(&app, &settings);
        Self { app, reconciler, settings, account, vpc: network.vpc_id }
    }

    /// A reconciler of this Butler calling AWS with `settings` (a restarted process gets new ones).
    pub fn reconciler_with(app: &TestApp, settings: &AwsSettings) -> EnvironmentReconciler {
        EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(SdkProvider::new(settings.clone())))
    }

    /// Passes of `reconciler` until converged, as the runner would run them: transient AWS errors (the
    /// emulator under parallel load answers 500 now and then) are retried; anything else fails the test.
    pub async fn converge_with(reconciler: &EnvironmentReconciler, name: &str) {
        let mut transient = Vec::new();
        for _ in 0..30 {
            match reconciler.reconcile_once("payments", name).await {
                Ok(Action::AwaitChange) => return,
                Ok(Action::RequeueAfter(_)) => continue,
                Err(error) if error.is_transient() => transient.push(error.to_string()),
                Err(error) => panic!("{name}: permanent failure {error}"),
            }
        }
        panic!("{name} did not converge in 30 passes; transient errors: {transient:?}");
    }

    /// Passes until converged.
    pub async fn converge(&self, name: &str) {
        Self::converge_with(&self.reconciler, name).await;
    }

    /// The stored environment.
    pub async fn object(&self, name: &str) -> serde_json::Value {
        self.app.get(&environment_path("payments", name)).await.json()
    }

    /// Reasons of the environment's events.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        let events = self.app.get(&format!("{}/events", environment_path("payments", name))).await.json();
        events["items"].as_array().map_or_else(Vec::new, |items| {
            items.iter().filter_map(|e| e["reason"].as_str().map(str::to_owned)).collect()
        })
    }

    /// Counts of what AWS holds for environment `names` (uid is the EFS creation token), one line each.
    pub async fn inventory(&self, names: &Names, uid: &str) -> Vec<(String, usize)> {
        let account = &self.account;
        let (ec2, efs, ecs) = (SdkEc2::new(account), SdkEfs::new(account), SdkEcs::new(account));
        let (asg, discovery, iam) = (SdkAutoScaling::new(account), SdkDiscovery::new(account), SdkIam::new(account));
        let (logs, ssm) = (SdkLogs::new(account), SdkSsm::new(account));
        let mut counts = Vec::new();
        for group in [names.storage_security_group(), names.controller_security_group(), names.agents_security_group()]
        {
            let found = ec2.find_security_group(&self.vpc, &group).await.expect("sg").is_some();
            counts.push((format!("security group {group}"), usize::from(found)));
        }
        let file_system = efs.find_file_system(uid).await.expect("efs");
        counts.push(("file system".into(), usize::from(file_system.is_some())));
        if let Some(file_system) = &file_system {
            counts.push(("mount targets".into(), efs.mount_targets(&file_system.id).await.expect("mt").len()));
            counts.push(("access points".into(), efs.access_points(&file_system.id).await.expect("ap").len()));
        }
        for role in [names.controller_role(), names.agent_role(), names.execution_role(), names.instance_role()] {
            counts.push((format!("role {role}"), usize::from(iam.get_role(&role).await.expect("role").is_some())));
        }
        for group in [names.controller_log_group(), names.agents_log_group()] {
            let found = logs.find_log_group(&group).await.expect("logs").is_some();
            counts.push((format!("log group {group}"), usize::from(found)));
        }
        let parameter = ssm.parameter_exists(&names.admin_password_parameter()).await.expect("ssm");
        counts.push(("admin password".into(), usize::from(parameter)));
        if let Some(namespace) = discovery.find_namespace("jenkins.local").await.expect("namespace") {
            let service = discovery.find_service(&namespace.id, &names.discovery_service()).await.expect("service");
            counts.push(("Cloud Map service".into(), usize::from(service.is_some())));
        }
        let clusters = ecs.describe_clusters(&[names.cluster()]).await.expect("clusters");
        counts.push(("cluster".into(), clusters.len()));
        if !clusters.is_empty() {
            let services = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
            counts.push(("controller service".into(), services.len()));
        }
        let revisions = ecs.task_definition_revisions(&names.controller_family()).await.expect("revisions");
        counts.push(("task definition revisions".into(), revisions.len()));
        let providers = ecs.describe_capacity_providers(&[names.capacity_provider()]).await.expect("providers");
        counts.push(("capacity provider".into(), providers.len()));
        let template = ec2.find_launch_template(&names.launch_template()).await.expect("lt");
        counts.push(("launch template".into(), usize::from(template.is_some())));
        let groups = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("asg");
        counts.push(("auto scaling group".into(), groups.len()));
        counts
    }
}

/// A condition of a stored environment (Null when absent).
pub fn condition<'a>(object: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or(&serde_json::Value::Null)
}

/// The names of a stored environment.
pub fn names_of(object: &serde_json::Value) -> (Names, String) {
    let uid = object["metadata"]["uid"].as_str().expect("uid").to_owned();
    let name = object["metadata"]["name"].as_str().expect("name");
    let tenant = object["metadata"]["tenant"].as_str().expect("tenant");
    let recorded = serde_json::from_value(object["status"]["awsNames"].clone()).ok();
    (recorded.unwrap_or_else(|| Names::legacy(tenant, name, &uid.parse().expect("uuid"))), uid)
}
