//! Butler as an OpenID Connect provider, driven by a relying party nobody here wrote (the `openidconnect`
//! crate) playing an environment's Jenkins: discovery, authorization through a real Chromium signed in to Butler,
//! the code exchanged for tokens, the ID token verified against the JWKS, `groups` carrying the member's tenant
//! role. Then every refusal the RFCs name (reused, expired and foreign codes, a wrong PKCE verifier, a wrong
//! secret, an unregistered redirect URI, a non-member, a removed member), key rotation, and the environment's
//! side (client id in status, secret in SSM, the controller's task definition and JCasC).

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use butler::aws::ssm::{SdkSsm, SsmApi};
use butler_tests::browser::Browser;
use butler_tests::emulated::{names_of, World};
use butler_tests::{environment_path, manifest, Who, PASSWORD};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::OAuth2TokenResponse;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An environment reconciled by a Butler that is an OpenID Connect provider, and what its Jenkins would know.
struct Relying {
    world: World,
    issuer: String,
    client_id: String,
    secret: String,
    redirect: String,
}

async fn environment(world: World, name: &str) -> Relying {
    let issuer = world.app.state.issuer();
    let mut body = manifest(name);
    body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
    assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
    let reconciler = World::reconciler_with(&world.app, &world.settings).with_issuer(Some(issuer.clone()));
    World::converge_with(&reconciler, name).await;
    let object = world.object(name).await;
    let outputs = &object["status"]["outputs"];
    let client_id = outputs["oidcClientId"].as_str().expect("client id").to_owned();
    let parameter = outputs["oidcClientSecretParameter"].as_str().expect("secret parameter").to_owned();
    // Jenkins gets the secret from SSM through ECS; the test reads it where ECS would.
    let secret = SdkSsm::new(&world.account).read_secret(&parameter).await.expect("ssm").expect("secret");
    let url = outputs["url"].as_str().expect("url");
    let redirect = format!("{}securityRealm/finishLogin", url);
    Relying { world, issuer, client_id, secret, redirect }
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// A browser-less authorization request as `who` (their Butler session cookie): the redirect Butler answers.
async fn authorize_as(app: &butler_tests::TestApp, cookie: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    client
        .get(format!("{}/oauth2/authorize", app.base_url))
        .query(query)
        .header("cookie", cookie)
        .send()
        .await
        .expect("authorize")
}

fn challenge(verifier: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

const VERIFIER: &str = "a-verifier-of-the-test-that-is-long-enough-for-rfc-7636-xxxxxxxx";

/// A code for `who` at `relying`'s client, issued without a browser.
async fn code_for(relying: &Relying, who: Who) -> String {
    let cookie = relying.world.app.session_cookie(who).await;
    let challenge = challenge(VERIFIER);
    let query = [
        ("response_type", "code"),
        ("client_id", relying.client_id.as_str()),
        ("redirect_uri", relying.redirect.as_str()),
        ("scope", "openid email groups"),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = authorize_as(&relying.world.app, &cookie, &query).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    let url = reqwest::Url::parse(&location).expect("url");
    assert!(location.starts_with(&relying.redirect), "{location}");
    url.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("code")
}

/// A raw token request (form, client_secret_post unless `basic`).
async fn exchange(relying: &Relying, code: &str, verifier: &str, secret: &str, basic: bool) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", relying.redirect.as_str()),
        ("code_verifier", verifier),
    ];
    let mut request = client.post(format!("{}/oauth2/token", relying.world.app.base_url));
    if basic {
        request = request.basic_auth(&relying.client_id, Some(secret));
    } else {
        form.push(("client_id", relying.client_id.as_str()));
        form.push(("client_secret", secret));
    }
    let response = request.form(&form).send().await.expect("token");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A stand-in for the environment's Jenkins: an HTTP proxy Chromium sends non-loopback requests to, which
/// answers anything and records the URL it was asked for (Butler's redirect back with the code).
async fn capturing_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buffer[..read]).to_string();
                if let Some(target) = head.lines().next().and_then(|line| line.split_whitespace().nth(1)) {
                    record.lock().expect("seen").push(target.to_owned());
                }
                let body = "<!doctype html><title>Jenkins</title><p>signed in";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_relying_party_signs_a_member_in_through_the_browser_and_verifies_the_id_token() {
    let relying = environment(World::new().await, "ci").await;
    let http = http();
    // Discovery, as the oic-auth plugin does it (`wellKnown`).
    let issuer = IssuerUrl::new(relying.issuer.clone()).expect("issuer");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await.expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(relying.client_id.clone()),
        Some(ClientSecret::new(relying.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(relying.redirect.clone()).expect("redirect"));
    let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("groups".into()))
        .set_pkce_challenge(pkce)
        .url();

    // A person signs in to Butler in Chromium, then follows the relying party's authorization URL.
    let (proxy_port, seen) = capturing_proxy().await;
    let browser = Browser::start_with_args(
        &relying.world.app.base_url,
        "oidc",
        1280,
        900,
        &[format!("--proxy-server=http://127.0.0.1:{proxy_port}")],
    )
    .await;
    browser.goto("/login").await;
    browser.sign_in(Who::PaymentsEditor.email(), PASSWORD).await;
    browser.wait_for_path("/t/payments/environments").await;
    browser.goto_url(authorize_url.as_str()).await;
    let mut back = None;
    for _ in 0..50 {
        back = seen.lock().expect("seen").iter().find(|url| url.contains("/securityRealm/finishLogin")).cloned();
        if back.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let back = reqwest::Url::parse(&back.expect("Butler sent the browser back to Jenkins")).expect("url");
    assert!(back.as_str().starts_with(&relying.redirect), "{back}");
    let pairs: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("state"), Some(state.secret()), "state comes back unchanged");
    assert_eq!(pairs.get("iss"), Some(&relying.issuer));
    let code = pairs.get("code").expect("code").clone();

    // The code for tokens (client_secret_basic, the library's default), the ID token verified with the JWKS.
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("tokens");
    let id_token = tokens.id_token().expect("id token");
    let claims = id_token.claims(&client.id_token_verifier(), &nonce).expect("the ID token verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(Who::PaymentsEditor.email()));
    let payload: Value = {
        let raw = id_token.to_string();
        let part = raw.split('.').nth(1).expect("payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
    };
    assert_eq!(payload["groups"], json!(["payments:editor"]), "the tenant role, as a group");
    assert_eq!(payload["aud"], relying.client_id);
    // The access token reads userinfo; the same claims.
    let userinfo = reqwest::Client::new()
        .get(format!("{}/oauth2/userinfo", relying.world.app.base_url))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::OK);
    let info: Value = userinfo.json().await.expect("json");
    assert_eq!(
        (info["email"].as_str(), &info["groups"]),
        (Some(Who::PaymentsEditor.email()), &json!(["payments:editor"]))
    );
    // The code was used: a second exchange is invalid_grant (RFC 6749 §4.1.2, §5.2).
    let (status, body) = exchange(&relying, &code, "x".repeat(43).as_str(), &relying.secret, true).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

#[tokio::test]
async fn every_wrong_request_is_refused_with_the_rfc_error_and_no_code() {
    let world = World::new().await;
    let relying = environment(world, "ci").await;
    let app = &relying.world.app;
    // The right request works (the baseline the refusals differ from), with client_secret_post.
    let code = code_for(&relying, Who::PaymentsViewer).await;
    let (status, body) = exchange(&relying, &code, VERIFIER, &relying.secret, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // Reused.
    let (status, body) = exchange(&relying, &code, VERIFIER, &relying.secret, false).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "reused");
    // A wrong PKCE verifier (and the code is spent by the attempt).
    let code = code_for(&relying, Who::PaymentsViewer).await;
    let wrong = format!("{VERIFIER}-but-not-this-one");
    let (status, body) = exchange(&relying, &code, &wrong, &relying.secret, false).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "verifier");
    let (status, _) = exchange(&relying, &code, VERIFIER, &relying.secret, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a code is tried once");
    // A wrong secret, posted and basic: invalid_client, 401 (with a Basic challenge for Basic).
    let code = code_for(&relying, Who::PaymentsViewer).await;
    let (status, body) = exchange(&relying, &code, VERIFIER, "not-the-secret", false).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "post");
    let (status, body) = exchange(&relying, &code, VERIFIER, "not-the-secret", true).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "basic");
    // Expired: a code older than its minute.
    let code = code_for(&relying, Who::PaymentsViewer).await;
    use sea_orm::ConnectionTrait;
    app.db().execute_unprepared("UPDATE oidc_codes SET expires_at = now() - interval '1 second'").await.expect("age");
    let (status, body) = exchange(&relying, &code, VERIFIER, &relying.secret, false).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "expired");
    // Foreign: a code issued to one environment's client, redeemed by another's.
    let other = {
        let mut body = manifest("qa");
        body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
        assert_eq!(app.create("payments", &body).await.status, StatusCode::CREATED);
        let reconciler = World::reconciler_with(app, &relying.world.settings).with_issuer(Some(relying.issuer.clone()));
        World::converge_with(&reconciler, "qa").await;
        let object = relying.world.object("qa").await;
        let outputs = &object["status"]["outputs"];
        let parameter = outputs["oidcClientSecretParameter"].as_str().expect("parameter");
        let secret = SdkSsm::new(&relying.world.account).read_secret(parameter).await.expect("ssm").expect("secret");
        (outputs["oidcClientId"].as_str().expect("id").to_owned(), secret)
    };
    let code = code_for(&relying, Who::PaymentsViewer).await;
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", app.base_url))
        .basic_auth(&other.0, Some(&other.1))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &relying.redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "foreign code");
    assert_eq!(response.json::<Value>().await.expect("json")["error"], "invalid_grant");
    // An unregistered redirect URI: a page at Butler, nothing sent anywhere.
    let cookie = app.session_cookie(Who::PaymentsAdmin).await;
    let challenge = challenge(VERIFIER);
    let evil = [
        ("response_type", "code"),
        ("client_id", relying.client_id.as_str()),
        ("redirect_uri", "https://evil.example/securityRealm/finishLogin"),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = authorize_as(app, &cookie, &evil).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.expect("page").contains("Redirect URI not registered"));
    // No PKCE: an error back to the (registered) client, no code.
    let no_pkce = [
        ("response_type", "code"),
        ("client_id", relying.client_id.as_str()),
        ("redirect_uri", relying.redirect.as_str()),
        ("scope", "openid"),
        ("state", "s2"),
    ];
    let response = authorize_as(app, &cookie, &no_pkce).await;
    let location = response.headers()["location"].to_str().expect("location").to_owned();
    assert!(
        location.contains("error=invalid_request") && location.contains("state=s2") && !location.contains("code="),
        "{location}"
    );
    // A non-member (the other tenant's admin) gets a refusal page, never a code.
    let outsider = app.session_cookie(Who::OtherAdmin).await;
    let good = [
        ("response_type", "code"),
        ("client_id", relying.client_id.as_str()),
        ("redirect_uri", relying.redirect.as_str()),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = authorize_as(app, &outsider, &good).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("location").is_none());
    // A removed member: signed in before the removal, refused at the next sign-in.
    let viewer_cookie = app.session_cookie(Who::PaymentsViewer).await;
    let members = app.get("/api/v1/tenants/payments/members").await.json();
    let viewer_id = members["items"]
        .as_array()
        .and_then(|items| items.iter().find(|m| m["email"] == Who::PaymentsViewer.email()))
        .and_then(|m| m["userId"].as_str())
        .expect("viewer id")
        .to_owned();
    let removed = app.send(app.request(Method::DELETE, &format!("/api/v1/tenants/payments/members/{viewer_id}"))).await;
    assert!(removed.status.is_success(), "{}", removed.status);
    let response = authorize_as(app, &viewer_cookie, &good).await;
    assert!(response.headers().get("location").is_none_or(|l| !l.to_str().unwrap_or_default().contains("code=")));
    assert_ne!(response.status(), StatusCode::SEE_OTHER, "no code for a removed member");
}

#[tokio::test]
async fn tokens_of_the_previous_key_verify_after_a_rotation_and_the_jwks_has_no_private_part() {
    let relying = environment(World::new().await, "ci").await;
    let app = &relying.world.app;
    let code = code_for(&relying, Who::PaymentsAdmin).await;
    let (status, before) = exchange(&relying, &code, VERIFIER, &relying.secret, true).await;
    assert_eq!(status, StatusCode::OK);
    let kid_of = |token: &str| jsonwebtoken::decode_header(token).expect("header").kid.expect("kid");
    let old_kid = kid_of(before["id_token"].as_str().expect("id token"));
    let new_kid = app.state.oidc_keys.rotate(&app.db()).await.expect("rotate");
    assert_ne!(old_kid, new_kid);
    let jwks = app.get("/oauth2/jwks").await.json();
    let keys = jwks["keys"].as_array().expect("keys");
    let kids: Vec<&str> = keys.iter().filter_map(|k| k["kid"].as_str()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    for key in keys {
        assert!(key.get("d").is_none(), "a private part in the JWKS: {key}");
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
    }
    // The old ID token still verifies against the published keys (with a library that is not Butler's).
    let old = keys.iter().find(|k| k["kid"] == old_kid).expect("old key");
    let decoding =
        jsonwebtoken::DecodingKey::from_ec_components(old["x"].as_str().expect("x"), old["y"].as_str().expect("y"))
            .expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[relying.client_id.as_str()]);
    validation.set_issuer(&[relying.issuer.as_str()]);
    jsonwebtoken::decode::<Value>(before["id_token"].as_str().expect("token"), &decoding, &validation)
        .expect("verifies");
    // Its access token still reads userinfo; new tokens are signed by the new key.
    let userinfo = reqwest::Client::new()
        .get(format!("{}/oauth2/userinfo", app.base_url))
        .bearer_auth(before["access_token"].as_str().expect("access token"))
        .send()
        .await
        .expect("userinfo");
    assert_eq!(userinfo.status(), StatusCode::OK);
    let code = code_for(&relying, Who::PaymentsAdmin).await;
    let (_, after) = exchange(&relying, &code, VERIFIER, &relying.secret, true).await;
    assert_eq!(kid_of(after["id_token"].as_str().expect("id token")), new_kid);
}

#[tokio::test]
async fn a_changed_jwt_secret_retires_the_key_it_cannot_decrypt_and_signs_with_a_new_one() {
    let relying = environment(World::new().await, "ci").await;
    let app = &relying.world.app;
    let code = code_for(&relying, Who::PaymentsAdmin).await;
    let (_, before) = exchange(&relying, &code, VERIFIER, &relying.secret, true).await;
    let kid_of = |token: &str| jsonwebtoken::decode_header(token).expect("header").kid.expect("kid");
    let old_kid = kid_of(before["id_token"].as_str().expect("id token"));
    // Another replica started with another secret: it cannot decrypt the stored key.
    let other = butler::auth::oidc_keys::OidcKeys::new(&secrecy::SecretString::from(
        "another-secret-of-enough-length-0123456789".to_owned(),
    ));
    let token = other.sign(&app.db(), &serde_json::json!({ "probe": true })).await.expect("signs with a new key");
    assert_ne!(kid_of(&token), old_kid);
    let jwks = app.get("/oauth2/jwks").await.json();
    let kids: Vec<&str> = jwks["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&kid_of(&token).as_str()), "both published: {kids:?}");
}

#[tokio::test]
async fn the_controller_gets_its_client_secret_from_ssm_and_jenkins_is_configured_for_it() {
    let relying = environment(World::new().await, "ci").await;
    let world = &relying.world;
    let object = world.object("ci").await;
    let (names, _) = names_of(&object);
    // The task definition takes the secret from SSM through ECS, never in plain text.
    let ecs = butler::aws::ecs::SdkEcs::new(&world.account);
    use butler::aws::ecs::EcsApi;
    let latest = ecs.latest_task_definition(&names.controller_family()).await.expect("ecs").expect("revision");
    let described = aws_sdk_ecs::Client::new(&world.account.config)
        .describe_task_definition()
        .task_definition(&latest.arn)
        .send()
        .await
        .expect("task definition");
    let container = described.task_definition().and_then(|d| d.container_definitions().first()).expect("container");
    let secret = container.secrets().iter().find(|s| s.name() == "BUTLER_OIDC_CLIENT_SECRET").expect("secret entry");
    assert_eq!(secret.value_from(), names.oidc_client_secret_parameter());
    assert!(!format!("{described:?}").contains(&relying.secret), "the secret is not in the task definition");
    // The JCasC Butler shows is the one deployed: the oic realm on Butler's discovery URL, PKCE, escape hatch.
    let config = world.app.get(&format!("{}/jenkins-config", environment_path("payments", "ci"))).await.json();
    let casc = config["casc"].as_str().expect("casc");
    assert!(
        casc.contains(&format!("wellKnownOpenIDConfigurationUrl: {}/.well-known/openid-configuration", relying.issuer)),
        "{casc}"
    );
    assert!(casc.contains(&format!("clientId: {}", relying.client_id)), "{casc}");
    assert!(!casc.contains(&relying.secret), "the secret is not in the JCasC");
    let plugins: Vec<String> = serde_json::from_value(config["plugins"].clone()).expect("plugins");
    assert!(plugins.iter().any(|p| p == "oic-auth"), "{plugins:?}");
    // Rotation: a new secret in SSM, the old one refused, the new one accepted, audited.
    let rotated = world
        .app
        .send(world.app.request_as(
            Who::PaymentsAdmin,
            Method::POST,
            &format!("{}/rotate-oidc-secret", environment_path("payments", "ci")),
        ))
        .await;
    assert_eq!(rotated.status, StatusCode::ACCEPTED);
    let reconciler = World::reconciler_with(&world.app, &world.settings).with_issuer(Some(relying.issuer.clone()));
    World::converge_with(&reconciler, "ci").await;
    let parameter =
        world.object("ci").await["status"]["outputs"]["oidcClientSecretParameter"].as_str().expect("p").to_owned();
    let new_secret = SdkSsm::new(&world.account).read_secret(&parameter).await.expect("ssm").expect("secret");
    assert_ne!(new_secret, relying.secret);
    let code = code_for(&relying, Who::PaymentsAdmin).await;
    let (status, _) = exchange(&relying, &code, VERIFIER, &relying.secret, true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old secret is refused");
    let code = code_for(&relying, Who::PaymentsAdmin).await;
    let (status, _) = exchange(&relying, &code, VERIFIER, &new_secret, true).await;
    assert_eq!(status, StatusCode::OK, "the new secret works");
    let reasons = world.event_reasons("ci").await;
    assert!(reasons.iter().any(|r| r == "OidcClientSecretRotated"), "{reasons:?}");
}

#[tokio::test]
async fn a_tenant_admin_reveals_the_break_glass_password_with_a_reason_which_is_audited_and_on_the_timeline() {
    let relying = environment(World::new().await, "ci").await;
    let world = &relying.world;
    let path = format!("{}/reveal-admin-password", environment_path("payments", "ci"));
    let reason = json!({ "reason": "the provider is down and a release is blocked" });
    for who in [Who::PaymentsEditor, Who::PaymentsViewer] {
        let refused = world.app.send(world.app.request_as(who, Method::POST, &path).json(&reason)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{who:?}");
    }
    let other = world.app.send(world.app.request_as(Who::OtherAdmin, Method::POST, &path).json(&reason)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another tenant's admin does not even see it");
    let empty = world
        .app
        .send(world.app.request_as(Who::PaymentsAdmin, Method::POST, &path).json(&json!({ "reason": " " })))
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let revealed = world.app.send(world.app.request_as(Who::PaymentsAdmin, Method::POST, &path).json(&reason)).await;
    assert_eq!(revealed.status, StatusCode::OK);
    let body = revealed.json();
    let (names, _) = names_of(&world.object("ci").await);
    let stored = SdkSsm::new(&world.account).read_secret(&names.admin_password_parameter()).await.expect("ssm");
    assert_eq!(body["password"].as_str(), stored.as_deref());
    assert_eq!(body["username"], "admin");
    // On the timeline, with who and why, never the password.
    let events = world.app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let event = events["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["reason"] == "AdminPasswordRevealed"))
        .cloned()
        .expect("event");
    let message = event["message"].as_str().expect("message");
    assert!(message.contains(Who::PaymentsAdmin.email()) && message.contains("a release is blocked"), "{message}");
    assert!(!message.contains(body["password"].as_str().expect("password")));
    // In the audit log, with the reason.
    let audit = world.app.get("/api/v1/audit?action=environment.reveal-admin-password").await.json();
    let entries = audit["items"].as_array().expect("items");
    assert!(
        entries.iter().any(|e| e["detail"].as_str().is_some_and(|d| d.contains("a release is blocked"))),
        "{audit}"
    );
    let dump = audit.to_string();
    assert!(!dump.contains(body["password"].as_str().expect("password")), "no password in the audit log");
}
