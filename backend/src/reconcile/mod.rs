//! Reconciliation: the work runner (`runner`) that hands due environments to a reconciler, one at a time each,
//! fairly, with leases, backoff and resync; and the JenkinsEnvironment reconciler itself (`environment`).

pub mod backoff;
pub mod environment;
pub mod pool;
pub mod runner;

use std::time::Duration;

use futures::future::BoxFuture;

pub use crate::store::queue::Claim;

/// What a successful reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look again after this long (waiting on AWS: a file system becoming available, a task starting).
    RequeueAfter(Duration),
    /// Converged: look again at the next periodic resync (drift detection).
    AwaitChange,
}

/// A failed reconcile, classified so the runner knows whether retrying can help.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ReconcileError {
    /// CamelCase, for conditions and events.
    pub reason: String,
    pub message: String,
    /// Throttling, timeouts, 5xx: back off and retry. Otherwise wait for a spec change (slow resync still runs).
    pub transient: bool,
}

impl ReconcileError {
    /// A failure worth retrying soon.
    pub fn transient(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { reason: reason.into(), message: message.into(), transient: true }
    }

    /// A failure only a change can fix (AccessDenied, invalid parameter, a quota AWS refuses).
    pub fn permanent(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { reason: reason.into(), message: message.into(), transient: false }
    }

    /// Whether retrying can help.
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

/// Makes the world match one environment. Implementations are idempotent and never branch on why they ran.
pub trait Reconcile: Send + Sync + 'static {
    /// One pass over the claimed environment.
    fn reconcile<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Action, ReconcileError>>;
}
