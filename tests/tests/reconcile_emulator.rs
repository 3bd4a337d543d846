//! The environment reconciler end to end against the emulator with the real SDK: everything in the inventory is
//! provisioned once and the environment becomes Ready; an idle resync makes two reads and no write; a spec change
//! touches only what changed; drift is put back; deletion leaves nothing of the environment (except a retained
//! JENKINS_HOME).

use butler::aws::autoscaling::{AutoScalingApi, SdkAutoScaling};
use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::ecs::{EcsApi, SdkEcs};
use butler::aws::efs::{EfsApi, SdkEfs};
use butler::aws::emulator::ensure_network;
use butler_tests::aws::{fresh_account_with_role, REGION};
use butler_tests::emulated::{condition, names_of, World};
use butler_tests::{environment_path, manifest, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn delta(
    before: &std::collections::BTreeMap<&'static str, u64>,
    after: &std::collections::BTreeMap<&'static str, u64>,
) -> std::collections::BTreeMap<&'static str, u64> {
    after
        .iter()
        .filter_map(|(op, n)| Some((*op, n - before.get(op).copied().unwrap_or(0))).filter(|(_, d)| *d > 0))
        .collect()
}

#[tokio::test]
async fn an_environment_becomes_ready_and_an_idle_resync_only_reads_twice() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;

    let object = world.object("ci").await;
    for part in ["StorageReady", "DiscoveryReady", "CapacityReady", "ControllerReady", "Ready"] {
        assert_eq!(condition(&object, part)["status"], "True", "{part}: {object}");
    }
    assert_eq!(object["status"]["phase"], "Ready");
    let outputs = &object["status"]["outputs"];
    assert_eq!(outputs["controllerDns"], "ci.payments.jenkins.local");
    for output in
        ["fileSystemId", "accessPointId", "discoveryServiceId", "clusterArn", "serviceArn", "taskDefinitionArn"]
    {
        assert!(outputs[output].is_string(), "{output} missing: {outputs}");
    }
    assert_eq!(outputs["autoScalingGroup"], "butler-payments_ci_asg");
    assert_eq!(object["status"]["instances"].as_array().map(Vec::len), Some(1), "min 1: one instance");
    let (names, uid) = names_of(&object);
    for (what, count) in world.inventory(&names, &uid).await {
        let expected = match what.as_str() {
            "mount targets" => 2,
            _ => 1,
        };
        assert_eq!(count, expected, "{what}");
    }
    let problems = world.content_problems(&object).await;
    assert!(problems.is_empty(), "{problems:?}");
    let template = SdkEc2::new(&world.account).find_launch_template(&names.launch_template()).await.expect("lt");
    let user_data = template.expect("launch template").data.user_data;
    assert!(user_data.contains("ECS_CLUSTER=butler-payments_ci\n"), "{user_data}");
    assert!(user_data.contains("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true"));
    // Security finding 3: builds (awsvpc tasks) cannot reach the instance metadata service and its role.
    assert!(user_data.contains("\nECS_AWSVPC_BLOCK_IMDS=true\n"), "{user_data}");
    assert!(user_data.contains("ECS_INSTANCE_ATTRIBUTES"));
    let reasons = world.event_reasons("ci").await;
    for reason in ["FileSystemCreated", "ClusterCreated", "AutoScalingGroupCreated", "ControllerServiceCreated"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason} not in {reasons:?}");
    }

    // Idle resync: two reads (the service and the group), no write to AWS or to the database.
    let before = world.settings.calls.snapshot();
    let version_before = object["metadata"]["resourceVersion"].clone();
    world.converge("ci").await;
    let calls = delta(&before, &world.settings.calls.snapshot());
    assert_eq!(calls.values().sum::<u64>(), 2, "{calls:?}");
    assert!(calls.keys().all(|op| !butler::aws::calls::is_mutating(op)), "{calls:?}");
    assert_eq!(world.object("ci").await["metadata"]["resourceVersion"], version_before);
}

#[tokio::test]
async fn a_spec_change_touches_only_what_changed_and_drift_is_put_back() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let (names, _) = names_of(&world.object("ci").await);
    let (ecs, asg) = (SdkEcs::new(&world.account), SdkAutoScaling::new(&world.account));

    // New instance types and a bigger max: the group changes, the controller's task definition does not.
    let before = world.settings.calls.snapshot();
    let patch =
        json!({ "spec": { "capacity": { "instanceTypes": ["m5n.large", "m6a.large", "m7a.large"], "max": 9 } } });
    world.app.merge_patch("payments", "ci", &patch).await;
    world.converge("ci").await;
    let calls = delta(&before, &world.settings.calls.snapshot());
    assert_eq!(calls.get("autoscaling:UpdateAutoScalingGroup"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("ecs:RegisterTaskDefinition"), None, "no new revision: {calls:?}");
    assert_eq!(calls.get("ecs:UpdateService"), None, "{calls:?}");
    let group = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("asg").pop().expect("group");
    assert_eq!(group.spec.instance_types, ["m5n.large", "m6a.large", "m7a.large"]);
    assert_eq!(group.spec.max, 9);
    let object = world.object("ci").await;
    assert_eq!(object["status"]["phase"], "Ready");
    assert_eq!(object["status"]["observedGeneration"], object["metadata"]["generation"]);

    // A new image: exactly one new revision and a service update.
    let before = world.settings.calls.snapshot();
    world
        .app
        .merge_patch(
            "payments",
            "ci",
            &json!({ "spec": { "controller": { "image": "jenkins/jenkins:2.528.2-lts-jdk21" } } }),
        )
        .await;
    world.converge("ci").await;
    let calls = delta(&before, &world.settings.calls.snapshot());
    assert_eq!(calls.get("ecs:RegisterTaskDefinition"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("ecs:UpdateService"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("autoscaling:UpdateAutoScalingGroup"), None, "{calls:?}");
    let revisions = ecs.task_definition_revisions(&names.controller_family()).await.expect("revisions");
    assert_eq!(revisions.len(), 2);
    let service = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
    assert_eq!(Some(service[0].task_definition.as_str()), revisions.last().map(String::as_str));

    // Drift: the service scaled to 0 and the group's max edited out of band are both put back.
    ecs.update_service(&names.cluster(), &names.controller_service(), 0, None).await.expect("scale down");
    let mut edited = group.spec.clone();
    edited.max = 2;
    asg.update_group(&edited).await.expect("edit");
    world.converge("ci").await;
    let service = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
    assert_eq!(service[0].desired, 1);
    let group = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("asg").pop().expect("group");
    assert_eq!(group.spec.max, 9);
    assert!(world.event_reasons("ci").await.iter().any(|r| r == "DriftRepaired"));
    assert_eq!(world.object("ci").await["status"]["phase"], "Ready");

    // The controller service deleted out of band comes back.
    ecs.delete_service(&names.cluster(), &names.controller_service()).await.expect("delete");
    world.converge("ci").await;
    let service = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("svc");
    assert_eq!(service.len(), 1, "recreated");
    assert_eq!(world.object("ci").await["status"]["phase"], "Ready");
}

#[tokio::test]
async fn deleting_removes_everything_of_the_environment_and_then_the_row() {
    let world = World::new().await;
    let mut body = manifest("ci");
    body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
    assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let object = world.object("ci").await;
    let (names, uid) = names_of(&object);

    let deleted = world.app.send(world.app.request(Method::DELETE, &environment_path("payments", "ci"))).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    world.converge("ci").await;
    assert_eq!(world.app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    let left: Vec<(String, usize)> =
        world.inventory(&names, &uid).await.into_iter().filter(|(_, count)| *count > 0).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let discovery = butler::aws::discovery::SdkDiscovery::new(&world.account);
    use butler::aws::discovery::DiscoveryApi;
    assert!(discovery.find_namespace("jenkins.local").await.expect("lookup").is_some(), "the shared namespace stays");
}

#[tokio::test]
async fn a_retained_jenkins_home_outlives_its_environment() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let object = world.object("ci").await;
    let (names, uid) = names_of(&object);
    world.app.send(world.app.request(Method::DELETE, &environment_path("payments", "ci"))).await;
    world.converge("ci").await;
    assert_eq!(world.app.get(&environment_path("payments", "ci")).await.status, StatusCode::NOT_FOUND);
    let efs = SdkEfs::new(&world.account);
    let kept = efs.find_file_system(&uid).await.expect("lookup").expect("retained");
    assert!(efs.mount_targets(&kept.id).await.expect("targets").is_empty(), "its mount targets went");
    let left: Vec<(String, usize)> = world
        .inventory(&names, &uid)
        .await
        .into_iter()
        .filter(|(what, count)| *count > 0 && what != "file system")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

async fn wait_for_condition(app: &TestApp, name: &str, kind: &str, status: &str) -> serde_json::Value {
    for _ in 0..300 {
        let object = app.get(&environment_path("payments", name)).await.json();
        if condition(&object, kind)["status"] == status {
            return object;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} never had {kind}={status}");
}

#[tokio::test]
async fn the_server_reconciles_on_its_own_and_reports_a_missing_profile() {
    let app = TestApp::spawn_reconciling().await;
    let (account, role) = fresh_account_with_role().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    let profile =
        json!({ "region": REGION, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids, "roleArn": role });
    assert_eq!(app.send_json(Method::PUT, "/api/v1/cloudprofiles/default", &profile).await.status, StatusCode::CREATED);

    assert_eq!(app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    let object = wait_for_condition(&app, "ci", "Ready", "True").await;
    assert_eq!(object["status"]["phase"], "Ready");
    let events = app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let reasons: Vec<&str> =
        events["items"].as_array().expect("items").iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(reasons.contains(&"FileSystemCreated") && reasons.contains(&"ControllerServiceCreated"), "{reasons:?}");

    let moved = app.send_json(Method::PATCH, "/api/v1/tenants/payments", &json!({ "cloudProfile": "nowhere" })).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(app.create("payments", &manifest("lost")).await.status, StatusCode::CREATED);
    let lost = wait_for_condition(&app, "lost", "Ready", "False").await;
    assert_eq!(condition(&lost, "Ready")["reason"], "CloudProfileNotFound");
}

#[tokio::test]
async fn a_role_without_its_policies_and_a_group_without_its_rules_are_put_back_to_their_content() {
    use butler::aws::iam::{IamApi, SdkIam};
    use butler::reconcile::environment::policies::{controller_task_policy, EXECUTION_MANAGED_POLICY};
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let (names, _) = names_of(&world.object("ci").await);
    let iam = SdkIam::new(&world.account);
    let role = names.controller_role();
    let wanted = iam.role_content(&role).await.expect("read").expect("role");
    assert_eq!(wanted.inline.get("butler"), Some(&controller_task_policy(&names, REGION)), "the policy read back");
    assert!(wanted.attached.is_empty());
    assert!(!world.event_reasons("ci").await.iter().any(|r| r == "DriftRepaired"), "a fresh environment has no drift");

    // Out of band (or a crash between CreateRole and PutRolePolicy): the policy gone, an extra one attached;
    // the controller group missing its agent-port rule.
    iam.delete_role_policy(&role, "butler").await.expect("delete policy");
    iam.attach_managed_policy(&role, EXECUTION_MANAGED_POLICY).await.expect("attach extra");
    let ec2 = SdkEc2::new(&world.account);
    let controller = ec2.find_security_group(&world.vpc, &names.controller_security_group()).await.expect("sg");
    let controller = controller.expect("controller group");
    let agents =
        ec2.find_security_group(&world.vpc, &names.agents_security_group()).await.expect("sg").expect("agents");
    let sdk = aws_sdk_ec2::Client::new(&world.account.config);
    let rule = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(50000)
        .to_port(50000)
        .user_id_group_pairs(aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(&agents.id).build())
        .build();
    sdk.revoke_security_group_ingress().group_id(&controller.id).ip_permissions(rule).send().await.expect("revoke");
    // And the file system opened to anyone.
    let efs = SdkEfs::new(&world.account);
    let uid = world.object("ci").await["metadata"]["uid"].as_str().expect("uid").to_owned();
    let file_system = efs.find_file_system(&uid).await.expect("efs").expect("file system");
    let open = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "AWS": "*" },
        "Action": "elasticfilesystem:*", "Resource": file_system.arn }] });
    efs.put_file_system_policy(&file_system.id, &open.to_string()).await.expect("open it");
    // And the capacity provider back at the old one-instance-per-step scaling.
    let old =
        butler::aws::ecs::ProviderSettings { max_step: 1, warmup_seconds: 300, ..butler::aws::ecs::PROVIDER_SETTINGS };
    SdkEcs::new(&world.account).update_capacity_provider(&names.capacity_provider(), &old).await.expect("scale");

    // The next full pass (here after a spec change) puts both back to what the spec says.
    world.app.merge_patch("payments", "ci", &json!({ "spec": { "agents": { "maxAgents": 7 } } })).await;
    world.converge("ci").await;
    let role_now = iam.role_content(&role).await.expect("read").expect("role");
    assert_eq!(role_now, wanted, "the role says exactly what Butler wants again");
    let group_now = ec2.find_security_group(&world.vpc, &names.controller_security_group()).await.expect("sg");
    assert_eq!(group_now.expect("group").ingress, controller.ingress, "the rules are back");
    let problems = world.content_problems(&world.object("ci").await).await;
    assert!(problems.is_empty(), "{problems:?}");
    let events = world.app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    let repairs: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["reason"] == "DriftRepaired")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(repairs.iter().any(|m| m.contains(&role) && m.contains("detached")), "{repairs:?}");
    assert!(repairs.iter().any(|m| m.contains(&names.controller_security_group())), "{repairs:?}");
}
