//! Changes that never kill a build. A change of the controller's task definition (image, plugins, cpu, memory…)
//! restarts Jenkins, so it first drains: Jenkins goes into quiet-down, and the change waits until no build runs or
//! `spec.controller.drainTimeoutSeconds` has passed. A revision whose tasks never become healthy is rolled back by
//! ECS's circuit breaker; Butler says so and does not push it again until the spec changes. A change of the
//! configuration alone is applied by a JCasC reload (`reload`), without a restart.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{conditions, config_source, Pass};
use crate::aws::ecs::Service;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType, Rollout, RolloutPhase};
use crate::jenkins::{ControllerError, Endpoint};

/// Whether a restart-needing change may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Gate {
    Go,
    Wait(String),
}

/// The controller as Butler reaches it: its HTTPS address when it has one, else its Cloud Map name.
async fn endpoint(pass: &Pass, with_reload_token: bool) -> Result<Endpoint, AwsError> {
    let url = match &pass.status.outputs.url {
        Some(url) if pass.ingress.is_some() => url.clone(),
        _ => format!("http://{}:8080/", pass.names.controller_dns(&pass.profile.namespace_name)),
    };
    let admin_password =
        pass.aws.ssm.read_secret(&pass.names.admin_password_parameter()).await?.map(SecretString::from);
    let reload_token = if with_reload_token { config_source::token(pass).await? } else { None };
    let environment = format!("{}/{}", pass.object.metadata.tenant, pass.object.metadata.name);
    Ok(Endpoint { environment, url, reload_token, admin_password })
}

fn minutes_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    ((deadline - now).num_seconds().max(0) + 59) / 60
}

/// Whether the controller runs healthy on its current revision: only then is there something to drain.
pub(super) fn live(service: &Service) -> bool {
    service.running >= 1 && service.rollout_state.as_deref() == Some("COMPLETED")
}

/// Drains before `revision` replaces the running controller: quiet-down once, then the count of running builds at
/// each pass, until none runs or the deadline passes. Jenkins not answering is waited out to the deadline too: a
/// build may still run where Butler cannot see it.
pub(super) async fn drain(pass: &mut Pass, revision: &str) -> Result<Gate, AwsError> {
    let timeout = chrono::Duration::seconds(i64::from(pass.object.spec.controller.drain_timeout_seconds));
    let now = pass.now;
    // A drain already going on (for this revision, or one the spec has changed since) keeps its deadline and its
    // quiet-down: a new spec meanwhile does not hold the change back longer.
    let current = pass.status.rollout.clone().filter(|r| r.phase == RolloutPhase::Draining);
    let starting = current.is_none();
    let mut rollout = match current {
        Some(draining) => Rollout { revision: revision.to_owned(), ..draining },
        None => Rollout {
            revision: revision.to_owned(),
            phase: RolloutPhase::Draining,
            since: now,
            deadline: Some(now + timeout),
            running_builds: None,
            message: String::new(),
        },
    };
    let deadline = rollout.deadline.unwrap_or(now);
    let jenkins = endpoint(pass, false).await?;
    let controllers = pass.controllers.clone();
    if starting {
        let message = format!(
            "Butler: a change of this environment (generation {}) restarts Jenkins once running builds finish",
            pass.object.metadata.generation
        );
        match controllers.quiet_down(&jenkins, &message).await {
            Ok(()) => pass.event(
                EventType::Normal,
                "DrainStarted",
                format!(
                    "Jenkins is in quiet-down: the change to {revision} waits for running builds, at most {} min",
                    timeout.num_minutes()
                ),
            ),
            Err(error) => pass.event(EventType::Warning, "QuietDownFailed", error.to_string()),
        }
    }
    let builds = controllers.running_builds(&jenkins).await;
    let gate = match builds {
        Ok(0) => {
            pass.event(EventType::Normal, "DrainFinished", format!("no build runs: rolling to {revision}"));
            Gate::Go
        }
        Ok(running) if now >= deadline => {
            let message = format!(
                "{running} build(s) still running after the drain timeout ({} s): rolling to {revision}",
                timeout.num_seconds()
            );
            pass.event(EventType::Warning, "DrainTimedOut", message);
            Gate::Go
        }
        Ok(running) => {
            rollout.running_builds = Some(running);
            let left = minutes_left(deadline, now);
            Gate::Wait(format!("draining: {running} build(s) running, {left} min left"))
        }
        Err(error) if now >= deadline => {
            let message = format!("the drain timeout passed and Jenkins does not say what runs ({error}): rolling");
            pass.event(EventType::Warning, "DrainTimedOut", message);
            Gate::Go
        }
        Err(error) => {
            rollout.running_builds = None;
            let left = minutes_left(deadline, now);
            Gate::Wait(format!("draining: {error}; the change rolls in {left} min at the latest"))
        }
    };
    // The record stays until `rolling` replaces it after the update: an update that fails is retried without a
    // second quiet-down or a new deadline.
    rollout.message = match &gate {
        Gate::Go => format!("rolling to {revision}"),
        Gate::Wait(message) => message.clone(),
    };
    pass.status.rollout = Some(rollout);
    Ok(gate)
}

/// A drain whose change will not roll (the spec was changed back, or ECS refused the update for good): Jenkins
/// leaves quiet-down, and the event says `why`.
pub(super) async fn withdraw(pass: &mut Pass, why: &str) -> Result<(), AwsError> {
    if pass.status.rollout.as_ref().is_none_or(|r| r.phase != RolloutPhase::Draining) {
        return Ok(());
    }
    let jenkins = endpoint(pass, false).await?;
    if let Err(error) = pass.controllers.cancel_quiet_down(&jenkins).await {
        pass.event(EventType::Warning, "QuietDownNotCancelled", error.to_string());
    }
    pass.status.rollout = None;
    pass.event(EventType::Normal, "DrainCancelled", why);
    Ok(())
}

/// Notes that the service was told to run `revision` (the rollout is followed from here).
pub(super) fn rolling(pass: &mut Pass, revision: &str) {
    pass.status.rollout = Some(Rollout {
        revision: revision.to_owned(),
        phase: RolloutPhase::Rolling,
        since: pass.now,
        deadline: None,
        running_builds: None,
        message: format!("ECS is replacing the controller with {revision}"),
    });
}

/// Whether ECS rolled `revision` back: a FAILED deployment of it, or the service running another revision while
/// Butler rolls this one. `Some(true)` the first time it is seen (recorded then: an event and the rollout's phase),
/// `Some(false)` after; None when it was not rolled back.
pub(super) fn rolled_back(pass: &mut Pass, service: &Service, revision: &str) -> Option<bool> {
    if let Some(rollout) = pass.status.rollout.as_ref().filter(|r| r.revision == revision) {
        if rollout.phase == RolloutPhase::RolledBack {
            return Some(false);
        }
    }
    let failed = service.failed_deployments.iter().find(|(definition, _)| definition == revision);
    let abandoned = pass.status.rollout.as_ref().is_some_and(|r| {
        r.revision == revision && r.phase == RolloutPhase::Rolling && service.task_definition != revision
    }) && service.rollout_state.as_deref() == Some("COMPLETED");
    if failed.is_none() && !abandoned {
        return None;
    }
    let why = failed.map_or_else(|| "its deployment did not complete".to_owned(), |(_, reason)| reason.clone());
    let message = format!(
        "{revision} never became healthy ({why}); ECS rolled the controller back to {}, which runs. Butler does not \
         try this revision again: change the spec to roll forward",
        service.task_definition
    );
    pass.event(EventType::Warning, "RolledBack", message.clone());
    pass.status.rollout = Some(Rollout {
        revision: revision.to_owned(),
        phase: RolloutPhase::RolledBack,
        since: pass.now,
        deadline: None,
        running_builds: None,
        message,
    });
    Some(true)
}

/// Says in `ControllerReady` that the spec's revision was rolled back.
pub(super) fn report_rolled_back(pass: &mut Pass) {
    let message = pass.status.rollout.as_ref().map(|r| r.message.clone()).unwrap_or_default();
    let generation = pass.object.metadata.generation;
    conditions::set(
        &mut pass.status,
        conditions::CONTROLLER_READY,
        ConditionStatus::False,
        "RolledBack",
        &message,
        generation,
        pass.now,
    );
}

/// Applies a configuration the running controller has not: a JCasC reload when Jenkins reads it from Butler.
/// A configuration Jenkins rejects is a permanent error (it would also stop the next start); no answer is retried.
pub(super) async fn reload(pass: &mut Pass, hash: &str) -> Result<(), AwsError> {
    let jenkins = endpoint(pass, true).await?;
    match pass.controllers.reload_configuration(&jenkins).await {
        Ok(()) => {
            pass.status.outputs.configuration_hash = Some(hash.to_owned());
            pass.event(
                EventType::Normal,
                "ConfigurationReloaded",
                "Jenkins reloaded its configuration (JCasC) without a restart",
            );
            Ok(())
        }
        Err(error @ ControllerError::Unreachable { .. }) => Err(AwsError {
            kind: AwsErrorKind::Transient,
            operation: "jenkins:ReloadConfiguration",
            code: "ReloadPending".into(),
            message: error.to_string(),
        }),
        // Jenkins' own words stay in its log (editors read it): they may quote a value the configuration resolved,
        // and Ready and events are for viewers too.
        Err(ControllerError::Refused { .. }) => Err(AwsError {
            kind: AwsErrorKind::Invalid,
            operation: "jenkins:ReloadConfiguration",
            code: "ConfigurationRejected".into(),
            message: "Jenkins refused the new configuration and keeps the one it runs; why is in the controller log \
                      (GET …/controller-log)"
                .into(),
        }),
    }
}
