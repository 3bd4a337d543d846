//! End-to-end reconciler tests against the AWS emulator: a Butler with its own emulator account (a cloud
//! profile assuming a role into it), passes driven one at a time, and an inventory of what AWS holds for an
//! environment, to prove "exactly one of each" and "nothing left".

use std::sync::Arc;

use butler::aws::autoscaling::{AutoScalingApi, SdkAutoScaling};
use butler::aws::context::{AwsAccount, AwsSettings};
use butler::aws::discovery::{DiscoveryApi, SdkDiscovery};
use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::ecs::{EcsApi, SdkEcs};
use butler::aws::efs::{EfsApi, SdkEfs};
use butler::aws::emulator::ensure_network;
use butler::aws::iam::{IamApi, SdkIam};
use butler::aws::logs::{LogsApi, SdkLogs};
use butler::aws::ssm::{SdkSsm, SsmApi};
use butler::reconcile::environment::names::Names;
use butler::reconcile::environment::{EnvironmentReconciler, SdkProvider};
use butler::reconcile::Action;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::aws::{fresh_account_with_role, REGION};
use crate::{environment_path, TestApp};

/// A Butler, its emulator account and the profile's network.
pub struct World {
    pub app: TestApp,
    pub reconciler: EnvironmentReconciler,
    pub settings: AwsSettings,
    pub account: AwsAccount,
    pub vpc: String,
    /// The profile's subnets.
    pub subnets: Vec<String>,
    /// The profile's ingress, when it has one.
    pub ingress: Option<butler::domain::ingress::Ingress>,
    /// The controllers `reconciler` talks to (idle, answering, until a test says otherwise).
    pub jenkins: crate::fake_jenkins::FakeJenkins,
}

impl World {
    /// A Butler whose `default` profile points at a fresh emulator account.
    pub async fn new() -> Self {
        let (account, role) = fresh_account_with_role().await;
        Self::on(AwsSettings::from_env(), account, &role).await
    }

    /// A Butler whose `default` profile has ingress: shared load balancers for `per_balancer` environments each,
    /// in a hosted zone and with a certificate made in its fresh emulator account.
    pub async fn with_ingress(per_balancer: u32) -> Self {
        let (account, role) = fresh_account_with_role().await;
        Self::on_with(AwsSettings::from_env(), account, &role, Some(per_balancer)).await
    }

    /// A Butler whose `default` profile is a network in `account`, reached through `role`, with `settings`.
    pub async fn on(settings: AwsSettings, account: AwsAccount, role: &str) -> Self {
        Self::on_with(settings, account, role, None).await
    }

    /// As `on`, with ingress for `per_balancer` environments a load balancer when given.
    pub async fn on_with(settings: AwsSettings, account: AwsAccount, role: &str, per_balancer: Option<u32>) -> Self {
        let app = TestApp::spawn().await;
        let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
        let mut profile =
            json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role });
        let mut ingress = None;
        if let Some(capacity) = per_balancer {
            let made =
                butler::aws::emulator::ensure_ingress(&account, "jenkins.example.test", &network.subnet_ids, capacity)
                    .await
                    .expect("hosted zone and certificate");
            profile["ingress"] = serde_json::to_value(&made).expect("ingress");
            ingress = Some(made);
        }
        let created = app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&created.body));
        let jenkins = crate::fake_jenkins::FakeJenkins::default();
        let reconciler = Self::reconciler_with(&app, &settings).with_controllers(Arc::new(jenkins.clone()));
        Self { app, reconciler, settings, account, vpc: network.vpc_id, subnets: network.subnet_ids, ingress, jenkins }
    }

    /// A reconciler of this Butler calling AWS with `settings` (a restarted process gets new ones), and an idle
    /// in-memory Jenkins for the controllers (no Jenkins runs on the emulator).
    pub fn reconciler_with(app: &TestApp, settings: &AwsSettings) -> EnvironmentReconciler {
        EnvironmentReconciler::new(app.db(), app.state.feed.clone(), Arc::new(SdkProvider::new(settings.clone())))
            .with_controllers(Arc::new(crate::fake_jenkins::FakeJenkins::default()))
    }

    /// Passes of `reconciler` until converged, as the runner would run them: transient AWS errors (the
    /// emulator under parallel load answers 500 now and then) are retried; anything else fails the test.
    pub async fn converge_with(reconciler: &EnvironmentReconciler, name: &str) {
        let mut transient = Vec::new();
        for _ in 0..30 {
            match reconciler.reconcile_once("payments", name).await {
                Ok(Action::AwaitChange) => return,
                Ok(Action::RequeueAfter(_)) => continue,
                Err(error) if error.is_transient() => transient.push(error.to_string()),
                Err(error) => panic!("{name}: permanent failure {error}"),
            }
        }
        panic!("{name} did not converge in 30 passes; transient errors: {transient:?}");
    }

    /// Passes until converged.
    pub async fn converge(&self, name: &str) {
        Self::converge_with(&self.reconciler, name).await;
    }

    /// Passes until converged by a reconciler whose content check is always due: every resource is read and
    /// compared, as the hourly check does, without a spec change.
    pub async fn content_check(&self, name: &str) {
        let reconciler = Self::reconciler_with(&self.app, &self.settings).with_content_check(std::time::Duration::ZERO);
        Self::converge_with(&reconciler, name).await;
    }

    /// The stored environment.
    pub async fn object(&self, name: &str) -> serde_json::Value {
        self.app.get(&environment_path("payments", name)).await.json()
    }

    /// Reasons of the environment's events.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        let events = self.app.get(&format!("{}/events", environment_path("payments", name))).await.json();
        events["items"].as_array().map_or_else(Vec::new, |items| {
            items.iter().filter_map(|e| e["reason"].as_str().map(str::to_owned)).collect()
        })
    }

    /// Counts of what AWS holds for environment `names` (uid is the EFS creation token), one line each.
    pub async fn inventory(&self, names: &Names, uid: &str) -> Vec<(String, usize)> {
        let account = &self.account;
        let (ec2, efs, ecs) = (SdkEc2::new(account), SdkEfs::new(account), SdkEcs::new(account));
        let (asg, discovery, iam) = (SdkAutoScaling::new(account), SdkDiscovery::new(account), SdkIam::new(account));
        let (logs, ssm) = (SdkLogs::new(account), SdkSsm::new(account));
        let mut counts = Vec::new();
        for group in [names.storage_security_group(), names.controller_security_group(), names.agents_security_group()]
        {
            let found = ec2.find_security_group(&self.vpc, &group).await.expect("sg").is_some();
            counts.push((format!("security group {group}"), usize::from(found)));
        }
        let file_system = efs.find_file_system(uid).await.expect("efs");
        counts.push(("file system".into(), usize::from(file_system.is_some())));
        if let Some(file_system) = &file_system {
            counts.push(("mount targets".into(), efs.mount_targets(&file_system.id).await.expect("mt").len()));
            counts.push(("access points".into(), efs.access_points(&file_system.id).await.expect("ap").len()));
        }
        for role in [names.controller_role(), names.agent_role(), names.execution_role(), names.instance_role()] {
            counts.push((format!("role {role}"), usize::from(iam.get_role(&role).await.expect("role").is_some())));
        }
        for group in [names.controller_log_group(), names.agents_log_group()] {
            let found = logs.find_log_group(&group).await.expect("logs").is_some();
            counts.push((format!("log group {group}"), usize::from(found)));
        }
        let parameter = ssm.parameter_exists(&names.admin_password_parameter()).await.expect("ssm");
        counts.push(("admin password".into(), usize::from(parameter)));
        if let Some(namespace) = discovery.find_namespace("jenkins.local").await.expect("namespace") {
            let service = discovery.find_service(&namespace.id, &names.discovery_service()).await.expect("service");
            counts.push(("Cloud Map service".into(), usize::from(service.is_some())));
        }
        let clusters = ecs.describe_clusters(&[names.cluster()]).await.expect("clusters");
        counts.push(("cluster".into(), clusters.len()));
        if !clusters.is_empty() {
            let services = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
            counts.push(("controller service".into(), services.len()));
        }
        let revisions = ecs.task_definition_revisions(&names.controller_family()).await.expect("revisions");
        counts.push(("task definition revisions".into(), revisions.len()));
        let providers = ecs.describe_capacity_providers(&[names.capacity_provider()]).await.expect("providers");
        counts.push(("capacity provider".into(), providers.len()));
        let template = ec2.find_launch_template(&names.launch_template()).await.expect("lt");
        counts.push(("launch template".into(), usize::from(template.is_some())));
        let groups = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("asg");
        counts.push(("auto scaling group".into(), groups.len()));
        if self.ingress.is_some() {
            counts.extend(crate::emulated_ingress::inventory(self, names, uid).await);
        }
        counts
    }
}

impl World {
    /// Where what AWS holds for `object` differs from what its spec says, resource by resource, read back with
    /// the SDK: the policies on each role, the rules on each group, the launch template, the ASG's settings, the
    /// capacity provider on the cluster, the service's task definition, log retention, the access point. Empty
    /// when every resource has exactly the configuration Butler wants.
    pub async fn content_problems(&self, object: &serde_json::Value) -> Vec<String> {
        use butler::reconcile::environment::capacity::user_data;
        use butler::reconcile::environment::policies::{
            controller_task_policy, ec2_trust, ecs_tasks_trust, execution_secrets_policy, EXECUTION_MANAGED_POLICY,
            INSTANCE_MANAGED_POLICY,
        };
        let (names, uid) = names_of(object);
        let account = &self.account;
        let (ec2, efs, ecs) = (SdkEc2::new(account), SdkEfs::new(account), SdkEcs::new(account));
        let (asg, iam, logs) = (SdkAutoScaling::new(account), SdkIam::new(account), SdkLogs::new(account));
        let mut problems = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                problems.push(what);
            }
        };
        let region = crate::aws::REGION;
        let roles = [
            (names.controller_role(), ecs_tasks_trust(), Some(controller_task_policy(&names, region)), None),
            (names.agent_role(), ecs_tasks_trust(), None, None),
            (
                names.execution_role(),
                ecs_tasks_trust(),
                Some(execution_secrets_policy(&names, region)),
                Some(EXECUTION_MANAGED_POLICY),
            ),
            (names.instance_role(), ec2_trust(), None, Some(INSTANCE_MANAGED_POLICY)),
        ];
        for (role, trust, inline, managed) in roles {
            let Some(content) = iam.role_content(&role).await.expect("role") else {
                check(false, format!("role {role} missing"));
                continue;
            };
            check(content.trust == trust, format!("role {role}: trust {}", content.trust));
            let wanted: std::collections::BTreeMap<String, serde_json::Value> =
                inline.into_iter().map(|doc| ("butler".to_owned(), doc)).collect();
            check(content.inline == wanted, format!("role {role}: inline policies {:?}", content.inline.keys()));
            let attached: Vec<String> = managed.map(str::to_owned).into_iter().collect();
            check(content.attached == attached, format!("role {role}: attached {:?}", content.attached));
        }
        let profile = aws_sdk_iam::Client::new(&account.config)
            .get_instance_profile()
            .instance_profile_name(names.instance_role())
            .send()
            .await
            .ok()
            .and_then(|output| output.instance_profile().cloned());
        let roles: Vec<String> =
            profile.iter().flat_map(|p| p.roles()).map(|role| role.role_name().to_owned()).collect();
        check(roles == [names.instance_role()], format!("instance profile roles {roles:?}"));
        let all = [names.agents_security_group(), names.controller_security_group(), names.storage_security_group()];
        let groups = ec2.find_security_groups(&self.vpc, &all).await.expect("sg");
        let (agents, controller, storage) = (groups.get(&all[0]), groups.get(&all[1]), groups.get(&all[2]));
        if let (Some(agents), Some(controller), Some(storage)) = (agents, controller, storage) {
            use butler::aws::ec2::IngressRule;
            let rule = |port, source: &str| IngressRule::from_group(port, source);
            let mut controller_rules = vec![rule(8080, &agents.id), rule(50000, &agents.id)];
            if self.ingress.is_some() {
                let balancer = crate::emulated_ingress::balancer_of(self, object).await;
                let group = balancer.and_then(|b| b.security_groups.first().cloned()).unwrap_or_default();
                controller_rules.push(rule(8080, &group));
            }
            controller_rules.sort();
            check(agents.ingress.is_empty() && !agents.other_ingress, format!("agents group rules {agents:?}"));
            check(
                controller.ingress == controller_rules && !controller.other_ingress,
                format!("controller group rules {controller:?}"),
            );
            check(
                storage.ingress == vec![rule(2049, &controller.id)] && !storage.other_ingress,
                format!("storage group rules {storage:?}"),
            );
            use butler::aws::ec2::Outbound;
            check(agents.outbound == Outbound::Everything, format!("agents group outbound {:?}", agents.outbound));
            check(
                controller.outbound == Outbound::Everything,
                format!("controller outbound {:?}", controller.outbound),
            );
            check(storage.outbound == Outbound::Nothing, format!("storage group outbound {:?}", storage.outbound));
            let services = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
            let registry = object["status"]["outputs"]["discoveryServiceArn"].as_str().unwrap_or_default();
            let mut subnets = self.subnets.clone();
            subnets.sort();
            let network = butler::aws::ecs::ServiceNetwork {
                subnets: subnets.clone(),
                security_groups: vec![controller.id.clone()],
                public_ip: false,
            };
            check(
                services.first().is_some_and(|s| s.network.as_ref() == Some(&network) && s.registries == [registry]),
                format!("controller service network and registry {services:?}"),
            );
            if let Some(file_system) = efs.find_file_system(&uid).await.expect("efs") {
                let targets = efs.mount_targets(&file_system.id).await.expect("targets");
                let mut target_subnets: Vec<String> = targets.iter().map(|t| t.subnet_id.clone()).collect();
                target_subnets.sort();
                check(target_subnets == subnets, format!("mount targets in {target_subnets:?}"));
                for target in &targets {
                    let groups = efs.mount_target_security_groups(&target.id).await.expect("groups");
                    check(groups == [storage.id.clone()], format!("mount target {} groups {groups:?}", target.id));
                }
            }
            match ec2.find_launch_template(&names.launch_template()).await.expect("lt") {
                Some(template) => {
                    check(template.data.user_data == user_data(&names.cluster()), "launch template user data".into());
                    check(template.data.instance_profile == names.instance_role(), "launch template profile".into());
                    check(template.data.security_group_ids == vec![agents.id.clone()], "launch template groups".into());
                    let groups = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("asg");
                    match groups.first() {
                        Some(found) => {
                            let capacity = &object["spec"]["capacity"];
                            let spec = &found.spec;
                            let types: Vec<String> =
                                serde_json::from_value(capacity["instanceTypes"].clone()).expect("types");
                            check(spec.launch_template_id == template.id, "ASG launch template".into());
                            check(spec.instance_types == types, format!("ASG types {:?}", spec.instance_types));
                            check(i64::from(spec.min) == capacity["min"], format!("ASG min {}", spec.min));
                            check(i64::from(spec.max) == capacity["max"], format!("ASG max {}", spec.max));
                            check(
                                i64::from(spec.on_demand_base) == capacity["onDemandBase"],
                                format!("ASG base {}", spec.on_demand_base),
                            );
                            check(
                                i64::from(spec.on_demand_percent_above_base) == capacity["onDemandPercentAboveBase"],
                                "ASG on-demand share".into(),
                            );
                            check(spec.capacity_rebalance == capacity["capacityRebalance"], "ASG rebalance".into());
                            check(spec.launch_template_version == "$Latest", "ASG template version".into());
                            check(spec.protected_from_scale_in, "ASG scale-in protection".into());
                        }
                        None => check(false, "ASG missing".into()),
                    }
                }
                None => check(false, "launch template missing".into()),
            }
        } else {
            check(false, "a security group is missing".into());
        }
        let providers = ecs.describe_capacity_providers(&[names.capacity_provider()]).await.expect("providers");
        check(
            providers.first().is_some_and(|p| p.settings == butler::aws::ecs::PROVIDER_SETTINGS),
            format!("capacity provider settings {providers:?}"),
        );
        let clusters = ecs.describe_clusters(&[names.cluster()]).await.expect("clusters");
        check(
            clusters.first().is_some_and(|c| {
                c.capacity_providers == vec![names.capacity_provider()]
                    && c.default_strategy == butler::aws::ecs::Cluster::wanted_strategy(&names.capacity_provider())
                    && c.container_insights.as_deref() == Some(butler::aws::ecs::CONTAINER_INSIGHTS)
            }),
            format!("cluster capacity providers, strategy and settings {clusters:?}"),
        );
        let discovery = SdkDiscovery::new(account);
        let namespace = object["status"]["outputs"]["namespaceId"].as_str().unwrap_or_default();
        let service = discovery.find_service(namespace, &names.discovery_service()).await.expect("cloud map");
        check(
            service.as_ref().is_some_and(|s| s.dns_records == butler::aws::discovery::controller_records()),
            format!("Cloud Map service {service:?}"),
        );
        let services = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
        let task_definition = object["status"]["outputs"]["taskDefinitionArn"].as_str().unwrap_or_default();
        check(
            services.first().is_some_and(|s| s.task_definition == task_definition && s.desired == 1),
            format!("controller service {services:?}"),
        );
        for log_group in [names.controller_log_group(), names.agents_log_group()] {
            let retention = logs.find_log_group(&log_group).await.expect("logs");
            check(retention == Some(Some(30)), format!("log group {log_group} retention {retention:?}"));
        }
        if let Some(file_system) = efs.find_file_system(&uid).await.expect("efs") {
            let points = efs.access_points(&file_system.id).await.expect("ap");
            check(
                points.len() == 1 && points[0].root_path == names.jenkins_home_root() && points[0].is_jenkins(),
                format!("access points {points:?}"),
            );
            if let Some(point) = points.first() {
                let wanted =
                    butler::reconcile::environment::policies::file_system_policy(&names, &file_system.arn, &point.arn);
                let policy = efs.file_system_policy(&file_system.id).await.expect("policy");
                check(wanted.is_some() && policy == wanted, format!("file system policy {policy:?}"));
            }
        }
        if self.ingress.is_some() {
            problems.extend(crate::emulated_ingress::problems(self, object).await);
        }
        problems
    }
}

/// A condition of a stored environment (Null when absent).
pub fn condition<'a>(object: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or(&serde_json::Value::Null)
}

/// The names of a stored environment.
pub fn names_of(object: &serde_json::Value) -> (Names, String) {
    let uid = object["metadata"]["uid"].as_str().expect("uid").to_owned();
    let name = object["metadata"]["name"].as_str().expect("name");
    let tenant = object["metadata"]["tenant"].as_str().expect("tenant");
    let recorded = serde_json::from_value(object["status"]["awsNames"].clone()).ok();
    (recorded.unwrap_or_else(|| Names::legacy(tenant, name, &uid.parse().expect("uuid"))), uid)
}
