//! Content convergence on the emulator, resource by resource: each setting Butler owns is changed out of band with
//! the SDK, one content check (the hourly full pass) runs, and every resource reads back as the spec says, with
//! a `DriftRepaired` event naming what was put back. (Roles, ingress rules, the file system policy and the
//! capacity provider's scaling are changed in `reconcile_emulator`'s drift test.)

use butler::aws::autoscaling::{AutoScalingApi, SdkAutoScaling};
use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::efs::{EfsApi, SdkEfs};
use butler::aws::logs::{LogsApi, SdkLogs};
use butler_tests::emulated::{names_of, World};
use butler_tests::{environment_path, manifest};
use reqwest::StatusCode;

async fn repairs(world: &World, name: &str) -> Vec<String> {
    let events = world.app.get(&format!("{}/events", environment_path("payments", name))).await.json();
    events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["reason"] == "DriftRepaired")
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_setting_changed_out_of_band_is_put_back_by_the_content_check() {
    let world = World::new().await;
    assert_eq!(world.app.create("payments", &manifest("ci")).await.status, StatusCode::CREATED);
    world.converge("ci").await;
    let object = world.object("ci").await;
    assert!(object["status"]["lastContentCheckTime"].is_string(), "a converged pass is a content check");
    let (names, uid) = names_of(&object);
    let problems = world.content_problems(&object).await;
    assert!(problems.is_empty(), "{problems:?}");
    // A content check of an environment nobody touched changes nothing.
    world.content_check("ci").await;
    assert!(repairs(&world, "ci").await.is_empty(), "no drift, no repair: {:?}", repairs(&world, "ci").await);

    let account = &world.account;
    let (ec2, efs) = (SdkEc2::new(account), SdkEfs::new(account));
    let ec2_sdk = aws_sdk_ec2::Client::new(&account.config);
    let ecs_sdk = aws_sdk_ecs::Client::new(&account.config);
    let efs_sdk = aws_sdk_efs::Client::new(&account.config);
    let groups = ec2
        .find_security_groups(
            &world.vpc,
            &[names.agents_security_group(), names.controller_security_group(), names.storage_security_group()],
        )
        .await
        .expect("groups");
    let agents = groups[&names.agents_security_group()].id.clone();
    let storage = groups[&names.storage_security_group()].id.clone();

    // Security groups: the storage group opened outwards, the agents' way out removed.
    let everything = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    ec2_sdk
        .authorize_security_group_egress()
        .group_id(&storage)
        .ip_permissions(everything.clone())
        .send()
        .await
        .expect("open storage outbound");
    ec2_sdk.revoke_security_group_egress().group_id(&agents).ip_permissions(everything).send().await.expect("revoke");

    // EFS: a mount target moved behind the agents' group; a second access point at the root, as root.
    let file_system = efs.find_file_system(&uid).await.expect("efs").expect("file system");
    let targets = efs.mount_targets(&file_system.id).await.expect("targets");
    efs.set_mount_target_security_groups(&targets[0].id, std::slice::from_ref(&agents)).await.expect("move target");
    efs_sdk
        .create_access_point()
        .file_system_id(&file_system.id)
        .client_token("out-of-band")
        .posix_user(aws_sdk_efs::types::PosixUser::builder().uid(0).gid(0).build().expect("user"))
        .root_directory(aws_sdk_efs::types::RootDirectory::builder().path("/").build())
        .send()
        .await
        .expect("extra access point");

    // Cloud Map: the controller's record cached for five minutes.
    let discovery_sdk = aws_sdk_servicediscovery::Client::new(&account.config);
    let service_id = object["status"]["outputs"]["discoveryServiceId"].as_str().expect("service id");
    let slow = aws_sdk_servicediscovery::types::DnsRecord::builder()
        .r#type(aws_sdk_servicediscovery::types::RecordType::A)
        .ttl(300)
        .build()
        .expect("record");
    let change = aws_sdk_servicediscovery::types::ServiceChange::builder()
        .dns_config(aws_sdk_servicediscovery::types::DnsConfigChange::builder().dns_records(slow).build().expect("dns"))
        .build();
    discovery_sdk.update_service().id(service_id).service(change).send().await.expect("ttl");

    // ECS: Container Insights switched on, the default strategy reweighted, the service moved to the agents'
    // group with a public address.
    let insights = aws_sdk_ecs::types::ClusterSetting::builder()
        .name(aws_sdk_ecs::types::ClusterSettingName::ContainerInsights)
        .value("enabled")
        .build();
    ecs_sdk.update_cluster().cluster(names.cluster()).settings(insights).send().await.expect("insights");
    let reweighted = aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
        .capacity_provider(names.capacity_provider())
        .weight(5)
        .base(1)
        .build()
        .expect("strategy");
    ecs_sdk
        .put_cluster_capacity_providers()
        .cluster(names.cluster())
        .capacity_providers(names.capacity_provider())
        .default_capacity_provider_strategy(reweighted)
        .send()
        .await
        .expect("strategy");
    let elsewhere = aws_sdk_ecs::types::AwsVpcConfiguration::builder()
        .set_subnets(Some(world.subnets.clone()))
        .security_groups(&agents)
        .assign_public_ip(aws_sdk_ecs::types::AssignPublicIp::Enabled)
        .build()
        .expect("network");
    ecs_sdk
        .update_service()
        .cluster(names.cluster())
        .service(names.controller_service())
        .network_configuration(
            aws_sdk_ecs::types::NetworkConfiguration::builder().awsvpc_configuration(elsewhere).build(),
        )
        .send()
        .await
        .expect("network");

    // The launch template's user data replaced in a new version; the group pinned to version 1, unprotected.
    let template = ec2.find_launch_template(&names.launch_template()).await.expect("lt").expect("template");
    let mut tampered = template.data.clone();
    tampered.user_data = "#!/bin/bash\necho ECS_CLUSTER=someone-else >> /etc/ecs/ecs.config\n".to_owned();
    ec2.create_launch_template_version(&template, &tampered).await.expect("new version");
    let asg = SdkAutoScaling::new(account);
    let group = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("asg").pop().expect("group");
    let mut pinned = group.spec.clone();
    pinned.launch_template_version = "1".to_owned();
    pinned.protected_from_scale_in = false;
    asg.update_group(&pinned).await.expect("pin");

    // Logs kept a day.
    SdkLogs::new(account).put_retention(&names.controller_log_group(), 1).await.expect("retention");

    // IAM: the controller role trusts EC2 too; the instance profile loses its role.
    let iam = butler::aws::iam::SdkIam::new(account);
    use butler::aws::iam::IamApi;
    let loose = serde_json::json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
        "Principal": { "Service": ["ecs-tasks.amazonaws.com", "ec2.amazonaws.com"] }, "Action": "sts:AssumeRole" }] });
    iam.update_trust(&names.controller_role(), &loose.to_string()).await.expect("trust");
    let iam_sdk = aws_sdk_iam::Client::new(&account.config);
    iam_sdk
        .remove_role_from_instance_profile()
        .instance_profile_name(names.instance_role())
        .role_name(names.instance_role())
        .send()
        .await
        .expect("empty the instance profile");

    // ECS: a revision of someone else's registered in the controller's family (the latest now says otherwise).
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("jenkins")
        .image("docker.io/library/busybox:latest")
        .memory(128)
        .build();
    ecs_sdk
        .register_task_definition()
        .family(names.controller_family())
        .container_definitions(container)
        .send()
        .await
        .expect("foreign revision");

    world.content_check("ci").await;
    let object = world.object("ci").await;
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    let problems = world.content_problems(&object).await;
    assert!(problems.is_empty(), "read back after the content check: {problems:?}");
    let repaired = repairs(&world, "ci").await;
    // The service runs a revision of Butler's again (the latest, carrying the hash of what Butler wants).
    use butler::aws::ecs::EcsApi;
    let ecs = butler::aws::ecs::SdkEcs::new(account);
    let latest = ecs.latest_task_definition(&names.controller_family()).await.expect("latest").expect("revision");
    assert!(latest.tags.contains_key(butler::reconcile::environment::controller::DEFINITION_HASH_TAG), "{latest:?}");
    let service = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("service");
    assert_eq!(service[0].task_definition, latest.arn);
    for what in [
        "trust policy",
        "instance profile",
        "was not registered by Butler",
        names.storage_security_group().as_str(),
        names.agents_security_group().as_str(),
        "mount target",
        "access point",
        "Cloud Map service",
        "containerInsights",
        "default strategy",
        "controller service",
        "launch template",
        "Auto Scaling group",
        "retention",
    ] {
        assert!(repaired.iter().any(|m| m.contains(what)), "no DriftRepaired naming {what}: {repaired:#?}");
    }
    // And a second check finds nothing more to do.
    let before = repaired.len();
    world.content_check("ci").await;
    assert_eq!(repairs(&world, "ci").await.len(), before, "converged: {:#?}", repairs(&world, "ci").await);
}

#[tokio::test]
async fn the_content_check_reads_a_profile_in_batches_not_environment_by_environment() {
    let world = World::new().await;
    let names = ["ci", "web", "data"];
    for name in names {
        assert_eq!(world.app.create("payments", &manifest(name)).await.status, StatusCode::CREATED);
        world.converge(name).await;
    }
    let checker = World::reconciler_with(&world.app, &world.settings).with_content_check(std::time::Duration::ZERO);
    let before = world.settings.calls.snapshot();
    for name in names {
        World::converge_with(&checker, name).await;
    }
    let after = world.settings.calls.snapshot();
    let calls = |op: &str| after.get(op).copied().unwrap_or(0) - before.get(op).copied().unwrap_or(0);
    // One batched look for the three: IAM's account details once, no role read one by one.
    assert_eq!(calls("iam:GetAccountAuthorizationDetails"), 1);
    for one_by_one in ["iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:GetInstanceProfile"] {
        assert_eq!(calls(one_by_one), 0, "{one_by_one}");
    }
    // Security groups, file systems, access points, clusters, providers and groups: one call each for all three.
    for batched in [
        "ec2:DescribeSecurityGroups",
        "efs:DescribeFileSystems",
        "efs:DescribeAccessPoints",
        "ecs:DescribeClusters",
        "ecs:DescribeCapacityProviders",
        "autoscaling:DescribeAutoScalingGroups",
        "logs:DescribeLogGroups",
    ] {
        assert_eq!(calls(batched), 1, "{batched}");
    }
    // Nothing drifted: nothing written, and every environment still Ready and checked.
    let written: Vec<&str> =
        after.keys().copied().filter(|op| butler::aws::calls::is_mutating(op) && calls(op) > 0).collect();
    assert!(written.is_empty(), "{written:?}");
    for name in names {
        let object = world.object(name).await;
        assert_eq!(object["status"]["phase"], "Ready");
        assert!(object["status"]["lastContentCheckTime"].is_string());
    }
}
