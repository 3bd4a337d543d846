//! Capacity adapters against the emulator with the real SDK: the launch template (user data round trip),
//! the mixed-instances ASG (what Butler sets comes back the same, so drift checks compare like with like),
//! the capacity provider and its association, the ECS AMI parameter and the admin password secret.

use butler::aws::autoscaling::{AutoScalingApi, GroupSpec, SdkAutoScaling};
use butler::aws::ec2::{Ec2Api, LaunchTemplateData, SdkEc2};
use butler::aws::ecs::{EcsApi, SdkEcs};
use butler::aws::emulator::ensure_network;
use butler::aws::ssm::{SdkSsm, SsmApi};
use butler::aws::tags::environment_tags;
use butler::reconcile::environment::capacity::{user_data, ECS_AMI_PARAMETER};
use butler_tests::aws::fresh_account;

#[tokio::test]
async fn launch_template_group_and_capacity_provider_round_trip() {
    let account = fresh_account().await;
    let (ec2, ecs, asg, ssm) =
        (SdkEc2::new(&account), SdkEcs::new(&account), SdkAutoScaling::new(&account), SdkSsm::new(&account));
    let network = ensure_network(&ec2, "default").await.expect("network");
    let tags = environment_tags("payments", "ci", &uuid::Uuid::new_v4());

    let ami = ssm.get_parameter(ECS_AMI_PARAMETER).await.expect("ssm").expect("the ECS AMI parameter exists");
    assert!(ami.starts_with("ami-"), "{ami}");
    assert!(ssm.get_parameter("/butler/absent").await.expect("ssm").is_none());

    let group_id = ec2.create_security_group(&network.vpc_id, "agents", "agents", &tags).await.expect("sg");
    let data = LaunchTemplateData {
        image_id: ami.clone(),
        instance_profile: "butler-instance".into(),
        security_group_ids: vec![group_id],
        user_data: user_data("butler-payments-ci"),
    };
    assert!(ec2.find_launch_template("butler-payments-ci-instances").await.expect("find").is_none());
    let template = ec2.create_launch_template("butler-payments-ci-instances", &data, &tags).await.expect("lt");
    let found = ec2.find_launch_template("butler-payments-ci-instances").await.expect("find").expect("found");
    assert_eq!(found.data, data, "user data and the rest come back byte for byte");
    assert_eq!(found.id, template.id);
    let again = ec2.create_launch_template("butler-payments-ci-instances", &data, &tags).await;
    assert_eq!(again.expect_err("names are unique").kind, butler::aws::AwsErrorKind::AlreadyExists);

    let mut subnets = network.subnet_ids.clone();
    subnets.sort();
    let spec = GroupSpec {
        name: "butler-payments-ci-asg".into(),
        launch_template_id: template.id.clone(),
        subnets,
        instance_types: vec!["m5.large".into(), "m5a.large".into(), "m6i.large".into()],
        on_demand_base: 1,
        on_demand_percent_above_base: 0,
        spot_allocation_strategy: "price-capacity-optimized".into(),
        capacity_rebalance: true,
        min: 1,
        max: 4,
        launch_template_version: butler::aws::autoscaling::LATEST.into(),
        protected_from_scale_in: true,
    };
    asg.create_group(&spec, &tags).await.expect("asg");
    let groups = asg.describe_groups(&[spec.name.clone(), "absent".into()]).await.expect("describe");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].spec, spec, "what Butler set is what it reads back");
    assert_eq!(groups[0].instances.len(), 1, "min 1 launches one instance");
    let edited = GroupSpec { max: 6, instance_types: vec!["m7i.large".into(), "m7a.large".into()], ..spec.clone() };
    asg.update_group(&edited).await.expect("update");
    assert_eq!(asg.describe_groups(std::slice::from_ref(&spec.name)).await.expect("describe")[0].spec, edited);

    // After the group launched: moto stores a new version's user data unencoded and then fails any launch from it.
    let changed = LaunchTemplateData { instance_profile: "other".into(), ..data.clone() };
    let version = ec2.create_launch_template_version(&found, &changed).await.expect("version");
    assert_eq!(version.version, 2);
    assert_eq!(
        ec2.find_launch_template("butler-payments-ci-instances").await.expect("find").expect("lt").data,
        changed
    );

    let cluster = ecs.create_cluster("butler-payments-ci", &tags).await.expect("cluster");
    let provider =
        ecs.create_capacity_provider("butler-payments-ci-capacity", &groups[0].arn, &tags).await.expect("provider");
    assert_eq!(provider.auto_scaling_group_arn, groups[0].arn);
    ecs.put_cluster_capacity_providers(&cluster.name, std::slice::from_ref(&provider.name)).await.expect("associate");
    let described = ecs.describe_clusters(std::slice::from_ref(&cluster.name)).await.expect("describe");
    assert_eq!(described[0].capacity_providers, vec![provider.name.clone()]);

    // Teardown in the safe order.
    ecs.put_cluster_capacity_providers(&cluster.name, &[]).await.expect("disassociate");
    ecs.delete_capacity_provider(&provider.name).await.expect("delete provider");
    assert!(ecs.describe_capacity_providers(std::slice::from_ref(&provider.name)).await.expect("describe").is_empty());
    // (Deleting an absent capacity provider crashes moto with a 500; the reconciler only deletes what it found.)
    let instances: Vec<String> = groups[0].instances.iter().map(|i| i.id.clone()).collect();
    asg.drain_group(&spec.name).await.expect("drain");
    asg.unprotect_instances(&spec.name, &instances).await.expect("unprotect");
    asg.force_delete_group(&spec.name).await.expect("delete");
    asg.force_delete_group(&spec.name).await.expect("deleting again is fine");
    assert!(asg.describe_groups(std::slice::from_ref(&spec.name)).await.expect("describe").is_empty());
    ec2.delete_launch_template(&template.id).await.expect("delete lt");
    assert!(ec2.find_launch_template("butler-payments-ci-instances").await.expect("find").is_none());
    ecs.delete_cluster(&cluster.name).await.expect("delete cluster");
}

#[tokio::test]
async fn the_admin_password_is_created_once_and_never_overwritten() {
    let account = fresh_account().await;
    let ssm = SdkSsm::new(&account);
    let tags = environment_tags("payments", "ci", &uuid::Uuid::new_v4());
    let name = "/butler/payments/ci/admin-password";
    assert!(!ssm.parameter_exists(name).await.expect("exists"));
    ssm.create_secret(name, "first-secret-value", &tags).await.expect("create");
    assert!(ssm.parameter_exists(name).await.expect("exists"));
    let again = ssm.create_secret(name, "second", &tags).await.expect_err("never overwritten");
    assert_eq!(again.kind, butler::aws::AwsErrorKind::AlreadyExists, "{again}");
    ssm.delete_parameter(name).await.expect("delete");
    ssm.delete_parameter(name).await.expect("deleting again is fine");
    assert!(!ssm.parameter_exists(name).await.expect("exists"));
}
