//! The controller: its generated admin password (an SSM SecureString), its task definition (a new revision only
//! when what it says changes, found by a hash tag) and its ECS service (created, put back when changed out of
//! band, and followed until the task runs). A new revision waits for running builds first (`rollout`); a new
//! configuration alone is reloaded. Sets `ControllerReady`.

use rand::distr::{Alphanumeric, SampleString};
use sea_orm::DatabaseConnection;

use super::capacity::change_event;
use super::conditions::{self, CONTROLLER_READY};
use super::config_source::{restore_previous, serve};
use super::controller_task::{definition_hash, desired};
use super::rollout::{self, Gate};
use super::{ownership, Pass, Progress};
use crate::aws::ecs::{ControllerService, ControllerTask};
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType};
use crate::domain::spec::ControllerPlacement;

/// The tag carrying the hash of what a task definition revision says.
pub const DEFINITION_HASH_TAG: &str = "butler:definition-hash";
/// Length of the generated admin password.
const ADMIN_PASSWORD_LENGTH: usize = 32;

fn waiting(pass: &mut Pass, reason: &str, message: String) -> Progress {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, CONTROLLER_READY, ConditionStatus::False, reason, &message, generation, pass.now);
    Progress::Waiting(message)
}

async fn admin_password(pass: &mut Pass) -> Result<(), AwsError> {
    let parameter = pass.names.admin_password_parameter();
    if pass.made("adminPassword").is_some() {
        return Ok(());
    }
    // A first provisioning creates without looking (PutParameter without overwrite keeps a password that exists).
    if !pass.fresh && pass.aws.ssm.parameter_exists(&parameter).await? {
        return Ok(());
    }
    let password = Alphanumeric.sample_string(&mut rand::rng(), ADMIN_PASSWORD_LENGTH);
    match pass.aws.ssm.create_secret(&parameter, &password, &pass.tags()).await {
        Ok(()) => {
            pass.event(
                EventType::Normal,
                "AdminPasswordCreated",
                format!("generated the Jenkins admin password in SSM parameter {parameter}"),
            );
        }
        // An earlier pass made it: that password stays (Jenkins may already use it).
        Err(error) if error.kind == AwsErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    pass.record("adminPassword", parameter);
    Ok(())
}

/// The revision to run: the family's latest when it says what `task` says; else the one the service runs when
/// that does (a change withdrawn before it rolled needs no new revision and no restart); else a new one.
async fn task_definition(pass: &mut Pass, task: ControllerTask, running: Option<&str>) -> Result<String, AwsError> {
    // Registered by an earlier pass of this first provisioning, from the same spec and outputs.
    if let Some(arn) = pass.made("taskDefinition") {
        return Ok(arn);
    }
    let hash = definition_hash(&task);
    let mut foreign = None;
    let mut latest_arn = None;
    if let Some(latest) = pass.aws.ecs.latest_task_definition(&task.family).await? {
        let owner = latest.tags.get(crate::aws::tags::UID).map(String::as_str);
        if pass.names.scheme == crate::domain::aws_names::LEGACY_SCHEME {
            // A legacy family name may be another tenant's: refuse rather than register into it.
            ownership::require(pass, "task definition family", &task.family, owner)?;
        }
        if ownership::owns(pass, owner) && latest.tags.get(DEFINITION_HASH_TAG) == Some(&hash) {
            pass.record("taskDefinition", latest.arn.clone());
            return Ok(latest.arn);
        }
        // A current family name is this environment's alone: a revision someone else registered in it is drift,
        // never run; Butler registers its own above it.
        foreign = (!ownership::owns(pass, owner)).then_some(latest.arn.clone());
        latest_arn = Some(latest.arn);
    }
    if let Some(running) = running.filter(|running| foreign.is_none() && latest_arn.as_deref() != Some(*running)) {
        if let Some(revision) = pass.aws.ecs.latest_task_definition(running).await? {
            let owner = revision.tags.get(crate::aws::tags::UID).map(String::as_str);
            if ownership::owns(pass, owner) && revision.tags.get(DEFINITION_HASH_TAG) == Some(&hash) {
                return Ok(revision.arn);
            }
        }
    }
    let mut tags = pass.tags();
    tags.insert(DEFINITION_HASH_TAG.to_owned(), hash);
    let arn = pass.aws.ecs.register_controller_task(&task, &tags).await?;
    pass.event(EventType::Normal, "TaskDefinitionRegistered", format!("registered {arn}"));
    if let Some(foreign) = foreign {
        let message = format!("task definition {foreign} was not registered by Butler: {arn} registered above it");
        pass.event(EventType::Normal, "DriftRepaired", message);
    }
    pass.record("taskDefinition", arn.clone());
    Ok(arn)
}

/// Makes the controller match the spec.
pub async fn ensure(pass: &mut Pass, db: &DatabaseConnection) -> Result<Progress, AwsError> {
    let Some(groups) = pass.security_groups.clone() else {
        return Ok(waiting(pass, "WaitingForNetwork", "security groups are not known yet".to_owned()));
    };
    admin_password(pass).await?;
    let cluster = pass.names.cluster();
    let name = pass.names.controller_service();
    let Some(registry_arn) = pass.status.outputs.discovery_service_arn.clone() else {
        return Ok(waiting(pass, "WaitingForDiscovery", "the Cloud Map service is not known yet".to_owned()));
    };
    // A first provisioning creates the service without looking (its client token makes a retried create the same
    // service); once made, the look is the wait for its task.
    let known_absent = pass.fresh && pass.status.outputs.service_arn.is_none();
    let found = if known_absent {
        None
    } else {
        pass.aws.ecs.describe_services(&cluster, std::slice::from_ref(&name)).await?.into_iter().next()
    };
    let (task, configuration) = desired(pass)?;
    let config_hash = configuration.hash.clone();
    let running = found.as_ref().map(|service| service.task_definition.clone());
    let task_definition = task_definition(pass, task, running.as_deref()).await?;
    pass.status.outputs.task_definition_arn = Some(task_definition.clone());

    let desired = ControllerService {
        cluster: cluster.clone(),
        name: name.clone(),
        task_definition: task_definition.clone(),
        subnets: super::storage::subnets(pass),
        security_groups: vec![groups.controller.clone()],
        registry_arn,
        client_token: pass.object.metadata.uid.simple().to_string(),
        on_demand_only: pass.object.spec.controller.placement == ControllerPlacement::OnDemand,
        target_group: pass.status.outputs.target_group_arn.clone().filter(|_| pass.ingress.is_some()),
    };
    let service = match found {
        Some(service) => {
            let new_revision = service.task_definition != desired.task_definition;
            // ECS's circuit breaker took this revision back: the previous one runs, and stays until the spec changes.
            let rolled_back = if new_revision { rollout::rolled_back(pass, &service, &task_definition) } else { None };
            if let Some(first_seen) = rolled_back {
                if first_seen {
                    // The previous revision runs again: with the configuration it ran with.
                    restore_previous(pass, db).await?;
                    pass.status.outputs.configuration_hash = None;
                }
                pass.status.outputs.task_definition_arn = Some(service.task_definition.clone());
                pass.status.outputs.service_arn = Some(service.arn.clone());
                rollout::report_rolled_back(pass);
                return Ok(Progress::Done);
            }
            let differences = desired.differences(&service);
            if !differences.is_empty() {
                // A change that waited for builds in earlier passes is the spec's (those passes observed its
                // generation already, so `change_event` would call it drift).
                let waited = pass.status.rollout.as_ref().is_some_and(|r| {
                    r.phase == crate::domain::object::RolloutPhase::Draining && r.revision == task_definition
                });
                // A new revision restarts Jenkins: not before its running builds are done (or the drain timeout).
                if new_revision && rollout::live(&service) {
                    if let Gate::Wait(message) = rollout::drain(pass, &task_definition).await? {
                        pass.status.outputs.task_definition_arn = Some(service.task_definition.clone());
                        return Ok(waiting(pass, "Draining", message));
                    }
                }
                if new_revision {
                    serve(pass, db, &configuration).await?;
                }
                if let Err(error) = pass.aws.ecs.update_controller_service(&desired).await {
                    if new_revision {
                        // The previous revision still runs: a restart of it must get its own configuration.
                        restore_previous(pass, db).await?;
                    }
                    if !error.is_transient() {
                        // Nothing rolls until the spec or the profile changes: Jenkins must not stay in quiet-down.
                        rollout::withdraw(pass, "ECS refused the update: Jenkins leaves quiet-down").await?;
                    }
                    return Err(error);
                }
                if new_revision {
                    rollout::rolling(pass, &task_definition);
                    // The new task reads the configuration as it is now.
                    pass.status.outputs.configuration_hash = Some(config_hash.clone());
                }
                let message = format!("controller service {name}: {}", differences.join(", "));
                if waited {
                    pass.event(EventType::Normal, "ControllerUpdated", message);
                } else {
                    change_event(pass, "ControllerUpdated", message);
                }
                // The answer to the update is not the new state: look again on the next pass.
                return Ok(waiting(pass, "ControllerUpdating", "the controller service is being updated".to_owned()));
            }
            // Nothing to roll: a drain for a change since withdrawn ends.
            rollout::withdraw(pass, "the change that needed a restart was withdrawn").await?;
            service
        }
        None => {
            serve(pass, db, &configuration).await?;
            let created = pass.aws.ecs.create_controller_service(&desired, &pass.tags()).await?;
            pass.status.outputs.configuration_hash = Some(config_hash.clone());
            let reason =
                if pass.status.outputs.service_arn.is_some() { "DriftRepaired" } else { "ControllerServiceCreated" };
            pass.event(EventType::Normal, reason, format!("created the controller service {name} in {cluster}"));
            created
        }
    };
    pass.status.outputs.service_arn = Some(service.arn.clone());
    if service.running < 1 {
        // Not running: starting, or stopping over and over. ECS's own words (its recently stopped tasks) say
        // which. The deployment's failedTasks is no guide here: ECS stops counting once a deployment has had one
        // task running (API reference, Deployment.failedTasks), so a controller that ran once and now crashes
        // shows 0 there.
        // Only tasks of the current revision: those a deployment stopped on purpose ran the previous one.
        let mut stopped = pass.aws.ecs.stopped_tasks(&cluster, &name).await?;
        stopped.retain(|task| task.task_definition == task_definition);
        if let Some(task) = stopped.first() {
            let why = match task.exit_code {
                Some(code) => format!("{} (exit code {code})", task.reason),
                None => task.reason.clone(),
            };
            let message = format!(
                "the controller stopped{}: {why}; ECS starts it again (see the log group {})",
                if stopped.len() > 1 { format!(" {} times lately", stopped.len()) } else { String::new() },
                pass.names.controller_log_group()
            );
            return Ok(waiting(pass, "ControllerStopped", message));
        }
        return Ok(waiting(
            pass,
            "ControllerStarting",
            format!("waiting for the controller task ({} pending)", service.pending),
        ));
    }
    // Running is not answering: Ready waits for the deployment to finish, which takes the container's health check
    // (Jenkins serving /login) to pass.
    if service.rollout_state.as_deref() != Some("COMPLETED") {
        let state = service.rollout_reason.clone().unwrap_or_else(|| "in progress".to_owned());
        return Ok(waiting(
            pass,
            "JenkinsStarting",
            format!("the controller task runs; Jenkins is not answering yet ({state})"),
        ));
    }
    // Healthy on the spec's revision: a rollout is over.
    if let Some(done) = pass.status.rollout.take() {
        if done.phase == crate::domain::object::RolloutPhase::Rolling {
            pass.event(EventType::Normal, "RolloutCompleted", format!("the controller runs {task_definition}"));
        }
    }
    if pass.status.outputs.configuration_hash.as_deref() != Some(config_hash.as_str()) {
        if pass.casc_url.is_some() {
            serve(pass, db, &configuration).await?;
            if let Err(error) = rollout::reload(pass, &config_hash).await {
                if error.code == "ConfigurationRejected" {
                    // Jenkins keeps what it runs: a restart must get that too, not the refused document.
                    restore_previous(pass, db).await?;
                }
                return Err(error);
            }
        } else {
            // The document travels in the revision, which runs.
            pass.status.outputs.configuration_hash = Some(config_hash);
        }
    }
    let generation = pass.object.metadata.generation;
    conditions::set(
        &mut pass.status,
        CONTROLLER_READY,
        ConditionStatus::True,
        "Healthy",
        &format!("Jenkins answers its health check (task definition {task_definition})"),
        generation,
        pass.now,
    );
    Ok(Progress::Done)
}
