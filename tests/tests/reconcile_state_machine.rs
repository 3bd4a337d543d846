//! The reconciler's state machine with in-memory AWS, for what the emulator cannot show: resources that take
//! time to become available or to go, and throttling bursts. Never two of anything.

use std::sync::Arc;

use butler::reconcile::environment::EnvironmentReconciler;
use butler::reconcile::Action;
use butler_tests::fakes::FakeAws;
use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn setup(settle_after: u32) -> (TestApp, EnvironmentReconciler, FakeAws) {
    let app = TestApp::spawn().await;
    let profile = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let fake = FakeAws::default();
    fake.state().settle_after = settle_after;
    let reconciler = EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(fake.clone()));
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    (app, reconciler, fake)
}

fn storage_reason(object: &serde_json::Value) -> String {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == "StorageReady"))
        .map(|c| format!("{}/{}", c["status"].as_str().unwrap_or_default(), c["reason"].as_str().unwrap_or_default()))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_file_system_still_creating_makes_the_pass_wait_and_a_later_pass_finishes() {
    let (app, reconciler, fake) = setup(2).await;
    let first = reconciler.reconcile_once("payments", "ci").await.expect("pass");
    assert!(matches!(first, Action::RequeueAfter(_)));
    let object = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(storage_reason(&object), "False/FileSystemCreating");
    assert_eq!(object["status"]["phase"], "Provisioning");

    let mut reasons = vec![storage_reason(&object)];
    for _ in 0..10 {
        if reconciler.reconcile_once("payments", "ci").await.expect("pass") == Action::AwaitChange {
            break;
        }
        reasons.push(storage_reason(&app.get(&environment_path("payments", "ci")).await.json()));
    }
    assert!(reasons.iter().any(|r| r == "False/MountTargetsCreating"), "{reasons:?}");
    assert_eq!(storage_reason(&app.get(&environment_path("payments", "ci")).await.json()), "True/Available");
    let creates = fake.state().creates.clone();
    assert_eq!(creates.get("efs:CreateFileSystem"), Some(&1));
    assert_eq!(creates.get("efs:CreateMountTarget"), Some(&2), "one per subnet, never again while they settle");
    assert_eq!(creates.get("efs:CreateAccessPoint"), Some(&1));
    assert_eq!(creates.get("ec2:CreateSecurityGroup"), Some(&3));
}

#[tokio::test]
async fn throttling_is_transient_and_the_next_pass_creates_nothing_twice() {
    let (app, reconciler, fake) = setup(0).await;
    fake.state().throttle.insert("servicediscovery:CreateService", 2);
    for _ in 0..2 {
        let error = reconciler.reconcile_once("payments", "ci").await.expect_err("throttled");
        assert!(error.is_transient(), "{error}");
    }
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let throttled = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["reason"] == "ThrottlingException")
        .cloned()
        .expect("event");
    assert_eq!(throttled["count"], 2, "repeats fold into one event");
    assert_eq!(reconciler.reconcile_once("payments", "ci").await.expect("recovers"), Action::AwaitChange);
    let creates = fake.state().creates.clone();
    assert_eq!(creates.get("efs:CreateFileSystem"), Some(&1));
    assert_eq!(creates.get("servicediscovery:CreateService"), Some(&1));
}

#[tokio::test]
async fn teardown_waits_for_mount_targets_to_go_before_the_file_system() {
    let (app, reconciler, fake) = setup(1).await;
    for _ in 0..10 {
        if reconciler.reconcile_once("payments", "ci").await.expect("pass") == Action::AwaitChange {
            break;
        }
    }
    app.merge_patch("payments", "ci", &json!({ "spec": { "storage": { "deletionPolicy": "Delete" } } })).await;
    reconciler.reconcile_once("payments", "ci").await.expect("pass");
    app.send(app.request(Method::DELETE, &environment_path("payments", "ci"))).await;
    let first = reconciler.reconcile_once("payments", "ci").await.expect("teardown pass");
    assert!(matches!(first, Action::RequeueAfter(_)), "mount targets are still deleting");
    let deleting = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(deleting["status"]["phase"], "Deleting");
    let ready = deleting["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .expect("ready");
    assert_eq!(ready["reason"], "WaitingForMountTargets", "the status says what blocks");
    assert_eq!(fake.state().file_systems.len(), 1, "the file system waits for its mount targets");
    for _ in 0..10 {
        if reconciler.reconcile_once("payments", "ci").await.expect("pass") == Action::AwaitChange {
            break;
        }
    }
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    let state = fake.state();
    assert!(state.file_systems.is_empty() && state.security_groups.is_empty() && state.services.is_empty());
    assert!(state.roles.is_empty() && state.log_groups.is_empty(), "roles and log groups went too");
}

#[tokio::test]
async fn the_generated_jenkins_configuration_points_agents_at_the_cloud_map_name_and_holds_no_secret() {
    let (app, _reconciler, _fake) = setup(0).await;
    let response = app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await;
    assert_eq!(response.status, StatusCode::OK);
    let body = response.json();
    let casc: serde_json::Value = serde_yaml_ng::from_str(body["casc"].as_str().expect("casc")).expect("yaml");
    assert_eq!(casc["jenkins"]["numExecutors"], 0);
    assert_eq!(casc["jenkins"]["slaveAgentPort"], 50000);
    let cloud = &casc["jenkins"]["clouds"][0]["ecs"];
    assert_eq!(cloud["jenkinsUrl"], "http://master-payments-ci.jenkins.local:8080/");
    assert_eq!(cloud["tunnel"], "master-payments-ci.jenkins.local:50000");
    assert_eq!(cloud["numExecutors"], 1);
    assert_eq!(cloud["templates"][0]["label"], "ecs-agents");
    assert_eq!(casc["jenkins"]["securityRealm"]["local"]["users"][0]["password"], "${JENKINS_ADMIN_PASSWORD}");
    assert!(body["plugins"].as_array().expect("plugins").iter().any(|p| p == "amazon-ecs"));
    assert!(body["cascPath"].as_str().is_some_and(|p| !p.starts_with("/var/jenkins_home")), "outside JENKINS_HOME");

    let moved = app.send_json(Method::PATCH, "/api/v1/tenants/payments", &json!({ "cloudProfile": "nowhere" })).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await.status,
        StatusCode::CONFLICT
    );
}
