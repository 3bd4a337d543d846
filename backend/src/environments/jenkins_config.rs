//! The controller's Jenkins configuration, generated: JCasC YAML (no builds on the controller, agent port
//! 50000, an admin whose password comes from the environment, never from this file, one amazon-ecs cloud
//! whose `jenkinsUrl` and `tunnel` name the Cloud Map address, the credentials provider on the environment's own
//! Secrets Manager prefix, the seed jobs) with the team's own configuration merged under it, and the plugin list.

use serde_json::{json, Value};

use crate::domain::aws_names::Names;
use crate::domain::object::{EnvironmentOutputs, JenkinsEnvironment};
use crate::domain::{seed_jobs, team_config};
use crate::store::cloud_profiles::ProfileRow;

/// Where JCasC is read from in the controller container: outside JENKINS_HOME, so a new configuration is
/// always the one applied (files under JENKINS_HOME persist on EFS and would shadow it), and somewhere the
/// image's user (uid 1000) may write, since the entry point wrapper writes it at start.
pub(crate) const CASC_PATH: &str = "/tmp/butler/casc/jenkins.yaml";
/// The environment variable the admin password comes from (a generated secret, injected by ECS).
pub(crate) const ADMIN_PASSWORD_VARIABLE: &str = "JENKINS_ADMIN_PASSWORD";
/// The environment variable the sign-in client secret comes from (likewise).
pub(crate) const OIDC_SECRET_VARIABLE: &str = "BUTLER_OIDC_CLIENT_SECRET";
/// The plugins sign-in with Butler adds: the OpenID Connect realm, and workflow-cps, which defines `Run/Replay`.
pub(crate) const SIGN_IN_PLUGINS: [&str; 2] = ["oic-auth", "workflow-cps"];
/// What each tenant role may do in Jenkins (matrix-auth permission ids, `<group>/<permission>`).
pub(crate) const ROLE_PERMISSIONS: [(&str, &[&str]); 3] = [
    ("admin", &["Overall/Administer"]),
    (
        "editor",
        &[
            "Overall/Read",
            "Job/Read",
            "Job/Build",
            "Job/Cancel",
            "Job/Configure",
            "Job/Create",
            "Job/Delete",
            "Job/Workspace",
            "Run/Replay",
            "View/Read",
        ],
    ),
    ("viewer", &["Overall/Read", "Job/Read"]),
];
/// Minutes an idle agent is kept before the plugin stops it (`retentionTimeout` is in minutes).
const AGENT_RETENTION_MINUTES: u32 = 5;
/// The plugins behind what the generated document uses: JCasC itself, the `ecs` cloud (amazon-ecs) and
/// `globalMatrix` (matrix-auth). They are installed whatever the spec's list says; a version the spec pins wins.
pub(crate) const GENERATOR_PLUGINS: [&str; 3] = ["configuration-as-code", "amazon-ecs", "matrix-auth"];
/// Seconds the plugin waits for an agent task to connect.
const AGENT_CONNECT_TIMEOUT_SECONDS: u32 = 900;
/// Credentials come from the environment's Secrets Manager prefix: always installed, so adding the first
/// credential is a reload, not a restart.
pub(crate) const CREDENTIALS_PLUGIN: &str = "aws-secrets-manager-credentials-provider";
/// What seed jobs use: job-dsl (the `jobs` root and the `dsl` step) and git (their checkout).
pub(crate) const SEED_JOB_PLUGINS: [&str; 2] = ["job-dsl", "git"];
/// Resolves `${<credential>}` in the team's configuration from Secrets Manager (a JCasC secret source).
pub(crate) const SECRET_SOURCE_PLUGIN: &str = "aws-secrets-manager-secret-source";

/// Why the configuration could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the generated JCasC could not be written: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// The team's document (admission checks it first, so this means it was stored before a rule existed).
    #[error("spec.jenkins.configurationAsCode: {0}")]
    Team(String),
}

/// The generated configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsConfig {
    /// The JCasC document, YAML.
    pub casc: String,
    /// `plugins.txt` lines for jenkins-plugin-cli.
    pub plugins: Vec<String>,
    /// Where the controller reads `casc`.
    pub casc_path: &'static str,
}

/// The configuration as the reconciler deploys it for `object` with these outputs: the one renderer the
/// reconciler, `GET …/jenkins-config` and the environment page share, so the three never differ.
pub fn deployed(
    object: &JenkinsEnvironment,
    outputs: &EnvironmentOutputs,
    profile: &ProfileRow,
) -> Result<JenkinsConfig, RenderError> {
    let sign_in = match (&outputs.oidc_issuer, &outputs.oidc_client_id) {
        (Some(issuer), Some(client)) => Some(SignIn { issuer, client_id: client }),
        _ => None,
    };
    render(object, profile, outputs.cluster_arn.as_deref(), outputs.agents_security_group_id.as_deref(), sign_in)
}

/// Sign-in with Butler: the provider and the environment's client there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignIn<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
}

/// The security realm and the authorization matrix. With sign-in: the `oic` realm on Butler's discovery URL
/// (PKCE, the person's Butler id as user name, `groups` as authorities), the local `admin` kept as the plugin's
/// escape hatch with the generated password, and each tenant role's group mapped to its permissions. Without:
/// the local admin alone, and signed-in users read.
fn security(object: &JenkinsEnvironment, sign_in: Option<SignIn<'_>>) -> (Value, Value) {
    let admin_password = format!("${{{ADMIN_PASSWORD_VARIABLE}}}");
    let Some(sign_in) = sign_in else {
        let realm =
            json!({ "local": { "allowsSignup": false, "users": [{ "id": "admin", "password": admin_password }] } });
        // Only the admin administers; signed-in users read. Never "every signed-in user is an admin".
        let matrix = json!({ "globalMatrix": { "entries": [
            { "user": { "name": "admin", "permissions": ["Overall/Administer"] } },
            { "group": { "name": "authenticated", "permissions": ["Overall/Read"] } }
        ] } });
        return (realm, matrix);
    };
    let realm = json!({ "oic": {
        "clientId": sign_in.client_id,
        "clientSecret": format!("${{{OIDC_SECRET_VARIABLE}}}"),
        "serverConfiguration": { "wellKnown": {
            "wellKnownOpenIDConfigurationUrl": format!("{}/.well-known/openid-configuration", sign_in.issuer),
            "scopesOverride": "openid profile email groups"
        } },
        "userNameField": "email",
        "fullNameFieldName": "name",
        "emailFieldName": "email",
        "groupsFieldName": "groups",
        // Signing out of Jenkins does not sign the person out of Butler.
        "logoutFromOpenidProvider": false,
        "properties": [
            "pkce",
            { "escapeHatch": { "username": "admin", "secret": admin_password } }
        ]
    } });
    let tenant = &object.metadata.tenant;
    let mut entries = vec![json!({ "user": { "name": "admin", "permissions": ["Overall/Administer"] } })];
    for (role, permissions) in ROLE_PERMISSIONS {
        let group = crate::domain::oidc::group(tenant, role);
        entries.push(json!({ "group": { "name": group, "permissions": permissions } }));
    }
    (realm, json!({ "globalMatrix": { "entries": entries } }))
}

/// Renders the configuration. `cluster_arn` is the ECS cluster once known (the plugin wants an ARN); until
/// then the cluster's name stands in. `agent_security_group` likewise once the group exists.
pub(crate) fn render(
    object: &JenkinsEnvironment,
    profile: &ProfileRow,
    cluster_arn: Option<&str>,
    agent_security_group: Option<&str>,
    sign_in: Option<SignIn<'_>>,
) -> Result<JenkinsConfig, RenderError> {
    let (realm, matrix) = security(object, sign_in);
    let names = Names::of(object);
    let dns = names.controller_dns(&profile.namespace_name);
    let location = match profile.ingress() {
        Some(ingress) => ingress.url(&object.metadata.tenant, &object.metadata.name),
        None => format!("http://{dns}:8080/"),
    };
    // Full role ARNs: the plugin reuses a task definition revision only when the template's role equals the ARN
    // ECS reports (ECSService.registerTemplate compares strings); a bare name would register a revision per agent.
    // The account and partition come from the cluster's ARN; until it is known (a preview) names stand in.
    let role_arn = |name: String| match cluster_arn.and_then(arn_account) {
        Some((partition, account)) => format!("arn:{partition}:iam::{account}:role/{name}"),
        None => name,
    };
    let subnets = &profile.subnet_ids.0;
    let templates: Vec<Value> = object
        .spec
        .agents
        .templates
        .iter()
        .map(|template| {
            let mut entry = json!({
                "templateName": template.name,
                "label": template.label,
                "image": template.image,
                "launchType": "EC2",
                "networkMode": "awsvpc",
                "cpu": template.cpu,
                "memory": template.memory,
                "remoteFSRoot": "/home/jenkins",
                "taskrole": role_arn(names.agent_role()),
                "executionRole": role_arn(names.execution_role()),
                "logDriver": "awslogs",
                "logDriverOptions": [
                    { "name": "awslogs-group", "value": names.agents_log_group() },
                    { "name": "awslogs-region", "value": profile.region },
                    { "name": "awslogs-stream-prefix", "value": template.name }
                ],
                "subnets": subnets.join(","),
                "capacityProviderStrategies": [{ "provider": names.capacity_provider(), "base": 0, "weight": 1 }]
            });
            if let Some(group) = agent_security_group {
                entry["securityGroups"] = json!(group);
            }
            entry
        })
        .collect();
    let document = json!({
        "jenkins": {
            "systemMessage": format!(
                "Managed by Butler ({}/{}): changes made here are replaced by the environment's spec.",
                object.metadata.tenant, object.metadata.name
            ),
            "numExecutors": 0,
            "slaveAgentPort": 50000,
            "securityRealm": realm,
            "authorizationStrategy": matrix,
            "clouds": [{
                "ecs": {
                    "name": names.agent_family_prefix(),
                    "credentialsId": "",
                    "cluster": cluster_arn.map(str::to_owned).unwrap_or_else(|| names.cluster()),
                    "regionName": profile.region,
                    "jenkinsUrl": format!("http://{dns}:8080/"),
                    "tunnel": format!("{dns}:50000"),
                    "numExecutors": 1,
                    "maxAgents": object.spec.agents.max_agents,
                    "retentionTimeout": AGENT_RETENTION_MINUTES,
                    "slaveTimeoutInSeconds": AGENT_CONNECT_TIMEOUT_SECONDS,
                    "templates": templates
                }
            }]
        },
        // People reach Jenkins at its HTTPS address when the profile has ingress (links in mails, redirects after
        // sign-in); agents keep the Cloud Map name above (an ALB cannot carry the agent port).
        "unclassified": { "location": { "url": location } }
    });
    let mut document = document;
    if let Some((proxy, (host, port))) = profile.proxy().and_then(|proxy| proxy.endpoint().map(|end| (proxy, end))) {
        // Jenkins' own proxy setting (hudson.ProxyConfiguration): the update center and the amazon-ecs plugin's
        // AWS client use it; direct hosts one per line, as its form takes them.
        document["jenkins"]["proxy"] = json!({
            "name": host,
            "port": port,
            "noProxyHost": proxy.direct_hosts(&profile.namespace_name).join("\n"),
        });
    }
    let secrets = names.secrets_prefix();
    // The credentials provider lists only the environment's own secrets and shows them by the id the team gave
    // (keys: aws-secrets-manager-credentials-provider 376939a, docs/README.md and config/*.yml tests).
    document["unclassified"]["awsCredentialsProvider"] = json!({
        "listSecrets": { "filters": [{ "key": "name", "values": [secrets] }] },
        "transformations": { "name": { "removePrefix": { "prefix": secrets } } }
    });
    let seeds = &object.spec.jenkins.seed_jobs;
    if !seeds.is_empty() {
        let label = object.spec.agents.templates.first().map_or("ecs-agents", |t| t.label.as_str());
        document["jobs"] = json!([{ "script": seed_jobs::script(seeds, label) }]);
        // Seed scripts come from the team's repositories and run unsandboxed: with script security on, every
        // changed script would wait for an administrator's approval, and the sandbox needs the build to run as a
        // user (Authorize Project). Whoever can push to a seed repository administers this Jenkins (README).
        document["security"] = json!({ "globalJobDslSecurityConfiguration": { "useScriptSecurity": false } });
    }
    let mut team = team_config::parse(&object.spec.jenkins.configuration_as_code)
        .map_err(|error| RenderError::Team(error.message))?;
    let interpolates = !team_config::referenced_credentials(&team).is_empty();
    team_config::resolve_credentials(&mut team, &secrets);
    if let Some(mine) = document.as_object_mut() {
        team_config::merge_under(mine, team)
            .map_err(|path| RenderError::Team(format!("{path} is set by Butler and cannot be overridden")))?;
    }
    let plugins = plugins(object, sign_in.is_some(), interpolates);
    Ok(JenkinsConfig { casc: serde_yaml_ng::to_string(&document)?, plugins, casc_path: CASC_PATH })
}

/// The partition and account of an ARN (`arn:<partition>:<service>:<region>:<account>:…`).
fn arn_account(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (_, partition, _, _, account) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (!account.is_empty() && account.bytes().all(|b| b.is_ascii_digit())).then_some((partition, account))
}

/// The spec's plugins, plus any the generated document needs that the spec left out.
fn plugins(object: &JenkinsEnvironment, sign_in: bool, interpolates: bool) -> Vec<String> {
    let mut plugins = object.spec.controller.plugins.clone();
    let mut needs: Vec<&str> = GENERATOR_PLUGINS.to_vec();
    needs.push(CREDENTIALS_PLUGIN);
    if sign_in {
        needs.extend(SIGN_IN_PLUGINS);
    }
    if !object.spec.jenkins.seed_jobs.is_empty() {
        needs.extend(SEED_JOB_PLUGINS);
    }
    if interpolates {
        needs.push(SECRET_SOURCE_PLUGIN);
    }
    for needed in needs {
        if !plugins.iter().any(|p| p.split(':').next() == Some(needed)) {
            plugins.push(needed.to_owned());
        }
    }
    plugins
}

#[cfg(test)]
mod tests {
    //! Every key of the generated JCasC against the configuration model of the plugin it belongs to. Jenkins
    //! cannot run here, so the lists below are taken from the upstream sources, at these commits:
    //! - jenkinsci/amazon-ecs-plugin 4d48ab37 (2025-04-17): `ECSCloud` (@DataBoundConstructor name,
    //!   credentialsId, assumedRoleArn, cluster; @DataBoundSetters), `ECSTaskTemplate` (constructor parameters
    //!   and setters, ECSTaskTemplate.java:356-396 and :461-520), `CapacityProviderStrategyEntry(provider, base,
    //!   weight)`, `LogDriverOption(name, value)`. The descriptor has no @Symbol: JCasC names it `ecs`.
    //! - jenkinsci/configuration-as-code-plugin 58646eb6 (2026-08-17): the `jenkins` root attributes used
    //!   (demos/jenkins, test-harness Primitives.yml), `local` security realm (demos/embedded-userdatabase),
    //!   `unclassified.location`.
    //! - matrix-auth >= 3.2 (`globalMatrix.entries[user|group{name, permissions}]`, JCasC demos/matrix-auth);
    //!   jenkinsci/matrix-auth-plugin 56ab385a: `DefinitionEntry` (exactly one of user/group/userOrGroup), permission
    //!   ids `<group>/<name>`; `Run/Replay` is defined by workflow-cps (`ReplayAction.REPLAY`).
    //! - jenkinsci/oic-auth-plugin f202e422 (4.715, 2026-07-17): `OicSecurityRealm` (JCasC `oic`; constructor
    //!   clientId, clientSecret, serverConfiguration, disableSslVerification, userIdStrategy, groupIdStrategy;
    //!   setters userNameField, fullNameFieldName, emailFieldName, groupsFieldName, logoutFromOpenidProvider,
    //!   postLogoutRedirectUrl, rootURLFromRequest, sendScopesInTokenRequest, properties…),
    //!   `OicServerWellKnownConfiguration` (@Symbol wellKnown: wellKnownOpenIDConfigurationUrl, scopesOverride),
    //!   the properties (since 4.600) `pkce` (no arguments) and `escapeHatch(username, group, secret)`, as in
    //!   src/test/resources/org/jenkinsci/plugins/oic/ConfigurationAsCode.yml.

    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::object::{JenkinsEnvironmentStatus, ObjectMeta};

    const ECS_CLOUD: &[&str] = &[
        "name",
        "credentialsId",
        "assumedRoleArn",
        "cluster",
        "templates",
        "regionName",
        "tunnel",
        "allowedOverrides",
        "slaveTimeoutInSeconds",
        "retainAgents",
        "retentionTimeout",
        "taskPollingIntervalInSeconds",
        "maxCpu",
        "numExecutors",
        "maxMemory",
        "maxMemoryReservation",
        "maxAgents",
        "jenkinsUrl",
    ];
    const ECS_TASK_TEMPLATE: &[&str] = &[
        "templateName",
        "label",
        "agentContainerName",
        "taskDefinitionOverride",
        "dynamicTaskDefinitionOverride",
        "image",
        "repositoryCredentials",
        "launchType",
        "operatingSystemFamily",
        "cpuArchitecture",
        "defaultCapacityProvider",
        "capacityProviderStrategies",
        "networkMode",
        "remoteFSRoot",
        "uniqueRemoteFSRoot",
        "platformVersion",
        "memory",
        "memoryReservation",
        "cpu",
        "ephemeralStorageSizeInGiB",
        "subnets",
        "securityGroups",
        "assignPublicIp",
        "privileged",
        "containerUser",
        "kernelCapabilities",
        "logDriverOptions",
        "tags",
        "environments",
        "extraHosts",
        "mountPoints",
        "efsMountPoints",
        "portMappings",
        "ulimits",
        "executionRole",
        "placementStrategies",
        "taskrole",
        "inheritFrom",
        "sharedMemorySize",
        "enableExecuteCommand",
        // setters
        "dynamicTaskDefinition",
        "entrypoint",
        "jvmArgs",
        "logDriver",
        "dnsSearchDomains",
    ];
    const CAPACITY_PROVIDER_ENTRY: &[&str] = &["provider", "base", "weight"];
    const LOG_DRIVER_OPTION: &[&str] = &["name", "value"];
    const JENKINS_ROOT: &[&str] = &[
        "systemMessage",
        "numExecutors",
        "slaveAgentPort",
        "securityRealm",
        "authorizationStrategy",
        "clouds",
        "proxy",
    ];
    /// hudson.ProxyConfiguration (jenkinsci/jenkins core): `@DataBoundConstructor ProxyConfiguration(String name,
    /// int port)` and the setters of userName, secretPassword, noProxyHost, testUrl (also the JCasC demo
    /// demos/proxy/README.md of configuration-as-code-plugin).
    const PROXY_CONFIGURATION: &[&str] = &["name", "port", "userName", "secretPassword", "noProxyHost", "testUrl"];

    fn keys(value: &Value) -> BTreeSet<String> {
        value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    fn assert_within(what: &str, value: &Value, allowed: &[&str]) {
        let unknown: Vec<String> = keys(value).into_iter().filter(|k| !allowed.contains(&k.as_str())).collect();
        assert!(unknown.is_empty(), "{what} has keys its plugin does not know: {unknown:?}");
    }

    fn environment() -> JenkinsEnvironment {
        let uid = uuid::Uuid::new_v4();
        JenkinsEnvironment {
            api_version: crate::domain::API_VERSION.to_owned(),
            kind: crate::domain::KIND.to_owned(),
            metadata: ObjectMeta {
                tenant: "payments".into(),
                name: "ci".into(),
                uid,
                generation: 1,
                resource_version: "1".into(),
                labels: Default::default(),
                annotations: Default::default(),
                finalizers: vec![],
                creation_timestamp: chrono::Utc::now(),
                deletion_timestamp: None,
            },
            spec: Default::default(),
            status: JenkinsEnvironmentStatus {
                aws_names: Some(Names::current("payments", "ci", &uid)),
                ..Default::default()
            },
        }
    }

    fn profile() -> ProfileRow {
        ProfileRow {
            name: "default".into(),
            region: "eu-west-1".into(),
            vpc_id: "vpc-0123456789abcdef0".into(),
            subnet_ids: crate::store::cloud_profiles::SubnetIds(vec![
                "subnet-0123456789abcdef0".into(),
                "subnet-0123456789abcdef1".into(),
            ]),
            role_arn: None,
            ami_id: None,
            namespace_name: "jenkins.local".into(),
            namespace_id: None,
            guardrails: json!({}),
            egress: None,
            proxy: None,
            ingress: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn every_generated_key_is_one_its_plugin_declares() {
        let mut object = environment();
        // Even a spec that dropped matrix-auth gets it: the document uses globalMatrix.
        object.spec.controller.plugins.retain(|p| p != "matrix-auth");
        // A profile with a proxy, so Jenkins' proxy block is generated too.
        let mut with_proxy = profile();
        with_proxy.proxy = Some(json!({ "url": "http://proxy.corp.example:3128", "noProxy": ["*.corp.example"] }));
        let config =
            render(&object, &with_proxy, Some("arn:aws:ecs:eu-west-1:1:cluster/x"), Some("sg-1"), None).expect("yaml");
        let document: Value = serde_yaml_ng::from_str(&config.casc).expect("parses");
        assert_within("the document", &document, &["jenkins", "unclassified"]);
        let jenkins = &document["jenkins"];
        assert_within("jenkins", jenkins, JENKINS_ROOT);
        assert_within("proxy", &jenkins["proxy"], PROXY_CONFIGURATION);
        assert_eq!(jenkins["proxy"]["name"], "proxy.corp.example");
        assert_eq!(jenkins["proxy"]["port"], 3128);
        let direct = jenkins["proxy"]["noProxyHost"].as_str().expect("direct hosts");
        assert!(direct.lines().any(|h| h == "169.254.170.2") && direct.lines().any(|h| h == "*.corp.example"));
        assert_within("securityRealm", &jenkins["securityRealm"], &["local"]);
        assert_within("local", &jenkins["securityRealm"]["local"], &["allowsSignup", "users"]);
        for user in jenkins["securityRealm"]["local"]["users"].as_array().expect("users") {
            assert_within("local.users[]", user, &["id", "password"]);
        }
        assert_within("authorizationStrategy", &jenkins["authorizationStrategy"], &["globalMatrix"]);
        for entry in jenkins["authorizationStrategy"]["globalMatrix"]["entries"].as_array().expect("entries") {
            assert_within("globalMatrix.entries[]", entry, &["user", "group"]);
            for (_, who) in entry.as_object().expect("entry") {
                assert_within("matrix entry", who, &["name", "permissions"]);
            }
        }
        for cloud in jenkins["clouds"].as_array().expect("clouds") {
            assert_within("clouds[]", cloud, &["ecs"]);
            let ecs = &cloud["ecs"];
            assert_within("ecs", ecs, ECS_CLOUD);
            for template in ecs["templates"].as_array().expect("templates") {
                assert_within("ecs.templates[]", template, ECS_TASK_TEMPLATE);
                for entry in template["capacityProviderStrategies"].as_array().expect("strategies") {
                    assert_within("capacityProviderStrategies[]", entry, CAPACITY_PROVIDER_ENTRY);
                }
                for option in template["logDriverOptions"].as_array().expect("options") {
                    assert_within("logDriverOptions[]", option, LOG_DRIVER_OPTION);
                }
                assert!(template["securityGroups"].is_string(), "the plugin splits securityGroups: it must be set");
                for role in ["taskrole", "executionRole"] {
                    let arn = template[role].as_str().expect("role");
                    assert!(arn.starts_with("arn:aws:iam::1:role/butler-"), "{role} must be a full ARN: {arn}");
                }
            }
        }
        assert_within("unclassified", &document["unclassified"], &["location", "awsCredentialsProvider"]);
        let provider = &document["unclassified"]["awsCredentialsProvider"];
        assert_within("awsCredentialsProvider", provider, CREDENTIALS_PROVIDER);
        assert_within("listSecrets", &provider["listSecrets"], &["filters"]);
        for filter in provider["listSecrets"]["filters"].as_array().expect("filters") {
            assert_within("filters[]", filter, &["key", "values"]);
            assert!(
                ["name", "tag-key", "tag-value", "description", "all"].contains(&filter["key"].as_str().unwrap_or(""))
            );
        }
        assert_within("transformations", &provider["transformations"], &["name", "description"]);
        assert_within(
            "transformations.name",
            &provider["transformations"]["name"],
            &["removePrefix", "removePrefixes"],
        );
        assert_within("removePrefix", &provider["transformations"]["name"]["removePrefix"], &["prefix"]);
        assert!(config.plugins.iter().any(|p| p == CREDENTIALS_PLUGIN));
        assert_within("location", &document["unclassified"]["location"], &["url", "adminAddress"]);
        // The plugin behind each symbol used is installed.
        for needed in GENERATOR_PLUGINS {
            assert!(config.plugins.iter().any(|p| p == needed), "{needed} missing from {:?}", config.plugins);
        }
    }

    /// aws-secrets-manager-credentials-provider 376939a, `config/PluginConfiguration` (@Symbol
    /// awsCredentialsProvider): cache, client, listSecrets, transformations (docs/README.md).
    const CREDENTIALS_PROVIDER: &[&str] = &["cache", "client", "listSecrets", "transformations"];
    /// job-dsl aac2bedf `SeedJobConfigurator` (root `jobs`): each entry one of script, file, url (and providedEnv).
    const JOBS_ENTRY: &[&str] = &["script", "file", "url", "providedEnv"];
    /// job-dsl `GlobalJobDslSecurityConfiguration` (JCasC `security.globalJobDslSecurityConfiguration`).
    const JOB_DSL_SECURITY: &[&str] = &["useScriptSecurity"];

    #[test]
    fn seed_jobs_and_the_team_configuration_use_only_keys_their_plugins_declare() {
        use crate::domain::spec::SeedJob;
        let mut object = environment();
        object.spec.jenkins.seed_jobs = vec![
            SeedJob { name: "web".into(), repository: "https://git.example.com/a/b.git".into(), ..SeedJob::default() },
            SeedJob {
                name: "ops".into(),
                repository: "git@git.example.com:a/c.git".into(),
                on_push: true,
                ..SeedJob::default()
            },
        ];
        object.spec.jenkins.configuration_as_code = "jenkins:\n  mode: EXCLUSIVE\ntool:\n  x: \"${token}\"\n".into();
        let config = render(&object, &profile(), None, None, None).expect("yaml");
        let document: Value = serde_yaml_ng::from_str(&config.casc).expect("parses");
        assert_within("the document", &document, &["jenkins", "unclassified", "jobs", "security", "tool"]);
        for entry in document["jobs"].as_array().expect("jobs") {
            assert_within("jobs[]", entry, JOBS_ENTRY);
        }
        assert_within("security", &document["security"], &["globalJobDslSecurityConfiguration"]);
        assert_within("job-dsl security", &document["security"]["globalJobDslSecurityConfiguration"], JOB_DSL_SECURITY);
        assert_eq!(document["jenkins"]["mode"], "EXCLUSIVE", "the team's key, merged");
        assert_eq!(document["jenkins"]["numExecutors"], 0, "Butler's, untouched");
        assert_eq!(document["tool"]["x"], "${butler/payments/ci/token}", "a credential reference, to its own secret");
        for needed in SEED_JOB_PLUGINS.iter().chain(&[SECRET_SOURCE_PLUGIN, CREDENTIALS_PLUGIN]) {
            assert!(config.plugins.iter().any(|p| p == needed), "{needed} missing from {:?}", config.plugins);
        }
    }

    const OIC_SECURITY_REALM: &[&str] = &[
        "clientId",
        "clientSecret",
        "serverConfiguration",
        "disableSslVerification",
        "userIdStrategy",
        "groupIdStrategy",
        "userNameField",
        "fullNameFieldName",
        "emailFieldName",
        "groupsFieldName",
        "tokenFieldToCheckKey",
        "tokenFieldToCheckValue",
        "logoutFromOpenidProvider",
        "postLogoutRedirectUrl",
        "rootURLFromRequest",
        "sendScopesInTokenRequest",
        "tokenExpirationCheckDisabled",
        "allowTokenAccessWithoutOicSession",
        "properties",
    ];
    const OIC_WELL_KNOWN: &[&str] = &["wellKnownOpenIDConfigurationUrl", "scopesOverride"];
    const OIC_ESCAPE_HATCH: &[&str] = &["username", "group", "secret"];

    #[test]
    fn sign_in_with_butler_uses_only_keys_the_oic_and_matrix_plugins_declare() {
        let object = environment();
        let sign_in = SignIn { issuer: "https://butler.example.com", client_id: "env-0123" };
        let config = render(&object, &profile(), None, None, Some(sign_in)).expect("yaml");
        let document: Value = serde_yaml_ng::from_str(&config.casc).expect("parses");
        let realm = &document["jenkins"]["securityRealm"];
        assert_within("securityRealm", realm, &["oic"]);
        let oic = &realm["oic"];
        assert_within("oic", oic, OIC_SECURITY_REALM);
        assert_eq!(oic["clientId"], "env-0123");
        assert_eq!(
            oic["clientSecret"],
            format!("${{{OIDC_SECRET_VARIABLE}}}"),
            "the secret comes from ECS, not the file"
        );
        assert_within("serverConfiguration", &oic["serverConfiguration"], &["wellKnown"]);
        let well_known = &oic["serverConfiguration"]["wellKnown"];
        assert_within("wellKnown", well_known, OIC_WELL_KNOWN);
        assert_eq!(
            well_known["wellKnownOpenIDConfigurationUrl"],
            "https://butler.example.com/.well-known/openid-configuration"
        );
        let properties = oic["properties"].as_array().expect("properties");
        assert!(properties.contains(&json!("pkce")), "PKCE on: {properties:?}");
        let hatch = properties.iter().find_map(|p| p.get("escapeHatch")).expect("escape hatch");
        assert_within("escapeHatch", hatch, OIC_ESCAPE_HATCH);
        assert_eq!(hatch["username"], "admin");
        assert_eq!(hatch["secret"], format!("${{{ADMIN_PASSWORD_VARIABLE}}}"));
        // Each tenant role's group gets exactly its rights; nobody else gets anything.
        let entries =
            document["jenkins"]["authorizationStrategy"]["globalMatrix"]["entries"].as_array().expect("entries");
        let granted = |group: &str| {
            entries
                .iter()
                .find(|e| e["group"]["name"] == group)
                .map(|e| e["group"]["permissions"].clone())
                .unwrap_or(Value::Null)
        };
        assert_eq!(granted("payments:admin"), json!(["Overall/Administer"]));
        assert_eq!(granted("payments:viewer"), json!(["Overall/Read", "Job/Read"]));
        let editor = granted("payments:editor");
        for permission in [
            "Job/Build",
            "Job/Cancel",
            "Job/Configure",
            "Job/Create",
            "Job/Delete",
            "Job/Workspace",
            "Run/Replay",
            "View/Read",
        ] {
            assert!(editor.as_array().expect("editor").contains(&json!(permission)), "{permission}");
        }
        assert!(!entries.iter().any(|e| e["group"]["name"] == "authenticated"), "no right for anyone signed in");
        for needed in GENERATOR_PLUGINS.iter().chain(&SIGN_IN_PLUGINS) {
            assert!(config.plugins.iter().any(|p| p == needed), "{needed} missing from {:?}", config.plugins);
        }
    }
}
