//! Several Butler processes on one database: caches stay exact through NOTIFY, writes never lose an update.

use std::time::Duration;

use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn eventually_equal(app: &TestApp, path: &str, expected: &serde_json::Value) {
    for _ in 0..100 {
        let response = app.get(path).await;
        if response.status == StatusCode::OK && &response.json() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never showed the other replica's write");
}

#[tokio::test]
async fn a_write_on_one_replica_is_read_on_another() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_on(&first.database_name).await;
    let created = first.create("payments", &manifest("ci")).await.json();
    eventually_equal(&second, &environment_path("payments", "ci"), &created).await;
    let patched = second.merge_patch("payments", "ci", &json!({ "spec": { "capacity": { "max": 3 } } })).await.json();
    eventually_equal(&first, &environment_path("payments", "ci"), &patched).await;
    first.send(first.request(Method::DELETE, &environment_path("payments", "ci"))).await;
    butler::environments::writes::remove_finalizer(
        &first.db(),
        &butler::store::audit::AuditContext::system("test"),
        "payments",
        "ci",
        butler::domain::AWS_RESOURCES_FINALIZER,
    )
    .await
    .expect("finalizer removed");
    for _ in 0..100 {
        if second.get(&environment_path("payments", "ci")).await.status == StatusCode::NOT_FOUND {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the deletion never reached the second replica's cache");
}

#[tokio::test]
async fn concurrent_replaces_with_the_same_resource_version_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let attempts = (0..8).map(|index| {
        let mut body = created.clone();
        body["spec"]["agents"]["maxAgents"] = json!(index + 20);
        let request = app.request(Method::PUT, &environment_path("payments", "ci")).json(&body);
        async move { request.send().await.expect("sent").status() }
    });
    let statuses = futures::future::join_all(attempts).await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((won, lost), (1, 7), "{statuses:?}");
    let stored = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(stored["metadata"]["generation"], 2);
}

#[tokio::test]
async fn a_token_revoked_on_one_replica_stops_working_on_another_at_once() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_on(&first.database_name).await;
    let (token_id, secret) = first.api_token("payments", "shared", "viewer").await;
    let path = butler_tests::environments_path("payments");
    // The second replica has the token cached now.
    assert_eq!(second.send(second.anonymous(Method::GET, &path).bearer_auth(&secret)).await.status, StatusCode::OK);
    let revoked =
        first.send(first.request(Method::DELETE, &format!("/api/v1/tenants/payments/tokens/{token_id}"))).await;
    assert_eq!(revoked.status, StatusCode::OK);
    let started = std::time::Instant::now();
    loop {
        let status = second.send(second.anonymous(Method::GET, &path).bearer_auth(&secret)).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        // NOTIFY arrives in milliseconds; the cache's 10 s TTL must not be what ends it.
        assert!(started.elapsed() < Duration::from_secs(2), "the revocation did not reach the other replica");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
