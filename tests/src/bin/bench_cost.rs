//! `./dev/bench cost`: one meter pass over N environments (default 1,000) whose instances run in the AWS
//! emulator (AWS calls by operation and wall time), and the report query over 90 days of samples for 100
//! tenants (median of 5).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use butler::aws::ec2::SdkEc2;
use butler::aws::emulator::ensure_network;
use butler::cost::meter::{interval_end, Meter};
use butler::reconcile::environment::SdkProvider;
use butler_tests::aws::{fresh_account_with_role, REGION};
use butler_tests::{manifest, TestApp};
use clap::Parser;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Environments metered in one pass.
    #[arg(long, default_value_t = 1000)]
    environments: usize,
}

fn delta(before: &BTreeMap<&'static str, u64>, after: &BTreeMap<&'static str, u64>) -> BTreeMap<&'static str, u64> {
    after.iter().map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0))).filter(|(_, n)| *n > 0).collect()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let app = TestApp::spawn().await;
    let (account, role) = fresh_account_with_role().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    let profile =
        json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let quotas = json!({ "maxEnvironments": 100_000, "maxInstances": 100_000 });
    assert_eq!(app.send_json(Method::PATCH, "/api/v1/tenants/payments", &quotas).await.status, StatusCode::OK);

    eprintln!("creating {} environments and one running instance each in the emulator", args.environments);
    let names: Vec<String> = (0..args.environments).map(|i| format!("cost-{i:04}")).collect();
    let uids: Vec<String> = futures::stream::iter(names.iter())
        .map(|name| async {
            app.create("payments", &manifest(name)).await.json()["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&account.config);
    use butler::aws::ssm::SsmApi;
    let ami = butler::aws::ssm::SdkSsm::new(&account)
        .get_parameter(butler::reconcile::environment::capacity::ECS_AMI_PARAMETER)
        .await
        .expect("ssm")
        .expect("the emulator publishes the ECS AMI");
    // The instances go to the emulator's default VPC: a profile subnet (/24) cannot hold a thousand.
    futures::stream::iter(uids.iter())
        .map(|uid| {
            let (ec2, ami) = (ec2.clone(), ami.clone());
            async move {
                let tags = TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("butler:uid").value(uid).build())
                    .tags(Tag::builder().key("butler:managed-by").value("butler").build())
                    .build();
                ec2.run_instances()
                    .image_id(ami)
                    .instance_type(InstanceType::M5Large)
                    .min_count(1)
                    .max_count(1)
                    .tag_specifications(tags)
                    .send()
                    .await
                    .expect("run instance");
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;

    let settings = butler::aws::context::AwsSettings::from_env();
    let meter =
        Meter::new(app.db(), Arc::new(SdkProvider::new(settings.clone())), "bench".into(), Duration::from_secs(300));
    let before = settings.calls.snapshot();
    let started = Instant::now();
    // The first interval that ends after the environments were created.
    let report =
        meter.run_at(chrono::Utc::now() + chrono::Duration::minutes(5)).await.expect("meter").expect("metered");
    let wall = started.elapsed();
    let calls = delta(&before, &settings.calls.snapshot());
    println!("== ./dev/bench cost ==");
    println!(
        "meter pass: {} environments, {} samples, {:.2}s wall, AWS calls {:?} (total {})",
        report.environments,
        report.samples,
        wall.as_secs_f64(),
        calls,
        calls.values().sum::<u64>()
    );

    // 90 days of 5-minute samples for 100 tenants (one environment each), straight into the table.
    let db = app.db();
    let end = interval_end(chrono::Utc::now(), Duration::from_secs(300));
    eprintln!("writing 90 days of samples for 100 tenants");
    let started = Instant::now();
    db.execute_unprepared(&format!(
        "INSERT INTO cost_samples (environment_uid, tenant, environment, period_start, period_end, instance_hours, \
             spot_hours, on_demand_hours, cost, on_demand_cost, efs_gb, efs_cost, estimated) \
         SELECT md5('t' || t)::uuid, 'bench-' || lpad(t::text, 3, '0'), 'env', p - interval '5 minutes', p, \
                '{{\"m5.large/spot\": 0.1667, \"m5.large/on-demand\": 0.0833}}'::jsonb, 0.1667, 0.0833, \
                0.0083 + (t % 7) * 0.001, 0.024, 12.5, 0.0000856, false \
         FROM generate_series(1, 100) t, \
              generate_series(timestamptz '{end}' - interval '90 days' + interval '5 minutes', timestamptz '{end}', interval '5 minutes') p"
    ))
    .await
    .expect("samples");
    // The daily totals the meter keeps alongside its samples.
    db.execute_unprepared(
        "INSERT INTO cost_daily (environment_uid, day, tenant, environment, cost, on_demand_cost, spot_hours, \
             on_demand_hours, efs_gb_hours) \
         SELECT environment_uid, (period_end AT TIME ZONE 'UTC')::date, min(tenant), min(environment), sum(cost), \
                sum(on_demand_cost), sum(spot_hours), sum(on_demand_hours), \
                sum(efs_gb * extract(epoch FROM period_end - period_start) / 3600.0) \
         FROM cost_samples WHERE tenant LIKE 'bench-%' GROUP BY 1, 2 \
         ON CONFLICT (environment_uid, day) DO NOTHING",
    )
    .await
    .expect("daily totals");
    db.execute_unprepared("ANALYZE cost_samples; ANALYZE cost_daily").await.expect("analyze");
    let rows = db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM cost_samples",
        ))
        .await
        .expect("count")
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    eprintln!("{rows} samples in {:.1}s", started.elapsed().as_secs_f64());
    let mut timings = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let report = butler::store::cost_report::build(&db, end - chrono::Duration::days(90), end, None, end)
            .await
            .expect("report");
        timings.push(started.elapsed());
        assert!(report.tenants.len() >= 100);
    }
    timings.sort();
    println!(
        "report, 90 days x 100 tenants ({rows} samples): median {:.1} ms (min {:.1}, max {:.1})",
        timings[2].as_secs_f64() * 1000.0,
        timings[0].as_secs_f64() * 1000.0,
        timings[4].as_secs_f64() * 1000.0
    );
}
