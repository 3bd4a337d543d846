//! Fault scenarios with real Butler processes, shared by the fast tests (`faults_replicas.rs`) and the full
//! figures of `./dev/bench faults`: a replica killed with SIGKILL while two provision environments, and AWS
//! answering every call 2 s late while the API is read.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::database;
use crate::emulated::{names_of, World};
use crate::faulty_aws::{world_on, FaultyEmulator};
use crate::manifest;
use crate::replica::{Passes, Replica};

/// What the kill scenario saw.
#[derive(Debug)]
pub struct KillReport {
    /// Environments whose pass the killed replica was in the middle of.
    pub in_flight_at_kill: Vec<String>,
    /// For each of those: from the kill to the survivor's first pass over it.
    pub taken_over_after: Vec<Duration>,
    /// From the first create to the last environment Ready.
    pub to_ready: Duration,
    /// Passes over one environment by both replicas at once (must be none).
    pub overlaps: Vec<String>,
    /// A resource missing or duplicated, or configured other than its spec says (must be none).
    pub problems: Vec<String>,
}

/// A directory for one scenario's logs.
fn log_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("butler-{label}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("log directory");
    dir
}

/// Polls until every environment is Ready; panics after `limit`.
async fn until_ready(world: &World, names: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut waiting: BTreeSet<&String> = names.iter().collect();
    while !waiting.is_empty() {
        let mut still = BTreeSet::new();
        for name in waiting {
            if world.object(name).await["status"]["phase"] != "Ready" {
                still.insert(name);
            }
        }
        waiting = still;
        assert!(Instant::now() < deadline || waiting.is_empty(), "not Ready within {limit:?}: {waiting:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Passes over the same environment by two processes that overlap in time; a pass never ended is taken to run
/// until `open_until` of its process.
fn overlapping(
    first: &Passes,
    first_until: DateTime<Utc>,
    second: &Passes,
    second_until: DateTime<Utc>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (env, passes) in first {
        let Some(others) = second.get(env) else { continue };
        for (start, end) in passes {
            let end = end.unwrap_or(first_until);
            for (other_start, other_end) in others {
                let other_end = other_end.unwrap_or(second_until);
                if *start < other_end && *other_start < end {
                    found.push(format!("{env}: {start}..{end} and {other_start}..{other_end}"));
                }
            }
        }
    }
    found
}

/// Two `butler serve` replicas provision `count` environments; one is killed with SIGKILL `kill_after` the
/// creates (at the first moment after that when it is in the middle of a pass). The survivor must finish them all, taking the killed one's over only after its lease ran out.
pub async fn kill_a_replica(
    emulator: &FaultyEmulator,
    count: usize,
    lease: Duration,
    kill_after: Duration,
) -> KillReport {
    let world = world_on(emulator).await;
    let url = database::url_for(&world.app.database_name);
    let dir = log_dir("replicas");
    let mut doomed = Replica::start(&url, &emulator.endpoint, lease, dir.join("doomed.log"), &[]).await;
    let survivor = Replica::start(&url, &emulator.endpoint, lease, dir.join("survivor.log"), &[]).await;
    let names: Vec<String> = (0..count).map(|i| format!("env-{i:03}")).collect();
    let started = Instant::now();
    for name in &names {
        assert_eq!(world.app.create("payments", &manifest(name)).await.status, StatusCode::CREATED);
    }
    tokio::time::sleep(kill_after).await;
    // Kill it in the middle of a pass (what leases are for), not between two.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !doomed.passes().values().any(|passes| passes.last().is_some_and(|(_, end)| end.is_none())) {
        assert!(Instant::now() < deadline, "the replica never started a pass");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.kill();
    let killed_at = Utc::now();
    until_ready(&world, &names, Duration::from_secs(60 * 15)).await;
    let to_ready = started.elapsed();

    let (dead, alive) = (doomed.passes(), survivor.passes());
    let overlaps = overlapping(&dead, killed_at, &alive, Utc::now());
    let in_flight_at_kill: Vec<String> = dead
        .iter()
        .filter(|(_, passes)| passes.last().is_some_and(|(_, end)| end.is_none()))
        .map(|(env, _)| env.clone())
        .collect();
    let taken_over_after = in_flight_at_kill
        .iter()
        .filter_map(|env| alive.get(env)?.iter().map(|(start, _)| *start).find(|start| *start > killed_at))
        .map(|start| (start - killed_at).to_std().unwrap_or_default())
        .collect();

    let mut problems = Vec::new();
    for name in &names {
        let object = world.object(name).await;
        let (resource_names, uid) = names_of(&object);
        for (what, found) in world.inventory(&resource_names, &uid).await {
            let expected = if what == "mount targets" { 2 } else { 1 };
            if found != expected {
                problems.push(format!("{name}: {found} {what}"));
            }
        }
        problems.extend(world.content_problems(&object).await.into_iter().map(|p| format!("{name}: {p}")));
    }
    let _ = std::fs::remove_dir_all(&dir);
    KillReport { in_flight_at_kill, taken_over_after, to_ready, overlaps, problems }
}

/// Latencies of one kind of request, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// What the slow-AWS scenario saw.
#[derive(Debug)]
pub struct SlowReport {
    pub get_before: Latency,
    pub list_before: Latency,
    pub get_slow: Latency,
    pub list_slow: Latency,
    /// `/metrics` while AWS was slow: environments due and not claimed, leases held, oldest due (s).
    pub due: f64,
    pub leased: f64,
    pub oldest_due_seconds: f64,
}

async fn latency(client: &reqwest::Client, url: &str, jwt: &str, requests: usize) -> Latency {
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let response = client.get(url).bearer_auth(jwt).send().await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        response.bytes().await.expect("body");
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Latency { p50: at(0.5), p99: at(0.99), max: at(1.0) }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// A replica (reconciling two at a time) with `existing` environments Ready; GET and LIST timed; then every AWS
/// call made 2 s slower and `backlog` more environments created, and GET and LIST timed again while the
/// reconciler works through them, with the queue's figures from `/metrics`.
pub async fn slow_aws(emulator: &FaultyEmulator, existing: usize, backlog: usize, requests: usize) -> SlowReport {
    let world = world_on(emulator).await;
    let url = database::url_for(&world.app.database_name);
    let dir = log_dir("slow-aws");
    let concurrency = [("BUTLER_RECONCILE_CONCURRENCY", "2")];
    let replica =
        Replica::start(&url, &emulator.endpoint, Duration::from_secs(60), dir.join("butler.log"), &concurrency).await;
    let names: Vec<String> = (0..existing).map(|i| format!("ready-{i:03}")).collect();
    for name in &names {
        assert_eq!(world.app.create("payments", &manifest(name)).await.status, StatusCode::CREATED);
    }
    until_ready(&world, &names, Duration::from_secs(60 * 10)).await;

    let client = reqwest::Client::new();
    let jwt = world.app.jwts[&crate::Who::Platform].clone();
    let get = format!("{}{}", replica.base_url, crate::environment_path("payments", "ready-000"));
    let list = format!("{}{}?limit=50", replica.base_url, crate::environments_path("payments"));
    let (get_before, list_before) =
        (latency(&client, &get, &jwt, requests).await, latency(&client, &list, &jwt, requests).await);

    emulator.set(json!({ "delay": 2.0 })).await;
    for i in 0..backlog {
        let body = manifest(&format!("late-{i:03}"));
        assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
    }
    // Let the runner claim its first ones and start waiting on AWS.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (get_slow, list_slow) =
        (latency(&client, &get, &jwt, requests).await, latency(&client, &list, &jwt, requests).await);
    let metrics = client.get(format!("{}/metrics", replica.base_url)).bearer_auth(&jwt).send().await.expect("metrics");
    let text = metrics.text().await.expect("metrics text");
    emulator.set(json!({ "delay": 0 })).await;
    drop(replica);
    let _ = std::fs::remove_dir_all(&dir);
    SlowReport {
        get_before,
        list_before,
        get_slow,
        list_slow,
        due: metric(&text, "butler_reconcile_due"),
        leased: metric(&text, "butler_reconcile_leases_held"),
        oldest_due_seconds: metric(&text, "butler_reconcile_oldest_due_seconds"),
    }
}

/// What the database-outage scenario saw.
#[derive(Debug, Default)]
pub struct OutageReport {
    /// Writes (token creates) answered 2xx, and of those, how many are not in the database afterwards.
    pub writes_acknowledged: usize,
    pub writes_lost: Vec<String>,
    /// Answers during the run by status (reads and writes): only 2xx and 503 are allowed.
    pub statuses: std::collections::BTreeMap<u16, usize>,
    /// 503s without a numeric Retry-After.
    pub unavailable_without_retry_after: usize,
    /// The slowest answer of any request (ms).
    pub slowest_ms: f64,
    /// `/readyz` red at some point during the outage, and green again after it.
    pub ready_red_during: bool,
    pub ready_green_after: Option<Duration>,
    /// Environments in the middle of provisioning when the database went: Ready this long after it came back.
    pub reconciled_ready_after: Duration,
    /// Changes written by another replica during the outage, and those a watch on this one never delivered
    /// (on the open stream or, if it ended, on one resumed with Last-Event-ID).
    pub watched_changes: usize,
    pub watch_missed: Vec<i64>,
    pub watch_resumed: bool,
}

/// One answer: status (0 when none came within 30 s), whether it carried a numeric Retry-After, how long it took.
pub async fn timed_send(request: reqwest::RequestBuilder) -> (u16, bool, f64) {
    let started = Instant::now();
    let response = request.timeout(Duration::from_secs(30)).send().await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    match response {
        Ok(response) => {
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            (response.status().as_u16(), retry_after.is_some(), took)
        }
        // No answer within 30 s (or the connection failed): counted as 0, a failure of the bound.
        Err(_) => (0, false, took),
    }
}

/// A replica whose database connections go through a proxy the scenario cuts for `outage`, under a steady load
/// of writes and reads, with environments being provisioned and a watch open. Another replica, on the database
/// directly, writes changes during the outage for the watch to deliver.
pub async fn database_outage(emulator: &FaultyEmulator, outage: Duration) -> OutageReport {
    use crate::sse::SseReader;
    let world = world_on(emulator).await;
    let (proxy, via_proxy) = crate::proxy::Proxy::for_database(&world.app.database_name).await;
    let dir = log_dir("db-outage");
    let replica =
        Replica::start(&via_proxy, &emulator.endpoint, Duration::from_secs(6), dir.join("butler.log"), &[]).await;
    let client = reqwest::Client::new();
    let jwt = world.app.jwts[&crate::Who::Platform].clone();
    let at = |path: &str| format!("{}{path}", replica.base_url);

    // Environments this replica provisions across the outage (AWS slowed so their passes span it), and one the
    // other replica changes during it.
    emulator.set(json!({ "delay": 0.15 })).await;
    let busy = ["busy-0".to_owned(), "busy-1".to_owned()];
    for name in busy.iter().chain(std::iter::once(&"watched".to_owned())) {
        assert_eq!(world.app.create("payments", &manifest(name)).await.status, StatusCode::CREATED);
    }
    let watch = client
        .get(at(&format!("{}?watch=true", crate::environments_path("payments"))))
        .bearer_auth(&jwt)
        .send()
        .await
        .expect("watch opens");
    assert_eq!(watch.status(), StatusCode::OK);
    let mut stream = SseReader::new(watch);
    let mut last_id = String::new();
    while let Some(event) = stream.next(Duration::from_millis(500)).await {
        last_id = event.id;
    }

    // The load: a write (a token), a GET and a LIST every 100 ms, and /readyz, until told to stop.
    let stop = tokio_util::sync::CancellationToken::new();
    let load = {
        let (client, jwt, stop) = (client.clone(), jwt.clone(), stop.clone());
        let base = replica.base_url.clone();
        tokio::spawn(async move {
            let mut report = OutageReport::default();
            let mut acknowledged = Vec::new();
            let mut readiness = Vec::new();
            for i in 0.. {
                if stop.is_cancelled() {
                    break;
                }
                let name = format!("load-{i:04}");
                let body = json!({ "name": name, "role": "viewer" });
                let requests = [
                    client.post(format!("{base}/api/v1/tenants/payments/tokens")).bearer_auth(&jwt).json(&body),
                    client.get(format!("{base}{}", crate::environment_path("payments", "busy-0"))).bearer_auth(&jwt),
                    client.get(format!("{base}{}?limit=50", crate::environments_path("payments"))).bearer_auth(&jwt),
                ];
                for (which, request) in requests.into_iter().enumerate() {
                    let (status, retry_after, took) = timed_send(request).await;
                    *report.statuses.entry(status).or_default() += 1;
                    report.slowest_ms = report.slowest_ms.max(took);
                    if status == 503 && !retry_after {
                        report.unavailable_without_retry_after += 1;
                    }
                    if which == 0 && (200..300).contains(&status) {
                        acknowledged.push(name.clone());
                    }
                }
                let (ready, _, took) = timed_send(client.get(format!("{base}/readyz"))).await;
                report.slowest_ms = report.slowest_ms.max(took);
                readiness.push((Instant::now(), ready));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (report, acknowledged, readiness)
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.cut();
    let cut_at = Instant::now();
    // The other replica writes while this one cannot see the database.
    let mut written = Vec::new();
    for i in 0..3 {
        tokio::time::sleep(outage / 4).await;
        let patch = json!({ "metadata": { "labels": { "step": i.to_string() } } });
        let patched = world.app.merge_patch("payments", "watched", &patch).await;
        assert_eq!(patched.status, StatusCode::OK);
        let version = patched.json()["metadata"]["resourceVersion"].as_str().expect("version").parse::<i64>();
        written.push(version.expect("numeric resourceVersion"));
    }
    tokio::time::sleep(outage.saturating_sub(cut_at.elapsed())).await;
    proxy.restore();
    let restored_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.cancel();
    let (mut report, acknowledged, readiness) = load.await.expect("load task");

    report.ready_red_during =
        readiness.iter().any(|(when, status)| *when > cut_at && *when < restored_at && *status != 200);
    report.ready_green_after = readiness
        .iter()
        .find(|(when, status)| *when > restored_at && *status == 200)
        .map(|(when, _)| *when - restored_at);

    // Every acknowledged write is there (read on the other replica, straight from the database).
    let tokens = world.app.get("/api/v1/tenants/payments/tokens").await.json();
    let stored: BTreeSet<&str> =
        tokens["items"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    report.writes_acknowledged = acknowledged.len();
    report.writes_lost = acknowledged.into_iter().filter(|name| !stored.contains(name.as_str())).collect();

    // The watch: the changes made during the outage arrive, on the open stream or on a resumed one.
    report.watched_changes = written.len();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !written.iter().all(|v| seen.contains(v)) {
        match stream.next(Duration::from_secs(2)).await {
            Some(event) => {
                seen.insert(event.id.parse::<i64>().unwrap_or_default());
                last_id = event.id;
            }
            None if report.watch_resumed => {}
            // Ended (or quiet): resume from the last event seen, as an EventSource reconnect does.
            None => {
                let resumed = client
                    .get(at(&format!("{}?watch=true", crate::environments_path("payments"))))
                    .bearer_auth(&jwt)
                    .header("last-event-id", &last_id)
                    .send()
                    .await
                    .expect("watch resumes");
                assert_eq!(resumed.status(), StatusCode::OK, "resume from {last_id}");
                stream = SseReader::new(resumed);
                report.watch_resumed = true;
            }
        }
    }
    report.watch_missed = written.into_iter().filter(|v| !seen.contains(v)).collect();

    emulator.set(json!({ "delay": 0 })).await;
    let names: Vec<String> = busy.to_vec();
    until_ready(&world, &names, Duration::from_secs(300)).await;
    report.reconciled_ready_after = restored_at.elapsed();
    drop(replica);
    let _ = std::fs::remove_dir_all(&dir);
    report
}
