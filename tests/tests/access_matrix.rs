//! Every API route x every kind of caller: the status each gets, and no other tenant's data in any body.
//! A route the server has but this table lacks fails the test, so the matrix grows with the API.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use butler_tests::{environment_path, manifest, TestApp, Who, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    Nobody,
    Viewer,
    Editor,
    Admin,
    OtherAdmin,
    Platform,
    RevokedToken,
    ExpiredJwt,
    ForeignKeyJwt,
    AlgNoneJwt,
}

const CALLERS: [Caller; 10] = [
    Caller::Nobody,
    Caller::Viewer,
    Caller::Editor,
    Caller::Admin,
    Caller::OtherAdmin,
    Caller::Platform,
    Caller::RevokedToken,
    Caller::ExpiredJwt,
    Caller::ForeignKeyJwt,
    Caller::AlgNoneJwt,
];

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// No credentials needed; everyone gets `status`.
    Public(u16),
    /// Any valid credential gets `status`.
    Authenticated(u16),
    /// At least this role in tenant `payments`; others in no role get 404, a role too low 403.
    Tenant(Role, u16),
    /// Platform admins only (everyone else authenticated: 403).
    Platform(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Viewer,
    Editor,
    Admin,
}

fn role_in_payments(caller: Caller) -> Option<Role> {
    match caller {
        Caller::Viewer => Some(Role::Viewer),
        Caller::Editor => Some(Role::Editor),
        Caller::Admin | Caller::Platform => Some(Role::Admin),
        _ => None,
    }
}

fn is_valid_credential(caller: Caller) -> bool {
    matches!(caller, Caller::Viewer | Caller::Editor | Caller::Admin | Caller::OtherAdmin | Caller::Platform)
}

fn expected(rule: Rule, caller: Caller) -> u16 {
    match rule {
        Rule::Public(status) => status,
        _ if !is_valid_credential(caller) => 401,
        Rule::Authenticated(status) => status,
        Rule::Platform(status) => {
            if caller == Caller::Platform {
                status
            } else {
                403
            }
        }
        Rule::Tenant(needed, status) => match role_in_payments(caller) {
            None => 404,
            Some(role) if role < needed => 403,
            Some(_) => status,
        },
    }
}

/// A request for one caller: method, concrete path, JSON body.
struct Request {
    method: Method,
    path: String,
    body: Option<(String, &'static str)>,
}

fn json_body(value: Value) -> Option<(String, &'static str)> {
    Some((value.to_string(), "application/json"))
}

/// Per-caller fixtures the requests point at.
struct Fixtures {
    viewer_id: uuid::Uuid,
    ci_uid: uuid::Uuid,
    spare_members: HashMap<Caller, uuid::Uuid>,
    spare_tokens: HashMap<Caller, uuid::Uuid>,
}

fn slug(caller: Caller) -> String {
    format!("{caller:?}").to_lowercase()
}

/// A credential's value: written, never to be read back through any route.
const CREDENTIAL_VALUE: &str = "matrix-credential-value-never-shown";

/// The table: one entry per route of the API.
fn case(method: &Method, path: &str, caller: Caller, fixtures: &Fixtures) -> Option<(Rule, Request)> {
    let env = environment_path("payments", "ci");
    let request = |method: Method, path: String, body| Request { method, path, body };
    let s = slug(caller);
    Some(match (method.as_str(), path) {
        ("GET", "/healthz") => (Rule::Public(200), request(Method::GET, "/healthz".into(), None)),
        ("GET", "/readyz") => (Rule::Public(200), request(Method::GET, "/readyz".into(), None)),
        ("GET", "/metrics") => (Rule::Platform(200), request(Method::GET, "/metrics".into(), None)),
        // The OpenID Connect provider: discovery and keys are public; the token endpoint authenticates clients,
        // not Butler callers (an empty form is invalid_request whoever sends it); userinfo takes only its own
        // access tokens (a Butler API credential is no such token).
        ("GET", "/.well-known/openid-configuration") => (Rule::Public(200), request(Method::GET, path.into(), None)),
        ("GET", "/oauth2/jwks") => (Rule::Public(200), request(Method::GET, path.into(), None)),
        ("POST", "/oauth2/token") => (Rule::Public(400), request(Method::POST, path.into(), None)),
        ("GET", "/oauth2/userinfo") => (Rule::Public(401), request(Method::GET, path.into(), None)),
        ("POST", "/api/v1/auth/token") => (
            Rule::Public(200),
            request(
                Method::POST,
                path.into(),
                json_body(json!({ "email": Who::PaymentsViewer.email(), "password": PASSWORD })),
            ),
        ),
        ("POST", "/api/v1/auth/session") => (
            Rule::Public(201),
            request(
                Method::POST,
                path.into(),
                json_body(json!({ "email": Who::PaymentsEditor.email(), "password": PASSWORD })),
            ),
        ),
        ("DELETE", "/api/v1/auth/session") => (Rule::Authenticated(204), request(Method::DELETE, path.into(), None)),
        ("GET", "/api/v1/me") => (Rule::Authenticated(200), request(Method::GET, path.into(), None)),
        ("GET", "/api/v1/tenants") => (Rule::Authenticated(200), request(Method::GET, path.into(), None)),
        ("POST", "/api/v1/tenants") => {
            (Rule::Platform(201), request(Method::POST, path.into(), json_body(json!({ "name": format!("t-{s}") }))))
        }
        ("GET", "/api/v1/tenants/{tenant}") => {
            (Rule::Tenant(Role::Admin, 200), request(Method::GET, "/api/v1/tenants/payments".into(), None))
        }
        ("PATCH", "/api/v1/tenants/{tenant}") => (
            Rule::Platform(200),
            request(Method::PATCH, "/api/v1/tenants/payments".into(), json_body(json!({ "displayName": "Payments" }))),
        ),
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments") => (
            Rule::Tenant(Role::Viewer, 200),
            request(Method::GET, "/api/v1/tenants/payments/jenkinsenvironments".into(), None),
        ),
        ("POST", "/api/v1/tenants/{tenant}/jenkinsenvironments") => (
            Rule::Tenant(Role::Editor, 201),
            request(
                Method::POST,
                "/api/v1/tenants/payments/jenkinsenvironments".into(),
                json_body(manifest(&format!("m-{s}"))),
            ),
        ),
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}") => {
            (Rule::Tenant(Role::Viewer, 200), request(Method::GET, env, None))
        }
        ("PUT", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}") => {
            (Rule::Tenant(Role::Editor, 200), request(Method::PUT, env, json_body(manifest("ci"))))
        }
        ("PATCH", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}") => (
            Rule::Tenant(Role::Editor, 200),
            request(
                Method::PATCH,
                env,
                Some((json!({ "metadata": { "labels": { "by": s } } }).to_string(), "application/merge-patch+json")),
            ),
        ),
        ("DELETE", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}") => {
            (Rule::Tenant(Role::Editor, 202), request(Method::DELETE, environment_path("payments", "doomed"), None))
        }
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/status") => {
            (Rule::Tenant(Role::Viewer, 200), request(Method::GET, format!("{env}/status"), None))
        }
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/events") => {
            (Rule::Tenant(Role::Viewer, 200), request(Method::GET, format!("{env}/events"), None))
        }
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/jenkins-config") => {
            (Rule::Tenant(Role::Viewer, 200), request(Method::GET, format!("{env}/jenkins-config"), None))
        }
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/controller-log") => {
            (Rule::Tenant(Role::Editor, 200), request(Method::GET, format!("{env}/controller-log"), None))
        }
        // Credentials: viewers see ids and types, editors write and delete; no value ever comes back (checked for
        // every response below).
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials") => {
            (Rule::Tenant(Role::Viewer, 200), request(Method::GET, format!("{env}/credentials"), None))
        }
        ("GET", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials/{id}") => {
            (Rule::Tenant(Role::Viewer, 200), request(Method::GET, format!("{env}/credentials/matrix"), None))
        }
        ("PUT", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials/{id}") => (
            Rule::Tenant(Role::Editor, 201),
            request(
                Method::PUT,
                format!("{env}/credentials/put-{s}"),
                json_body(json!({ "type": "secretText", "secret": CREDENTIAL_VALUE })),
            ),
        ),
        ("DELETE", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials/{id}") => {
            (Rule::Tenant(Role::Editor, 204), request(Method::DELETE, format!("{env}/credentials/del-{s}"), None))
        }
        // The controller's own fetch: its token or nothing (no Butler credential opens it).
        ("GET", "/casc/{uid}/jenkins.yaml") => (
            Rule::Public(404),
            request(Method::GET, format!("/casc/{}/jenkins.yaml?token=guess", fixtures.ci_uid.simple()), None),
        ),
        ("POST", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/rotate-oidc-secret") => {
            (Rule::Tenant(Role::Admin, 202), request(Method::POST, format!("{env}/rotate-oidc-secret"), None))
        }
        // Tenant admins only; "ci" was never reconciled, so an admin passes and finds no password yet (409).
        ("POST", "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/reveal-admin-password") => (
            Rule::Tenant(Role::Admin, 409),
            request(Method::POST, format!("{env}/reveal-admin-password"), json_body(json!({ "reason": "matrix" }))),
        ),
        ("GET", "/api/v1/tenants/{tenant}/members") => {
            (Rule::Tenant(Role::Admin, 200), request(Method::GET, "/api/v1/tenants/payments/members".into(), None))
        }
        ("GET", "/api/v1/tenants/{tenant}/invitations") => {
            (Rule::Tenant(Role::Admin, 200), request(Method::GET, "/api/v1/tenants/payments/invitations".into(), None))
        }
        ("DELETE", "/api/v1/tenants/{tenant}/invitations/{email}") => (
            Rule::Tenant(Role::Admin, 204),
            request(
                Method::DELETE,
                format!("/api/v1/tenants/payments/invitations/spare-{}@invited.test", slug(caller)),
                None,
            ),
        ),
        ("GET", "/api/v1/me/invitations") => {
            (Rule::Authenticated(200), request(Method::GET, "/api/v1/me/invitations".into(), None))
        }
        // No caller of the matrix is invited anywhere: accepting is a 404 for each (and never a membership).
        ("POST", "/api/v1/me/invitations/{tenant}") => {
            (Rule::Authenticated(404), request(Method::POST, "/api/v1/me/invitations/payments".into(), None))
        }
        ("POST", "/api/v1/tenants/{tenant}/members") => (
            Rule::Tenant(Role::Admin, 202),
            request(
                Method::POST,
                "/api/v1/tenants/payments/members".into(),
                json_body(json!({ "email": "matrix-invitee@invited.test", "role": "viewer" })),
            ),
        ),
        ("PUT", "/api/v1/tenants/{tenant}/members/{user_id}") => (
            Rule::Tenant(Role::Admin, 200),
            request(
                Method::PUT,
                format!("/api/v1/tenants/payments/members/{}", fixtures.viewer_id),
                json_body(json!({ "role": "viewer" })),
            ),
        ),
        ("DELETE", "/api/v1/tenants/{tenant}/members/{user_id}") => (
            Rule::Tenant(Role::Admin, 204),
            request(
                Method::DELETE,
                format!("/api/v1/tenants/payments/members/{}", fixtures.spare_members[&caller]),
                None,
            ),
        ),
        ("GET", "/api/v1/tenants/{tenant}/tokens") => {
            (Rule::Tenant(Role::Admin, 200), request(Method::GET, "/api/v1/tenants/payments/tokens".into(), None))
        }
        ("POST", "/api/v1/tenants/{tenant}/tokens") => (
            Rule::Tenant(Role::Admin, 201),
            request(
                Method::POST,
                "/api/v1/tenants/payments/tokens".into(),
                json_body(json!({ "name": format!("k-{s}"), "role": "viewer" })),
            ),
        ),
        ("DELETE", "/api/v1/tenants/{tenant}/tokens/{token_id}") => (
            Rule::Tenant(Role::Admin, 200),
            request(
                Method::DELETE,
                format!("/api/v1/tenants/payments/tokens/{}", fixtures.spare_tokens[&caller]),
                None,
            ),
        ),
        ("GET", "/api/v1/users") => (Rule::Platform(200), request(Method::GET, path.into(), None)),
        ("POST", "/api/v1/users") => (
            Rule::Platform(201),
            request(
                Method::POST,
                path.into(),
                json_body(json!({ "email": format!("new-{s}@butler.test"), "password": PASSWORD })),
            ),
        ),
        ("GET", "/api/v1/users/{user_id}") => {
            (Rule::Platform(200), request(Method::GET, format!("/api/v1/users/{}", fixtures.viewer_id), None))
        }
        ("PATCH", "/api/v1/users/{user_id}") => (
            Rule::Platform(200),
            request(
                Method::PATCH,
                format!("/api/v1/users/{}", fixtures.viewer_id),
                json_body(json!({ "disabled": false })),
            ),
        ),
        ("GET", "/api/v1/audit") => (Rule::Platform(200), request(Method::GET, path.into(), None)),
        ("GET", "/api/v1/costs") => {
            // With a tenant: that tenant's admins (and platform admins); without one, platform admins only.
            (Rule::Tenant(Role::Admin, 200), request(Method::GET, "/api/v1/costs?tenant=payments".into(), None))
        }
        ("GET", "/api/v1/prices") => (Rule::Platform(200), request(Method::GET, path.into(), None)),
        ("PUT", "/api/v1/prices") => (
            Rule::Platform(200),
            request(
                Method::PUT,
                path.into(),
                json_body(
                    json!({ "source": "test", "retrieved": "2026-12-01", "efsStandardGbMonth": {}, "onDemandHourly": { "us-east-1": { "m5.large": 0.096 } } }),
                ),
            ),
        ),
        ("GET", "/api/v1/tenants/{tenant}/budget") => {
            (Rule::Tenant(Role::Admin, 200), request(Method::GET, "/api/v1/tenants/payments/budget".into(), None))
        }
        ("PUT", "/api/v1/tenants/{tenant}/budget") => (
            Rule::Platform(200),
            request(Method::PUT, "/api/v1/tenants/payments/budget".into(), json_body(json!({ "monthlyUsd": 500.0 }))),
        ),
        ("GET", "/api/v1/cloudprofiles") => (Rule::Platform(200), request(Method::GET, path.into(), None)),
        ("GET", "/api/v1/cloudprofiles/{name}") => {
            (Rule::Platform(200), request(Method::GET, "/api/v1/cloudprofiles/default".into(), None))
        }
        ("PUT", "/api/v1/cloudprofiles/{name}") => (
            Rule::Platform(200),
            request(
                Method::PUT,
                "/api/v1/cloudprofiles/default".into(),
                json_body(
                    json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] }),
                ),
            ),
        ),
        ("DELETE", "/api/v1/cloudprofiles/{name}") => {
            (Rule::Platform(204), request(Method::DELETE, "/api/v1/cloudprofiles/spare".into(), None))
        }
        _ => return None,
    })
}

/// JWTs that must not work: expired, signed with another key under our `kid`, and unsigned.
fn bad_jwts(app: &TestApp) -> HashMap<Caller, String> {
    let user = app.user_ids[&Who::PaymentsAdmin];
    let kid = app.state.jwt.current_kid().to_owned();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({ "sub": user, "iss": "butler", "aud": "butler-api", "iat": now - 7200, "exp": exp, "jti": uuid::Uuid::new_v4() });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.clone());
    let real_key = jsonwebtoken::EncodingKey::from_secret(butler_tests::JWT_SECRET.as_bytes());
    let expired = jsonwebtoken::encode(&header, &claims(now - 3600), &real_key).expect("expired jwt");
    let other_key = jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-that-is-also-long-enough");
    let foreign = jsonwebtoken::encode(&header, &claims(now + 3600), &other_key).expect("foreign jwt");
    let none_header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let none_payload = URL_SAFE_NO_PAD.encode(claims(now + 3600).to_string());
    HashMap::from([
        (Caller::ExpiredJwt, expired),
        (Caller::ForeignKeyJwt, foreign),
        (Caller::AlgNoneJwt, format!("{none_header}.{none_payload}.")),
    ])
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_rules_say_and_never_leaks_another_tenant() {
    let app = TestApp::spawn().await;
    // Data that must only ever reach `other`'s people and platform admins.
    let mut secret = manifest("other-secret-env");
    secret["metadata"]["labels"] = json!({ "marker": "other-tenant-secret" });
    assert_eq!(app.create("other", &secret).await.status, StatusCode::CREATED);
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    assert_eq!(app.create("payments", &manifest("doomed")).await.status, StatusCode::CREATED);
    // "ci" is a sign-in client (as the reconciler would have registered it), so a rotation can be asked for.
    let ci = butler::store::environments::find(&app.db(), "payments", "ci").await.expect("db").expect("ci");
    let uri = ("https://ci.example.test/securityRealm/finishLogin", "https://ci.example.test/");
    butler::store::oidc::begin_secret(&app.db(), "env-ci", ("payments", "ci", ci.uid), "digest", uri)
        .await
        .expect("client");
    for profile in ["default", "spare"] {
        let body = json!({ "region": "eu-west-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
        assert_eq!(
            app.send_json(Method::PUT, &format!("/api/v1/cloudprofiles/{profile}"), &body).await.status,
            StatusCode::CREATED
        );
    }
    // A credential written through the API (its value goes to Secrets Manager on the emulator), and one row per
    // caller for the deletes.
    let put = app
        .send_json(
            Method::PUT,
            &format!("{}/credentials/matrix", environment_path("payments", "ci")),
            &json!({ "type": "secretText", "secret": CREDENTIAL_VALUE, "description": "fixture" }),
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&put.body));
    for caller in CALLERS {
        let row = butler::store::credentials::CredentialRow {
            environment_uid: ci.uid,
            credential_id: format!("del-{}", slug(caller)),
            tenant: "payments".into(),
            credential_type: "secretText".into(),
            description: String::new(),
            username: None,
            file_name: None,
            secret_arn: "arn:aws:secretsmanager:eu-west-1:000000000000:secret:gone-AbCdEf".into(),
            updated_at: chrono::Utc::now(),
            updated_by: "fixture".into(),
        };
        butler::store::credentials::upsert(&app.db(), &row).await.expect("row");
    }

    let (revoked_id, revoked_secret) = app.api_token("payments", "revoked", "admin").await;
    butler::store::api_tokens::revoke(&app.db(), "payments", revoked_id).await.expect("revoked");
    let mut credentials: HashMap<Caller, Option<String>> =
        bad_jwts(&app).into_iter().map(|(c, t)| (c, Some(t))).collect();
    credentials.insert(Caller::Nobody, None);
    credentials.insert(Caller::RevokedToken, Some(revoked_secret));
    for (caller, who) in [
        (Caller::Viewer, Who::PaymentsViewer),
        (Caller::Editor, Who::PaymentsEditor),
        (Caller::Admin, Who::PaymentsAdmin),
        (Caller::OtherAdmin, Who::OtherAdmin),
        (Caller::Platform, Who::Platform),
    ] {
        credentials.insert(caller, Some(app.jwts[&who].clone()));
    }
    let mut fixtures = Fixtures {
        viewer_id: app.user_ids[&Who::PaymentsViewer],
        ci_uid: ci.uid,
        spare_members: HashMap::new(),
        spare_tokens: HashMap::new(),
    };
    for caller in CALLERS {
        let member = app.user(&format!("spare-{}@butler.test", slug(caller)), Some(("payments", "viewer"))).await;
        fixtures.spare_members.insert(caller, member);
        let (token, _) = app.api_token("payments", &format!("spare-{}", slug(caller)), "viewer").await;
        let email = format!("spare-{}@invited.test", slug(caller));
        butler::store::invitations::invite(&app.db(), "payments", &email, "viewer", "fixture").await.expect("invite");
        fixtures.spare_tokens.insert(caller, token);
    }

    let table = butler::http::route_table();
    let mut failures = Vec::new();
    for (method, path) in table.routes() {
        let reqwest_method = Method::from_bytes(method.as_str().as_bytes()).expect("method");
        if case(&reqwest_method, path, Caller::Nobody, &fixtures).is_none() {
            failures.push(format!("{method} {path} has no rule in the access matrix"));
            continue;
        }
        for caller in CALLERS {
            let (rule, request) = case(&reqwest_method, path, caller, &fixtures).expect("case");
            let mut builder = app.anonymous(request.method.clone(), &request.path);
            if let Some(credential) = &credentials[&caller] {
                builder = builder.bearer_auth(credential);
            }
            if let Some((body, content_type)) = request.body {
                builder = builder.header("content-type", content_type).body(body);
            }
            let response = app.send(builder).await;
            let want = expected(rule, caller);
            if response.status.as_u16() != want {
                failures.push(format!(
                    "{method} {} as {caller:?}: expected {want}, got {} {}",
                    request.path,
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ));
            }
            if response.status == StatusCode::UNAUTHORIZED && response.header("www-authenticate").is_none() {
                failures.push(format!("{method} {} as {caller:?}: 401 without WWW-Authenticate", request.path));
            }
            let sees_other = matches!(caller, Caller::OtherAdmin | Caller::Platform);
            let body = String::from_utf8_lossy(&response.body);
            if body.contains(CREDENTIAL_VALUE) {
                failures.push(format!("{method} {} as {caller:?}: the body shows a credential's value", request.path));
            }
            if !sees_other
                && (body.contains("other-tenant-secret")
                    || body.contains("other-secret-env")
                    || body.contains("admin@other.test"))
            {
                failures.push(format!("{method} {} as {caller:?}: the body shows tenant other's data", request.path));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
