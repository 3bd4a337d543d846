//! The reconciler's state machine with in-memory AWS, for what the emulator cannot show: resources that take
//! time to become available or to go (EFS, the controller task, the ASG's deletion), throttling bursts, a Spot
//! instance replaced, a teardown blocked and then freed. Never two of anything.

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

async fn converge(reconciler: &EnvironmentReconciler) {
    for _ in 0..20 {
        if reconciler.reconcile_once("payments", "ci").await.expect("pass") == Action::AwaitChange {
            return;
        }
    }
    panic!("did not converge");
}

fn ready_reason(object: &serde_json::Value) -> String {
    condition(object, "Ready")["reason"].as_str().unwrap_or_default().to_owned()
}

fn condition<'a>(object: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or(&serde_json::Value::Null)
}

async fn event_reasons(app: &TestApp) -> Vec<String> {
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    events["items"].as_array().expect("items").iter().filter_map(|e| e["reason"].as_str().map(str::to_owned)).collect()
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
    fake.state().throttle.insert("ecs:RegisterTaskDefinition", 1);
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
    let third = reconciler.reconcile_once("payments", "ci").await.expect_err("the task definition is throttled");
    assert!(third.is_transient(), "{third}");
    converge(&reconciler).await;
    let creates = fake.state().creates.clone();
    for operation in [
        "efs:CreateFileSystem",
        "servicediscovery:CreateService",
        "ecs:RegisterTaskDefinition",
        "ecs:CreateService",
        "autoscaling:CreateAutoScalingGroup",
        "ecs:CreateCapacityProvider",
        "ec2:CreateLaunchTemplate",
        "ssm:PutParameter",
    ] {
        assert_eq!(creates.get(operation), Some(&1), "{operation}: {creates:?}");
    }
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
    // Each pass either finishes or says in Ready what it waits for; the waits come in the safe order.
    let mut blockers = Vec::new();
    for _ in 0..20 {
        if reconciler.reconcile_once("payments", "ci").await.expect("pass") == Action::AwaitChange {
            break;
        }
        let deleting = app.get(&environment_path("payments", "ci")).await.json();
        assert_eq!(deleting["status"]["phase"], "Deleting");
        let reason = ready_reason(&deleting);
        if reason == "WaitingForMountTargets" {
            assert_eq!(fake.state().file_systems.len(), 1, "the file system waits for its mount targets");
        }
        if blockers.last() != Some(&reason) {
            blockers.push(reason);
        }
    }
    assert_eq!(blockers, ["WaitingForControllerToStop", "WaitingForInstances", "WaitingForMountTargets"]);
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    let state = fake.state();
    assert!(state.file_systems.is_empty() && state.security_groups.is_empty() && state.services.is_empty());
    assert!(state.roles.is_empty() && state.log_groups.is_empty(), "roles and log groups went too");
    assert!(state.clusters.is_empty() && state.groups.is_empty() && state.capacity_providers.is_empty());
    assert!(state.launch_templates.is_empty() && state.parameters.is_empty() && state.ecs_services.is_empty());
    assert!(state.task_definitions.values().flatten().all(|(_, _, active)| !active), "revisions deregistered");
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
    assert_eq!(cloud["jenkinsUrl"], "http://ci.payments.jenkins.local:8080/");
    assert_eq!(cloud["tunnel"], "ci.payments.jenkins.local:50000");
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

#[tokio::test]
async fn the_controller_is_pending_then_running_and_only_then_ready() {
    let (app, reconciler, fake) = setup(0).await;
    fake.state().service_start_after = 2;
    let mut controller_reasons = Vec::new();
    for _ in 0..10 {
        let action = reconciler.reconcile_once("payments", "ci").await.expect("pass");
        let object = app.get(&environment_path("payments", "ci")).await.json();
        let controller = condition(&object, "ControllerReady");
        controller_reasons.push(format!(
            "{}/{}",
            controller["status"].as_str().unwrap_or("-"),
            controller["reason"].as_str().unwrap_or("-")
        ));
        if action == Action::AwaitChange {
            assert_eq!(object["status"]["phase"], "Ready");
            break;
        }
        assert_ne!(object["status"]["phase"], "Ready", "not Ready while the controller is pending");
    }
    assert!(controller_reasons.iter().any(|r| r == "False/ControllerStarting"), "{controller_reasons:?}");
    assert_eq!(controller_reasons.last().map(String::as_str), Some("True/Healthy"));
    assert_eq!(fake.state().creates.get("ecs:CreateService"), Some(&1), "never a second service while it starts");
}

#[tokio::test]
async fn a_replaced_spot_instance_is_recorded_and_changes_nothing_in_aws() {
    let (app, reconciler, fake) = setup(0).await;
    converge(&reconciler).await;
    let object = app.get(&environment_path("payments", "ci")).await.json();
    let old = object["status"]["instances"][0]["id"].as_str().expect("instance").to_owned();
    let mutations_before = fake.state().mutations.clone();

    let new = fake.replace_instance("butler-payments_ci_asg", &old);
    assert_eq!(reconciler.reconcile_once("payments", "ci").await.expect("pass"), Action::AwaitChange);
    let object = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(object["status"]["instances"][0]["id"], new.as_str());
    assert_eq!(object["status"]["phase"], "Ready");
    assert!(event_reasons(&app).await.iter().any(|r| r == "SpotInstanceReplaced"));
    assert_eq!(fake.state().mutations, mutations_before, "the ASG replaces it; Butler only records it");
    // Counted per day beside the savings in the cost report.
    let report = app.get("/api/v1/costs?tenant=payments").await;
    assert_eq!(report.status, StatusCode::OK);
    let body = report.json();
    assert_eq!(body["tenants"][0]["spotInterruptions"], 1, "{body}");
    assert_eq!(body["tenants"][0]["environments"][0]["environment"], "ci");
}

#[tokio::test]
async fn an_idle_resync_on_fakes_makes_no_mutation_and_drift_in_the_group_is_repaired() {
    let (app, reconciler, fake) = setup(0).await;
    converge(&reconciler).await;
    let mutations_before = fake.state().mutations.clone();
    assert_eq!(reconciler.reconcile_once("payments", "ci").await.expect("pass"), Action::AwaitChange);
    assert_eq!(fake.state().mutations, mutations_before);

    // Someone drops the on-demand base to 0 (the controller would land on Spot): put back.
    fake.state().groups.get_mut("butler-payments_ci_asg").expect("group").0.spec.on_demand_base = 0;
    converge(&reconciler).await;
    assert_eq!(fake.state().groups["butler-payments_ci_asg"].0.spec.on_demand_base, 1);
    assert!(event_reasons(&app).await.iter().any(|r| r == "DriftRepaired"));
}

/// The emulator has no UpdateFileSystem: a file system's throughput changed out of band is repaired here.
#[tokio::test]
async fn a_throughput_changed_out_of_band_is_set_back_by_the_content_check() {
    let (app, reconciler, fake) = setup(0).await;
    converge(&reconciler).await;
    for (fs, _) in fake.state().file_systems.values_mut() {
        fs.throughput = butler::aws::efs::Throughput::Bursting;
    }
    let checker = EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(fake.clone()))
        .with_content_check(std::time::Duration::ZERO);
    converge(&checker).await;
    let throughputs: Vec<_> = fake.state().file_systems.values().map(|(fs, _)| fs.throughput).collect();
    assert_eq!(throughputs, [butler::aws::efs::Throughput::Elastic], "the spec's elastic throughput is back");
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let repaired =
        events["items"].as_array().expect("items").iter().any(|e| {
            e["reason"] == "DriftRepaired" && e["message"].as_str().unwrap_or_default().contains("throughput")
        });
    assert!(repaired, "{events}");
}

#[tokio::test]
async fn a_permanent_error_says_why_in_ready_and_a_profile_change_brings_a_retry() {
    let (app, reconciler, fake) = setup(0).await;
    fake.state().no_ecs_ami = true;
    let error = reconciler.reconcile_once("payments", "ci").await.expect_err("no AMI");
    assert!(!error.is_transient(), "{error}");
    let object = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(condition(&object, "Ready")["status"], "False");
    assert_eq!(condition(&object, "Ready")["reason"], "EcsAmiNotFound");
    assert_eq!(object["status"]["phase"], "Failed");

    // The fix is in the profile: naming an AMI makes the environment due again at once.
    let db = app.db();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("UPDATE jenkins_environments SET next_reconcile_at = now() + interval '1 hour'")
        .await
        .expect("push back");
    let profile = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"], "amiId": "ami-0123456789abcdef0" });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::OK);
    let due = db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT (next_reconcile_at <= now()) AS due FROM jenkins_environments",
        ))
        .await
        .expect("query")
        .expect("row");
    assert!(due.try_get::<bool>("", "due").expect("due"), "the profile change woke the environment");
    converge(&reconciler).await;
    let object = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(object["status"]["phase"], "Ready");
    let template = fake.state().launch_templates.values().next().cloned().expect("launch template");
    assert_eq!(template.data.image_id, "ami-0123456789abcdef0");
}

#[tokio::test]
async fn a_profile_without_egress_holds_the_controller_back_and_says_why_instead_of_crash_looping() {
    let (app, reconciler, fake) = setup(0).await;
    fake.state().no_egress = true;
    for _ in 0..5 {
        reconciler.reconcile_once("payments", "ci").await.expect("pass");
    }
    let object = app.get(&environment_path("payments", "ci")).await.json();
    let egress = condition(&object, "EgressReady");
    assert_eq!((egress["status"].as_str(), egress["reason"].as_str()), (Some("False"), Some("NoRouteToInternet")));
    assert!(egress["message"].as_str().expect("message").contains("no route to the internet"), "{egress}");
    assert_eq!(condition(&object, "Ready")["status"], "False");
    assert!(fake.state().ecs_services.is_empty(), "no controller started to crash-loop");
    let profile = app.get("/api/v1/cloudprofiles/default").await.json();
    assert_eq!(profile["egress"]["ok"], false, "the profile says so too: {profile}");

    // A NAT gateway added; once the check is due again, the controller starts.
    fake.state().no_egress = false;
    let stale = "UPDATE cloud_profiles SET egress = jsonb_set(egress, '{checkedAt}', \
        to_jsonb(to_char((now() - interval '11 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))";
    use sea_orm::ConnectionTrait;
    app.db().execute_unprepared(stale).await.expect("age the check");
    converge(&reconciler).await;
    let object = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(condition(&object, "EgressReady")["status"], "True");
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
}

#[tokio::test]
async fn a_profile_with_an_http_proxy_needs_no_route_and_the_controller_goes_out_through_it() {
    let (app, reconciler, fake) = setup(0).await;
    fake.state().no_egress = true;
    let mut profile = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0",
        "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    // A proxy Butler cannot pass on is refused, naming the field.
    for (bad, field) in [
        (json!({ "url": "http://user:secret@proxy.corp.example:3128" }), "httpProxy.url"),
        (json!({ "url": "https://proxy.corp.example" }), "httpProxy.url"),
        (json!({ "url": "http://proxy.corp.example:3128", "noProxy": ["not a host"] }), "httpProxy.noProxy[0]"),
    ] {
        profile["httpProxy"] = bad;
        let refused = app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.json());
        assert!(refused.json()["detail"].as_str().expect("detail").contains(field), "{:?}", refused.json());
        assert!(!refused.json().to_string().contains("secret"), "the refusal does not echo credentials");
    }
    profile["httpProxy"] = json!({ "url": "http://proxy.corp.example:3128", "noProxy": ["*.corp.example"] });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/cloudprofiles/default").await.json()["httpProxy"]["url"],
        "http://proxy.corp.example:3128"
    );

    converge(&reconciler).await;
    let object = app.get(&environment_path("payments", "ci")).await.json();
    let egress = condition(&object, "EgressReady");
    assert_eq!((egress["status"].as_str(), egress["reason"].as_str()), (Some("True"), Some("HttpProxy")), "{egress}");
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    let task = fake.state().last_controller_task.clone().expect("a controller task");
    let java = &task.environment["JAVA_OPTS"];
    for option in
        ["-Dhttps.proxyHost=proxy.corp.example", "-Dhttps.proxyPort=3128", "-Djenkins.install.runSetupWizard=false"]
    {
        assert!(java.split(' ').any(|o| o == option), "{option} in {java}");
    }
    assert!(java.contains("169.254.170.2"), "the task role's credentials never go through the proxy: {java}");
    assert_eq!(task.environment["HTTPS_PROXY"], "http://proxy.corp.example:3128");
    assert!(task.environment["BUTLER_CASC_YAML"].contains("noProxyHost"), "Jenkins' own proxy setting");
}

#[tokio::test]
async fn a_crash_looping_controller_is_not_ready_and_says_why_with_its_exit_code() {
    let (app, reconciler, fake) = setup(0).await;
    let crash = butler::aws::ecs::StoppedTask {
        reason: "Essential container in task exited".into(),
        exit_code: Some(1),
        task_definition: String::new(), // the fake fills in the revision the service runs
    };
    fake.state().controller_crash = Some(crash);
    for _ in 0..8 {
        reconciler.reconcile_once("payments", "ci").await.expect("pass");
    }
    let object = app.get(&environment_path("payments", "ci")).await.json();
    let controller = condition(&object, "ControllerReady");
    assert_eq!(
        (controller["status"].as_str(), controller["reason"].as_str()),
        (Some("False"), Some("ControllerStopped"))
    );
    let message = controller["message"].as_str().expect("message");
    assert!(message.contains("Essential container in task exited (exit code 1)"), "{message}");
    assert_ne!(object["status"]["phase"], "Ready");

    fake.state().controller_crash = None;
    converge(&reconciler).await;
    assert_eq!(app.get(&environment_path("payments", "ci")).await.json()["status"]["phase"], "Ready");
}

#[tokio::test]
async fn a_running_task_is_not_ready_until_jenkins_answers_its_health_check() {
    let (app, reconciler, fake) = setup(0).await;
    fake.state().jenkins_unhealthy = true;
    for _ in 0..8 {
        reconciler.reconcile_once("payments", "ci").await.expect("pass");
    }
    let object = app.get(&environment_path("payments", "ci")).await.json();
    let controller = condition(&object, "ControllerReady");
    assert_eq!(
        (controller["status"].as_str(), controller["reason"].as_str()),
        (Some("False"), Some("JenkinsStarting"))
    );
    assert_ne!(object["status"]["phase"], "Ready", "a task that runs is not a Jenkins that answers");

    fake.state().jenkins_unhealthy = false;
    converge(&reconciler).await;
    let object = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(condition(&object, "ControllerReady")["reason"], "Healthy");
    assert_eq!(object["status"]["phase"], "Ready");
}
