//! `./dev/bench api` loader: creates the tenants, then POSTs N environments across them at a fixed
//! concurrency through the API, and prints CREATE throughput and latency percentiles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;

#[derive(Parser)]
struct Args {
    /// Butler's base URL.
    #[arg(long)]
    url: String,
    /// Database URL, to create the tenants directly (tenant management comes with the identity API).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 100)]
    tenants: usize,
    #[arg(long, default_value_t = 10_000)]
    environments: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The platform admin to sign in as.
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    /// Where to write the JWT for the other load generators.
    #[arg(long)]
    jwt_file: std::path::PathBuf,
    /// Put half of the environments in the first tenant (the web benchmark's 5,000-environment tenant).
    #[arg(long)]
    skewed: bool,
}

/// Where environment `index` of `total` goes: (tenant index, environment name).
fn placement(index: usize, total: usize, tenants: usize, skewed: bool) -> (usize, String) {
    if !skewed || tenants < 2 {
        // Environment i goes to tenant i % tenants as env-(i / tenants): every tenant gets env-000...
        return (index % tenants, format!("env-{:03}", index / tenants));
    }
    let half = total / 2;
    if index < half {
        (0, format!("env-{index:04}"))
    } else {
        let rest = index - half;
        (1 + rest % (tenants - 1), format!("env-{:04}", rest / (tenants - 1)))
    }
}

fn manifest(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "butler.dev/v1alpha1",
        "kind": "JenkinsEnvironment",
        "metadata": { "name": name, "labels": { "team": format!("team-{}", name.len() % 7), "bench": "api" } },
        "spec": { "capacity": { "max": 4 } }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = sea_orm::Database::connect(&args.database_url).await?;
    for tenant in 0..args.tenants {
        let name = format!("bench-{tenant:02}");
        if butler::store::tenants::find(&db, &name).await?.is_none() {
            let mut new = butler::store::tenants::NewTenant::with_defaults(&name, &name);
            new.max_environments = 100_000;
            new.max_instances = 1_000_000;
            butler::store::tenants::insert(&db, &new).await?;
        }
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    // Sign in as the bootstrap platform admin; the JWT also goes to a file for wrk.
    let login: serde_json::Value = client
        .post(format!("{}/api/v1/auth/token", args.url))
        .json(&serde_json::json!({ "email": args.email, "password": args.password }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let jwt = login["token"].as_str().ok_or_else(|| anyhow::anyhow!("no token in the login answer"))?.to_owned();
    std::fs::write(&args.jwt_file, &jwt)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, url, jwt) = (client.clone(), next.clone(), args.url.clone(), jwt.clone());
        let (total, tenants, skewed) = (args.environments, args.tenants, args.skewed);
        workers.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).expect("histogram");
            let mut failures = 0usize;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return (histogram, failures);
                }
                let (tenant, name) = placement(index, total, tenants, skewed);
                let path = format!("{url}/api/v1/tenants/bench-{tenant:02}/jenkinsenvironments");
                let body = manifest(&name);
                let sent = Instant::now();
                let response = client.post(&path).bearer_auth(&jwt).json(&body).send().await;
                let ok = matches!(&response, Ok(r) if r.status() == reqwest::StatusCode::CREATED);
                if let Ok(response) = response {
                    let _ = response.bytes().await;
                }
                histogram.record(sent.elapsed().as_micros() as u64).ok();
                if !ok {
                    failures += 1;
                }
            }
        }));
    }
    let mut histogram = Histogram::<u64>::new(3)?;
    let mut failures = 0;
    for worker in workers {
        let (part, failed) = worker.await?;
        histogram.add(part)?;
        failures += failed;
    }
    let elapsed = started.elapsed();
    let ms = |us: u64| Duration::from_micros(us).as_secs_f64() * 1000.0;
    println!(
        "CREATE  {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} failed, {} connections)",
        args.environments as f64 / elapsed.as_secs_f64(),
        ms(histogram.value_at_quantile(0.50)),
        ms(histogram.value_at_quantile(0.99)),
        args.environments,
        failures,
        args.concurrency
    );
    if failures > 0 {
        anyhow::bail!("{failures} creates failed");
    }
    Ok(())
}
