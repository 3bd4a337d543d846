//! Deletion with finalizers, and the events of an environment.

use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn delete(app: &TestApp, name: &str) -> butler_tests::TestResponse {
    app.send(app.request(Method::DELETE, &environment_path("payments", name))).await
}

#[tokio::test]
async fn delete_with_a_finalizer_keeps_the_row_with_a_deletion_timestamp() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("ci")).await;
    let first = delete(&app, "ci").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let first = first.json();
    assert!(first["metadata"]["deletionTimestamp"].is_string());

    let stored = app.get(&environment_path("payments", "ci")).await;
    assert_eq!(stored.status, StatusCode::OK, "the row stays while the finalizer is there");
    assert_eq!(stored.json()["metadata"]["deletionTimestamp"], first["metadata"]["deletionTimestamp"]);

    let second = delete(&app, "ci").await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(second.json()["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"], "idempotent");
}

#[tokio::test]
async fn the_row_goes_when_butler_removes_the_last_finalizer() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("ci")).await;
    delete(&app, "ci").await;
    let outcome = butler::environments::writes::remove_finalizer(
        &app.db(),
        &butler::store::audit::AuditContext::system("test"),
        "payments",
        "ci",
        butler::domain::AWS_RESOURCES_FINALIZER,
    )
    .await
    .expect("finalizer removed");
    let committed = outcome.committed.as_ref().expect("a write");
    assert_eq!(committed.change_type, butler::store::changes::ChangeType::Deleted);
    outcome.publish_to(&app.state.feed);
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(delete(&app, "ci").await.status, StatusCode::NOT_FOUND);
    // The name is free again.
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn clients_cannot_remove_butlers_finalizer_or_change_the_spec_while_deleting() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("ci")).await;
    let strip = app.merge_patch("payments", "ci", &json!({ "metadata": { "finalizers": [] } })).await;
    assert_eq!(strip.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(strip.json()["errors"][0]["field"], "metadata.finalizers");

    delete(&app, "ci").await;
    let change = app.merge_patch("payments", "ci", &json!({ "spec": { "capacity": { "max": 2 } } })).await;
    assert_eq!(change.status, StatusCode::CONFLICT);
    let add = app
        .merge_patch(
            "payments",
            "ci",
            &json!({ "metadata": { "finalizers": ["butler.dev/aws-resources", "example.com/late"] } }),
        )
        .await;
    assert_eq!(add.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Labels may still change.
    assert_eq!(
        app.merge_patch("payments", "ci", &json!({ "metadata": { "labels": { "x": "y" } } })).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_client_finalizer_holds_the_row_until_the_client_removes_it() {
    let app = TestApp::spawn().await;
    let mut body = manifest("ci");
    body["metadata"]["finalizers"] = json!(["example.com/backup"]);
    let created = app.create("payments", &body).await.json();
    assert_eq!(created["metadata"]["finalizers"], json!(["butler.dev/aws-resources", "example.com/backup"]));
    delete(&app, "ci").await;
    butler::environments::writes::remove_finalizer(
        &app.db(),
        &butler::store::audit::AuditContext::system("test"),
        "payments",
        "ci",
        butler::domain::AWS_RESOURCES_FINALIZER,
    )
    .await
    .expect("butler's finalizer removed");
    let remaining = app.merge_patch("payments", "ci", &json!({ "metadata": { "finalizers": [] } })).await;
    assert_eq!(remaining.status, StatusCode::OK);
    assert!(remaining.json()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_record_creation_spec_changes_and_deletion_newest_first() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("ci")).await;
    app.merge_patch("payments", "ci", &json!({ "spec": { "capacity": { "max": 4 } } })).await;
    delete(&app, "ci").await;
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await;
    assert_eq!(events.status, StatusCode::OK);
    let reasons: Vec<String> = events.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons, vec!["DeletionRequested", "SpecChanged", "Created"]);
    let missing = app.get(&format!("{}/events", environment_path("payments", "nope"))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn repeated_events_are_folded_into_a_count() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let uid: uuid::Uuid = created["metadata"]["uid"].as_str().expect("uid").parse().expect("uuid");
    for _ in 0..3 {
        butler::store::events::record(
            &app.db(),
            uid,
            "payments",
            butler::domain::object::EventType::Warning,
            "Throttled",
            "ECS said slow down",
        )
        .await
        .expect("event");
    }
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let throttled = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["reason"] == "Throttled")
        .cloned()
        .expect("folded event");
    assert_eq!(throttled["count"], 3);
    assert_eq!(throttled["type"], "Warning");
}
