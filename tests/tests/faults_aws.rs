//! AWS under faults, on an emulator of the test's own (`FaultyEmulator`): 10 % of every operation answered with
//! throttling, 500 or 503, a quarter of the 5xx after AWS acted (the answer lost, the change made). Every
//! environment still reaches Ready with exactly its resources and their configuration, teardown still leaves
//! nothing, and the requests AWS receives (SDK retries included) stay within 1.5x of a fault-free run; an
//! AccessDenied is a condition, not a retry loop.
//! (The fast variant: `./dev/bench faults` runs the same with more environments and prints the figures.)

use butler_tests::emulated::{condition, names_of};
use butler_tests::faulty_aws::{converge, disposable, world_on, FaultyEmulator};
use butler_tests::{environment_path, manifest};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn ten_percent_aws_faults_end_in_every_environment_ready_then_gone_with_nothing_duplicated_or_left() {
    let emulator = FaultyEmulator::start().await;

    // The fault-free baseline: calls per environment to Ready.
    let clean = world_on(&emulator).await;
    let baseline = ["base-0", "base-1"];
    let before = emulator.requests().await;
    for name in baseline {
        assert_eq!(clean.app.create("payments", &disposable(name)).await.status, StatusCode::CREATED);
        converge(&clean, name).await;
        let deleted = clean.app.send(clean.app.request(Method::DELETE, &environment_path("payments", name))).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
        converge(&clean, name).await;
    }
    let clean_per_env = (emulator.requests().await - before) as f64 / baseline.len() as f64;

    // The same under faults, in an account of its own.
    let faulty = world_on(&emulator).await;
    let names: Vec<String> = (0..4).map(|i| format!("f-{i}")).collect();
    let before = emulator.requests().await;
    emulator.set(json!({ "rate": 0.1, "lost": 0.25 })).await;
    for name in &names {
        assert_eq!(faulty.app.create("payments", &disposable(name)).await.status, StatusCode::CREATED);
    }
    let mut passes = Vec::new();
    for name in &names {
        passes.push(converge(&faulty, name).await);
    }
    emulator.set(json!({ "rate": 0 })).await;
    let provisioning_requests = emulator.requests().await - before;

    // Every one Ready, with exactly one of each resource, each configured as its spec says (read with faults off).
    for name in &names {
        let object = faulty.object(name).await;
        assert_eq!(object["status"]["phase"], "Ready", "{name}: {object}");
        let (resource_names, uid) = names_of(&object);
        for (what, count) in faulty.inventory(&resource_names, &uid).await {
            assert_eq!(count, if what == "mount targets" { 2 } else { 1 }, "{name}: {what}");
        }
        let problems = faulty.content_problems(&object).await;
        assert!(problems.is_empty(), "{name}: {problems:?}");
    }

    // Deleted under faults: nothing of any of them is left.
    let mut remembered = Vec::new();
    for name in &names {
        remembered.push(names_of(&faulty.object(name).await));
        let deleted = faulty.app.send(faulty.app.request(Method::DELETE, &environment_path("payments", name))).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
    }
    let before_teardown = emulator.requests().await;
    emulator.set(json!({ "rate": 0.1 })).await;
    for name in &names {
        passes.push(converge(&faulty, name).await);
    }
    let injected = emulator.set(json!({ "rate": 0 })).await;
    let requests = provisioning_requests + emulator.requests().await - before_teardown;
    let faulty_per_env = requests as f64 / names.len() as f64;
    eprintln!(
        "provisioned and deleted: fault-free {clean_per_env:.1} requests per environment; at 10 % faults \
         {faulty_per_env:.1} ({:.2}x), passes {passes:?}, injected {}",
        faulty_per_env / clean_per_env,
        injected["injected"]
    );
    assert!(injected["injected"]["lost"].as_u64().unwrap_or(0) > 0, "some answers were lost: {injected}");
    assert!(injected["injected"]["throttled"].as_u64().unwrap_or(0) > 0, "some calls were throttled: {injected}");
    assert!(faulty_per_env <= 1.5 * clean_per_env, "{faulty_per_env:.1} requests per environment under faults");
    for (name, (resource_names, uid)) in names.iter().zip(&remembered) {
        assert_eq!(faulty.app.get(&environment_path("payments", name)).await.status, StatusCode::NOT_FOUND);
        let left: Vec<(String, usize)> =
            faulty.inventory(resource_names, uid).await.into_iter().filter(|(_, count)| *count > 0).collect();
        assert!(left.is_empty(), "{name} left behind: {left:?}");
    }
}

#[tokio::test]
async fn access_denied_is_a_condition_with_aws_reason_not_endless_retries() {
    let emulator = FaultyEmulator::start().await;
    let world = world_on(&emulator).await;
    emulator.set(json!({ "deny": ["iam:CreateRole"] })).await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let error = world.reconciler.reconcile_once("payments", "ci").await.expect_err("denied");
    assert!(!error.is_transient(), "a denial is not retried by itself: {error}");
    let object = world.object("ci").await;
    let ready = condition(&object, "Ready");
    assert_eq!((ready["status"].as_str(), object["status"]["phase"].as_str()), (Some("False"), Some("Failed")));
    assert_eq!(ready["reason"], "AccessDenied", "{ready}");
    assert!(ready["message"].as_str().unwrap_or_default().contains("iam:CreateRole"), "AWS's words: {ready}");
}
