//! Butler while its database is unreachable: a cuttable proxy in front of the shared PostgreSQL server makes the
//! outage Butler's alone. During it the API says "try again" (503 with Retry-After, problem+json) within a bound —
//! never a 500, never a hang — and readiness is red; after it everything works again by itself, and every write
//! that was acknowledged is there. The second test does it to a real `butler serve` process under a steady load,
//! with environments being provisioned and a watch open across the outage.

use std::time::{Duration, Instant};

use butler_tests::proxy::Proxy;
use butler_tests::{database, environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};

/// Longest a request may take during the outage (the pool's acquire timeout is 3 s).
const BOUND: Duration = Duration::from_secs(8);

async fn timed(app: &TestApp, request: reqwest::RequestBuilder) -> (StatusCode, Option<String>, Duration) {
    let started = Instant::now();
    let response = request.timeout(Duration::from_secs(30)).send().await.expect("an answer, not a hang");
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let _ = app;
    (response.status(), retry_after, started.elapsed())
}

#[tokio::test]
async fn a_database_outage_is_503_with_retry_after_and_butler_recovers_by_itself() {
    let fixtures = TestApp::spawn().await;
    let name = fixtures.database_name.clone();
    drop(fixtures);
    let direct = reqwest::Url::parse(&database::url_for(&name)).expect("database url");
    let upstream = format!("{}:{}", direct.host_str().expect("host"), direct.port().unwrap_or(5432));
    let upstream = tokio::net::lookup_host(upstream).await.expect("resolve").next().expect("address");
    let proxy = Proxy::start(upstream).await;
    let mut via_proxy = direct.clone();
    via_proxy.set_port(Some(proxy.port)).expect("port");
    let app = TestApp::spawn_via(&name, via_proxy.as_str()).await;

    assert_eq!(app.create("payments", &manifest("before")).await.status, StatusCode::CREATED);

    proxy.cut();
    let (ready, _, took) = timed(&app, app.anonymous(Method::GET, "/readyz")).await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE, "readiness stays green while the database is gone");
    assert!(took < BOUND, "readiness took {took:?}");
    let (created, retry_after, took) = timed(
        &app,
        app.request(Method::POST, "/api/v1/tenants/payments/jenkinsenvironments").json(&manifest("during")),
    )
    .await;
    assert_eq!(created, StatusCode::SERVICE_UNAVAILABLE);
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok()), "no Retry-After");
    assert!(took < BOUND, "a write took {took:?}");
    let (read, _, took) = timed(&app, app.request(Method::GET, &environment_path("payments", "before"))).await;
    assert!(read == StatusCode::OK || read == StatusCode::SERVICE_UNAVAILABLE, "a read during the outage: {read}");
    assert!(took < BOUND, "a read took {took:?}");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ready, _, _) = timed(&app, app.anonymous(Method::GET, "/readyz")).await;
        if ready == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "readiness never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.create("payments", &manifest("after")).await.status, StatusCode::CREATED);
    for name in ["before", "after"] {
        assert_eq!(app.get(&environment_path("payments", name)).await.status, StatusCode::OK, "{name} lost");
    }
    // The write refused during the outage changed nothing.
    assert_eq!(app.get(&environment_path("payments", "during")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_ten_second_outage_under_load_loses_no_acknowledged_write_and_everything_resumes() {
    let emulator = butler_tests::faulty_aws::FaultyEmulator::start().await;
    let report = butler_tests::scenarios::database_outage(&emulator, Duration::from_secs(10)).await;
    eprintln!("{report:?}");
    assert!(report.writes_acknowledged > 0 && report.writes_lost.is_empty(), "{report:?}");
    let unexpected: Vec<_> =
        report.statuses.iter().filter(|(status, _)| !matches!(**status, 200 | 201 | 503)).collect();
    assert!(unexpected.is_empty(), "answers other than 2xx and 503 (0 = none within 30 s): {unexpected:?}");
    assert!(report.statuses.get(&503).is_some_and(|n| *n > 0), "the outage never showed: {report:?}");
    assert_eq!(report.unavailable_without_retry_after, 0, "503 without Retry-After");
    assert!(report.slowest_ms < BOUND.as_secs_f64() * 1000.0, "an answer took {} ms", report.slowest_ms);
    assert!(report.ready_red_during, "readiness stayed green during the outage");
    assert!(report.ready_green_after.is_some_and(|after| after < Duration::from_secs(30)), "{report:?}");
    assert!(report.watch_missed.is_empty(), "the watch missed changes {:?}", report.watch_missed);
}
