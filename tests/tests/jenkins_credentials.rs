//! Credentials without secrets in specs, on the emulator: written to Secrets Manager with the tags the
//! aws-secrets-manager-credentials-provider plugin reads (read back from Secrets Manager), never shown again by
//! any answer, event or audit entry; the controller's role may read only its own environment's (its policy
//! evaluated); deleted with the environment unless it is retained. Also what the emulator shows of the controller's
//! service (ECS's circuit breaker) and of a configuration Butler serves to its controller.

use aws_sdk_secretsmanager::Client as SecretsClient;
use butler::aws::iam::{IamApi, SdkIam};
use butler_tests::emulated::{names_of, World};
use butler_tests::iam_eval;
use butler_tests::{environment_path, manifest};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN_VALUE: &str = "ghp_value-that-must-never-come-back";
const PASSWORD_VALUE: &str = "nexus-password-never-shown";
const KEY_VALUE: &str =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-never-shown\n-----END OPENSSH PRIVATE KEY-----\n";

fn credential_path(environment: &str, id: &str) -> String {
    format!("{}/credentials/{id}", environment_path("payments", environment))
}

async fn put(world: &World, environment: &str, id: &str, body: Value) -> (StatusCode, Value) {
    let answer = world.app.send_json(Method::PUT, &credential_path(environment, id), &body).await;
    let text = String::from_utf8_lossy(&answer.body).to_string();
    for value in [TOKEN_VALUE, PASSWORD_VALUE, "never-shown"] {
        assert!(!text.contains(value), "PUT answered with a value: {text}");
    }
    (answer.status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The secret's tags and value, read from Secrets Manager itself.
async fn stored(
    secrets: &SecretsClient,
    name: &str,
) -> (std::collections::BTreeMap<String, String>, Option<String>, Option<Vec<u8>>) {
    let described = secrets.describe_secret().secret_id(name).send().await.expect("described");
    let tags = described.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect();
    let value = secrets.get_secret_value().secret_id(name).send().await.expect("value");
    (tags, value.secret_string().map(str::to_owned), value.secret_binary().map(|b| b.as_ref().to_vec()))
}

#[tokio::test]
async fn credentials_go_to_secrets_manager_with_the_plugins_tags_and_never_come_back() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let uid = world.object("ci").await["metadata"]["uid"].as_str().expect("uid").to_owned();
    let secrets = SecretsClient::new(&world.account.config);

    let (status, shown) = put(
        &world,
        "ci",
        "github-token",
        json!({ "type": "secretText", "secret": TOKEN_VALUE, "description": "GitHub" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{shown}");
    let keys: Vec<&str> = shown.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["description", "id", "type", "updatedAt", "updatedBy"], "what may be shown, nothing else");
    assert_eq!((shown["id"].as_str(), shown["type"].as_str()), (Some("github-token"), Some("secretText")));
    let (status, _) = put(
        &world,
        "ci",
        "nexus",
        json!({ "type": "usernamePassword", "username": "deployer", "password": PASSWORD_VALUE }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) =
        put(&world, "ci", "deploy-key", json!({ "type": "sshPrivateKey", "username": "git", "privateKey": KEY_VALUE }))
            .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = put(
        &world,
        "ci",
        "maven-settings",
        json!({ "type": "file", "fileName": "settings.xml", "contentBase64": "PHNldHRpbmdzLz4=" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Read back from Secrets Manager: the plugin's tags, the environment's, and the value as the plugin reads it.
    let (tags, text, _) = stored(&secrets, "butler/payments/ci/github-token").await;
    assert_eq!(tags["jenkins:credentials:type"], "string");
    assert_eq!(tags["butler:uid"], uid);
    assert_eq!(text.as_deref(), Some(TOKEN_VALUE));
    let (tags, text, _) = stored(&secrets, "butler/payments/ci/nexus").await;
    assert_eq!(
        (tags["jenkins:credentials:type"].as_str(), tags["jenkins:credentials:username"].as_str()),
        ("usernamePassword", "deployer")
    );
    assert_eq!(text.as_deref(), Some(PASSWORD_VALUE));
    let (tags, text, _) = stored(&secrets, "butler/payments/ci/deploy-key").await;
    assert_eq!(
        (tags["jenkins:credentials:type"].as_str(), tags["jenkins:credentials:username"].as_str()),
        ("sshUserPrivateKey", "git")
    );
    assert_eq!(text.as_deref(), Some(KEY_VALUE));
    let (tags, _, binary) = stored(&secrets, "butler/payments/ci/maven-settings").await;
    assert_eq!(
        (tags["jenkins:credentials:type"].as_str(), tags["jenkins:credentials:filename"].as_str()),
        ("file", "settings.xml")
    );
    assert_eq!(binary.as_deref(), Some(&b"<settings/>"[..]));

    // Replacing with another type: the new value and tags, the old type's tags gone.
    let (status, _) =
        put(&world, "ci", "nexus", json!({ "type": "secretText", "secret": "nexus-token-never-shown" })).await;
    assert_eq!(status, StatusCode::OK);
    let (tags, text, _) = stored(&secrets, "butler/payments/ci/nexus").await;
    assert_eq!(tags["jenkins:credentials:type"], "string");
    assert!(!tags.contains_key("jenkins:credentials:username"), "{tags:?}");
    assert_eq!(text.as_deref(), Some("nexus-token-never-shown"));

    // Nothing Butler answers carries a value: the list, one credential, the events, the audit log, the page.
    let list = world.app.get(&format!("{}/credentials", environment_path("payments", "ci"))).await;
    let listed = list.json();
    let ids: Vec<&str> = listed["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, ["deploy-key", "github-token", "maven-settings", "nexus"]);
    let events = world.app.get(&format!("{}/events", environment_path("payments", "ci"))).await;
    let audit = world.app.get("/api/v1/audit?tenant=payments").await;
    let cookie = world.app.session_cookie(butler_tests::Who::PaymentsAdmin).await;
    let page =
        world.app.client.get(format!("{}/t/payments/environments/ci", world.app.base_url)).header("cookie", cookie);
    let page = page.send().await.expect("page").text().await.expect("html");
    let one = world.app.get(&credential_path("ci", "nexus")).await;
    for (what, body) in [
        ("list", String::from_utf8_lossy(&list.body).to_string()),
        ("one", String::from_utf8_lossy(&one.body).to_string()),
        ("events", String::from_utf8_lossy(&events.body).to_string()),
        ("audit", String::from_utf8_lossy(&audit.body).to_string()),
        ("page", page.clone()),
    ] {
        for value in [TOKEN_VALUE, PASSWORD_VALUE, "never-shown", "PHNldHRpbmdzLz4="] {
            assert!(!body.contains(value), "{what} shows a credential's value");
        }
    }
    assert!(String::from_utf8_lossy(&events.body).contains("CredentialChanged"));
    assert!(String::from_utf8_lossy(&audit.body).contains("credential.put"));
    assert!(page.contains("maven-settings") && page.contains("settings.xml"), "the page lists ids and file names");

    // Refusals name the field and never echo what was sent.
    let answer = world
        .app
        .send_json(
            Method::PUT,
            &credential_path("ci", "x"),
            &json!({ "type": "secretText", "secret": 98765432123_i64 }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!String::from_utf8_lossy(&answer.body).contains("98765432123"));
    let answer = world
        .app
        .send_json(Method::PUT, &credential_path("ci", "x"), &json!({ "type": "usernamePassword", "username": "u" }))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&answer.body).contains("\"password\""));
    let answer = world
        .app
        .send_json(Method::PUT, &credential_path("ci", "..%2Fescape"), &json!({ "type": "secretText", "secret": "s" }))
        .await;
    assert!(
        answer.status == StatusCode::UNPROCESSABLE_ENTITY || answer.status == StatusCode::BAD_REQUEST,
        "{}",
        answer.status
    );

    // The team's configuration may now interpolate a declared credential, and that credential cannot go while used.
    let mut object = world.object("ci").await;
    object["spec"]["jenkins"]["configurationAsCode"] = json!("unclassified:\n  gitHubPluginConfig:\n    hookSecretConfigs:\n      - credentialsId: github-token\ntool:\n  note: \"${github-token}\"\n");
    let body = json!({ "metadata": { "name": "ci" }, "spec": object["spec"] });
    let answer = world.app.send_json(Method::PUT, &environment_path("payments", "ci"), &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer.body));
    let config = world.app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await.json();
    assert!(
        config["casc"].as_str().unwrap_or_default().contains("${butler/payments/ci/github-token}"),
        "rewritten to its own secret"
    );
    assert!(config["plugins"].as_array().expect("plugins").iter().any(|p| p == "aws-secrets-manager-secret-source"));
    let answer = world.app.send_json(Method::DELETE, &credential_path("ci", "github-token"), &json!({})).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", String::from_utf8_lossy(&answer.body));
    assert!(String::from_utf8_lossy(&answer.body).contains("spec.jenkins.configurationAsCode"));

    let answer = world.app.send_json(Method::DELETE, &credential_path("ci", "deploy-key"), &json!({})).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(
        secrets.describe_secret().secret_id("butler/payments/ci/deploy-key").send().await.is_err(),
        "gone from Secrets Manager"
    );
    assert_eq!(world.app.get(&credential_path("ci", "deploy-key")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_controller_reads_only_its_own_credentials_and_they_go_with_the_environment_unless_retained() {
    let world = World::new().await;
    let mut doomed = manifest("ci");
    doomed["spec"]["storage"] = json!({ "deletionPolicy": "Delete" });
    assert_eq!(world.app.create("payments", &doomed).await.status, StatusCode::CREATED);
    assert_eq!(world.app.create("payments", &manifest("keep")).await.status, StatusCode::CREATED);
    for environment in ["ci", "keep"] {
        let (status, _) =
            put(&world, environment, "token", json!({ "type": "secretText", "secret": TOKEN_VALUE })).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    world.converge("ci").await;
    let object = world.object("ci").await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");

    // The controller role's policies, as IAM holds them, evaluated.
    let (names, _) = names_of(&object);
    let iam = SdkIam::new(&world.account);
    let role = iam.role_content(&names.controller_role()).await.expect("iam").expect("role");
    let policies: Vec<&Value> = role.inline.values().collect();
    let secrets = SecretsClient::new(&world.account.config);
    let own = secrets.describe_secret().secret_id("butler/payments/ci/token").send().await.expect("own");
    let own_arn = own.arn().expect("arn").to_owned();
    let others = secrets.describe_secret().secret_id("butler/payments/keep/token").send().await.expect("other");
    let arn_of = |name: &str| own_arn.replace("butler/payments/ci/token", name);
    assert!(
        iam_eval::allows(policies.iter().copied(), "secretsmanager:GetSecretValue", &own_arn),
        "its own credential"
    );
    assert!(iam_eval::allows(policies.iter().copied(), "secretsmanager:ListSecrets", "*"), "the plugin lists");
    for foreign in [
        others.arn().expect("arn").to_owned(),
        arn_of("butler/payments/ci-2/token-AbCdEf"),
        arn_of("butler/other/ci/token-AbCdEf"),
        arn_of("butler/payments/ciX-AbCdEf"),
    ] {
        assert!(!iam_eval::allows(policies.iter().copied(), "secretsmanager:GetSecretValue", &foreign), "{foreign}");
    }
    for action in ["secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret", "secretsmanager:CreateSecret"] {
        assert!(!iam_eval::allows(policies.iter().copied(), action, &own_arn), "{action}");
    }

    // ECS holds the controller's service with the circuit breaker on, rollback included.
    let ecs = aws_sdk_ecs::Client::new(&world.account.config);
    let described = ecs
        .describe_services()
        .cluster(names.cluster())
        .services(names.controller_service())
        .send()
        .await
        .expect("service");
    let configuration = described.services()[0].deployment_configuration().expect("deployment configuration");
    let breaker = configuration.deployment_circuit_breaker().expect("circuit breaker");
    assert!(breaker.enable() && breaker.rollback());
    assert_eq!((configuration.maximum_percent(), configuration.minimum_healthy_percent()), (Some(100), Some(0)));

    // Deleted with the environment (deletionPolicy Delete); kept with a retained one.
    for environment in ["ci", "keep"] {
        let answer = world.app.send_json(Method::DELETE, &environment_path("payments", environment), &json!({})).await;
        assert!(answer.status.is_success(), "{}", answer.status);
        world.converge(environment).await;
        assert_eq!(world.app.get(&environment_path("payments", environment)).await.status, StatusCode::NOT_FOUND);
    }
    assert!(secrets.describe_secret().secret_id("butler/payments/ci/token").send().await.is_err(), "deleted with ci");
    let kept = secrets.describe_secret().secret_id("butler/payments/keep/token").send().await.expect("kept");
    assert!(kept.deleted_date().is_none(), "kept with the retained environment");
}

#[tokio::test]
async fn a_controller_fetches_its_configuration_from_butler_with_its_token_from_ssm() {
    let world = World::new().await;
    let issuer = world.app.base_url.clone();
    let reconciler = World::reconciler_with(&world.app, &world.settings).with_issuer(Some(issuer.clone()));
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    World::converge_with(&reconciler, "ci").await;
    let object = world.object("ci").await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    let uid = object["metadata"]["uid"].as_str().expect("uid").replace('-', "");

    // The task definition carries where to fetch, the token comes from SSM, the document is not in it.
    let ecs = aws_sdk_ecs::Client::new(&world.account.config);
    let arn = object["status"]["outputs"]["taskDefinitionArn"].as_str().expect("task definition");
    let described = ecs.describe_task_definition().task_definition(arn).send().await.expect("definition");
    let container = &described.task_definition().expect("definition").container_definitions()[0];
    let variable = |name: &str| {
        container.environment().iter().find(|v| v.name() == Some(name)).and_then(|v| v.value()).map(str::to_owned)
    };
    assert_eq!(variable("BUTLER_CASC_URL"), Some(format!("{issuer}/casc/{uid}/jenkins.yaml")));
    assert_eq!(variable("BUTLER_CASC_YAML"), None, "the document is served, not carried");
    let (names, _) = names_of(&object);
    let parameter = container.secrets().iter().find(|s| s.name() == "BUTLER_CONTROLLER_TOKEN").expect("token secret");
    assert_eq!(parameter.value_from(), names.controller_token_parameter());

    let ssm = aws_sdk_ssm::Client::new(&world.account.config);
    let token =
        ssm.get_parameter().name(names.controller_token_parameter()).with_decryption(true).send().await.expect("token");
    let token = token.parameter().and_then(|p| p.value()).expect("value").to_owned();
    let served = world.app.get(&format!("/casc/{uid}/jenkins.yaml?token={token}")).await;
    assert_eq!(served.status, StatusCode::OK);
    let config = world.app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await.json();
    assert_eq!(
        String::from_utf8_lossy(&served.body),
        config["casc"].as_str().expect("casc"),
        "what the controller fetches"
    );
    assert_eq!(world.app.get(&format!("/casc/{uid}/jenkins.yaml?token=x{token}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(world.app.get(&format!("/casc/{uid}/jenkins.yaml")).await.status, StatusCode::NOT_FOUND);
}
