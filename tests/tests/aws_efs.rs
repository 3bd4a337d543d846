//! The EFS adapter against the emulator with the real SDK: token idempotency, mount targets, the jenkins
//! access point, and delete order.

use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::efs::{EfsApi, SdkEfs, Throughput, JENKINS_UID};
use butler::aws::emulator::ensure_network;
use butler::aws::tags::environment_tags;
use butler::aws::AwsErrorKind;
use butler_tests::aws::fresh_account;

#[tokio::test]
async fn jenkins_home_is_created_once_mounted_in_each_subnet_owned_by_uid_1000_and_deleted_in_order() {
    let account = fresh_account().await;
    let (ec2, efs) = (SdkEc2::new(&account), SdkEfs::new(&account));
    let network = ensure_network(&ec2, "default").await.expect("network");
    let uid = uuid::Uuid::new_v4();
    let tags = environment_tags("payments", "ci", &uid);
    let token = uid.to_string();

    assert_eq!(efs.find_file_system(&token).await.expect("lookup"), None);
    let created = efs.create_file_system(&token, Throughput::Elastic, &tags).await.expect("create");
    assert!(created.encrypted);
    let again = efs.create_file_system(&token, Throughput::Elastic, &tags).await.expect_err("same token");
    assert_eq!(again.kind, AwsErrorKind::AlreadyExists, "a crash between create and save finds it instead");
    let found = efs.find_file_system(&token).await.expect("lookup").expect("found by token");
    assert_eq!(found.id, created.id);

    let group = ec2.create_security_group(&network.vpc_id, "butler-payments-ci-efs", "efs", &tags).await.expect("sg");
    for subnet in &network.subnet_ids {
        efs.create_mount_target(&created.id, subnet, &group).await.expect("mount target");
    }
    let targets = efs.mount_targets(&created.id).await.expect("targets");
    assert_eq!(targets.len(), 2);

    let point = efs.create_access_point(&created.id, &token, "/jenkins/ci", &tags).await.expect("access point");
    let points = efs.access_points(&created.id).await.expect("points");
    assert_eq!(points.len(), 1);
    assert_eq!((points[0].root_path.as_str(), points[0].uid), ("/jenkins/ci", Some(JENKINS_UID)));

    let in_use = efs.delete_file_system(&created.id).await.expect_err("mount targets hold it");
    assert_eq!(in_use.kind, AwsErrorKind::Conflict);
    efs.delete_access_point(&point.id).await.expect("delete access point");
    for target in targets {
        efs.delete_mount_target(&target.id).await.expect("delete mount target");
    }
    efs.delete_file_system(&created.id).await.expect("delete file system");
    efs.delete_file_system(&created.id).await.expect("deleting again is fine");
    assert_eq!(efs.find_file_system(&token).await.expect("lookup"), None);
}
