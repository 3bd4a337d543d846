//! Butler processes under faults (real `butler serve` processes on the test's database and an emulator of the
//! test's own): a replica killed with SIGKILL while two provision environments, and AWS answering every call
//! 2 s late while the API is read. (`./dev/bench faults` runs both with 50 environments and prints the figures.)

use std::time::Duration;

use butler_tests::faulty_aws::FaultyEmulator;
use butler_tests::scenarios::{kill_a_replica, slow_aws};

const LEASE: Duration = Duration::from_secs(6);

#[tokio::test]
async fn a_replica_killed_mid_provisioning_leaves_the_survivor_to_finish_every_environment_once() {
    let emulator = FaultyEmulator::start().await;
    let report = kill_a_replica(&emulator, 8, LEASE, Duration::from_secs(2)).await;
    eprintln!("{report:?}");
    assert!(report.overlaps.is_empty(), "reconciled by both at once: {:?}", report.overlaps);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // The kill must land in the middle of passes, or this test shows nothing about leases.
    assert!(!report.in_flight_at_kill.is_empty(), "the killed replica was not in the middle of any pass");
    assert_eq!(report.taken_over_after.len(), report.in_flight_at_kill.len(), "some were never taken over");
    for after in &report.taken_over_after {
        // Renewed every third of a lease, a claim outlives its last renewal by a lease.
        assert!(*after >= LEASE * 2 / 3 - Duration::from_millis(500), "taken over {after:?} after the kill");
    }
}

#[tokio::test]
async fn slow_aws_does_not_slow_reads_and_metrics_show_the_backlog() {
    let emulator = FaultyEmulator::start().await;
    let report = slow_aws(&emulator, 2, 6, 200).await;
    eprintln!("{report:?}");
    // Reads are served from memory: AWS's 2 s never reach them (bounds far below it, loose for a busy machine).
    for (what, before, slow) in
        [("GET", report.get_before, report.get_slow), ("LIST", report.list_before, report.list_slow)]
    {
        assert!(slow.p50 < before.p50 + 50.0, "{what} p50 {before:?} -> {slow:?}");
        assert!(slow.p99 < 1000.0, "{what} p99 {before:?} -> {slow:?}");
    }
    // Two reconciling at a time, each call 2 s: most of the six wait, and the queue says so.
    assert_eq!(report.leased, 2.0, "{report:?}");
    assert!(report.due >= 1.0 && report.oldest_due_seconds > 0.0, "{report:?}");
}
