//! `./dev/bench faults [N]`: N environments (default 50) provisioned and then deleted against an emulator of the
//! bench's own, first fault-free, then with 10 % of every operation answered with throttling, 500 or 503 (a
//! quarter of the 5xx after AWS acted). For each: calls per environment, passes, wall time, the faults injected,
//! and the check that every environment was Ready with one of each resource and that nothing was left.

use std::time::Instant;

use butler_tests::emulated::{names_of, World};
use butler_tests::environment_path;
use butler_tests::faulty_aws::{converge, disposable, total_calls, world_on, FaultyEmulator};
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
    let before = total_calls(&world);
    let started = Instant::now();
    for name in &names {
        assert_eq!(world.app.create("payments", &disposable(name)).await.status, StatusCode::CREATED);
    }
    emulator.set(json!({ "rate": rate })).await;
    let passes = converge_all(&world, &names).await;
    let to_ready = started.elapsed();
    let provision_calls = total_calls(&world) - before;
    emulator.set(json!({ "rate": 0 })).await;
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

    let before = total_calls(&world);
    let started = Instant::now();
    for name in &names {
        let deleted = world.app.send(world.app.request(Method::DELETE, &environment_path("payments", name))).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
    }
    emulator.set(json!({ "rate": rate })).await;
    let teardown_passes = converge_all(&world, &names).await;
    let to_gone = started.elapsed();
    let teardown_calls = total_calls(&world) - before;
    let state = emulator.set(json!({ "rate": 0 })).await;
    for (resource_names, uid) in &remembered {
        let left: Vec<_> = world.inventory(resource_names, uid).await.into_iter().filter(|(_, n)| *n > 0).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    let per_env = |n: u64| n as f64 / count as f64;
    println!(
        "{label:<12} provision: {:.1} calls/env, {:.1} passes/env, {:.1}s | teardown: {:.1} calls/env, {:.1} passes/env, {:.1}s | faults injected {}",
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
         calls per environment (provision + teardown): {clean:.1} fault-free, {faulty:.1} at 10 % faults ({:.2}x)",
        faulty / clean
    );
}
