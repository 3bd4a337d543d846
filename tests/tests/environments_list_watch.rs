//! Lists (label selectors, pagination) and watches (live changes, resume, 410).

use std::time::Duration;

use butler_tests::sse::SseReader;
use butler_tests::{environment_path, environments_path, manifest, spec, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn create_labelled(app: &TestApp, name: &str, team: &str) {
    let mut body = manifest(name);
    body["metadata"]["labels"] = json!({ "team": team });
    assert_eq!(app.create("payments", &body).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn list_pages_with_limit_and_continue_in_name_order() {
    let app = TestApp::spawn().await;
    for index in 0..7 {
        create_labelled(&app, &format!("env-{index}"), "checkout").await;
    }
    let mut names = Vec::new();
    let mut path = format!("{}?limit=3", environments_path("payments"));
    let mut pages = 0;
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        let page = page.json();
        pages += 1;
        names.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap_or_default().to_owned()),
        );
        match page["metadata"]["continue"].as_str() {
            Some(token) => path = format!("{}?limit=3&continue={token}", environments_path("payments")),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("env-{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn list_filters_by_label_selector_and_keeps_tenants_apart() {
    let app = TestApp::spawn().await;
    create_labelled(&app, "a", "checkout").await;
    create_labelled(&app, "b", "search").await;
    create_labelled(&app, "c", "checkout").await;
    assert_eq!(app.create("other", &manifest("z")).await.status, StatusCode::CREATED);
    let names = |body: serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let checkout = app.get(&format!("{}?labelSelector=team%3Dcheckout", environments_path("payments"))).await.json();
    assert_eq!(names(checkout), vec!["a", "c"]);
    let not_checkout =
        app.get(&format!("{}?labelSelector=team!%3Dcheckout", environments_path("payments"))).await.json();
    assert_eq!(names(not_checkout), vec!["b"]);
    let set =
        app.get(&format!("{}?labelSelector=team%20in%20(search,checkout)", environments_path("payments"))).await.json();
    assert_eq!(names(set), vec!["a", "b", "c"]);
    let by_name = app.get(&format!("{}?fieldSelector=metadata.name%3Db", environments_path("payments"))).await.json();
    assert_eq!(names(by_name), vec!["b"]);
    assert_eq!(names(app.get(&environments_path("other")).await.json()), vec!["z"]);
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let app = TestApp::spawn().await;
    let base = environments_path("payments");
    for query in [
        "labelSelector=team%20in%20(a",
        "limit=0",
        "limit=5000",
        "continue=garbage",
        "labelselector=x",
        "fieldSelector=spec.x%3D1",
        "limit=ten",
    ] {
        let response = app.get(&format!("{base}?{query}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
    }
    assert_eq!(app.get(&environments_path("nobody")).await.status, StatusCode::NOT_FOUND);
}

async fn open_watch(app: &TestApp, query: &str) -> SseReader {
    let response = app
        .request(Method::GET, &format!("{}?watch=true{query}", environments_path("payments")))
        .send()
        .await
        .expect("watch opens");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    SseReader::new(response)
}

fn assert_watch_event(event: &butler_tests::sse::SseEvent) {
    if let Err(errors) = spec().validate_component("WatchEvent", &event.data) {
        panic!("watch event does not match openapi.yaml: {errors:?}");
    }
    assert_eq!(event.data["type"], event.event.as_str());
    assert_eq!(event.data["object"]["metadata"]["resourceVersion"], event.id.as_str());
}

#[tokio::test]
async fn watch_delivers_changes_made_after_it_started() {
    let app = TestApp::spawn().await;
    let list = app.get(&environments_path("payments")).await.json();
    let from = list["metadata"]["resourceVersion"].as_str().expect("rv").to_owned();
    let mut watch = open_watch(&app, &format!("&resourceVersion={from}")).await;

    app.create("payments", &manifest("ci")).await;
    app.merge_patch("payments", "ci", &json!({ "spec": { "capacity": { "max": 3 } } })).await;
    app.create("other", &manifest("elsewhere")).await;
    app.send(app.request(Method::DELETE, &environment_path("payments", "ci"))).await;

    let added = watch.next(Duration::from_secs(10)).await.expect("ADDED");
    assert_watch_event(&added);
    assert_eq!(added.event, "ADDED");
    let modified = watch.next(Duration::from_secs(10)).await.expect("MODIFIED");
    assert_eq!(modified.event, "MODIFIED");
    assert_eq!(modified.data["object"]["spec"]["capacity"]["max"], 3);
    let deleting = watch.next(Duration::from_secs(10)).await.expect("MODIFIED for deletionTimestamp");
    assert_eq!(deleting.event, "MODIFIED", "another tenant's change never shows up");
    assert!(deleting.data["object"]["metadata"]["deletionTimestamp"].is_string());

    let outcome = butler::environments::writes::remove_finalizer(
        &app.db(),
        &butler::store::audit::AuditContext::system("test"),
        "payments",
        "ci",
        butler::domain::AWS_RESOURCES_FINALIZER,
    )
    .await
    .expect("finalizer removed");
    let deleted = watch.next(Duration::from_secs(10)).await.expect("DELETED");
    assert_watch_event(&deleted);
    assert_eq!(deleted.event, "DELETED");
    assert_eq!(deleted.id, outcome.object.metadata.resource_version);
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let app = TestApp::spawn().await;
    let first = app.create("payments", &manifest("one")).await.json();
    let resume_from = first["metadata"]["resourceVersion"].as_str().expect("rv").to_owned();
    app.create("payments", &manifest("two")).await;
    app.merge_patch("payments", "one", &json!({ "metadata": { "labels": { "team": "search" } } })).await;

    let mut watch = open_watch(&app, &format!("&resourceVersion={resume_from}")).await;
    let replayed_two = watch.next(Duration::from_secs(10)).await.expect("replayed ADDED two");
    assert_eq!(
        (replayed_two.event.as_str(), replayed_two.data["object"]["metadata"]["name"].as_str()),
        ("ADDED", Some("two"))
    );
    let replayed_one = watch.next(Duration::from_secs(10)).await.expect("replayed MODIFIED one");
    assert_eq!(replayed_one.event, "MODIFIED");

    // The same resume through Last-Event-ID, as an EventSource reconnect sends it, with a label selector.
    let response = app
        .request(Method::GET, &format!("{}?watch=true&labelSelector=team%3Dsearch", environments_path("payments")))
        .header("last-event-id", resume_from)
        .send()
        .await
        .expect("watch");
    let mut selected = SseReader::new(response);
    let only = selected.next(Duration::from_secs(10)).await.expect("selected event");
    assert_eq!(only.data["object"]["metadata"]["name"], "one");
    assert!(selected.next(Duration::from_millis(300)).await.is_none(), "two does not match team=search");
}

#[tokio::test]
async fn watch_without_resource_version_starts_with_current_objects() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("existing")).await;
    let mut watch = open_watch(&app, "").await;
    let current = watch.next(Duration::from_secs(10)).await.expect("ADDED existing");
    assert_eq!(
        (current.event.as_str(), current.data["object"]["metadata"]["name"].as_str()),
        ("ADDED", Some("existing"))
    );
    app.create("payments", &manifest("later")).await;
    let later = watch.next(Duration::from_secs(10)).await.expect("ADDED later");
    assert_eq!(later.data["object"]["metadata"]["name"], "later");
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_is_410() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("one")).await;
    app.create("payments", &manifest("two")).await;
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(butler::store::changes::compact(&app.db(), future).await.expect("compaction"));
    let gone = app.get(&format!("{}?watch=true&resourceVersion=0", environments_path("payments"))).await;
    assert_eq!(gone.status, StatusCode::GONE);
    let bad = app.get(&format!("{}?watch=true&resourceVersion=abc", environments_path("payments"))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // The list's resourceVersion is always a valid place to start (once the cache has caught up with the
    // compaction this test forced a moment after the writes; real compaction is an hour behind).
    let mut from = String::new();
    for _ in 0..100 {
        let list = app.get(&environments_path("payments")).await.json();
        from = list["metadata"]["resourceVersion"].as_str().expect("rv").to_owned();
        if from.parse::<i64>().unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut watch = open_watch(&app, &format!("&resourceVersion={from}")).await;
    app.create("payments", &manifest("three")).await;
    assert_eq!(watch.next(Duration::from_secs(10)).await.expect("event").data["object"]["metadata"]["name"], "three");
}
