//! Status conditions in the Kubernetes shape: `lastTransitionTime` moves only when `status` flips; `Ready` is
//! derived from the parts for the current generation, never set on its own.

use chrono::{DateTime, Utc};

use crate::domain::object::{Condition, ConditionStatus, JenkinsEnvironmentStatus, Phase};

/// Storage (EFS, mount targets, access point).
pub(crate) const STORAGE_READY: &str = "StorageReady";
/// The controller's Cloud Map name.
pub(crate) const DISCOVERY_READY: &str = "DiscoveryReady";
/// ASG and capacity provider.
pub(crate) const CAPACITY_READY: &str = "CapacityReady";
/// The profile's subnets reach the internet (the controller downloads its plugins at start).
pub(crate) const EGRESS_READY: &str = "EgressReady";
/// The controller service.
pub(crate) const CONTROLLER_READY: &str = "ControllerReady";
/// The HTTPS address: target healthy behind the profile's load balancer, record in place (True with reason
/// `NoIngress` when the profile has none).
pub(crate) const INGRESS_READY: &str = "IngressReady";
/// All of the above.
pub(crate) const READY: &str = "Ready";

/// The part conditions `Ready` is derived from.
pub(crate) const PARTS: [&str; 6] =
    [STORAGE_READY, DISCOVERY_READY, CAPACITY_READY, EGRESS_READY, CONTROLLER_READY, INGRESS_READY];

/// Sets a condition, keeping `lastTransitionTime` unless the status flips.
pub fn set(
    status: &mut JenkinsEnvironmentStatus,
    condition_type: &str,
    value: ConditionStatus,
    reason: &str,
    message: &str,
    generation: i64,
    now: DateTime<Utc>,
) {
    match status.conditions.iter_mut().find(|c| c.condition_type == condition_type) {
        Some(existing) => {
            if existing.status != value {
                existing.last_transition_time = now;
            }
            existing.status = value;
            existing.reason = reason.to_owned();
            existing.message = message.to_owned();
            existing.observed_generation = generation;
        }
        None => status.conditions.push(Condition {
            condition_type: condition_type.to_owned(),
            status: value,
            reason: reason.to_owned(),
            message: message.to_owned(),
            last_transition_time: now,
            observed_generation: generation,
        }),
    }
}

/// The status of a condition, Unknown when absent.
pub(crate) fn status_of(status: &JenkinsEnvironmentStatus, condition_type: &str) -> ConditionStatus {
    status.conditions.iter().find(|c| c.condition_type == condition_type).map_or(ConditionStatus::Unknown, |c| c.status)
}

/// Whether the controller's condition says the previous revision still runs: a change drains before it rolls, or
/// ECS rolled the spec's revision back.
fn previous_runs(status: &JenkinsEnvironmentStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.condition_type == CONTROLLER_READY && (c.reason == "RolledBack" || c.reason == "Draining"))
}

/// Derives `Ready` and the phase from the parts observed for `generation`.
pub(crate) fn derive_ready(status: &mut JenkinsEnvironmentStatus, generation: i64, deleting: bool, now: DateTime<Utc>) {
    let pending: Vec<&Condition> = PARTS
        .iter()
        .filter_map(|part| status.conditions.iter().find(|c| c.condition_type == *part))
        .filter(|c| c.status != ConditionStatus::True || c.observed_generation != generation)
        .collect();
    let missing = PARTS.iter().filter(|part| !status.conditions.iter().any(|c| c.condition_type == **part)).count();
    let failed = pending.iter().any(|c| c.status == ConditionStatus::False && c.reason.ends_with("Failed"));
    let (value, reason, message) = if pending.is_empty() && missing == 0 {
        (
            ConditionStatus::True,
            "AllPartsReady".to_owned(),
            "storage, discovery, capacity, egress, controller and ingress are ready".to_owned(),
        )
    } else if let Some(first) = pending.first() {
        (
            ConditionStatus::False,
            format!("{}Pending", first.condition_type),
            format!("{}: {}", first.condition_type, first.message),
        )
    } else {
        (ConditionStatus::False, "Provisioning".to_owned(), "not every part has been observed yet".to_owned())
    };
    // Ready for this very spec before, and not now: something broke under it (a stopped controller, a part AWS
    // lost), which is not the same as still being made.
    let was_ready = matches!(status.phase, Phase::Ready | Phase::Degraded) && status.observed_generation == generation;
    set(status, READY, value, &reason, &message, generation, now);
    status.observed_generation = generation;
    status.phase = if deleting {
        Phase::Deleting
    } else if value == ConditionStatus::True {
        Phase::Ready
    } else if failed {
        Phase::Failed
    } else if was_ready || previous_runs(status) {
        // The previous revision runs (in quiet-down, or after ECS rolled the new one back): degraded, not
        // provisioning.
        Phase::Degraded
    } else {
        Phase::Provisioning
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_ready_for_its_spec_that_loses_a_part_is_degraded_not_provisioning() {
        let now = Utc::now();
        let mut status = JenkinsEnvironmentStatus::default();
        for part in PARTS {
            set(&mut status, part, ConditionStatus::True, "Ok", "ok", 1, now);
        }
        derive_ready(&mut status, 1, false, now);
        assert_eq!(status.phase, Phase::Ready);
        set(&mut status, CONTROLLER_READY, ConditionStatus::False, "ControllerStopped", "exit 1", 1, now);
        derive_ready(&mut status, 1, false, now);
        assert_eq!(status.phase, Phase::Degraded);
        // A new spec being applied is provisioning, whatever came before.
        derive_ready(&mut status, 2, false, now);
        assert_eq!(status.phase, Phase::Provisioning);
        for part in PARTS {
            set(&mut status, part, ConditionStatus::True, "Ok", "ok", 2, now);
        }
        derive_ready(&mut status, 2, false, now);
        assert_eq!(status.phase, Phase::Ready);
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let mut status = JenkinsEnvironmentStatus::default();
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(30);
        let t2 = t1 + chrono::Duration::seconds(30);
        set(&mut status, STORAGE_READY, ConditionStatus::False, "Creating", "creating", 1, t0);
        set(&mut status, STORAGE_READY, ConditionStatus::False, "WaitingForMountTargets", "waiting", 1, t1);
        assert_eq!(status.conditions[0].last_transition_time, t0);
        set(&mut status, STORAGE_READY, ConditionStatus::True, "Available", "ok", 1, t2);
        assert_eq!(status.conditions[0].last_transition_time, t2);
    }

    #[test]
    fn ready_needs_every_part_true_for_the_current_generation() {
        let now = Utc::now();
        let mut status = JenkinsEnvironmentStatus::default();
        for part in PARTS {
            set(&mut status, part, ConditionStatus::True, "Ok", "ok", 1, now);
        }
        derive_ready(&mut status, 1, false, now);
        assert_eq!(status_of(&status, READY), ConditionStatus::True);
        assert_eq!(status.phase, Phase::Ready);
        // A new generation: the parts describe the old one, so Ready is False until they are observed again.
        derive_ready(&mut status, 2, false, now);
        assert_eq!(status_of(&status, READY), ConditionStatus::False);
        assert_eq!(status.phase, Phase::Provisioning);
    }
}
