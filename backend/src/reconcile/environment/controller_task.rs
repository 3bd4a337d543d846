//! The controller's task definition as the spec and the pass's outputs say it should be: the stock Jenkins image
//! with an entry point wrapper (JCasC and plugins passed in, or the configuration served by Butler), the JVM options,
//! the secrets ECS injects, and the health check; and the hashes that tell whether a revision says the same.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::Pass;
use crate::aws::ecs::ControllerTask;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::java_opts::SETUP_WIZARD_OFF;
use crate::environments::jenkins_config::{self, ADMIN_PASSWORD_VARIABLE, CASC_PATH, OIDC_SECRET_VARIABLE};

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
pub(super) struct Configuration {
    pub hash: String,
    pub document: String,
}

/// The controller's task definition for this pass, and the configuration it runs with.
pub(super) fn desired(pass: &Pass) -> Result<(ControllerTask, Configuration), AwsError> {
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

/// A short, stable hash: 12 bytes of SHA-256, in hex.
fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(12).map(|byte| format!("{byte:02x}")).collect()
}

/// A short, stable hash of what a task definition says: equal hashes, no new revision.
pub(crate) fn definition_hash(task: &ControllerTask) -> String {
    short_hash(&serde_json::to_vec(task).unwrap_or_default())
}
