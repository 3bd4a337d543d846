//! The cost meter: exactly one pass per interval across processes, a restart gap accounted by elapsed time
//! and never twice (in-memory AWS), and end to end against the emulator: the report's instance-hours match the
//! instances the emulator runs, and CSV agrees with JSON.

use std::sync::Arc;
use std::time::Duration;

use butler::aws::ec2::{Ec2Api, SdkEc2, TaggedInstance};
use butler::cost::meter::{interval_end, Meter};
use butler::reconcile::environment::SdkProvider;
use butler_tests::emulated::World;
use butler_tests::fakes::FakeAws;
use butler_tests::{manifest, TestApp};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

const FIVE_MINUTES: Duration = Duration::from_secs(300);

async fn fake_world() -> (TestApp, FakeAws, String) {
    let app = TestApp::spawn().await;
    let profile = json!({ "region": "us-east-1", "vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"] });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);
    let created = app.create("payments", &manifest("ci")).await.json();
    let uid = created["metadata"]["uid"].as_str().expect("uid").to_owned();
    let fake = FakeAws::default();
    {
        let mut state = fake.state();
        for (id, lifecycle_spot, zone) in [("i-od", false, "us-east-1a"), ("i-spot", true, "us-east-1b")] {
            state.tagged_instances.push(TaggedInstance {
                id: id.into(),
                instance_type: "m5.large".into(),
                availability_zone: zone.into(),
                spot: lifecycle_spot,
                environment_uid: uid.clone(),
            });
        }
        state.spot_prices.insert(("m5.large".into(), "us-east-1b".into()), 0.035);
    }
    (app, fake, uid)
}

async fn report(app: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>) -> serde_json::Value {
    let path = format!(
        "/api/v1/costs?tenant=payments&from={}&to={}",
        urlencode(&from.to_rfc3339()),
        urlencode(&to.to_rfc3339())
    );
    let response = app.get(&path).await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn two_processes_meter_each_interval_once_and_a_restart_gap_is_counted_by_elapsed_time() {
    let (app, fake, _uid) = fake_world().await;
    let first = Meter::new(app.db(), Arc::new(fake.clone()), "process-a".into(), FIVE_MINUTES);
    let second = Meter::new(app.db(), Arc::new(fake.clone()), "process-b".into(), FIVE_MINUTES);
    let t0 = interval_end(Utc::now(), FIVE_MINUTES) + chrono::Duration::minutes(5);

    // Both processes wake for the same interval: one meters it, the other finds it taken.
    let (a, b) = tokio::join!(first.run_at(t0), second.run_at(t0));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(usize::from(a.is_some()) + usize::from(b.is_some()), 1, "exactly one pass: {a:?} {b:?}");
    assert!(first.run_at(t0).await.expect("again").is_none(), "an interval is never metered twice");

    // The next interval, then a restart that missed three: the sample after it covers twenty minutes, once.
    first.run_at(t0 + chrono::Duration::minutes(5)).await.expect("next").expect("metered");
    let after_gap = t0 + chrono::Duration::minutes(25);
    second.run_at(after_gap).await.expect("after the gap").expect("metered");

    let body = report(&app, t0 - chrono::Duration::hours(1), after_gap).await;
    let tenant = &body["tenants"][0];
    let covered_hours = (after_gap - (t0 - chrono::Duration::minutes(5))).num_minutes() as f64 / 60.0;
    let created = app.get("/api/v1/tenants/payments/jenkinsenvironments/ci").await.json();
    let created_at: DateTime<Utc> = created["metadata"]["creationTimestamp"].as_str().expect("ts").parse().expect("ts");
    // The first sample starts at creation when that is inside the first interval.
    let first_start = created_at.max(t0 - chrono::Duration::minutes(5));
    let expected_hours = (after_gap - first_start).num_milliseconds() as f64 / 3_600_000.0;
    assert!(expected_hours <= covered_hours + 1e-9);
    let instance_hours = tenant["instanceHours"].as_f64().expect("hours");
    assert!((instance_hours - 2.0 * expected_hours).abs() < 1e-6, "{instance_hours} vs 2 x {expected_hours}");
    assert!((tenant["spotShare"].as_f64().expect("share") - 0.5).abs() < 1e-9);
    let cost = tenant["cost"].as_f64().expect("cost");
    let on_demand = tenant["onDemandCost"].as_f64().expect("od");
    assert!((cost - (0.096 + 0.035) * expected_hours).abs() < 1e-6, "{cost}");
    assert!((on_demand - 2.0 * 0.096 * expected_hours).abs() < 1e-6, "{on_demand}");
    assert!(tenant["savings"].as_f64().expect("savings") > 0.0);
    // One Spot price call for the one (type, zone), then the cached price for the hour.
    assert_eq!(fake.state().creates.get("ec2:DescribeSpotPriceHistory"), Some(&1));

    // Over a window of whole days the report reads the meter's daily totals: the same figures.
    let wide = report(&app, t0 - chrono::Duration::days(3), after_gap + chrono::Duration::days(3)).await;
    assert!((wide["tenants"][0]["instanceHours"].as_f64().expect("hours") - instance_hours).abs() < 1e-9);
    assert!((wide["tenants"][0]["cost"].as_f64().expect("cost") - cost).abs() < 1e-9);

    // Samples outlive the environment.
    app.send(app.request(Method::DELETE, "/api/v1/tenants/payments/jenkinsenvironments/ci")).await;
    let again = report(&app, t0 - chrono::Duration::hours(1), after_gap).await;
    assert_eq!(again["tenants"][0]["instanceHours"], tenant["instanceHours"]);
}

#[tokio::test]
async fn against_the_emulator_instance_hours_match_the_instances_and_csv_agrees_with_json() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let running = SdkEc2::new(&world.account).tagged_instances().await.expect("instances");
    assert!(!running.is_empty(), "the ASG launched instances carrying the environment's tags");

    let meter =
        Meter::new(world.app.db(), Arc::new(SdkProvider::new(world.settings.clone())), "test".into(), FIVE_MINUTES);
    let t0 = interval_end(Utc::now(), FIVE_MINUTES) + chrono::Duration::minutes(5);
    for step in 0..3 {
        meter.run_at(t0 + chrono::Duration::minutes(5 * step)).await.expect("meter").expect("metered");
    }
    let to = t0 + chrono::Duration::minutes(10);
    let created = world.object("ci").await;
    let created_at: DateTime<Utc> = created["metadata"]["creationTimestamp"].as_str().expect("ts").parse().expect("ts");
    let hours = (to - created_at.max(t0 - chrono::Duration::minutes(5))).num_milliseconds() as f64 / 3_600_000.0;
    let body = report(&world.app, t0 - chrono::Duration::hours(1), to).await;
    let reported = body["tenants"][0]["instanceHours"].as_f64().expect("hours");
    assert!((reported - running.len() as f64 * hours).abs() < 1e-6, "{reported} vs {} x {hours}", running.len());

    let csv_path = format!(
        "/api/v1/costs?tenant=payments&format=csv&from={}&to={}",
        urlencode(&(t0 - chrono::Duration::hours(1)).to_rfc3339()),
        urlencode(&to.to_rfc3339())
    );
    let csv = world.app.get(&csv_path).await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = String::from_utf8(csv.body.to_vec()).expect("utf-8");
    let mut lines = text.lines();
    assert!(lines.next().expect("header").starts_with("tenant,environment,day,cost_usd"));
    let (mut csv_hours, mut csv_cost) = (0.0, 0.0);
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        csv_cost += fields[3].parse::<f64>().expect("cost");
        csv_hours += fields[7].parse::<f64>().expect("hours");
    }
    assert!((csv_hours - reported).abs() < 1e-3, "CSV {csv_hours} vs JSON {reported}");
    assert!((csv_cost - body["tenants"][0]["cost"].as_f64().expect("cost")).abs() < 1e-4);
}

#[tokio::test]
async fn a_budget_crossing_is_recorded_once_per_threshold_and_month_and_shown_as_a_banner() {
    let (app, fake, _uid) = fake_world().await;
    let budget = json!({ "monthlyUsd": 0.0001 });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/tenants/payments/budget", &budget).await.status, StatusCode::OK);
    let meter = Meter::new(app.db(), Arc::new(fake.clone()), "process-a".into(), FIVE_MINUTES);
    let t0 = interval_end(Utc::now(), FIVE_MINUTES) + chrono::Duration::minutes(5);
    for step in 0..4 {
        meter.run_at(t0 + chrono::Duration::minutes(5 * step)).await.expect("meter").expect("metered");
    }
    let view = app.get("/api/v1/tenants/payments/budget").await.json();
    let thresholds: Vec<i64> =
        view["alerts"].as_array().expect("alerts").iter().filter_map(|a| a["threshold"].as_i64()).collect();
    assert_eq!(thresholds, [100, 80], "each threshold once, however many passes: {view}");
    let audit = app.audit(Some("payments")).await;
    let crossings = audit.iter().filter(|e| e.action == "budget.threshold").count();
    assert_eq!(crossings, 2, "one audit entry per threshold");
    let events = app.get("/api/v1/tenants/payments/jenkinsenvironments/ci/events").await.json();
    let budget_events: Vec<&serde_json::Value> =
        events["items"].as_array().expect("items").iter().filter(|e| e["reason"] == "BudgetThresholdCrossed").collect();
    assert_eq!(budget_events.len(), 2, "one event per threshold on the environment's timeline: {events}");
    assert!(budget_events.iter().all(|e| e["count"] == 1), "never repeated");
    // Everyone in the tenant sees it, a viewer too.
    let page =
        app.send(app.request_as(butler_tests::Who::PaymentsViewer, Method::GET, "/t/payments/environments")).await;
    let html = String::from_utf8(page.body.to_vec()).expect("html");
    assert!(html.contains("data-testid=\"budget-banner\""), "banner missing");
    assert!(html.contains("100% of its monthly budget"));
    // Another tenant sees nothing of it.
    let other = app.send(app.request_as(butler_tests::Who::OtherAdmin, Method::GET, "/t/other/environments")).await;
    assert!(!String::from_utf8(other.body.to_vec()).expect("html").contains("budget-banner"));
}

#[tokio::test]
async fn a_dry_run_says_what_the_spec_would_cost_per_hour() {
    let (app, _fake, _uid) = fake_world().await;
    let mut body = manifest("estimate");
    body["spec"] = json!({ "capacity": { "instanceTypes": ["m5.large", "m6i.large"], "min": 1, "onDemandBase": 1 } });
    let response = app
        .send(app.request(Method::POST, "/api/v1/tenants/payments/jenkinsenvironments?dryRun=All").json(&body))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let estimate = response.header("butler-estimated-cost-per-hour").expect("estimate header");
    // One on-demand instance at the shipped us-east-1 list price of both types (0.096 USD).
    assert!(estimate.starts_with("0.0960 USD"), "{estimate}");
    assert_eq!(app.get("/api/v1/tenants/payments/jenkinsenvironments/estimate").await.status, StatusCode::NOT_FOUND);
}
