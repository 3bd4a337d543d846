//! Create, replace, merge patch, dry runs and their failure paths.

use butler_tests::{environment_path, environments_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn create_returns_201_with_location_and_stored_defaults() {
    let app = TestApp::spawn().await;
    let response = app.create("payments", &manifest("ci")).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.header("location").as_deref(), Some("/api/v1/tenants/payments/jenkinsenvironments/ci"));
    let body = response.json();
    assert_eq!(body["metadata"]["generation"], 1);
    assert_eq!(body["metadata"]["finalizers"], json!(["butler.dev/aws-resources"]));
    assert_eq!(body["spec"]["capacity"]["spotAllocationStrategy"], "price-capacity-optimized");
    assert_eq!(body["spec"]["capacity"]["onDemandBase"], 1);
    assert_eq!(body["spec"]["storage"]["deletionPolicy"], "Retain");
    assert_eq!(body["status"]["phase"], "Pending");

    let stored = app.get(&environment_path("payments", "ci")).await;
    assert_eq!(stored.status, StatusCode::OK);
    assert_eq!(stored.json(), body, "GET returns exactly what create stored");
}

#[tokio::test]
async fn create_accepts_a_yaml_manifest_as_written() {
    let app = TestApp::spawn().await;
    let yaml = "apiVersion: butler.dev/v1alpha1\nkind: JenkinsEnvironment\nmetadata:\n  name: from-yaml\n  labels:\n    team: checkout\nspec:\n  capacity:\n    max: 4\n";
    let request =
        app.request(Method::POST, &environments_path("payments")).header("content-type", "application/yaml").body(yaml);
    let response = app.send(request).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.json()["spec"]["capacity"]["max"], 4);
}

#[tokio::test]
async fn create_returns_409_when_name_taken_and_404_for_unknown_tenant() {
    let app = TestApp::spawn().await;
    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let again = app.create("payments", &manifest("ci")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json()["type"], "https://butler.dev/problems/already-exists");
    // The same name in another tenant is another object.
    assert_eq!(app.create("other", &manifest("ci")).await.status, StatusCode::CREATED);
    assert_eq!(app.create("nobody", &manifest("ci")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_field_is_422_naming_its_path() {
    let app = TestApp::spawn().await;
    let mut body = manifest("ci");
    body["spec"] = json!({ "capacity": { "instanceTypes": ["m5.large"], "maxx": 3 } });
    let response = app.create("payments", &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = response.json();
    assert_eq!(problem["errors"][0]["field"], "spec.capacity.maxx");
    assert!(problem["errors"][0]["message"].as_str().unwrap_or_default().contains("unknown field"));
}

#[tokio::test]
async fn validation_errors_name_every_field_path_and_store_nothing() {
    let app = TestApp::spawn().await;
    let mut body = manifest("ci");
    body["spec"] = json!({
        "controller": { "cpu": 1024, "memory": 16384, "timezone": "Nowhere/City" },
        "capacity": { "instanceTypes": ["m5.large", "m5a.large", "not an instance"], "min": 4, "max": 2 },
        "storage": { "throughputMode": "provisioned" }
    });
    let response = app.create("payments", &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = response.json();
    let fields: Vec<&str> =
        problem["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    for expected in [
        "spec.controller.memory",
        "spec.controller.timezone",
        "spec.capacity.instanceTypes[2]",
        "spec.capacity.min",
        "spec.storage.provisionedThroughputMibps",
    ] {
        assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
    }
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_allocation_strategy_is_422() {
    let app = TestApp::spawn().await;
    let mut body = manifest("ci");
    body["spec"] = json!({ "capacity": { "spotAllocationStrategy": "cheapest" } });
    let response = app.create("payments", &body).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["errors"][0]["field"], "spec.capacity.spotAllocationStrategy");
}

#[tokio::test]
async fn fewer_than_three_instance_types_is_a_warning_header() {
    let app = TestApp::spawn().await;
    let mut body = manifest("ci");
    body["spec"] = json!({ "capacity": { "instanceTypes": ["m5.large", "m6i.large"] } });
    let response = app.create("payments", &body).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let warning = response.header("warning").expect("warning header");
    assert!(warning.starts_with("299 - \"spec.capacity.instanceTypes"), "{warning}");
}

#[tokio::test]
async fn malformed_bodies_are_400_wrong_media_type_415_and_oversized_413() {
    let app = TestApp::spawn().await;
    let malformed = app
        .request(Method::POST, &environments_path("payments"))
        .header("content-type", "application/json")
        .body("{\"metadata\": ");
    assert_eq!(app.send(malformed).await.status, StatusCode::BAD_REQUEST);
    let bad_yaml = app
        .request(Method::POST, &environments_path("payments"))
        .header("content-type", "application/yaml")
        .body("metadata: [unclosed");
    assert_eq!(app.send(bad_yaml).await.status, StatusCode::BAD_REQUEST);
    let wrong_type =
        app.request(Method::POST, &environments_path("payments")).header("content-type", "text/plain").body("name: ci");
    assert_eq!(app.send(wrong_type).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = manifest("ci");
    huge["metadata"]["annotations"] = json!({ "note": "x".repeat(1024 * 1024 + 10) });
    let oversized = app.create("payments", &huge).await;
    assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dry_run_create_validates_defaults_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let before = app.get(&environments_path("payments")).await.json()["metadata"]["resourceVersion"].clone();
    let response = app
        .send(app.request(Method::POST, &format!("{}?dryRun=All", environments_path("payments"))).json(&manifest("ci")))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["spec"]["controller"]["image"], "jenkins/jenkins:lts-jdk21");
    assert_eq!(app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    let list = app.get(&environments_path("payments")).await.json();
    assert_eq!(list["items"], json!([]));
    assert_eq!(list["metadata"]["resourceVersion"], before, "nothing was written");
    let bad = app
        .send(
            app.request(Method::POST, &format!("{}?dryRun=Some", environments_path("payments"))).json(&manifest("ci")),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn replace_with_stale_resource_version_is_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let mut first = created.clone();
    first["spec"]["capacity"]["max"] = json!(8);
    let updated = app.send_json(Method::PUT, &environment_path("payments", "ci"), &first).await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.json()["metadata"]["generation"], 2);

    let mut stale = created.clone();
    stale["spec"]["capacity"]["max"] = json!(3);
    let conflict = app.send_json(Method::PUT, &environment_path("payments", "ci"), &stale).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.json()["type"], "https://butler.dev/problems/conflict");
    assert_eq!(app.get(&environment_path("payments", "ci")).await.json()["spec"]["capacity"]["max"], 8);
}

#[tokio::test]
async fn generation_moves_only_with_the_spec_and_resource_version_with_every_write() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let relabelled = app.merge_patch("payments", "ci", &json!({ "metadata": { "labels": { "tier": "gold" } } })).await;
    assert_eq!(relabelled.status, StatusCode::OK);
    let relabelled = relabelled.json();
    assert_eq!(relabelled["metadata"]["generation"], 1);
    assert_ne!(relabelled["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    assert_eq!(relabelled["metadata"]["labels"], json!({ "team": "checkout", "tier": "gold" }));

    let resized = app.merge_patch("payments", "ci", &json!({ "spec": { "agents": { "maxAgents": 20 } } })).await.json();
    assert_eq!(resized["metadata"]["generation"], 2);
    assert_eq!(resized["spec"]["agents"]["maxAgents"], 20);
    assert_eq!(resized["spec"]["agents"]["templates"][0]["name"], "default", "merge keeps the rest");

    // Writing the same thing again changes nothing, not even the resourceVersion.
    let same = app.merge_patch("payments", "ci", &json!({ "spec": { "agents": { "maxAgents": 20 } } })).await.json();
    assert_eq!(same["metadata"]["resourceVersion"], resized["metadata"]["resourceVersion"]);
}

#[tokio::test]
async fn merge_patch_null_restores_the_default_and_stale_patch_is_409() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    app.merge_patch("payments", "ci", &json!({ "spec": { "controller": { "timezone": "Europe/London" } } })).await;
    let reset = app.merge_patch("payments", "ci", &json!({ "spec": { "controller": { "timezone": null } } })).await;
    assert_eq!(reset.json()["spec"]["controller"]["timezone"], "UTC");
    let stale = app
        .merge_patch("payments", "ci", &json!({ "metadata": { "resourceVersion": created["metadata"]["resourceVersion"] }, "spec": { "capacity": { "max": 2 } } }))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn patch_needs_merge_patch_media_type_and_reports_field_paths() {
    let app = TestApp::spawn().await;
    app.create("payments", &manifest("ci")).await;
    let as_json = app.send_json(Method::PATCH, &environment_path("payments", "ci"), &json!({ "spec": {} })).await;
    assert_eq!(as_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown = app.merge_patch("payments", "ci", &json!({ "spec": { "storage": { "size": 5 } } })).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["errors"][0]["field"], "spec.storage.size");
    let missing = app.merge_patch("payments", "nope", &json!({ "spec": {} })).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dry_run_replace_and_patch_store_nothing() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let mut changed = created.clone();
    changed["spec"]["capacity"]["max"] = json!(9);
    let put = app
        .send(app.request(Method::PUT, &format!("{}?dryRun=All", environment_path("payments", "ci"))).json(&changed))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.json()["spec"]["capacity"]["max"], 9);
    assert_eq!(put.json()["metadata"]["generation"], 2);
    let patch = app
        .request(Method::PATCH, &format!("{}?dryRun=All", environment_path("payments", "ci")))
        .header("content-type", "application/merge-patch+json")
        .body(json!({ "spec": { "capacity": { "max": 7 } } }).to_string());
    assert_eq!(app.send(patch).await.json()["spec"]["capacity"]["max"], 7);
    assert_eq!(app.get(&environment_path("payments", "ci")).await.json(), created);
}

#[tokio::test]
async fn replace_rejects_a_name_or_tenant_that_differs_from_the_url() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let mut renamed = created.clone();
    renamed["metadata"]["name"] = json!("other-name");
    let response = app.send_json(Method::PUT, &environment_path("payments", "ci"), &renamed).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.json()["errors"][0]["field"], "metadata.name");
    let mut moved = created.clone();
    moved["metadata"]["tenant"] = json!("other");
    let response = app.send_json(Method::PUT, &environment_path("payments", "ci"), &moved).await;
    assert_eq!(response.json()["errors"][0]["field"], "metadata.tenant");
    assert_eq!(
        app.send_json(Method::PUT, &environment_path("payments", "absent"), &manifest("absent")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn status_is_ignored_on_writes_and_the_subresource_is_read_only() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let mut forged = created.clone();
    forged["status"]["phase"] = json!("Ready");
    forged["spec"]["capacity"]["max"] = json!(5);
    let replaced = app.send_json(Method::PUT, &environment_path("payments", "ci"), &forged).await.json();
    assert_eq!(replaced["status"]["phase"], "Pending");
    let status_path = format!("{}/status", environment_path("payments", "ci"));
    let status = app.get(&status_path).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["status"]["phase"], "Pending");
    let write = app.send_json(Method::PUT, &status_path, &forged).await;
    assert_eq!(write.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        app.get(&format!("{}/status", environment_path("payments", "nope"))).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn butler_status_writes_show_in_get_and_bump_only_the_resource_version() {
    let app = TestApp::spawn().await;
    let created = app.create("payments", &manifest("ci")).await.json();
    let status = butler::domain::object::JenkinsEnvironmentStatus {
        phase: butler::domain::object::Phase::Provisioning,
        observed_generation: 1,
        ..Default::default()
    };
    let outcome =
        butler::environments::writes::update_status(&app.db(), "payments", "ci", status).await.expect("status");
    assert!(outcome.committed.is_some(), "a status change is a write");
    outcome.publish_to(&app.state.feed);
    let read = app.get(&environment_path("payments", "ci")).await.json();
    assert_eq!(read["status"]["phase"], "Provisioning");
    assert_eq!(read["metadata"]["generation"], 1);
    assert_ne!(read["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
}
