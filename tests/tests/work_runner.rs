//! The work runner with a scripted reconciler: shared work without overlap, fairness across tenants,
//! backoff, changes during a reconcile, lease takeover and graceful release.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use butler::reconcile::runner::{self, RunnerConfig};
use butler::reconcile::{Action, Claim, Reconcile, ReconcileError};
use butler::store::queue;
use butler_tests::{manifest, TestApp};
use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use tokio_util::sync::CancellationToken;

/// Records what ran, how many ran at once per environment, and answers from a script.
#[derive(Default)]
struct Scripted {
    running: Mutex<HashMap<uuid::Uuid, usize>>,
    overlaps: Mutex<usize>,
    order: Mutex<Vec<(String, String)>>,
    fail_transiently: Mutex<usize>,
    hold: Duration,
}

impl Reconcile for Scripted {
    fn reconcile<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Action, ReconcileError>> {
        Box::pin(async move {
            {
                let mut running = self.running.lock().expect("lock");
                let count = running.entry(claim.uid).or_default();
                *count += 1;
                if *count > 1 {
                    *self.overlaps.lock().expect("lock") += 1;
                }
                self.order.lock().expect("lock").push((claim.tenant.clone(), claim.name.clone()));
            }
            tokio::time::sleep(self.hold).await;
            *self.running.lock().expect("lock").entry(claim.uid).or_default() -= 1;
            let mut failures = self.fail_transiently.lock().expect("lock");
            if *failures > 0 {
                *failures -= 1;
                return Err(ReconcileError::transient("Throttled", "scripted"));
            }
            Ok(Action::AwaitChange)
        })
    }
}

fn config(concurrency: usize) -> RunnerConfig {
    RunnerConfig {
        concurrency,
        lease: Duration::from_secs(5),
        resync: Duration::from_secs(600),
        poll: Duration::from_millis(50),
        drain: Duration::from_secs(5),
    }
}

async fn create(app: &TestApp, tenant: &str, count: usize) {
    for index in 0..count {
        assert_eq!(
            app.create(tenant, &manifest(&format!("env-{index:03}"))).await.status,
            reqwest::StatusCode::CREATED
        );
    }
}

async fn due(app: &TestApp) -> i64 {
    queue::health(&app.db()).await.expect("health").due
}

#[derive(FromQueryResult)]
struct Row {
    attempts: i32,
    seconds_until_due: f64,
    lease_owner: Option<String>,
}

async fn row(app: &TestApp, name: &str) -> Row {
    Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT attempts, extract(epoch FROM next_reconcile_at - now())::float8 AS seconds_until_due, lease_owner \
         FROM jenkins_environments WHERE name = $1",
        [name.into()],
    ))
    .one(&app.db())
    .await
    .expect("query")
    .expect("row")
}

async fn wait_until(mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met in 10 s");
}

#[tokio::test]
async fn two_runners_share_the_work_and_never_reconcile_one_environment_twice_at_once() {
    let app = TestApp::spawn().await;
    create(&app, "payments", 12).await;
    create(&app, "other", 12).await;
    let reconciler = Arc::new(Scripted { hold: Duration::from_millis(30), ..Default::default() });
    let shutdown = CancellationToken::new();
    let mut runners = Vec::new();
    for owner in ["runner-a", "runner-b"] {
        runners.push(tokio::spawn(runner::run(
            app.db(),
            app.state.feed.clone(),
            reconciler.clone(),
            config(4),
            owner.to_owned(),
            shutdown.clone(),
        )));
    }
    wait_until(async || reconciler.order.lock().expect("lock").len() >= 24 && due(&app).await == 0).await;
    shutdown.cancel();
    for runner in runners {
        runner.await.expect("runner stops");
    }
    assert_eq!(*reconciler.overlaps.lock().expect("lock"), 0);
    let order = reconciler.order.lock().expect("lock").clone();
    let distinct: std::collections::HashSet<_> = order.iter().collect();
    assert_eq!(distinct.len(), 24, "every environment reconciled");
    assert_eq!(order.len(), 24, "and each once: converged rows wait for their resync");
    let leased: i64 = queue::health(&app.db()).await.expect("health").leased;
    assert_eq!(leased, 0, "shutdown gave every lease back");
}

#[tokio::test]
async fn one_environment_of_a_quiet_tenant_is_not_stuck_behind_a_busy_tenant() {
    let app = TestApp::spawn().await;
    let quota = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/tenants/payments",
            &serde_json::json!({ "maxEnvironments": 100, "maxInstances": 1000 }),
        )
        .await;
    assert_eq!(quota.status, reqwest::StatusCode::OK);
    create(&app, "payments", 40).await;
    create(&app, "other", 1).await;
    let reconciler = Arc::new(Scripted { hold: Duration::from_millis(5), ..Default::default() });
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(runner::run(
        app.db(),
        app.state.feed.clone(),
        reconciler.clone(),
        config(1),
        "solo".into(),
        shutdown.clone(),
    ));
    wait_until(async || reconciler.order.lock().expect("lock").iter().any(|(tenant, _)| tenant == "other")).await;
    shutdown.cancel();
    handle.await.expect("runner stops");
    let order = reconciler.order.lock().expect("lock").clone();
    let position = order.iter().position(|(tenant, _)| tenant == "other").expect("other ran");
    assert!(position <= 1, "the quiet tenant waited behind {position} of the busy tenant's environments");
}

#[tokio::test]
async fn transient_failures_back_off_and_success_resets_the_attempts() {
    let app = TestApp::spawn().await;
    create(&app, "payments", 1).await;
    let reconciler = Arc::new(Scripted { fail_transiently: Mutex::new(1), ..Default::default() });
    let claims = queue::claim(&app.db(), "manual", Duration::from_secs(5), 10).await.expect("claim");
    assert_eq!(claims.len(), 1);
    let outcome = reconciler.reconcile(&claims[0]).await;
    assert!(outcome.as_ref().is_err_and(|e| e.is_transient()));
    let delay = butler::reconcile::backoff::retry_delay(claims[0].attempts);
    queue::complete(&app.db(), &claims[0], "manual", queue::Completion::Failed { next_in: delay })
        .await
        .expect("complete");
    let failed = row(&app, "env-000").await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.seconds_until_due > 0.0 && failed.lease_owner.is_none());
    assert!(
        queue::claim(&app.db(), "manual", Duration::from_secs(5), 10).await.expect("claim").is_empty(),
        "not due while backing off"
    );

    app.db().execute_unprepared("UPDATE jenkins_environments SET next_reconcile_at = now()").await.expect("make due");
    let claims = queue::claim(&app.db(), "manual", Duration::from_secs(5), 10).await.expect("claim");
    assert_eq!(claims[0].attempts, 1);
    queue::complete(
        &app.db(),
        &claims[0],
        "manual",
        queue::Completion::Succeeded { next_in: Duration::from_secs(600) },
    )
    .await
    .expect("complete");
    let succeeded = row(&app, "env-000").await;
    assert_eq!(succeeded.attempts, 0);
    assert!(succeeded.seconds_until_due > 500.0);
}

#[tokio::test]
async fn a_spec_change_during_a_reconcile_makes_the_environment_due_again_at_once() {
    let app = TestApp::spawn().await;
    create(&app, "payments", 1).await;
    let claims = queue::claim(&app.db(), "manual", Duration::from_secs(5), 10).await.expect("claim");
    assert_eq!(claims.len(), 1);
    let changed =
        app.merge_patch("payments", "env-000", &serde_json::json!({ "spec": { "capacity": { "max": 3 } } })).await;
    assert_eq!(changed.status, reqwest::StatusCode::OK);
    assert!(
        queue::claim(&app.db(), "other-worker", Duration::from_secs(5), 10).await.expect("claim").is_empty(),
        "still leased"
    );
    queue::complete(
        &app.db(),
        &claims[0],
        "manual",
        queue::Completion::Succeeded { next_in: Duration::from_secs(600) },
    )
    .await
    .expect("complete");
    assert!(row(&app, "env-000").await.seconds_until_due <= 0.0, "due now for the new generation");
    let again = queue::claim(&app.db(), "manual", Duration::from_secs(5), 10).await.expect("claim");
    assert_eq!(again[0].generation, 2);
}

#[tokio::test]
async fn a_dead_workers_lease_expires_and_another_takes_over() {
    let app = TestApp::spawn().await;
    create(&app, "payments", 1).await;
    let dead = queue::claim(&app.db(), "dead", Duration::from_millis(200), 10).await.expect("claim");
    assert_eq!(dead.len(), 1);
    assert!(queue::claim(&app.db(), "alive", Duration::from_secs(5), 10).await.expect("claim").is_empty());
    assert_eq!(queue::health(&app.db()).await.expect("health").expired_leases, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(queue::health(&app.db()).await.expect("health").expired_leases, 1, "visible in health");
    let taken = queue::claim(&app.db(), "alive", Duration::from_secs(5), 10).await.expect("claim");
    assert_eq!(taken.len(), 1);
    // The dead worker's late completion and renewal change nothing.
    assert!(!queue::renew(&app.db(), dead[0].uid, "dead", Duration::from_secs(5)).await.expect("renew"));
    assert!(!queue::complete(
        &app.db(),
        &dead[0],
        "dead",
        queue::Completion::Succeeded { next_in: Duration::from_secs(1) }
    )
    .await
    .expect("complete"));
    assert_eq!(row(&app, "env-000").await.lease_owner.as_deref(), Some("alive"));
}
