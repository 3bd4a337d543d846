//! Butler while its database is unreachable: a cuttable proxy in front of the shared PostgreSQL server makes the
//! outage Butler's alone. During it the API says "try again" (503 with Retry-After, problem+json) within a bound —
//! never a 500, never a hang — and readiness is red; after it everything works again by itself, and every write
//! that was acknowledged is there. The second test does it to a real `butler serve` process under a steady load,
//! with environments being provisioned and a watch open across the outage.

use std::time::{Duration, Instant};

use butler_tests::proxy::Proxy;
use butler_tests::scenarios::timed_send;
use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};

/// Longest a request may take during the outage, in ms (the pool's acquire timeout is 3 s).
const BOUND_MS: f64 = 8000.0;

#[tokio::test]
async fn a_database_outage_is_503_with_retry_after_and_butler_recovers_by_itself() {
    let fixtures = TestApp::spawn().await;
    let name = fixtures.database_name.clone();
    drop(fixtures);
    let (proxy, via_proxy) = Proxy::for_database(&name).await;
    let app = TestApp::spawn_via(&name, &via_proxy).await;

    assert_eq!(app.create("payments", &manifest("before")).await.status, StatusCode::CREATED);

    proxy.cut();
    let (ready, _, took) = timed_send(app.anonymous(Method::GET, "/readyz")).await;
    assert_eq!(ready, 503, "readiness stays green while the database is gone");
    assert!(took < BOUND_MS, "readiness took {took} ms");
    let write = app.request(Method::POST, "/api/v1/tenants/payments/jenkinsenvironments").json(&manifest("during"));
    let (created, retry_after, took) = timed_send(write).await;
    assert_eq!(created, 503);
    assert!(retry_after, "no Retry-After");
    assert!(took < BOUND_MS, "a write took {took} ms");
    let (read, _, took) = timed_send(app.request(Method::GET, &environment_path("payments", "before"))).await;
    assert!(read == 200 || read == 503, "a read during the outage: {read}");
    assert!(took < BOUND_MS, "a read took {took} ms");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ready, _, _) = timed_send(app.anonymous(Method::GET, "/readyz")).await;
        if ready == 200 {
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
    assert!(report.slowest_ms < BOUND_MS, "an answer took {} ms", report.slowest_ms);
    assert!(report.ready_red_during, "readiness stayed green during the outage");
    assert!(report.ready_green_after.is_some_and(|after| after < Duration::from_secs(30)), "{report:?}");
    assert!(report.watch_missed.is_empty(), "the watch missed changes {:?}", report.watch_missed);
}
