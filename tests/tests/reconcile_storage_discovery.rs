//! The environment reconciler end to end against the emulator with the real SDK: storage and discovery are
//! provisioned, a second pass of a converged environment makes no mutating call, and deletion leaves nothing
//! tagged for the environment (except a retained JENKINS_HOME).

use std::sync::Arc;

use butler::aws::context::AwsSettings;
use butler::aws::discovery::{DiscoveryApi, SdkDiscovery};
use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::efs::{EfsApi, SdkEfs};
use butler::aws::emulator::ensure_network;
use butler::aws::iam::IamApi;
use butler::aws::logs::LogsApi;
use butler::reconcile::environment::{EnvironmentReconciler, SdkProvider};
use butler::reconcile::Action;
use butler_tests::aws::{fresh_account_with_role, REGION};
use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

struct World {
    app: TestApp,
    reconciler: EnvironmentReconciler,
    settings: AwsSettings,
    account: butler::aws::context::AwsAccount,
    vpc: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let (account, role) = fresh_account_with_role().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    let profile =
        json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let settings = AwsSettings::from_env();
    let reconciler =
        EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(SdkProvider::new(settings.clone())));
    World { app, reconciler, settings, account, vpc: network.vpc_id }
}

/// Passes until converged, as the runner would run them: transient AWS errors (the emulator under parallel
/// load answers 500 now and then) are retried; anything else fails the test.
async fn converge(world: &World, name: &str) -> Action {
    let mut transient = Vec::new();
    for _ in 0..20 {
        match world.reconciler.reconcile_once("payments", name).await {
            Ok(Action::AwaitChange) => return Action::AwaitChange,
            Ok(Action::RequeueAfter(_)) => continue,
            Err(error) if error.is_transient() => transient.push(error.to_string()),
            Err(error) => panic!("{name}: permanent failure {error}"),
        }
    }
    panic!("{name} did not converge in 20 passes; transient errors: {transient:?}");
}

fn condition<'a>(object: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or(&serde_json::Value::Null)
}

#[tokio::test]
async fn storage_and_discovery_are_provisioned_once_and_a_converged_pass_changes_nothing() {
    let world = world().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    converge(&world, "ci").await;

    let object = world.app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(condition(&object, "StorageReady")["status"], "True", "{object}");
    assert_eq!(condition(&object, "DiscoveryReady")["status"], "True");
    let outputs = &object["status"]["outputs"];
    assert_eq!(outputs["controllerDns"], "master-payments-ci.jenkins.local");
    assert_eq!(outputs["url"], "http://master-payments-ci.jenkins.local:8080/");
    let file_system = outputs["fileSystemId"].as_str().expect("file system").to_owned();

    let efs = SdkEfs::new(&world.account);
    let uid = object["metadata"]["uid"].as_str().expect("uid");
    assert_eq!(efs.find_file_system(uid).await.expect("lookup").expect("by token").id, file_system);
    assert_eq!(efs.mount_targets(&file_system).await.expect("targets").len(), 2);
    let points = efs.access_points(&file_system).await.expect("points");
    assert_eq!((points.len(), points[0].root_path.as_str(), points[0].uid), (1, "/jenkins/ci", Some(1000)));
    let names = butler::reconcile::environment::names::Names::new("payments", "ci", &uid.parse().expect("uuid"));
    let iam = butler::aws::iam::SdkIam::new(&world.account);
    assert!(iam.get_role(&names.controller_role()).await.expect("lookup").is_some());
    let logs = butler::aws::logs::SdkLogs::new(&world.account);
    assert_eq!(logs.find_log_group(&names.agents_log_group()).await.expect("lookup"), Some(Some(30)));

    // Converged: another pass reads, writes nothing to AWS and nothing to the database.
    let mutating_before = world.settings.calls.mutating();
    let version_before = object["metadata"]["resourceVersion"].clone();
    assert_eq!(world.reconciler.reconcile_once("payments", "ci").await.expect("pass"), Action::AwaitChange);
    assert_eq!(world.settings.calls.mutating(), mutating_before, "{:?}", world.settings.calls.snapshot());
    let again = world.app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(again["metadata"]["resourceVersion"], version_before);

    // A second environment shares the profile's namespace.
    assert_eq!(world.app.create("payments", &manifest("nightly")).await.status, StatusCode::CREATED);
    converge(&world, "nightly").await;
    let nightly = world.app.get(&environment_path("payments", "nightly")).await.json();
    assert_eq!(nightly["status"]["outputs"]["namespaceId"], object["status"]["outputs"]["namespaceId"]);
}

#[tokio::test]
async fn deleting_removes_everything_tagged_for_the_environment_and_then_the_row() {
    let world = world().await;
    let mut body = manifest("ci");
    body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
    assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
    converge(&world, "ci").await;
    let object = world.app.get(&environment_path("payments", "ci")).await.json();
    let uid = object["metadata"]["uid"].as_str().expect("uid").to_owned();
    let namespace = object["status"]["outputs"]["namespaceId"].as_str().expect("namespace").to_owned();

    assert_eq!(
        world.app.send(world.app.request(Method::DELETE, &environment_path("payments", "ci"))).await.status,
        StatusCode::ACCEPTED
    );
    converge(&world, "ci").await;
    assert_eq!(world.app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);

    let (ec2, efs, discovery) =
        (SdkEc2::new(&world.account), SdkEfs::new(&world.account), SdkDiscovery::new(&world.account));
    assert_eq!(efs.find_file_system(&uid).await.expect("lookup"), None);
    for group in ["butler-payments-ci-efs", "butler-payments-ci-controller", "butler-payments-ci-agents"] {
        assert_eq!(ec2.find_security_group(&world.vpc, group).await.expect("lookup"), None, "{group}");
    }
    assert_eq!(discovery.find_service(&namespace, "master-payments-ci").await.expect("lookup"), None);
    assert!(discovery.find_namespace("jenkins.local").await.expect("lookup").is_some(), "the shared namespace stays");
    let iam = butler::aws::iam::SdkIam::new(&world.account);
    let names = butler::reconcile::environment::names::Names::new("payments", "ci", &uid.parse().expect("uuid"));
    for role in [names.controller_role(), names.agent_role(), names.execution_role(), names.instance_role()] {
        assert_eq!(iam.get_role(&role).await.expect("lookup"), None, "{role}");
    }
    let logs = butler::aws::logs::SdkLogs::new(&world.account);
    assert_eq!(logs.find_log_group(&names.controller_log_group()).await.expect("lookup"), None);
}

#[tokio::test]
async fn a_retained_jenkins_home_outlives_its_environment() {
    let world = world().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    converge(&world, "ci").await;
    let object = world.app.get(&environment_path("payments", "ci")).await.json();
    let uid = object["metadata"]["uid"].as_str().expect("uid").to_owned();
    world.app.send(world.app.request(Method::DELETE, &environment_path("payments", "ci"))).await;
    converge(&world, "ci").await;
    assert_eq!(world.app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    let efs = SdkEfs::new(&world.account);
    let kept = efs.find_file_system(&uid).await.expect("lookup").expect("retained");
    assert!(efs.mount_targets(&kept.id).await.expect("targets").is_empty(), "its mount targets went");
}

async fn wait_for_condition(app: &TestApp, name: &str, kind: &str, status: &str) -> serde_json::Value {
    for _ in 0..200 {
        let object = app.get(&environment_path("payments", name)).await.json();
        if condition(&object, kind)["status"] == status {
            return object;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} never had {kind}={status}");
}

#[tokio::test]
async fn the_server_reconciles_on_its_own_and_reports_a_missing_profile() {
    let app = TestApp::spawn_reconciling().await;
    let (account, role) = fresh_account_with_role().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    let profile =
        json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);

    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let object = wait_for_condition(&app, "ci", "DiscoveryReady", "True").await;
    assert_eq!(condition(&object, "StorageReady")["status"], "True");
    assert_eq!(object["status"]["phase"], "Provisioning", "capacity and controller come next: not Ready yet");
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let reasons: Vec<&str> =
        events["items"].as_array().expect("items").iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(reasons.contains(&"FileSystemCreated") && reasons.contains(&"DiscoveryServiceCreated"), "{reasons:?}");

    let moved = app.send_json(Method::PATCH, "/api/v1/tenants/payments", &json!({ "cloudProfile": "nowhere" })).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(app.create("payments", &manifest("lost")).await.status, StatusCode::CREATED);
    let lost = wait_for_condition(&app, "lost", "Ready", "False").await;
    assert_eq!(condition(&lost, "Ready")["reason"], "CloudProfileNotFound");
}
