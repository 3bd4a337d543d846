//! An AWS emulator of a test's own that injects faults (dev/moto_faults.py): started on a free loopback port,
//! stopped when dropped, never shared, so the faults it injects reach no other test.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use butler::aws::context::{AccountTarget, AwsAccount, AwsSettings};
use rand::Rng;

use crate::aws::REGION;
use crate::emulated::World;
use crate::manifest;
use butler::reconcile::Action;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The emulator process and how to reach it.
pub struct FaultyEmulator {
    child: Child,
    pub endpoint: String,
    client: reqwest::Client,
}

impl FaultyEmulator {
    /// Starts the validating emulator with fault injection on (and no fault until `set` says so).
    pub async fn start() -> Self {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("dev/moto_validating.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("BUTLER_MOTO_FAULTS", "rate=0,lost=0,seed=7")
            .env("MOTO_ECS_SERVICE_RUNNING", "1")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env_remove("BUTLER_MOTO_VIOLATIONS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts (./dev/test installs it into .venv)");
        let emulator = Self { child, endpoint: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() };
        for _ in 0..120 {
            if emulator.client.get(format!("{}/moto-api/", emulator.endpoint)).send().await.is_ok() {
                return emulator;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the faulty emulator did not start on port {port}");
    }

    /// Sets fault rate, share of faults that happen after AWS acted, denied operations and added latency.
    pub async fn set(&self, settings: serde_json::Value) -> serde_json::Value {
        let response = self.client.post(format!("{}/butler-faults", self.endpoint)).json(&settings).send().await;
        response.expect("fault control").json().await.expect("fault state")
    }

    /// Every AWS request the emulator has received (SDK retries included: what AWS would count and bill).
    pub async fn requests(&self) -> u64 {
        self.set(json!({})).await["injected"]["requests"].as_u64().expect("a request count")
    }

    /// Butler's settings for this emulator (fresh call counters).
    pub fn settings(&self) -> AwsSettings {
        AwsSettings::new(Some(self.endpoint.clone()))
    }

    /// A fresh account in this emulator and the role that reaches it.
    pub async fn account(&self, settings: &AwsSettings) -> (AwsAccount, String) {
        let account: u64 = rand::rng().random_range(100_000_000_000..999_999_999_999);
        let role = format!("arn:aws:iam::{account}:role/butler-test");
        let target = AccountTarget { region: REGION.into(), role_arn: Some(role.clone()) };
        (AwsAccount::connect(settings, &target).await, role)
    }
}

/// A Butler whose `default` profile points at a fresh account of `emulator` (a world of its own).
pub async fn world_on(emulator: &FaultyEmulator) -> World {
    let settings = emulator.settings();
    let (account, role) = emulator.account(&settings).await;
    let world = World::on(settings, account, &role).await;
    // The bench makes more environments than the default quotas allow.
    let quotas = json!({ "maxEnvironments": 100_000, "maxInstances": 100_000 });
    let patched = world.app.send_json(Method::PATCH, "/api/v1/tenants/payments", &quotas).await;
    assert_eq!(patched.status, StatusCode::OK);
    world
}

/// Passes until `name` converges, retrying transient failures as the runner would; the passes it took. With
/// `BUTLER_TRACE_FAULTS` set, says on stderr why each pass did not converge.
pub async fn converge(world: &World, name: &str) -> u32 {
    let mut last = String::new();
    for pass in 1..=400 {
        match world.reconciler.reconcile_once("payments", name).await {
            Ok(Action::AwaitChange) => return pass,
            Err(error) if error.is_transient() => {
                last = error.to_string();
                if std::env::var_os("BUTLER_TRACE_FAULTS").is_some() {
                    eprintln!("FAULT {name} pass {pass}: {last}");
                }
            }
            Ok(Action::RequeueAfter(_)) if std::env::var_os("BUTLER_TRACE_FAULTS").is_some() => {
                let object = world.object(name).await;
                let ready = crate::emulated::condition(&object, "Ready");
                eprintln!("REQUEUE {name} pass {pass}: {} {}", ready["reason"], ready["message"]);
            }
            Ok(Action::RequeueAfter(_)) => {}
            Err(error) => panic!("{name}: permanent failure under transient faults: {error}"),
        }
    }
    panic!("{name} did not converge in 400 passes; last transient error: {last}");
}

/// An environment whose JENKINS_HOME goes with it (so teardown leaves nothing at all to count).
pub fn disposable(name: &str) -> serde_json::Value {
    let mut body = manifest(name);
    body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
    body
}

impl Drop for FaultyEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
