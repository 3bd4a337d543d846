//! Every AWS call counted by operation and by error code: calls per reconcile is a product metric.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

/// Counters shared by every adapter of a process.
#[derive(Default)]
pub struct AwsCalls {
    by_operation: DashMap<&'static str, AtomicU64>,
    errors: DashMap<(&'static str, String), AtomicU64>,
}

impl AwsCalls {
    /// Counts one call of `operation` (e.g. `ecs:CreateService`).
    pub fn record(&self, operation: &'static str) {
        self.by_operation.entry(operation).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failed call by its error code.
    pub(crate) fn record_error(&self, operation: &'static str, code: &str) {
        self.errors.entry((operation, code.to_owned())).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// Calls so far, by operation.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.by_operation.iter().map(|entry| (*entry.key(), entry.value().load(Ordering::Relaxed))).collect()
    }

    /// Failed calls so far, by operation and code.
    pub fn error_snapshot(&self) -> BTreeMap<(&'static str, String), u64> {
        self.errors.iter().map(|entry| (entry.key().clone(), entry.value().load(Ordering::Relaxed))).collect()
    }

    /// Calls whose operation is a write (anything but Describe/List/Get).
    pub fn mutating(&self) -> u64 {
        self.by_operation
            .iter()
            .filter(|entry| is_mutating(entry.key()))
            .map(|entry| entry.value().load(Ordering::Relaxed))
            .sum()
    }
}

/// Whether an operation (`service:Action`) changes anything: anything but Describe, List and Get.
pub fn is_mutating(operation: &str) -> bool {
    let name = operation.split(':').nth(1).unwrap_or_default();
    !(name.starts_with("Describe") || name.starts_with("List") || name.starts_with("Get"))
}
