//! `./dev/bench faults [N]`: N environments (default 50) provisioned and then deleted against an emulator of the
//! bench's own, first fault-free, then with 10 % of every operation answered with throttling, 500 or 503 (a
//! quarter of the 5xx after AWS acted). For each: AWS requests per environment (as the emulator counts them, SDK
//! retries included), passes, wall time, the faults injected,
//! and the check that every environment was Ready with one of each resource and that nothing was left. Then the
//! scenarios with real `butler serve` processes (`butler_tests::scenarios`): two replicas provisioning N
//! environments with one killed -9, GET/LIST while AWS is 2 s slower per call, a 10-second database outage.

use std::time::{Duration, Instant};

use butler_tests::emulated::{names_of, World};
use butler_tests::environment_path;
use butler_tests::faulty_aws::{converge, disposable, world_on, FaultyEmulator};
use butler_tests::scenarios::{database_outage, kill_a_replica, slow_aws};
use clap::Parser;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Environments per run.
    #[arg(long, default_value_t = 50)]
    environments: usize,
}

/// Passes over every environment, eight at a time (the runner's default concurrency); total passes.
async fn converge_all(world: &World, names: &[String]) -> u32 {
    let passes: Vec<u32> =
        futures::stream::iter(names).map(|name| converge(world, name)).buffer_unordered(8).collect().await;
    passes.iter().sum()
}

async fn run(emulator: &FaultyEmulator, label: &str, rate: f64, count: usize) -> f64 {
    let world = world_on(emulator).await;
    let names: Vec<String> = (0..count).map(|i| format!("env-{i:03}")).collect();
    emulator.set(json!({ "rate": 0, "lost": 0.25 })).await;
    let before = emulator.requests().await;
    let started = Instant::now();
    for name in &names {
        assert_eq!(world.app.create("payments", &disposable(name)).await.status, StatusCode::CREATED);
    }
    emulator.set(json!({ "rate": rate })).await;
    let passes = converge_all(&world, &names).await;
    let to_ready = started.elapsed();
    emulator.set(json!({ "rate": 0 })).await;
    let provision_calls = emulator.requests().await - before;
    let mut remembered = Vec::new();
    for name in &names {
        let object = world.object(name).await;
        assert_eq!(object["status"]["phase"], "Ready", "{name}: {object}");
        let (resource_names, uid) = names_of(&object);
        for (what, found) in world.inventory(&resource_names, &uid).await {
            assert_eq!(found, if what == "mount targets" { 2 } else { 1 }, "{name}: {what} duplicated or missing");
        }
        remembered.push((resource_names, uid));
    }

    let before = emulator.requests().await;
    let started = Instant::now();
    for name in &names {
        let deleted = world.app.send(world.app.request(Method::DELETE, &environment_path("payments", name))).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
    }
    emulator.set(json!({ "rate": rate })).await;
    let teardown_passes = converge_all(&world, &names).await;
    let to_gone = started.elapsed();
    let state = emulator.set(json!({ "rate": 0 })).await;
    let teardown_calls = emulator.requests().await - before;
    for (resource_names, uid) in &remembered {
        let left: Vec<_> = world.inventory(resource_names, uid).await.into_iter().filter(|(_, n)| *n > 0).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    let per_env = |n: u64| n as f64 / count as f64;
    println!(
        "{label:<12} provision: {:.1} requests/env, {:.1} passes/env, {:.1}s | teardown: {:.1} requests/env, {:.1} passes/env, {:.1}s | faults injected {}",
        per_env(provision_calls),
        passes as f64 / count as f64,
        to_ready.as_secs_f64(),
        per_env(teardown_calls),
        teardown_passes as f64 / count as f64,
        to_gone.as_secs_f64(),
        state["injected"]
    );
    per_env(provision_calls + teardown_calls)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let emulator = FaultyEmulator::start().await;
    println!("== ./dev/bench faults: {} environments provisioned and deleted, own emulator ==", args.environments);
    let clean = run(&emulator, "fault-free", 0.0, args.environments).await;
    let faulty = run(&emulator, "10 % faults", 0.1, args.environments).await;
    println!(
        "every environment Ready with one of each resource, nothing left after teardown, in both runs; \
         AWS requests per environment (provision + teardown, SDK retries included): {clean:.1} fault-free, {faulty:.1} at 10 % faults ({:.2}x)",
        faulty / clean
    );

    let lease = Duration::from_secs(10);
    let killed = kill_a_replica(&emulator, args.environments, lease, Duration::from_secs(3)).await;
    let after: Vec<String> = killed.taken_over_after.iter().map(|d| format!("{:.1}s", d.as_secs_f64())).collect();
    println!(
        "replica killed -9 3 s into provisioning {} environments (lease {}s): all Ready in {:.1}s; {} were mid-pass \
         at the kill, taken over after {after:?}; passes by both at once: {}; duplicated, missing or misconfigured: {}",
        args.environments,
        lease.as_secs(),
        killed.to_ready.as_secs_f64(),
        killed.in_flight_at_kill.len(),
        killed.overlaps.len(),
        killed.problems.len()
    );
    assert!(killed.overlaps.is_empty() && killed.problems.is_empty(), "{killed:?}");

    let slow = slow_aws(&emulator, 10, 20, 1000).await;
    println!(
        "AWS +2 s per call: GET p50/p99 {:.2}/{:.2} ms -> {:.2}/{:.2} ms, LIST {:.2}/{:.2} ms -> {:.2}/{:.2} ms; \
         /metrics: {} due, {} leased, oldest due {:.1}s",
        slow.get_before.p50,
        slow.get_before.p99,
        slow.get_slow.p50,
        slow.get_slow.p99,
        slow.list_before.p50,
        slow.list_before.p99,
        slow.list_slow.p50,
        slow.list_slow.p99,
        slow.due,
        slow.leased,
        slow.oldest_due_seconds
    );

    let outage = database_outage(&emulator, Duration::from_secs(10)).await;
    println!(
        "database out 10 s under load: {} writes acknowledged, {} lost; answers {:?} (all 503 with Retry-After: {}); \
         slowest {:.0} ms; readyz red during: {}, green {:.1}s after; provisioning Ready {:.1}s after; \
         watch: {} changes made elsewhere during the outage, {} missed",
        outage.writes_acknowledged,
        outage.writes_lost.len(),
        outage.statuses,
        outage.unavailable_without_retry_after == 0,
        outage.slowest_ms,
        outage.ready_red_during,
        outage.ready_green_after.unwrap_or_default().as_secs_f64(),
        outage.reconciled_ready_after.as_secs_f64(),
        outage.watched_changes,
        outage.watch_missed.len()
    );
}
