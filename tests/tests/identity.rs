//! Identity in practice: quotas, the audit log, API token lifecycle, sessions with CSRF, login rate limits.

use butler_tests::{environment_path, environments_path, manifest, TestApp, Who, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn with_max(name: &str, max: u32) -> serde_json::Value {
    let mut body = manifest(name);
    body["spec"] = json!({ "capacity": { "max": max } });
    body
}

async fn set_quotas(app: &TestApp, environments: i32, instances: i32) {
    let response = app
        .send_json(
            Method::PATCH,
            "/api/v1/tenants/payments",
            &json!({ "maxEnvironments": environments, "maxInstances": instances }),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn creating_past_the_environment_quota_is_403_naming_quota_limit_and_usage() {
    let app = TestApp::spawn().await;
    set_quotas(&app, 2, 100).await;
    assert_eq!(app.create("payments", &with_max("one", 2)).await.status, StatusCode::CREATED);
    assert_eq!(app.create("payments", &with_max("two", 2)).await.status, StatusCode::CREATED);
    let refused = app.create("payments", &with_max("three", 2)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let problem = refused.json();
    assert_eq!(problem["type"], "https://butler.dev/problems/quota-exceeded");
    assert_eq!(
        (problem["quota"].as_str(), problem["limit"].as_i64(), problem["used"].as_i64()),
        (Some("environments"), Some(2), Some(2))
    );
    assert_eq!(app.get(&environment_path("payments", "three")).await.status, StatusCode::NOT_FOUND);
    // Another tenant's quota is its own.
    assert_eq!(app.create("other", &with_max("three", 2)).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn the_instance_quota_counts_capacity_max_on_create_and_on_change() {
    let app = TestApp::spawn().await;
    set_quotas(&app, 10, 10).await;
    assert_eq!(app.create("payments", &with_max("big", 6)).await.status, StatusCode::CREATED);
    let refused = app.create("payments", &with_max("bigger", 6)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!((refused.json()["quota"].as_str(), refused.json()["requested"].as_i64()), (Some("instances"), Some(12)));
    let grow = app.merge_patch("payments", "big", &json!({ "spec": { "capacity": { "max": 11 } } })).await;
    assert_eq!(grow.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&environment_path("payments", "big")).await.json()["spec"]["capacity"]["max"], 6);
    // Lowering is always allowed, even below a quota cut meanwhile.
    set_quotas(&app, 10, 2).await;
    assert_eq!(
        app.merge_patch("payments", "big", &json!({ "spec": { "capacity": { "max": 4 } } })).await.status,
        StatusCode::OK
    );
    // A dry run is refused the same way and stores nothing.
    let dry = app
        .send(
            app.request(Method::POST, &format!("{}?dryRun=All", environments_path("payments")))
                .json(&with_max("dry", 6)),
        )
        .await;
    assert_eq!(dry.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn changes_and_refusals_are_audited_with_actor_request_id_and_address() {
    let app = TestApp::spawn().await;
    let created = app
        .send(app.request_as(Who::PaymentsEditor, Method::POST, &environments_path("payments")).json(&manifest("ci")))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let request_id = created.header("x-request-id").expect("request id");
    app.send(
        app.request_as(Who::PaymentsEditor, Method::PATCH, &environment_path("payments", "ci"))
            .header("content-type", "application/merge-patch+json")
            .body(json!({ "spec": { "capacity": { "max": 3 } } }).to_string()),
    )
    .await;
    let refused =
        app.send(app.request_as(Who::PaymentsViewer, Method::DELETE, &environment_path("payments", "ci"))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let anonymous = app.send(app.anonymous(Method::POST, &environments_path("payments")).json(&manifest("x"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let entries = app.audit(Some("payments")).await;
    let create = entries.iter().find(|e| e.action == "jenkinsenvironment.create").expect("create audited");
    assert_eq!(create.actor, "user:editor@payments.test");
    assert_eq!(create.request_id.as_deref(), Some(request_id.as_str()));
    assert_eq!(create.client_address.as_deref(), Some("127.0.0.1"));
    assert_eq!((create.generation_before, create.generation_after), (None, Some(1)));
    let patch = entries.iter().find(|e| e.action == "jenkinsenvironment.patch").expect("patch audited");
    assert_eq!((patch.generation_before, patch.generation_after), (Some(1), Some(2)));
    let denied = entries.iter().find(|e| e.outcome == "denied").expect("refusal audited");
    assert_eq!((denied.actor.as_str(), denied.status_code), ("user:viewer@payments.test", 403));
    // An anonymous refusal is filed under no tenant (the path is the caller's word, not a tenant's business).
    assert!(entries.iter().all(|e| e.outcome != "unauthenticated"), "filed under the tenant the path named");
    let everything = app.audit(None).await;
    let unauthenticated = everything.iter().find(|e| e.outcome == "unauthenticated").expect("401 audited");
    assert_eq!((unauthenticated.actor.as_str(), unauthenticated.tenant.as_deref()), ("anonymous", None));

    // Tenant admins read their tenant's log through the API; only platform admins read it all.
    let page = app
        .send(app.request_as(
            Who::PaymentsAdmin,
            Method::GET,
            "/api/v1/audit?tenant=payments&action=jenkinsenvironment.create",
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.json()["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        app.send(app.request_as(Who::PaymentsAdmin, Method::GET, "/api/v1/audit")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send(app.request_as(Who::OtherAdmin, Method::GET, "/api/v1/audit?tenant=payments")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/v1/audit?limit=2").await.json()["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn audit_entries_cannot_be_changed_or_deleted() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("ci")).await;
    use sea_orm::ConnectionTrait;
    assert!(app.db().execute_unprepared("UPDATE audit_log SET actor = 'someone else'").await.is_err());
    assert!(app.db().execute_unprepared("DELETE FROM audit_log").await.is_err());
    assert!(!app.audit(None).await.is_empty());
}

#[tokio::test]
async fn api_tokens_work_at_once_are_shown_once_and_stop_at_once_when_revoked() {
    let app = TestApp::spawn().await;
    let created = app
        .send(
            app.request_as(Who::PaymentsAdmin, Method::POST, "/api/v1/tenants/payments/tokens")
                .json(&json!({ "name": "ci", "role": "editor" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let created = created.json();
    let secret = created["token"].as_str().expect("secret").to_owned();
    let token_id = created["id"].as_str().expect("id").to_owned();
    let as_token = |method: Method, path: &str| app.anonymous(method, path).bearer_auth(&secret);

    assert_eq!(
        app.send(as_token(Method::POST, &environments_path("payments")).json(&manifest("by-token"))).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.send(as_token(Method::GET, &environments_path("other"))).await.status,
        StatusCode::NOT_FOUND,
        "scoped to its tenant"
    );
    let listed = app.send(app.request_as(Who::PaymentsAdmin, Method::GET, "/api/v1/tenants/payments/tokens")).await;
    assert!(!String::from_utf8_lossy(&listed.body).contains(&secret), "the secret is never shown again");
    let audit = app.audit(Some("payments")).await;
    assert!(audit.iter().any(|e| e.actor == "token:payments/ci" && e.action == "jenkinsenvironment.create"));

    let revoked = app
        .send(app.request_as(
            Who::PaymentsAdmin,
            Method::DELETE,
            &format!("/api/v1/tenants/payments/tokens/{token_id}"),
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.json()["revokedAt"].is_string());
    assert_eq!(app.send(as_token(Method::GET, &environments_path("payments"))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_cannot_mint_tokens_and_expiry_must_be_in_the_future() {
    let app = TestApp::spawn().await;
    let (_, admin_token) = app.api_token("payments", "automation", "admin").await;
    let minted = app
        .send(
            app.anonymous(Method::POST, "/api/v1/tenants/payments/tokens")
                .bearer_auth(&admin_token)
                .json(&json!({ "name": "x", "role": "viewer" })),
        )
        .await;
    assert_eq!(minted.status, StatusCode::FORBIDDEN);
    let expired = app
        .send(
            app.request_as(Who::PaymentsAdmin, Method::POST, "/api/v1/tenants/payments/tokens")
                .json(&json!({ "name": "old", "role": "viewer", "expiresAt": "2020-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(expired.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_failures_look_alike() {
    let app = TestApp::spawn().await;
    let login = |email: &str, password: &str| {
        app.anonymous(Method::POST, "/api/v1/auth/token").json(&json!({ "email": email, "password": password }))
    };
    let unknown = app.send(login("nobody@butler.test", "whatever-password")).await;
    let wrong = app.send(login(Who::PaymentsViewer.email(), "wrong-password!!")).await;
    assert_eq!((unknown.status, wrong.status), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(unknown.json()["detail"], wrong.json()["detail"]);
    assert_eq!(wrong.json()["detail"], "invalid email or password");
    let good = app.send(login(Who::PaymentsViewer.email(), PASSWORD)).await;
    assert_eq!(good.status, StatusCode::OK);
    let jwt = good.json()["token"].as_str().expect("jwt").to_owned();
    assert_eq!(
        app.send(app.anonymous(Method::GET, "/api/v1/me").bearer_auth(&jwt)).await.json()["email"],
        Who::PaymentsViewer.email()
    );

    // Ten attempts a minute per account: the eleventh is refused even with the right password.
    for _ in 0..8 {
        app.send(login(Who::PaymentsViewer.email(), "wrong-password!!")).await;
    }
    let limited = app.send(login(Who::PaymentsViewer.email(), PASSWORD)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    // Another account is not held back by it.
    assert_eq!(app.send(login(Who::PaymentsEditor.email(), PASSWORD)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_disabled_user_is_locked_out_at_once() {
    let app = TestApp::spawn().await;
    let viewer = app.user_ids[&Who::PaymentsViewer];
    assert_eq!(app.send(app.request_as(Who::PaymentsViewer, Method::GET, "/api/v1/me")).await.status, StatusCode::OK);
    let disabled = app.send_json(Method::PATCH, &format!("/api/v1/users/{viewer}"), &json!({ "disabled": true })).await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(
        app.send(app.request_as(Who::PaymentsViewer, Method::GET, "/api/v1/me")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn browser_sessions_use_an_httponly_cookie_need_csrf_for_writes_and_end_at_logout() {
    let app = TestApp::spawn().await;
    let signed_in = app
        .send(
            app.anonymous(Method::POST, "/api/v1/auth/session")
                .json(&json!({ "email": Who::PaymentsEditor.email(), "password": PASSWORD })),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::CREATED);
    let cookie_header = signed_in.header("set-cookie").expect("cookie");
    assert!(cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Lax"), "{cookie_header}");
    let cookie = cookie_header.split(';').next().expect("pair").to_owned();
    let csrf = signed_in.json()["csrfToken"].as_str().expect("csrf").to_owned();
    let with_cookie = |method: Method, path: &str| app.anonymous(method, path).header("cookie", &cookie);

    assert_eq!(app.send(with_cookie(Method::GET, &environments_path("payments"))).await.status, StatusCode::OK);
    let forged = app.send(with_cookie(Method::POST, &environments_path("payments")).json(&manifest("forged"))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a write without the CSRF token is refused");
    let wrong = app
        .send(
            with_cookie(Method::POST, &environments_path("payments"))
                .header("x-csrf-token", "guess")
                .json(&manifest("forged")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let real = app
        .send(
            with_cookie(Method::POST, &environments_path("payments"))
                .header("x-csrf-token", &csrf)
                .json(&manifest("real")),
        )
        .await;
    assert_eq!(real.status, StatusCode::CREATED);

    let logout = app.send(with_cookie(Method::DELETE, "/api/v1/auth/session").header("x-csrf-token", &csrf)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert!(logout.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(
        app.send(with_cookie(Method::GET, &environments_path("payments"))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for response in
        [app.get("/healthz").await, app.send(app.anonymous(Method::GET, "/api/v1/me")).await, app.get("/nowhere").await]
    {
        assert_eq!(response.header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(response.header("x-frame-options").as_deref(), Some("DENY"));
        assert!(response.header("content-security-policy").is_some_and(|csp| csp.contains("default-src 'self'")));
        assert!(response.header("server").is_none());
    }
}

#[tokio::test]
async fn members_are_managed_by_tenant_admins() {
    let app = TestApp::spawn().await;
    let newcomer = app.user("newcomer@butler.test", None).await;
    let invited = app
        .send(
            app.request_as(Who::PaymentsAdmin, Method::POST, "/api/v1/tenants/payments/members")
                .json(&json!({ "email": " Newcomer@Butler.test", "role": "viewer" })),
        )
        .await;
    assert_eq!(invited.status, StatusCode::ACCEPTED);
    assert_eq!(invited.json()["email"], "newcomer@butler.test");
    let newcomer_jwt = app.state.jwt.issue(newcomer, None, std::time::Duration::from_secs(60)).expect("jwt").0;
    let as_newcomer = |method: Method, path: &str| app.anonymous(method, path).bearer_auth(&newcomer_jwt);
    // Invited is not yet a member.
    assert_eq!(app.send(as_newcomer(Method::GET, &environments_path("payments"))).await.status, StatusCode::NOT_FOUND);
    let mine = app.send(as_newcomer(Method::GET, "/api/v1/me/invitations")).await.json();
    assert_eq!(mine["items"][0]["tenant"], "payments", "{mine}");
    let accepted = app.send(as_newcomer(Method::POST, "/api/v1/me/invitations/payments")).await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert_eq!(
        app.send(as_newcomer(Method::POST, "/api/v1/me/invitations/payments")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.send(as_newcomer(Method::GET, &environments_path("payments"))).await.status, StatusCode::OK);
    assert_eq!(
        app.send(as_newcomer(Method::POST, &environments_path("payments")).json(&manifest("x"))).await.status,
        StatusCode::FORBIDDEN
    );
    let promoted = app
        .send(
            app.request_as(Who::PaymentsAdmin, Method::PUT, &format!("/api/v1/tenants/payments/members/{newcomer}"))
                .json(&json!({ "role": "editor" })),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    assert_eq!(
        app.send(as_newcomer(Method::POST, &environments_path("payments")).json(&manifest("x"))).await.status,
        StatusCode::CREATED
    );
    let removed = app
        .send(app.request_as(
            Who::PaymentsAdmin,
            Method::DELETE,
            &format!("/api/v1/tenants/payments/members/{newcomer}"),
        ))
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(app.send(as_newcomer(Method::GET, &environments_path("payments"))).await.status, StatusCode::NOT_FOUND);
    let audit = app.audit(Some("payments")).await;
    for action in ["member.invite", "member.accept", "member.set", "member.remove"] {
        assert!(audit.iter().any(|e| e.action == action), "{action} not audited");
    }
}

#[tokio::test]
async fn cloud_profiles_are_validated_replaced_and_kept_while_in_use() {
    let app = TestApp::spawn().await;
    let good = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    let created = app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &good).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["namespaceName"], "jenkins.local");
    let mut replaced = good.clone();
    replaced["namespaceName"] = json!("ci.internal");
    assert_eq!(
        app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &replaced).await.json()["namespaceName"],
        "ci.internal"
    );
    let bad = json!({ "region": "moon-1", "vpcId": "vpc-1", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa"], "roleArn": "arn:nope" });
    let refused = app.send_json(Method::PUT, "/api/v1/cloudprofiles/bad", &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = refused.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(fields, vec!["region", "vpcId", "subnetIds", "roleArn"]);
    // Tenants payments and other use `default`.
    let in_use = app.send(app.request(Method::DELETE, "/api/v1/cloudprofiles/default")).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(in_use.json()["detail"].as_str().unwrap_or_default().contains("other, payments"));
}
