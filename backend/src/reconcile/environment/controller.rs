//! The controller: its generated admin password (an SSM SecureString), its task definition (a new revision only
//! when what it says changes, found by a hash tag) and its ECS service (created, put back when changed out of
//! band, and followed until the task runs). A new revision waits for running builds first (`rollout`); a new
//! configuration alone is reloaded. Sets `ControllerReady`.

use std::collections::BTreeMap;

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

use super::capacity::change_event;
use super::conditions::{self, CONTROLLER_READY};
use super::rollout::{self, Gate};
use super::{ownership, store_failure, Pass, Progress};
use crate::aws::ecs::{ControllerService, ControllerTask};
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::java_opts::SETUP_WIZARD_OFF;
use crate::domain::object::{ConditionStatus, EventType};
use crate::domain::spec::ControllerPlacement;
use crate::environments::jenkins_config::{self, ADMIN_PASSWORD_VARIABLE, CASC_PATH, OIDC_SECRET_VARIABLE};
use crate::store::controller_tokens;
use sea_orm::DatabaseConnection;

/// The tag carrying the hash of what a task definition revision says.
pub const DEFINITION_HASH_TAG: &str = "butler:definition-hash";
/// Length of the generated admin password.
const ADMIN_PASSWORD_LENGTH: usize = 32;

/// The entry point wrapper: writes the generated JCasC and plugin list (passed in the environment) to a path
/// outside JENKINS_HOME, installs the plugins into the image's reference directory, then starts Jenkins as
/// the stock image would. No custom image is needed.
///
/// tini is `/usr/bin/tini` in the Debian images and `/sbin/tini` in the alpine and rhel ones
/// (jenkinsci/docker: debian/Dockerfile, alpine/hotspot/Dockerfile, rhel/Dockerfile), so the wrapper finds it.
///
/// When Butler serves the configuration (`BUTLER_CASC_URL`), JCasC fetches it with the controller's token, and the
/// same token enables JCasC's reload endpoint (`CASC_RELOAD_TOKEN`); otherwise the document comes in
/// `BUTLER_CASC_YAML` and is written to `CASC_JENKINS_CONFIG`.
pub(crate) const ENTRY_POINT_SCRIPT: &str = r#"set -eu
if [ -n "${BUTLER_CASC_URL:-}" ]; then
  export CASC_JENKINS_CONFIG="$BUTLER_CASC_URL?token=$BUTLER_CONTROLLER_TOKEN"
  export CASC_RELOAD_TOKEN="$BUTLER_CONTROLLER_TOKEN"
  unset BUTLER_CONTROLLER_TOKEN
else
  mkdir -p "$(dirname "$CASC_JENKINS_CONFIG")"
  printf '%s' "$BUTLER_CASC_YAML" > "$CASC_JENKINS_CONFIG"
  unset BUTLER_CASC_YAML
fi
printf '%s\n' $BUTLER_PLUGINS > /tmp/butler-plugins.txt
jenkins-plugin-cli --plugin-file /tmp/butler-plugins.txt
for tini in /usr/bin/tini /sbin/tini; do
  if [ -x "$tini" ]; then exec "$tini" -- /usr/local/bin/jenkins.sh; fi
done
echo "butler: no tini in this image (looked in /usr/bin and /sbin)" >&2
exit 127"#;

fn waiting(pass: &mut Pass, reason: &str, message: String) -> Progress {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, CONTROLLER_READY, ConditionStatus::False, reason, &message, generation, pass.now);
    Progress::Waiting(message)
}

fn config_error(error: impl std::fmt::Display) -> AwsError {
    AwsError {
        kind: AwsErrorKind::Invalid,
        operation: "butler:RenderJenkinsConfig",
        code: "JenkinsConfigInvalid".into(),
        message: error.to_string(),
    }
}

/// The JVM options: the spec's (checked against an allow-list at admission), with the setup wizard always off —
/// JCasC configures Jenkins, and an unlock screen would wait for a password nobody can read.
fn java_opts(spec: &str) -> String {
    if spec.split_whitespace().any(|option| option == SETUP_WIZARD_OFF) {
        spec.to_owned()
    } else {
        format!("{SETUP_WIZARD_OFF} {spec}").trim_end().to_owned()
    }
}

/// The JCasC document of this pass and its hash.
struct Configuration {
    hash: String,
    document: String,
}

/// The controller's task definition for this pass, and the configuration it runs with.
fn desired(pass: &Pass) -> Result<(ControllerTask, Configuration), AwsError> {
    let spec = &pass.object.spec.controller;
    let config = jenkins_config::deployed(&pass.object, &pass.status.outputs, &pass.profile).map_err(config_error)?;
    let configuration = Configuration { hash: short_hash(config.casc.as_bytes()), document: config.casc.clone() };
    let proxy = pass.profile.proxy();
    let namespace = &pass.profile.namespace_name;
    let mut java = java_opts(&spec.java_opts);
    for option in proxy.iter().flat_map(|proxy| proxy.java_options(namespace)) {
        java = format!("{java} {option}");
    }
    let mut environment = BTreeMap::from([
        ("JAVA_OPTS".to_owned(), java),
        ("TZ".to_owned(), spec.timezone.clone()),
        ("BUTLER_PLUGINS".to_owned(), config.plugins.join(" ")),
        // The credentials provider (and the secret source) find Secrets Manager in this region.
        ("AWS_REGION".to_owned(), pass.profile.region.clone()),
    ]);
    let mut secrets = BTreeMap::from([(ADMIN_PASSWORD_VARIABLE.to_owned(), pass.names.admin_password_parameter())]);
    match &pass.casc_url {
        // Served by Butler: the definition does not carry the document, so a new one needs no new revision.
        Some(url) => {
            environment.insert("BUTLER_CASC_URL".to_owned(), url.clone());
            secrets.insert("BUTLER_CONTROLLER_TOKEN".to_owned(), pass.names.controller_token_parameter());
        }
        None => {
            environment.insert("CASC_JENKINS_CONFIG".to_owned(), CASC_PATH.to_owned());
            environment.insert("BUTLER_CASC_YAML".to_owned(), config.casc);
        }
    }
    // git, curl and anything else the controller runs go out through the proxy too.
    environment.extend(proxy.iter().flat_map(|proxy| proxy.environment(namespace)));
    if pass.status.outputs.oidc_client_id.is_some() {
        secrets.insert(OIDC_SECRET_VARIABLE.to_owned(), pass.names.oidc_client_secret_parameter());
        // ECS reads a secret when a task starts: a rotated secret needs a new revision, which this makes.
        let version = pass.status.outputs.oidc_secret_version.unwrap_or_default();
        environment.insert("BUTLER_OIDC_SECRET_VERSION".to_owned(), version.to_string());
    }
    let task = ControllerTask {
        family: pass.names.controller_family(),
        image: spec.image.clone(),
        cpu: spec.cpu,
        memory: spec.memory,
        task_role: pass.names.controller_role(),
        execution_role: pass.names.execution_role(),
        file_system_id: pass.status.outputs.file_system_id.clone().unwrap_or_default(),
        access_point_id: pass.status.outputs.access_point_id.clone().unwrap_or_default(),
        log_group: pass.names.controller_log_group(),
        region: pass.profile.region.clone(),
        environment,
        secrets,
        entry_point: vec!["/bin/sh".to_owned(), "-c".to_owned(), ENTRY_POINT_SCRIPT.to_owned()],
        // Every jenkins/jenkins variant (Debian, alpine, rhel) carries curl. /login answers 200 once Jenkins is up
        // (and its configuration applied), whatever the security realm.
        health_check: vec![
            "CMD-SHELL".to_owned(),
            "curl -fsS -o /dev/null --max-time 4 http://localhost:8080/login || exit 1".to_owned(),
        ],
    };
    Ok((task, configuration))
}

/// Serves `configuration` to the controller from now on (when Butler serves it): before the controller is created,
/// rolled or reloaded, never while a change waits, so a restart meanwhile gets what its revision can run.
async fn serve(pass: &Pass, db: &DatabaseConnection, configuration: &Configuration) -> Result<(), AwsError> {
    if pass.casc_url.is_none() {
        return Ok(());
    }
    controller_tokens::serve(db, pass.object.metadata.uid, &configuration.hash, &configuration.document)
        .await
        .map_err(|e| store_failure("butler:ServeConfiguration", &e))
}

/// Goes back to the configuration served before (Jenkins refused the new one, or ECS rolled its revision back).
async fn restore_previous(pass: &Pass, db: &DatabaseConnection) -> Result<(), AwsError> {
    if pass.casc_url.is_none() {
        return Ok(());
    }
    controller_tokens::restore_previous(db, pass.object.metadata.uid)
        .await
        .map_err(|e| store_failure("butler:ServeConfiguration", &e))
}

/// A short, stable hash: 12 bytes of SHA-256, in hex.
fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(12).map(|byte| format!("{byte:02x}")).collect()
}

/// A short, stable hash of what a task definition says: equal hashes, no new revision.
pub(crate) fn definition_hash(task: &ControllerTask) -> String {
    short_hash(&serde_json::to_vec(task).unwrap_or_default())
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
            let known = pass.status.rollout.as_ref().is_some_and(|r| {
                r.phase == crate::domain::object::RolloutPhase::RolledBack && r.revision == task_definition
            });
            if new_revision && rollout::rolled_back(pass, &service, &task_definition) {
                if !known {
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
