//! The work runner: claims due environments (fairly, with leases), runs the reconciler on each with bounded
//! concurrency, renews leases while working, records the outcome with backoff or resync, and on shutdown lets
//! in-flight work finish and gives its leases back. Any number of runners may share one database.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::{broadcast, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::backoff::{jittered, retry_delay};
use super::{Action, Claim, Reconcile};
use crate::feed::Feed;
use crate::store::queue::{self, Completion};

/// How a runner works.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Reconciles at once in this process.
    pub concurrency: usize,
    /// How long a claim holds without renewal (a dead process's work is taken over after this).
    pub lease: Duration,
    /// Interval of the periodic resync of converged environments (jittered ±5 %).
    pub resync: Duration,
    /// Longest sleep between looks at the queue when nothing wakes the runner.
    pub poll: Duration,
    /// How long shutdown waits for in-flight reconciles before giving their leases back anyway.
    pub drain: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            lease: Duration::from_secs(60),
            resync: Duration::from_secs(600),
            poll: Duration::from_secs(1),
            drain: Duration::from_secs(30),
        }
    }
}

/// A runner's identity in `lease_owner`: unique per process start.
pub(crate) fn owner_id() -> String {
    format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

/// Runs until `shutdown`; then drains and releases leases.
pub async fn run(
    db: DatabaseConnection,
    feed: Arc<Feed>,
    reconciler: Arc<dyn Reconcile>,
    config: RunnerConfig,
    owner: String,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let finished = Arc::new(Notify::new());
    let mut changes = feed.subscribe();
    let mut tasks = JoinSet::new();
    while !shutdown.is_cancelled() {
        let free = permits.available_permits();
        let mut claimed = 0;
        if free > 0 {
            match queue::claim(&db, &owner, config.lease, u32::try_from(free).unwrap_or(u32::MAX)).await {
                Ok(claims) => {
                    claimed = claims.len();
                    for claim in claims {
                        let Ok(permit) = permits.clone().try_acquire_owned() else { break };
                        let (db, reconciler, config, owner, finished) =
                            (db.clone(), reconciler.clone(), config.clone(), owner.clone(), finished.clone());
                        tasks.spawn(async move {
                            work(&db, reconciler.as_ref(), &config, &owner, &claim).await;
                            drop(permit);
                            finished.notify_one();
                        });
                    }
                }
                Err(error) => tracing::warn!(error = %error, "claiming due environments failed; will retry"),
            }
        }
        while tasks.try_join_next().is_some() {}
        if claimed > 0 && claimed == free {
            continue; // more may be due
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = finished.notified() => {}
            () = tokio::time::sleep(config.poll) => {}
            change = changes.recv() => {
                if let Err(broadcast::error::RecvError::Closed) = change {
                    changes = feed.subscribe();
                }
            }
        }
    }
    // Let in-flight reconciles finish (they record their outcome), then give back whatever is still held.
    let drained = tokio::time::timeout(config.drain, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tasks.abort_all();
    }
    match queue::release_all(&db, &owner).await {
        Ok(released) if released > 0 => tracing::info!(released, "released reconcile leases"),
        Ok(_) => {}
        Err(error) => tracing::warn!(error = %error, "could not release leases; they expire on their own"),
    }
}

/// One reconcile: renew the lease while it runs, stop if the lease is lost, record the outcome.
async fn work(db: &DatabaseConnection, reconciler: &dyn Reconcile, config: &RunnerConfig, owner: &str, claim: &Claim) {
    let lost = CancellationToken::new();
    let renewer = {
        let (db, owner, lost, lease, uid) = (db.clone(), owner.to_owned(), lost.clone(), config.lease, claim.uid);
        tokio::spawn(async move {
            let mut renewed = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(lease / 3).await;
                match queue::renew(&db, uid, &owner, lease).await {
                    Ok(true) => renewed = tokio::time::Instant::now(),
                    Ok(false) => {
                        lost.cancel();
                        return;
                    }
                    // Unrenewed (the database is unreachable), the lease runs out while this pass goes on, and
                    // another replica may claim the environment: stop before it can, a third of a lease early.
                    Err(error) if renewed.elapsed() >= lease * 2 / 3 => {
                        tracing::warn!(error = %error, "lease could not be renewed in time; giving the pass up");
                        lost.cancel();
                        return;
                    }
                    Err(error) => tracing::warn!(error = %error, "lease renewal failed; retrying"),
                }
            }
        })
    };
    let span =
        tracing::info_span!("reconcile", tenant = %claim.tenant, env = %claim.name, generation = claim.generation);
    // The start and end of every pass, for whoever checks that no environment is reconciled twice at once.
    tracing::debug!(tenant = %claim.tenant, env = %claim.name, "pass started");
    let outcome = tokio::select! {
        outcome = tracing::Instrument::instrument(reconciler.reconcile(claim), span) => Some(outcome),
        () = lost.cancelled() => None,
    };
    renewer.abort();
    tracing::debug!(tenant = %claim.tenant, env = %claim.name, "pass ended");
    let Some(outcome) = outcome else {
        tracing::warn!(tenant = %claim.tenant, env = %claim.name, "lease lost mid-reconcile; another worker owns it now");
        return;
    };
    let completion = match outcome {
        Ok(Action::RequeueAfter(after)) => Completion::Succeeded { next_in: after },
        Ok(Action::AwaitChange) => Completion::Succeeded { next_in: jittered(config.resync) },
        Err(error) if error.is_transient() => {
            tracing::info!(tenant = %claim.tenant, env = %claim.name, reason = %error.reason, "transient failure; backing off");
            Completion::Failed { next_in: retry_delay(claim.attempts) }
        }
        Err(error) => {
            tracing::warn!(tenant = %claim.tenant, env = %claim.name, reason = %error.reason, "permanent failure; waiting for a change");
            Completion::Failed { next_in: jittered(config.resync) }
        }
    };
    // The database may be briefly out (a restart): keep trying while the lease is ours, so the environment's
    // next pass is due when it should be rather than a whole lease later.
    let deadline = tokio::time::Instant::now() + config.lease * 2 / 3;
    loop {
        match queue::complete(db, claim, owner, completion).await {
            Ok(_) => return,
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %error, "recording the reconcile outcome failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "recording the reconcile outcome failed; the lease will expire");
                return;
            }
        }
    }
}
