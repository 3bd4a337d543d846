//! Butler as a real process (`butler serve`), for what only a process can show: being killed with SIGKILL in
//! the middle of its work. Its JSON log is kept in a file, so a test can read back when each reconcile pass of
//! each environment started and ended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::JWT_SECRET;

/// One `butler serve` process on a test's database.
pub struct Replica {
    child: Child,
    pub base_url: String,
    pub log: PathBuf,
}

/// The reconcile passes of one environment in one process: (start, end); the end is None for a pass the
/// process never finished (it was killed, or the pass is still running).
pub type Passes = BTreeMap<String, Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>>;

/// The `butler` binary: `BUTLER_BIN` (./dev/test builds it and says where), else beside the test's own binary.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BUTLER_BIN") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> → target/<profile>/butler
    test.parent().and_then(Path::parent).expect("target directory").join("butler")
}

impl Replica {
    /// Starts `butler serve` with its reconciler on `database_url`, calling AWS at `aws_endpoint`, with
    /// `lease` as the reconcile lease and `extra` variables; waits until it answers `/readyz`.
    pub async fn start(
        database_url: &str,
        aws_endpoint: &str,
        lease: Duration,
        log: PathBuf,
        extra: &[(&str, &str)],
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let file = std::fs::File::create(&log).expect("log file");
        let binary = binary();
        let child = Command::new(&binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("BUTLER_LISTEN", format!("127.0.0.1:{port}"))
            .env("BUTLER_JWT_SECRET", JWT_SECRET)
            .env("BUTLER_AWS_ENDPOINT_URL", aws_endpoint)
            .env("BUTLER_RECONCILE", "true")
            .env("BUTLER_RECONCILE_LEASE_SECONDS", lease.as_secs().to_string())
            .env("BUTLER_DATABASE_MAX_CONNECTIONS", "8")
            .env("BUTLER_LOG_FORMAT", "json")
            .env("RUST_LOG", "info,butler::reconcile::runner=debug")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start ({e}); ./dev/test builds it", binary.display()));
        let replica = Self { child, base_url: format!("http://127.0.0.1:{port}"), log };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let ready = client.get(format!("{}/readyz", replica.base_url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "butler serve did not become ready; its log: {}",
            std::fs::read_to_string(&replica.log).unwrap_or_default()
        );
    }

    /// SIGKILL: no shutdown, no lease given back, no line more in its log.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// The passes this process logged, by environment name.
    pub fn passes(&self) -> Passes {
        let text = std::fs::read_to_string(&self.log).expect("log");
        let mut passes = Passes::new();
        for line in text.lines() {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let fields = &entry["fields"];
            let (Some(message), Some(env)) = (fields["message"].as_str(), fields["env"].as_str()) else { continue };
            let Some(at) = entry["timestamp"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
                continue;
            };
            let at = at.with_timezone(&Utc);
            let list = passes.entry(env.to_owned()).or_default();
            match message {
                "pass started" => list.push((at, None)),
                "pass ended" => {
                    if let Some(open) = list.last_mut().filter(|(_, end)| end.is_none()) {
                        open.1 = Some(at);
                    }
                }
                _ => {}
            }
        }
        passes
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
