//! How Butler's ECS capacity providers scale and protect their Auto Scaling groups: the settings, their SDK
//! shapes, and reading them back from AWS (for the content check).

use aws_sdk_ecs::types::{ManagedDraining, ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection};

/// A capacity provider's managed scaling and protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProviderSettings {
    pub scaling: bool,
    pub target_capacity: i32,
    pub min_step: i32,
    pub max_step: i32,
    pub warmup_seconds: i32,
    pub termination_protection: bool,
    pub draining: bool,
}

/// What Butler's capacity providers say: managed scaling to keep instances fully used, in steps as large as a
/// burst of builds needs (ECS's own ceiling), counting an instance after 90 s rather than the default 300 s, so a
/// burst reaches the group's max well within the amazon-ecs plugin's 900 s agent timeout; ECS keeps instances
/// with running tasks (the controller, builds) from being scaled in, and drains them when they go.
pub const PROVIDER_SETTINGS: ProviderSettings = ProviderSettings {
    scaling: true,
    target_capacity: 100,
    min_step: 1,
    max_step: 10_000,
    warmup_seconds: 90,
    termination_protection: true,
    draining: true,
};

pub(super) fn managed_scaling(settings: &ProviderSettings) -> ManagedScaling {
    ManagedScaling::builder()
        .status(if settings.scaling { ManagedScalingStatus::Enabled } else { ManagedScalingStatus::Disabled })
        .target_capacity(settings.target_capacity)
        .minimum_scaling_step_size(settings.min_step)
        .maximum_scaling_step_size(settings.max_step)
        .instance_warmup_period(settings.warmup_seconds)
        .build()
}

pub(super) fn termination_protection(on: bool) -> ManagedTerminationProtection {
    if on {
        ManagedTerminationProtection::Enabled
    } else {
        ManagedTerminationProtection::Disabled
    }
}

pub(super) fn draining(on: bool) -> ManagedDraining {
    if on {
        ManagedDraining::Enabled
    } else {
        ManagedDraining::Disabled
    }
}

pub(super) fn settings_of(provider: &aws_sdk_ecs::types::AutoScalingGroupProvider) -> ProviderSettings {
    let scaling = provider.managed_scaling();
    ProviderSettings {
        scaling: scaling.and_then(|m| m.status()).is_some_and(|s| *s == ManagedScalingStatus::Enabled),
        target_capacity: scaling.and_then(|m| m.target_capacity()).unwrap_or(0),
        min_step: scaling.and_then(|m| m.minimum_scaling_step_size()).unwrap_or(0),
        max_step: scaling.and_then(|m| m.maximum_scaling_step_size()).unwrap_or(0),
        warmup_seconds: scaling.and_then(|m| m.instance_warmup_period()).unwrap_or(0),
        termination_protection: provider.managed_termination_protection()
            == Some(&ManagedTerminationProtection::Enabled),
        draining: provider.managed_draining() == Some(&ManagedDraining::Enabled),
    }
}
