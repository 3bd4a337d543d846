//! The Cloud Map adapter against the emulator: one shared namespace, one service per environment.

use butler::aws::discovery::{DiscoveryApi, OperationState, SdkDiscovery};
use butler::aws::ec2::SdkEc2;
use butler::aws::emulator::ensure_network;
use butler::aws::tags::{environment_tags, profile_tags};
use butler_tests::aws::fresh_account;

#[tokio::test]
async fn the_profile_namespace_and_an_environment_service_are_created_found_and_deleted() {
    let account = fresh_account().await;
    let network = ensure_network(&SdkEc2::new(&account), "default").await.expect("network");
    let discovery = SdkDiscovery::new(&account);
    assert_eq!(discovery.find_namespace("jenkins.local").await.expect("lookup"), None);
    let operation = discovery
        .create_namespace("jenkins.local", &network.vpc_id, "profile-default", &profile_tags("default"))
        .await
        .expect("create namespace");
    let state = discovery.operation(&operation).await.expect("operation");
    assert!(matches!(state, OperationState::Succeeded { .. } | OperationState::Pending), "{state:?}");
    let namespace = discovery.find_namespace("jenkins.local").await.expect("lookup").expect("namespace exists");

    let uid = uuid::Uuid::new_v4();
    let tags = environment_tags("payments", "ci", &uid);
    assert_eq!(discovery.find_service(&namespace.id, "master-payments-ci").await.expect("lookup"), None);
    let service =
        discovery.create_service(&namespace.id, "master-payments-ci", &uid.to_string(), &tags).await.expect("service");
    let found = discovery.find_service(&namespace.id, "master-payments-ci").await.expect("lookup").expect("found");
    assert_eq!(found.id, service.id);
    assert!(discovery.instances(&service.id).await.expect("instances").is_empty());
    discovery.delete_service(&service.id).await.expect("delete");
    discovery.delete_service(&service.id).await.expect("deleting again is fine");
    assert_eq!(discovery.find_service(&namespace.id, "master-payments-ci").await.expect("lookup"), None);
}
