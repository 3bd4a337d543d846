//! Crash safety against the emulator: a reconcile is killed right after its k-th mutating AWS call succeeded
//! (AWS acted, Butler recorded nothing), for every k of a provisioning and of a teardown. A restarted
//! reconciler then converges with exactly one of each resource, each with exactly the configuration the spec says
//! (read back: the policies on each role, the rules on each group, the ASG's settings…), and a teardown leaves
//! nothing behind. The profile has ingress, so the kills fall in the load balancer pool's and the address's steps
//! too (no second balancer, rule, record or target group; each read back).
//!
//! The kill is the `KillSwitch` of the AWS settings: the pass future freezes after the call returns and is
//! dropped, so no later line of the pass runs (no status, no event, no further call), as in a killed process.

use std::sync::Arc;

use butler::aws::context::{AwsSettings, KillSwitch};
use butler::reconcile::Action;
use butler_tests::emulated::{names_of, World};
use butler_tests::emulated_ingress::pool;
use butler_tests::{environment_path, manifest};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Runs passes of a reconciler whose process dies after `k` mutating calls. True if it died.
async fn run_until_killed(world: &World, k: i64) -> bool {
    let switch = Arc::new(KillSwitch::after(k));
    let mut settings = AwsSettings::from_env();
    settings.kill_switch = Some(switch.clone());
    let doomed = World::reconciler_with(&world.app, &settings);
    for _ in 0..30 {
        tokio::select! {
            outcome = doomed.reconcile_once("payments", "ci") => match outcome {
                Ok(Action::AwaitChange) => return false,
                Ok(Action::RequeueAfter(_)) => {}
                Err(error) if error.is_transient() => {}
                Err(error) => panic!("k={k}: permanent failure {error}"),
            },
            () = switch.fired.notified() => return true,
        }
    }
    panic!("k={k}: neither converged nor killed");
}

fn expected_count(what: &str) -> usize {
    if what == "mount targets" {
        2
    } else {
        1
    }
}

/// Kills provisioning after each k in `ks` (every k must kill when `within_the_calls`: provisioning makes
/// more mutating calls than that); stops at the first k past the last call.
async fn provisioning_crashes(ks: std::ops::RangeInclusive<i64>, within_the_calls: bool) {
    for k in ks {
        let world = World::with_ingress(100).await;
        let mut body = manifest("ci");
        body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
        assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
        let killed = run_until_killed(&world, k).await;
        assert!(killed || !within_the_calls, "k={k}: provisioning made fewer mutating calls than expected");
        world.converge("ci").await;
        let object = world.object("ci").await;
        assert_eq!(object["status"]["phase"], "Ready", "k={k}");
        let (names, uid) = names_of(&object);
        for (what, count) in world.inventory(&names, &uid).await {
            assert_eq!(count, expected_count(&what), "k={k}: {what}");
        }
        // Not only one of each: each with exactly the configuration the spec says.
        let problems = world.content_problems(&object).await;
        assert!(problems.is_empty(), "k={k}: {problems:?}");
        // One load balancer and one group for the pool, however often its creation was cut short.
        let (balancers, groups) = pool(&world).await;
        assert_eq!((balancers.len(), groups.len()), (1, 1), "k={k}: {balancers:?} {groups:?}");
        if !killed {
            return;
        }
    }
}

/// Kills a teardown after each k in `ks` (every k must kill when `within_the_calls`).
async fn teardown_crashes(ks: std::ops::RangeInclusive<i64>, within_the_calls: bool) {
    for k in ks {
        let world = World::with_ingress(100).await;
        let mut body = manifest("ci");
        body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
        assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
        world.converge("ci").await;
        let (names, uid) = names_of(&world.object("ci").await);
        let deleted = world.app.send(world.app.request(Method::DELETE, &environment_path("payments", "ci"))).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
        let killed = run_until_killed(&world, k).await;
        assert!(killed || !within_the_calls, "k={k}: teardown made fewer mutating calls than expected");
        world.converge("ci").await;
        assert_eq!(world.app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND, "k={k}");
        let left: Vec<(String, usize)> =
            world.inventory(&names, &uid).await.into_iter().filter(|(_, count)| *count > 0).collect();
        assert!(left.is_empty(), "k={k}: left behind {left:?}");
        if !killed {
            return;
        }
    }
}

#[tokio::test]
async fn provisioning_killed_after_calls_1_to_12_converges_to_one_of_each() {
    provisioning_crashes(1..=12, true).await;
}

#[tokio::test]
async fn provisioning_killed_after_calls_13_to_24_converges_to_one_of_each() {
    provisioning_crashes(13..=24, true).await;
}

#[tokio::test]
async fn provisioning_killed_after_calls_25_to_36_converges_to_one_of_each() {
    provisioning_crashes(25..=36, true).await;
}

#[tokio::test]
async fn provisioning_killed_after_calls_37_and_later_converges_to_one_of_each() {
    provisioning_crashes(37..=80, false).await;
}

#[tokio::test]
async fn teardown_killed_after_calls_1_to_15_leaves_nothing() {
    teardown_crashes(1..=15, true).await;
}

#[tokio::test]
async fn teardown_killed_after_calls_16_and_later_leaves_nothing() {
    teardown_crashes(16..=60, false).await;
}
