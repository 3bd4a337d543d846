//! Changes that never kill a build, on in-memory AWS and an in-memory Jenkins behind the same trait as the real
//! HTTP client (`butler::jenkins::ControllerApi`): a configuration-only change is a reload and no new task
//! definition; a restart-needing change puts Jenkins in quiet-down and waits for its builds, or for the drain
//! timeout; a revision ECS's circuit breaker rolls back is reported and not pushed again.

use std::sync::Arc;

use butler::reconcile::environment::EnvironmentReconciler;
use butler::reconcile::Action;
use butler_tests::fake_jenkins::FakeJenkins;
use butler_tests::fakes::FakeAws;
use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Butler's public URL in these tests: Jenkins fetches its configuration from Butler, so reloads apply it.
const ISSUER: &str = "https://butler.example.test";

struct Setup {
    app: TestApp,
    reconciler: EnvironmentReconciler,
    aws: FakeAws,
    jenkins: FakeJenkins,
}

async fn setup(issuer: Option<&str>) -> Setup {
    let app = TestApp::spawn().await;
    let profile = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let aws = FakeAws::default();
    let jenkins = FakeJenkins::default();
    let reconciler = EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(aws.clone()))
        .with_controllers(Arc::new(jenkins.clone()))
        .with_issuer(issuer.map(str::to_owned));
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let setup = Setup { app, reconciler, aws, jenkins };
    setup.converge().await;
    assert_eq!(setup.object().await["status"]["phase"], "Ready");
    setup
}

impl Setup {
    async fn pass(&self) -> Action {
        self.reconciler.reconcile_once("payments", "ci").await.expect("pass")
    }

    async fn converge(&self) {
        for _ in 0..20 {
            if self.pass().await == Action::AwaitChange {
                return;
            }
        }
        panic!("did not converge");
    }

    async fn object(&self) -> Value {
        self.app.get(&environment_path("payments", "ci")).await.json()
    }

    /// Changes the spec through the API (a full replace of what the caller owns).
    async fn change(&self, edit: impl FnOnce(&mut Value)) {
        let mut spec = self.object().await["spec"].clone();
        edit(&mut spec);
        let body = json!({ "metadata": { "name": "ci" }, "spec": spec });
        let answer = self.app.send_json(Method::PUT, &environment_path("payments", "ci"), &body).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    }

    fn registrations(&self) -> u32 {
        self.aws.state().creates.get("ecs:RegisterTaskDefinition").copied().unwrap_or(0)
    }

    fn service_updates(&self) -> u32 {
        self.aws.state().mutations.get("ecs:UpdateService").copied().unwrap_or(0)
    }

    async fn events(&self) -> Vec<(String, String)> {
        let events = self.app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
        events["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| {
                (
                    e["reason"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

fn condition(object: &Value, kind: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_configuration_only_change_is_reloaded_without_a_new_task_definition() {
    let setup = setup(Some(ISSUER)).await;
    setup.jenkins.state().running_builds = 4;
    let (registered, updated) = (setup.registrations(), setup.service_updates());
    let before = setup.object().await["status"]["outputs"]["configurationHash"].clone();
    assert!(before.is_string(), "the applied configuration is recorded");

    setup.change(|spec| spec["jenkins"]["configurationAsCode"] = json!("jenkins:\n  mode: EXCLUSIVE\n")).await;
    setup.converge().await;

    let object = setup.object().await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    assert_eq!(setup.registrations(), registered, "no new task definition for a configuration change");
    assert_eq!(setup.service_updates(), updated, "the running controller was not replaced");
    let (reloads, quiet_downs, token) = {
        let jenkins = setup.jenkins.state();
        (jenkins.reloads, jenkins.quiet_downs, jenkins.last_reload_token.clone())
    };
    assert_eq!(reloads, 1, "one JCasC reload");
    assert_eq!(quiet_downs, 0, "no drain: nothing restarts");
    // The reload carried the token the controller got from SSM, which the configuration endpoint accepts.
    let token = token.expect("token sent");
    let uid = object["metadata"]["uid"].as_str().expect("uid").replace('-', "");
    let served = setup.app.get(&format!("/casc/{uid}/jenkins.yaml?token={token}")).await;
    assert_eq!(served.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&served.body).to_string();
    assert!(text.contains("mode: EXCLUSIVE"), "the controller fetches the new configuration: {text}");
    assert_ne!(object["status"]["outputs"]["configurationHash"], before);
    assert!(setup.events().await.iter().any(|(reason, _)| reason == "ConfigurationReloaded"));
    assert_eq!(setup.app.get(&format!("/casc/{uid}/jenkins.yaml?token=wrong")).await.status, StatusCode::NOT_FOUND);

    // Nothing changed since: the next pass reloads nothing.
    setup.reconciler.reconcile_once("payments", "ci").await.expect("pass");
    assert_eq!(setup.jenkins.state().reloads, 1);

    // A configuration Jenkins refuses says so in Ready, with Jenkins' words.
    setup.jenkins.state().reject_configuration = Some("No configurator for the following root elements: nosuch".into());
    setup.change(|spec| spec["jenkins"]["configurationAsCode"] = json!("nosuch:\n  x: 1\n")).await;
    let error = loop {
        match setup.reconciler.reconcile_once("payments", "ci").await {
            Ok(Action::AwaitChange) => panic!("a refused configuration converged"),
            Ok(Action::RequeueAfter(_)) => continue,
            Err(error) => break error,
        }
    };
    assert!(!error.is_transient(), "{error}");
    let ready = condition(&setup.object().await, "Ready");
    assert_eq!(ready["reason"], "ConfigurationRejected", "{ready}");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("controller log") && !message.contains("nosuch"),
        "Jenkins' words stay in its log: {ready}"
    );
    // A controller restarting now gets the configuration it runs, not the refused one.
    let served = setup.app.get(&format!("/casc/{uid}/jenkins.yaml?token={token}")).await;
    let text = String::from_utf8_lossy(&served.body).to_string();
    assert!(text.contains("mode: EXCLUSIVE") && !text.contains("nosuch"), "{text}");
}

#[tokio::test]
async fn a_restart_needing_change_waits_in_quiet_down_for_running_builds_then_rolls() {
    let setup = setup(Some(ISSUER)).await;
    setup.jenkins.state().running_builds = 3;
    let updated = setup.service_updates();

    setup.change(|spec| spec["controller"]["image"] = json!("jenkins/jenkins:2.479.3-lts-jdk21")).await;
    for _ in 0..3 {
        // A drain is looked at every 30 s, not at the 5 s of a resource being made.
        let waiting = Action::RequeueAfter(std::time::Duration::from_secs(30));
        assert_eq!(setup.pass().await, waiting, "draining waits");
    }
    let object = setup.object().await;
    assert_eq!(setup.service_updates(), updated, "the controller keeps running while builds run");
    assert_eq!(setup.jenkins.state().quiet_downs, 1, "quiet-down once, not at every pass");
    assert!(setup.jenkins.state().quieting_down);
    let rollout = &object["status"]["rollout"];
    assert_eq!(rollout["phase"], "Draining", "{object}");
    assert_eq!(rollout["runningBuilds"], 3);
    let message = rollout["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("draining: 3 build(s) running, 30 min left"), "{message}");
    assert_eq!(condition(&object, "ControllerReady")["reason"], "Draining");
    assert_eq!(object["status"]["phase"], "Degraded", "quiet-down: no new build starts while the old revision runs");
    // A restart meanwhile would get the configuration the running revision has, not the pending one.
    let uid = object["metadata"]["uid"].as_str().expect("uid").replace('-', "");
    let token =
        setup.aws.state().parameters.iter().find(|(k, _)| k.ends_with("controller-token")).map(|(_, v)| v.clone());
    let served = setup.app.get(&format!("/casc/{uid}/jenkins.yaml?token={}", token.expect("token"))).await;
    assert_eq!(served.status, StatusCode::OK);
    // The running controller is what the status names until the change rolls.
    assert_eq!(
        object["status"]["outputs"]["taskDefinitionArn"],
        setup.aws.state().ecs_services.values().next().expect("service").0.task_definition
    );

    // The builds finish: the next pass rolls.
    setup.jenkins.state().running_builds = 0;
    setup.converge().await;
    let object = setup.object().await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    assert_eq!(setup.service_updates(), updated + 1, "one roll");
    assert!(object["status"]["rollout"].is_null(), "the rollout is over: {}", object["status"]["rollout"]);
    let reasons: Vec<String> = setup.events().await.into_iter().map(|(reason, _)| reason).collect();
    for expected in ["DrainStarted", "DrainFinished", "ControllerUpdated", "RolloutCompleted"] {
        assert!(reasons.iter().any(|r| r == expected), "{expected} missing from {reasons:?}");
    }
    let task = setup.aws.state().last_controller_task.clone().expect("task");
    assert_eq!(task.image, "jenkins/jenkins:2.479.3-lts-jdk21");
}

#[tokio::test]
async fn a_drain_rolls_when_its_timeout_passes_and_a_withdrawn_change_ends_quiet_down() {
    let setup = setup(None).await;
    setup.jenkins.state().running_builds = 2;
    let updated = setup.service_updates();

    // A change withdrawn while draining: Jenkins leaves quiet-down, nothing rolls.
    let original = setup.object().await["spec"]["agents"]["maxAgents"].clone();
    setup.change(|spec| spec["agents"]["maxAgents"] = json!(25)).await;
    assert!(matches!(setup.pass().await, Action::RequeueAfter(_)));
    assert!(setup.jenkins.state().quieting_down, "without a public URL a configuration change restarts: drained");
    setup.change(|spec| spec["agents"]["maxAgents"] = original).await;
    setup.converge().await;
    assert!(!setup.jenkins.state().quieting_down, "quiet-down cancelled");
    assert_eq!(setup.jenkins.state().cancelled_quiet_downs, 1);
    assert_eq!(setup.service_updates(), updated, "nothing rolled");
    assert!(setup.events().await.iter().any(|(reason, _)| reason == "DrainCancelled"));

    // A short drain timeout: the builds never finish, the change rolls when it passes.
    setup
        .change(|spec| {
            spec["controller"]["drainTimeoutSeconds"] = json!(1);
            spec["controller"]["memory"] = json!(3072);
        })
        .await;
    assert!(matches!(setup.pass().await, Action::RequeueAfter(_)));
    assert_eq!(setup.service_updates(), updated, "still draining");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    setup.converge().await;
    assert_eq!(setup.service_updates(), updated + 1, "rolled at the deadline");
    let timed_out = setup.events().await.into_iter().find(|(reason, _)| reason == "DrainTimedOut").expect("event");
    assert!(timed_out.1.starts_with("2 build(s) still running after the drain timeout (1 s)"), "{}", timed_out.1);
    assert_eq!(setup.aws.state().last_controller_task.clone().expect("task").memory, 3072);
}

#[tokio::test]
async fn a_new_revision_that_never_becomes_healthy_is_rolled_back_and_not_pushed_again() {
    let setup = setup(Some(ISSUER)).await;
    setup.aws.state().new_revisions_fail = true;
    let running = setup.object().await["status"]["outputs"]["taskDefinitionArn"].clone();
    let updated = setup.service_updates();

    setup.change(|spec| spec["controller"]["image"] = json!("jenkins/jenkins:broken")).await;
    setup.converge().await;
    let object = setup.object().await;
    let ready = condition(&object, "ControllerReady");
    assert_eq!(ready["reason"], "RolledBack", "{object}");
    assert!(ready["message"].as_str().unwrap_or_default().contains("circuit breaker"), "{ready}");
    assert_eq!(object["status"]["rollout"]["phase"], "RolledBack");
    assert_eq!(object["status"]["outputs"]["taskDefinitionArn"], running, "the previous revision runs");
    assert_eq!(object["status"]["phase"], "Degraded", "the spec's generation is not running");
    let rolled_back = setup.events().await.into_iter().filter(|(reason, _)| reason == "RolledBack").count();
    assert_eq!(rolled_back, 1);
    assert_eq!(setup.service_updates(), updated + 1, "one attempt");

    // Later passes leave it: the failed revision is not pushed again until the spec changes.
    for _ in 0..3 {
        setup.reconciler.reconcile_once("payments", "ci").await.expect("pass");
    }
    assert_eq!(setup.service_updates(), updated + 1, "no second attempt of the same revision");

    // A fixed spec rolls forward.
    setup.aws.state().new_revisions_fail = false;
    setup.change(|spec| spec["controller"]["image"] = json!("jenkins/jenkins:lts-jdk21-fixed")).await;
    setup.converge().await;
    let object = setup.object().await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    assert_eq!(setup.service_updates(), updated + 2);
    assert!(object["status"]["rollout"].is_null());
}

#[tokio::test]
async fn an_update_ecs_refuses_for_good_takes_jenkins_out_of_quiet_down() {
    let setup = setup(Some(ISSUER)).await;
    setup.jenkins.state().running_builds = 1;
    setup.change(|spec| spec["controller"]["cpu"] = json!(2048)).await;
    assert!(matches!(setup.pass().await, Action::RequeueAfter(_)), "draining");
    assert!(setup.jenkins.state().quieting_down);

    // The builds end, but ECS refuses the update: the change cannot roll, so Jenkins must not stay quiet.
    setup.aws.state().denied.push("ecs:UpdateService");
    setup.jenkins.state().running_builds = 0;
    let error = setup.reconciler.reconcile_once("payments", "ci").await.expect_err("refused");
    assert!(!error.is_transient(), "{error}");
    assert!(!setup.jenkins.state().quieting_down, "quiet-down cancelled");
    let object = setup.object().await;
    assert_eq!(condition(&object, "Ready")["reason"], "AccessDeniedException", "{object}");
    assert!(object["status"]["rollout"].is_null());
    let cancelled = setup.events().await.into_iter().find(|(reason, _)| reason == "DrainCancelled").expect("event");
    assert!(cancelled.1.contains("ECS refused the update"), "{}", cancelled.1);
}
