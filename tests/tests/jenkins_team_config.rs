//! A team's own Jenkins configuration and seed jobs through the API: the generated JCasC is the merge with Butler's
//! keys untouched, and what may not be merged (an owned key, invalid YAML, a document too large, an interpolation
//! of the controller's environment) is a 422 naming the path.

use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn app_with_profile() -> TestApp {
    let app = TestApp::spawn().await;
    let profile = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    app
}

fn with_jenkins(name: &str, jenkins: Value) -> Value {
    let mut manifest = manifest(name);
    manifest["spec"]["jenkins"] = jenkins;
    manifest
}

const TEAM: &str = "jenkins:\n  mode: EXCLUSIVE\n  labelString: team\nunclassified:\n  location:\n    adminAddress: ci@payments.example\n  timestamper:\n    allPipelines: true\ntool:\n  git:\n    installations:\n      - name: Default\n        home: git\n";

#[tokio::test]
async fn the_generated_configuration_is_the_merge_with_butlers_keys_untouched() {
    let app = app_with_profile().await;
    let seeds = json!([
        { "name": "web", "repository": "https://git.example.com/payments/web-jobs.git", "schedule": "H 3 * * *", "onPush": true },
        { "name": "tools", "repository": "git@git.example.com:payments/tools.git", "branch": "release", "targets": "dsl/*.groovy" }
    ]);
    let created =
        app.create("payments", &with_jenkins("ci", json!({ "configurationAsCode": TEAM, "seedJobs": seeds }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&created.body));
    let plain = app.create("payments", &manifest("plain")).await;
    assert_eq!(plain.status, StatusCode::CREATED);

    let config = app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await.json();
    let merged: Value = serde_yaml_ng::from_str(config["casc"].as_str().expect("casc")).expect("yaml");
    let butlers = app.get(&format!("{}/jenkins-config", environment_path("payments", "plain"))).await.json();
    let alone: Value = serde_yaml_ng::from_str(butlers["casc"].as_str().expect("casc")).expect("yaml");

    // Every key Butler sets for an environment without a team configuration is there, with the same value
    // (the names inside that differ per environment aside).
    for key in ["numExecutors", "slaveAgentPort", "securityRealm", "authorizationStrategy"] {
        assert_eq!(merged["jenkins"][key], alone["jenkins"][key], "jenkins.{key}");
    }
    assert!(merged["jenkins"]["clouds"][0]["ecs"].is_object(), "Butler's ECS cloud");
    assert_eq!(merged["jenkins"]["clouds"].as_array().map(Vec::len), Some(1));
    assert!(merged["unclassified"]["location"]["url"].is_string());
    // The team's keys are added beside them.
    assert_eq!(merged["jenkins"]["mode"], "EXCLUSIVE");
    assert_eq!(merged["jenkins"]["labelString"], "team");
    assert_eq!(merged["unclassified"]["location"]["adminAddress"], "ci@payments.example");
    assert_eq!(merged["unclassified"]["timestamper"]["allPipelines"], true);
    assert_eq!(merged["tool"]["git"]["installations"][0]["name"], "Default");
    // The credentials provider reads this environment's prefix only, and shows the ids the team gave.
    let provider = &merged["unclassified"]["awsCredentialsProvider"];
    assert_eq!(provider["listSecrets"]["filters"][0], json!({ "key": "name", "values": ["butler/payments/ci/"] }));
    assert_eq!(provider["transformations"]["name"]["removePrefix"]["prefix"], "butler/payments/ci/");
    // One job-dsl script defines, triggers and queues both seed jobs.
    let jobs = merged["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1);
    let script = jobs[0]["script"].as_str().expect("script");
    for needle in [
        "job('seed-web')",
        "url('https://git.example.com/payments/web-jobs.git')",
        "cron('H 3 * * *')",
        "scm('')",
        "queue('seed-web')",
        "job('seed-tools')",
        "url('git@git.example.com:payments/tools.git')",
        "branch('release')",
        "external('dsl/*.groovy')",
        "queue('seed-tools')",
    ] {
        assert!(script.contains(needle), "{needle} missing from\n{script}");
    }
    assert_eq!(merged["security"]["globalJobDslSecurityConfiguration"]["useScriptSecurity"], false);
    assert!(alone.get("jobs").is_none(), "no seed jobs, no jobs root");
    let plugins: Vec<&str> = config["plugins"].as_array().expect("plugins").iter().filter_map(Value::as_str).collect();
    for needed in ["job-dsl", "git", "aws-secrets-manager-credentials-provider", "configuration-as-code"] {
        assert!(plugins.iter().any(|p| p.split(':').next() == Some(needed)), "{needed} missing from {plugins:?}");
    }
}

/// The 422's errors as (field, message).
fn errors(body: &[u8]) -> Vec<(String, String)> {
    let problem: Value = serde_json::from_slice(body).expect("problem+json");
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (e["field"].as_str().unwrap_or_default().to_owned(), e["message"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn what_may_not_be_merged_is_a_422_naming_the_path_and_nothing_is_stored() {
    let app = app_with_profile().await;
    let refused = |yaml: String| with_jenkins("ci", json!({ "configurationAsCode": yaml }));

    // An owned key, deep in the document.
    let answer = app
        .create("payments", &refused("unclassified:\n  location:\n    url: https://elsewhere.example/\n".into()))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let found = errors(&answer.body);
    assert_eq!(found[0].0, "spec.jenkins.configurationAsCode.unclassified.location.url", "{found:?}");
    assert!(found[0].1.contains("cannot be overridden"), "{found:?}");
    let answer = app
        .create("payments", &refused("jenkins:\n  securityRealm:\n    local:\n      allowsSignup: true\n".into()))
        .await;
    assert_eq!(errors(&answer.body)[0].0, "spec.jenkins.configurationAsCode.jenkins.securityRealm");

    // Invalid YAML: where.
    let answer = app.create("payments", &refused("jenkins:\n  mode: [EXCLUSIVE\n".into())).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let found = errors(&answer.body);
    assert_eq!(found[0].0, "spec.jenkins.configurationAsCode");
    assert!(found[0].1.contains("not valid YAML at line"), "{found:?}");

    // Too large.
    let large = format!("jenkins:\n  systemMessageX: \"{}\"\n", "x".repeat(33 * 1024));
    let answer = app.create("payments", &refused(large)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let found = errors(&answer.body);
    assert!(found[0].1.contains("at most 32768"), "{found:?}");

    // The controller's environment, or a credential the environment does not have.
    let answer = app
        .create(
            "payments",
            &refused(
                "unclassified:\n  mailer:\n    authentication:\n      password: ${JENKINS_ADMIN_PASSWORD}\n".into(),
            ),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let found = errors(&answer.body);
    assert_eq!(found[0].0, "spec.jenkins.configurationAsCode.unclassified.mailer.authentication.password", "{found:?}");
    let answer = app.create("payments", &refused("tool:\n  x: ${github-token}\n".into())).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(errors(&answer.body)[0].1.contains("no credential \"github-token\""));

    // A seed job with a bad repository.
    let seeds = json!({ "seedJobs": [{ "name": "web", "repository": "https://x/y'); evil('" }] });
    let answer = app.create("payments", &with_jenkins("ci", seeds)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&answer.body)[0].0, "spec.jenkins.seedJobs[0].repository");

    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND, "nothing stored");
}
