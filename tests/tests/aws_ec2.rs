//! The EC2 adapter against the emulator with the real SDK: security groups, the profile network.

use butler::aws::ec2::{Ec2Api, IngressRule, SdkEc2};
use butler::aws::emulator::ensure_network;
use butler::aws::tags::environment_tags;
use butler_tests::aws::fresh_account;

#[tokio::test]
async fn the_profile_network_is_created_once_and_found_again() {
    let account = fresh_account().await;
    let ec2 = SdkEc2::new(&account);
    let first = ensure_network(&ec2, "default").await.expect("network");
    assert_eq!(first.subnet_ids.len(), 2);
    let subnets = ec2.describe_subnets(&first.subnet_ids).await.expect("subnets");
    let zones: std::collections::HashSet<_> = subnets.iter().map(|s| s.availability_zone.clone()).collect();
    assert_eq!(zones.len(), 2, "two availability zones");
    let calls_before = account.settings.calls.mutating();
    let second = ensure_network(&ec2, "default").await.expect("network again");
    assert_eq!(first, second);
    assert_eq!(account.settings.calls.mutating(), calls_before, "the second pass creates nothing");
}

#[tokio::test]
async fn security_groups_are_found_by_name_and_rules_are_idempotent() {
    let account = fresh_account().await;
    let ec2 = SdkEc2::new(&account);
    let network = ensure_network(&ec2, "default").await.expect("network");
    let tags = environment_tags("payments", "ci", &uuid::Uuid::new_v4());
    assert_eq!(ec2.find_security_group(&network.vpc_id, "butler-payments-ci-agents").await.expect("lookup"), None);
    let agents =
        ec2.create_security_group(&network.vpc_id, "butler-payments-ci-agents", "agents", &tags).await.expect("create");
    let controller = ec2
        .create_security_group(&network.vpc_id, "butler-payments-ci-controller", "controller", &tags)
        .await
        .expect("create");
    // Found with its owner: the butler:uid tag it was made with.
    let found = ec2.find_security_group(&network.vpc_id, "butler-payments-ci-agents").await.expect("lookup");
    let owner = tags.get("butler:uid").cloned();
    assert_eq!(found, Some(butler::aws::ec2::FoundGroup { id: agents.clone(), owner, ..Default::default() }));
    let duplicate = ec2.create_security_group(&network.vpc_id, "butler-payments-ci-agents", "agents", &tags).await;
    assert_eq!(duplicate.expect_err("duplicate name").kind, butler::aws::AwsErrorKind::AlreadyExists);
    let rules = [IngressRule::from_group(50000, &agents), IngressRule::from_group(8080, &agents)];
    ec2.authorize_ingress(&controller, &rules).await.expect("rules");
    ec2.authorize_ingress(&controller, &rules).await.expect("the same rules again");
    let mut sorted = rules.to_vec();
    sorted.sort();
    let read = |name: &'static str| ec2.find_security_group(&network.vpc_id, name);
    let found = read("butler-payments-ci-controller").await.expect("lookup").expect("group");
    assert_eq!((found.ingress.clone(), found.other_ingress), (sorted.clone(), false), "rules read back");

    // Out of band: SSH from the world, and one of Butler's rules revoked. Converging puts back exactly the rules.
    let sdk = aws_sdk_ec2::Client::new(&account.config);
    let world = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    sdk.authorize_security_group_ingress().group_id(&controller).ip_permissions(world).send().await.expect("ssh");
    let ours = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(8080)
        .to_port(8080)
        .user_id_group_pairs(aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(&agents).build())
        .build();
    sdk.revoke_security_group_ingress().group_id(&controller).ip_permissions(ours).send().await.expect("revoke");
    let drifted = read("butler-payments-ci-controller").await.expect("lookup").expect("group");
    // The world's SSH rule reads back as a CIDR rule (a shape Butler uses only on a load balancer's group).
    let mut expected = vec![IngressRule::from_cidr(22, "0.0.0.0/0"), IngressRule::from_group(50000, &agents)];
    expected.sort();
    assert!(drifted.ingress == expected && !drifted.other_ingress, "{drifted:?}");
    let changes = ec2.converge_ingress(&controller, &sorted).await.expect("converge");
    assert_eq!(changes.len(), 2, "one revoked, one allowed: {changes:?}");
    let back = read("butler-payments-ci-controller").await.expect("lookup").expect("group");
    assert_eq!((back.ingress, back.other_ingress), (sorted.clone(), false), "exactly Butler's rules again");
    assert!(ec2.converge_ingress(&controller, &sorted).await.expect("again").is_empty(), "converged is a no-op");
    ec2.delete_security_group(&controller).await.expect("delete");
    ec2.delete_security_group(&controller).await.expect("deleting again is fine");
    assert!(account.settings.calls.snapshot()["ec2:CreateSecurityGroup"] >= 3, "calls are counted");
}

#[tokio::test]
async fn default_routes_tell_a_private_subnet_with_a_nat_gateway_from_one_without() {
    let account = fresh_account().await;
    let ec2 = SdkEc2::new(&account);
    let tags = butler::aws::tags::profile_tags("egress");
    let vpc = ec2.create_vpc("10.50.0.0/16", &tags).await.expect("vpc");
    let zone = ec2.availability_zones().await.expect("zones").remove(0);
    let subnet = ec2.create_subnet(&vpc, "10.50.1.0/24", &zone, &tags).await.expect("subnet");
    let routes = ec2.default_routes(&vpc, std::slice::from_ref(&subnet)).await.expect("routes");
    assert_eq!(routes.get(&subnet), Some(&None), "a new VPC has only its local route");
    ec2.ensure_nat_route(&vpc, &subnet, &tags).await.expect("nat");
    ec2.ensure_nat_route(&vpc, &subnet, &tags).await.expect("a second time changes nothing");
    let routes = ec2.default_routes(&vpc, std::slice::from_ref(&subnet)).await.expect("routes");
    let target = routes.get(&subnet).cloned().flatten().expect("a default route");
    assert!(target.starts_with("nat-"), "{target}");
}
