//! The router and openapi.yaml describe the same API; health and readiness; the fallbacks speak problem+json.

use std::collections::BTreeSet;

use butler_tests::{database, spec, TestApp};
use reqwest::StatusCode;

#[test]
fn every_route_is_in_openapi_and_every_openapi_route_exists() {
    let table = butler::http::route_table();
    let served: BTreeSet<(String, String)> =
        table.routes().iter().map(|(method, path)| (method.to_string(), (*path).to_owned())).collect();
    let documented = spec().routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.yaml: {undocumented:?}");
    assert!(missing.is_empty(), "openapi.yaml names routes the server lacks: {missing:?}");
}

#[test]
fn every_operation_documents_its_errors_as_problems() {
    let document = spec().document().clone();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.keys().any(|code| code.starts_with('2')), "{method} {path} has no success response");
            if path.starts_with("/api/") {
                assert!(responses.contains_key("404"), "{method} {path} does not document 404");
                assert!(responses.contains_key("500"), "{method} {path} does not document 500");
            }
        }
    }
}

#[tokio::test]
async fn health_and_readiness_answer_when_the_database_is_ready() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(ready.header("x-request-id").is_some(), "every response carries a request id");
}

#[tokio::test]
async fn readiness_is_503_when_migrations_are_not_applied() {
    let name = database::empty_database().await;
    let url = database::url_for(&name);
    let config = butler::config::Config::from_lookup(|key| match key {
        "DATABASE_URL" => Some(url.clone()),
        "BUTLER_LISTEN" => Some("127.0.0.1:0".to_owned()),
        "BUTLER_JWT_SECRET" => Some(butler_tests::JWT_SECRET.to_owned()),
        "BUTLER_RECONCILE" => Some("false".to_owned()),
        _ => None,
    })
    .expect("config");
    let app = butler::startup::Application::build(config).await.expect("builds");
    let address = app.local_addr().expect("address");
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run());
    let response = reqwest::get(format!("http://{address}/readyz")).await.expect("answer");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(body["detail"].as_str().unwrap_or_default().contains("migration"), "{body}");
    shutdown.cancel();
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/v1/nothing-here").await.status, StatusCode::NOT_FOUND);
    let response = app.send(app.request(reqwest::Method::DELETE, "/healthz")).await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn request_ids_sent_by_clients_are_echoed() {
    let app = TestApp::spawn().await;
    let response = app.send(app.request(reqwest::Method::GET, "/healthz").header("x-request-id", "trace-me-42")).await;
    assert_eq!(response.header("x-request-id").as_deref(), Some("trace-me-42"));
}

#[tokio::test]
async fn metrics_report_the_queue_and_readiness_shows_it() {
    let app = TestApp::spawn().await;
    assert_eq!(app.create("payments", &butler_tests::manifest("ci")).await.status, StatusCode::CREATED);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(text.lines().any(|l| l == "butler_reconcile_due 1"), "{text}");
    assert!(text.contains("# TYPE butler_aws_calls_total counter"));
    let ready = app.get("/readyz").await.json();
    assert_eq!(ready["queue"]["due"], 1);
}
