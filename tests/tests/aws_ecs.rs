//! The ECS adapter against the emulator with the real SDK: batched describes, the controller's task
//! definition (EFS through the access point, transit encryption), its service, and teardown.

use std::collections::BTreeMap;

use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::ecs::{ControllerService, ControllerTask, EcsApi, SdkEcs};
use butler::aws::efs::{EfsApi, SdkEfs, Throughput};
use butler::aws::emulator::ensure_network;
use butler::aws::tags::environment_tags;
use butler_tests::aws::{fresh_account, REGION};

#[tokio::test]
async fn clusters_are_described_in_batches_and_the_controller_runs_as_one_service() {
    let account = fresh_account().await;
    let (ec2, efs, ecs) = (SdkEc2::new(&account), SdkEfs::new(&account), SdkEcs::new(&account));
    let network = ensure_network(&ec2, "default").await.expect("network");
    let uid = uuid::Uuid::new_v4();
    let tags = environment_tags("payments", "ci", &uid);

    let names: Vec<String> = (0..3).map(|i| format!("butler-payments-c{i}")).collect();
    for name in &names {
        ecs.create_cluster(name, &tags).await.expect("cluster");
    }
    let before = account.settings.calls.snapshot().get("ecs:DescribeClusters").copied().unwrap_or(0);
    let mut asked = names.clone();
    asked.push("butler-payments-absent".into());
    let clusters = ecs.describe_clusters(&asked).await.expect("describe");
    assert_eq!(clusters.len(), 3, "the absent cluster is left out");
    assert_eq!(account.settings.calls.snapshot()["ecs:DescribeClusters"] - before, 1, "one call for all of them");

    let file_system = efs.create_file_system(&uid.to_string(), Throughput::Elastic, &tags).await.expect("fs");
    let point = efs.create_access_point(&file_system.id, &uid.to_string(), "/jenkins/ci", &tags).await.expect("ap");
    let task = ControllerTask {
        family: "butler-payments-ci-controller".into(),
        image: "jenkins/jenkins:lts-jdk17".into(),
        cpu: 1024,
        memory: 2048,
        task_role: "butler-controller".into(),
        execution_role: "butler-execution".into(),
        file_system_id: file_system.id.clone(),
        access_point_id: point.id.clone(),
        log_group: "/butler/payments/ci/controller".into(),
        region: REGION.into(),
        environment: BTreeMap::from([("TZ".to_owned(), "UTC".to_owned())]),
        secrets: BTreeMap::from([(
            "JENKINS_ADMIN_PASSWORD".to_owned(),
            "/butler/payments/ci/admin-password".to_owned(),
        )]),
        entry_point: vec!["/bin/sh".into(), "-c".into(), "exec /usr/local/bin/jenkins.sh".into()],
        health_check: vec!["CMD-SHELL".into(), "curl -fsS http://localhost:8080/login || exit 1".into()],
    };
    let mut tagged = tags.clone();
    tagged.insert("butler:definition-hash".into(), "abc123".into());
    let definition = ecs.register_controller_task(&task, &tagged).await.expect("task definition");
    assert!(definition.contains("butler-payments-ci-controller:1"), "{definition}");
    let latest = ecs.latest_task_definition("butler-payments-ci-controller").await.expect("latest").expect("found");
    assert_eq!(latest.arn, definition);
    assert_eq!(latest.tags.get("butler:definition-hash").map(String::as_str), Some("abc123"), "tags come back");
    // The container health check (Jenkins answering) is part of what was registered.
    let sdk = aws_sdk_ecs::Client::new(&account.config);
    let described = sdk.describe_task_definition().task_definition(&definition).send().await.expect("describe");
    let container = described.task_definition().expect("definition").container_definitions()[0].clone();
    let health = container.health_check().expect("a health check");
    assert_eq!(health.command(), task.health_check.as_slice());
    assert_eq!((health.start_period(), health.retries()), (Some(300), Some(3)));
    assert!(ecs.latest_task_definition("butler-payments-ci-absent").await.expect("latest").is_none());
    assert_eq!(
        ecs.task_definition_revisions("butler-payments-ci-controller").await.expect("revisions"),
        vec![definition.clone()]
    );

    let group = ec2
        .create_security_group(&network.vpc_id, "butler-payments-ci-controller", "controller", &tags)
        .await
        .expect("sg");
    let service = ControllerService {
        cluster: names[0].clone(),
        name: "jenkins-controller".into(),
        task_definition: definition.clone(),
        subnets: network.subnet_ids.clone(),
        security_groups: vec![group],
        registry_arn: "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-test".into(),
        client_token: uid.to_string(),
        on_demand_only: true,
        target_group: None,
    };
    let created = ecs.create_controller_service(&service, &tags).await.expect("service");
    assert_eq!(created.desired, 1);
    let described = ecs
        .describe_services(&names[0], &["jenkins-controller".to_owned(), "absent".to_owned()])
        .await
        .expect("describe");
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].task_definition, definition);

    ecs.update_service(&names[0], "jenkins-controller", 0, None).await.expect("scale to 0");
    assert_eq!(
        ecs.describe_services(&names[0], &["jenkins-controller".to_owned()]).await.expect("describe")[0].desired,
        0
    );
    ecs.delete_service(&names[0], "jenkins-controller").await.expect("delete service");
    ecs.delete_service(&names[0], "jenkins-controller").await.expect("deleting again is fine");
    ecs.deregister_task_definition(&definition).await.expect("deregister");
    assert!(ecs.task_definition_revisions("butler-payments-ci-controller").await.expect("revisions").is_empty());
    for name in &names {
        ecs.delete_cluster(name).await.expect("delete cluster");
    }
    assert!(ecs.describe_clusters(&names).await.expect("describe").is_empty());
}
