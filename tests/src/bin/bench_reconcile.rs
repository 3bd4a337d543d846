//! `./dev/bench reconcile`: N environments (default 100) created at once against the AWS emulator and
//! reconciled by Butler's own runner. Prints AWS calls per environment to reach Ready (by operation) next to
//! the minimum the inventory needs (the profile has ingress: one shared load balancer for all), calls per idle resync of a Ready environment, and the time to all-Ready next
//! to the emulator's floor (total calls × median call latency) and the client-side rate limits' floor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use butler::aws::calls::is_mutating;
use butler::aws::ec2::SdkEc2;
use butler::aws::emulator::ensure_network;
use butler::reconcile::environment::{EnvironmentReconciler, SdkProvider};
use butler_tests::aws::{fresh_account_with_role, REGION};
use butler_tests::{manifest, TestApp};
use clap::Parser;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Environments created at once.
    #[arg(long, default_value_t = 100)]
    environments: usize,
}

/// The calls one environment cannot do without, per the inventory: every create (and the call that sets what a
/// create cannot: a role's policies, a group's rules, a log group's retention, the file system policy), and one
/// read per wait (file system available, mount targets available, ASG ARN, controller running) plus the AMI
/// lookup. The profile's namespace is made once per profile and left out.
const MINIMUM: [(&str, u64); 37] = [
    ("ec2:CreateSecurityGroup", 3),
    ("ec2:AuthorizeSecurityGroupIngress", 2),
    ("ec2:RevokeSecurityGroupEgress", 1),
    ("efs:PutFileSystemPolicy", 1),
    ("iam:CreateRole", 4),
    ("iam:PutRolePolicy", 2),
    ("iam:AttachRolePolicy", 2),
    ("iam:CreateInstanceProfile", 1),
    ("iam:AddRoleToInstanceProfile", 1),
    ("logs:CreateLogGroup", 2),
    ("logs:PutRetentionPolicy", 2),
    ("efs:CreateFileSystem", 1),
    ("efs:DescribeFileSystems", 1),
    ("efs:CreateMountTarget", 2),
    ("efs:DescribeMountTargets", 1),
    ("efs:CreateAccessPoint", 1),
    ("servicediscovery:CreateService", 1),
    ("ecs:CreateCluster", 1),
    ("ssm:GetParameter", 1),
    ("ec2:CreateLaunchTemplate", 1),
    ("autoscaling:CreateAutoScalingGroup", 1),
    ("autoscaling:DescribeAutoScalingGroups", 1),
    ("ecs:CreateCapacityProvider", 1),
    ("ecs:PutClusterCapacityProviders", 1),
    ("ssm:PutParameter", 1),
    ("ecs:RegisterTaskDefinition", 1),
    ("ecs:CreateService", 1),
    ("ecs:DescribeServices", 1),
    ("iam:GetRole", 0),
    ("logs:DescribeLogGroups", 0),
    ("ec2:DescribeSecurityGroups", 0),
    ("ecs:DescribeClusters", 0),
    // The address (the profile has ingress): target group and its delay, host rule, alias record, one health read.
    ("elasticloadbalancing:CreateTargetGroup", 1),
    ("elasticloadbalancing:ModifyTargetGroupAttributes", 1),
    ("elasticloadbalancing:CreateRule", 1),
    ("route53:ChangeResourceRecordSets", 1),
    ("elasticloadbalancing:DescribeTargetHealth", 1),
];

fn delta(before: &BTreeMap<&'static str, u64>, after: &BTreeMap<&'static str, u64>) -> BTreeMap<&'static str, u64> {
    after.iter().map(|(op, n)| (*op, n - before.get(op).copied().unwrap_or(0))).filter(|(_, n)| *n > 0).collect()
}

async fn ready_count(app: &TestApp) -> usize {
    let mut ready = 0;
    let mut continue_token: Option<String> = None;
    loop {
        let mut path = "/api/v1/tenants/payments/jenkinsenvironments?limit=500".to_owned();
        if let Some(token) = &continue_token {
            path.push_str(&format!("&continue={token}"));
        }
        let page = app.get(&path).await.json();
        ready += page["items"]
            .as_array()
            .map_or(0, |items| items.iter().filter(|i| i["status"]["phase"] == "Ready").count());
        match page["metadata"]["continue"].as_str() {
            Some(token) if !token.is_empty() => continue_token = Some(token.to_owned()),
            _ => return ready,
        }
    }
}

/// Median latency of a cheap emulator call, measured alone and straight through the SDK (Butler's token
/// buckets would measure themselves instead).
async fn median_call_latency(account: &butler::aws::context::AwsAccount) -> Duration {
    let ecs = aws_sdk_ecs::Client::new(&account.config);
    let mut samples = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        ecs.describe_clusters().clusters("butler-latency-probe").send().await.expect("probe");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// The token bucket an operation draws from and its rate per second (as `butler::aws::limits` sets them).
fn family_of(operation: &str) -> (&'static str, f64) {
    let mutating = is_mutating(operation);
    match operation.split(':').next().unwrap_or_default() {
        "ecs" if operation == "ecs:RegisterTaskDefinition" => ("ecs register", 1.0),
        "ecs" if mutating => ("ecs writes", 5.0),
        "ecs" => ("ecs reads", 20.0),
        "ec2" if mutating => ("ec2 writes", 5.0),
        "ec2" => ("ec2 reads", 20.0),
        "ssm" if mutating => ("ssm writes", 3.0),
        "ssm" => ("ssm reads", 40.0),
        "iam" => ("iam", 5.0),
        "efs" => ("efs", 5.0),
        "autoscaling" => ("autoscaling", 5.0),
        "servicediscovery" => ("servicediscovery", 5.0),
        "logs" => ("logs", 5.0),
        "elasticloadbalancing" => ("elasticloadbalancing", 10.0),
        "route53" => ("route53", 5.0),
        _ => ("other", 10.0),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let count = args.environments;
    let app = TestApp::spawn_reconciling().await;
    let (account, role) = fresh_account_with_role().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    // With ingress, as a platform team runs it: 100 environments a load balancer (ELB's limit).
    let ingress = butler::aws::emulator::ensure_ingress(&account, "jenkins.bench.test", &network.subnet_ids, 100)
        .await
        .expect("hosted zone and certificate");
    let profile = json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role,
                          "ingress": ingress });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let quotas = json!({ "maxEnvironments": 100_000, "maxInstances": 100_000 });
    assert_eq!(app.send_json(Method::PATCH, "/api/v1/tenants/payments", &quotas).await.status, StatusCode::OK);
    let settings = app.state.aws.clone();
    let before = settings.calls.snapshot();

    let started = Instant::now();
    let names: Vec<String> = (0..count).map(|i| format!("bench-{i:04}")).collect();
    let created: Vec<StatusCode> = futures::stream::iter(names.iter())
        .map(|name| async { app.create("payments", &manifest(name)).await.status })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(created.iter().all(|s| *s == StatusCode::CREATED), "creates failed: {created:?}");
    loop {
        let ready = ready_count(&app).await;
        if ready == count {
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            panic!("only {ready} of {count} Ready after 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let to_ready = started.elapsed();
    let creation = delta(&before, &settings.calls.snapshot());
    let errors = settings.calls.error_snapshot();
    // From here on only the passes the bench drives count: the server's own runner stops.
    let database = app.database_name.clone();
    drop(app);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let app = TestApp::spawn_on(&database).await;

    // Idle resync: one pass per Ready environment, as the periodic resync makes them.
    let reconciler =
        EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(SdkProvider::new(settings.clone())));
    let before_resync = settings.calls.snapshot();
    for name in &names {
        reconciler.reconcile_once("payments", name).await.expect("resync");
    }
    let resync = delta(&before_resync, &settings.calls.snapshot());
    // The full content check (every BUTLER_CONTENT_CHECK_SECONDS): one pass per environment reading everything.
    let checker =
        EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(SdkProvider::new(settings.clone())))
            .with_content_check(Duration::ZERO);
    let before_check = settings.calls.snapshot();
    for name in &names {
        checker.reconcile_once("payments", name).await.expect("content check");
    }
    let content_check = delta(&before_check, &settings.calls.snapshot());
    let latency = median_call_latency(&account).await;

    let per_env = |n: u64| n as f64 / count as f64;
    let total: u64 = creation.values().sum();
    let namespace_calls: u64 =
        creation.iter().filter(|(op, _)| op.contains("Namespace") || op.contains("GetOperation")).map(|(_, n)| n).sum();
    let minimum: BTreeMap<&str, u64> = MINIMUM.iter().copied().collect();
    let minimum_total: u64 = minimum.values().sum();
    println!("== ./dev/bench reconcile: {count} environments created at once, one account, moto emulator ==");
    println!("{:<42} {:>10} {:>10}", "operation", "per env", "minimum");
    let mut operations: Vec<&str> = creation.keys().copied().collect();
    operations.extend(minimum.keys().filter(|op| !creation.contains_key(*op)));
    operations.sort();
    operations.dedup();
    for op in operations {
        let actual = creation.get(op).copied().unwrap_or(0);
        println!(
            "{op:<42} {:>10.2} {:>10}",
            per_env(actual),
            minimum.get(op).map_or("-".to_owned(), |m| m.to_string())
        );
    }
    let mutating: u64 = creation.iter().filter(|(op, _)| is_mutating(op)).map(|(_, n)| n).sum();
    let minimum_mutating: u64 = minimum.iter().filter(|(op, _)| is_mutating(op)).map(|(_, n)| n).sum();
    println!(
        "total per env: {:.2} calls ({:.2} mutating) vs minimum {minimum_total} ({minimum_mutating} mutating): {:.2}x ({:.2}x mutating); profile namespace: {namespace_calls} calls once",
        per_env(total),
        per_env(mutating),
        per_env(total) / minimum_total as f64,
        per_env(mutating) / minimum_mutating as f64,
    );
    let resync_total: u64 = resync.values().sum();
    let resync_mutating: u64 = resync.iter().filter(|(op, _)| is_mutating(op)).map(|(_, n)| n).sum();
    println!(
        "idle resync per env: {:.2} calls ({:.2} mutating) {:?}",
        per_env(resync_total),
        per_env(resync_mutating),
        resync
    );
    let floor = latency * u32::try_from(total).unwrap_or(u32::MAX);
    // The token buckets: calls of a family / its rate is the least time they can take in one account.
    let mut families: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
    for (op, n) in &creation {
        let (family, rate) = family_of(op);
        let entry = families.entry(family).or_insert((0, rate));
        entry.0 += n;
    }
    let (slowest, rate_floor) = families
        .iter()
        .map(|(family, (n, rate))| (*family, Duration::from_secs_f64(*n as f64 / rate)))
        .max_by_key(|(_, floor)| *floor)
        .unwrap_or(("none", Duration::ZERO));
    println!(
        "time to all Ready: {:.1}s; emulator floor {:.1}s ({total} calls x median {:.1}ms): {:.2}x; rate-limit floor {:.1}s ({slowest}: {:?})",
        to_ready.as_secs_f64(),
        floor.as_secs_f64(),
        latency.as_secs_f64() * 1000.0,
        to_ready.as_secs_f64() / floor.as_secs_f64(),
        rate_floor.as_secs_f64(),
        families,
    );
    let check_total: u64 = content_check.values().sum();
    let check_mutating: u64 = content_check.iter().filter(|(op, _)| is_mutating(op)).map(|(_, n)| n).sum();
    println!(
        "content check per env: {:.2} reads, {:.2} writes {:?}",
        per_env(check_total - check_mutating),
        per_env(check_mutating),
        content_check
    );
    if !errors.is_empty() {
        println!("errors during creation: {errors:?}");
    }
}
