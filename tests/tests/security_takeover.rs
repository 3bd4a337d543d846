//! Security suite, finding 1: taking over another tenant's environment by a colliding name. Tenant `red` with
//! environment `prod-ci` against tenant `red-prod` with environment `ci` — under the legacy names both were
//! `butler-red-prod-ci…`. Run on the emulator with the real SDK: the victim's resources, read back, are unchanged
//! whatever the attacker does, and deleting the attacker's environment leaves the victim whole.

use butler::aws::autoscaling::{AutoScalingApi, SdkAutoScaling};
use butler::aws::discovery::{DiscoveryApi, SdkDiscovery};
use butler::aws::ec2::{Ec2Api, SdkEc2};
use butler::aws::ecs::{EcsApi, SdkEcs};
use butler::reconcile::Action;
use butler_tests::emulated::{condition, names_of, World};
use butler_tests::{environment_path, manifest};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Passes until the environment converges, is refused for good (the error code), or is gone.
async fn converge(world: &World, tenant: &str, name: &str) -> Option<String> {
    for _ in 0..40 {
        match world.reconciler.reconcile_once(tenant, name).await {
            Ok(Action::AwaitChange) => return None,
            Ok(Action::RequeueAfter(_)) => continue,
            Err(error) if error.is_transient() => continue,
            Err(error) => return Some(error.to_string()),
        }
    }
    panic!("{tenant}/{name} did not converge");
}

/// What the victim's resources say, read back from AWS.
async fn victim_state(world: &World, tenant: &str, name: &str) -> Vec<String> {
    let object = world.app.get(&environment_path(tenant, name)).await.json();
    let (names, _) = names_of(&object);
    let account = &world.account;
    let (ec2, ecs, asg) = (SdkEc2::new(account), SdkEcs::new(account), SdkAutoScaling::new(account));
    let mut state = Vec::new();
    let clusters = ecs.describe_clusters(&[names.cluster()]).await.expect("clusters");
    state.push(format!("clusters {clusters:?}"));
    let services = ecs.describe_services(&names.cluster(), &[names.controller_service()]).await.expect("services");
    state.push(format!("service {:?}", services.iter().map(|s| (&s.task_definition, s.desired)).collect::<Vec<_>>()));
    let groups = asg.describe_groups(&[names.auto_scaling_group()]).await.expect("groups");
    state.push(format!("groups {:?}", groups.iter().map(|g| (&g.spec, &g.owner)).collect::<Vec<_>>()));
    state.push(format!("template {:?}", ec2.find_launch_template(&names.launch_template()).await.expect("lt")));
    let providers = ecs.describe_capacity_providers(&[names.capacity_provider()]).await.expect("providers");
    state.push(format!("providers {providers:?}"));
    for group in [names.agents_security_group(), names.controller_security_group(), names.storage_security_group()] {
        state.push(format!("{group} {:?}", ec2.find_security_group(&world.vpc, &group).await.expect("sg")));
    }
    let discovery = SdkDiscovery::new(account);
    let namespace = discovery.find_namespace("jenkins.local").await.expect("ns").expect("namespace");
    let service = discovery.find_service(&namespace.id, &names.discovery_service()).await.expect("cloud map");
    state.push(format!("cloud map {service:?}"));
    let revisions = ecs.task_definition_revisions(&names.controller_family()).await.expect("revisions");
    state.push(format!("revisions {revisions:?}"));
    assert!(clusters.len() == 1 && groups.len() == 1 && service.is_some(), "the victim is whole: {state:?}");
    state
}

async fn tenants(world: &World) {
    for tenant in ["red", "red-prod"] {
        butler::store::tenants::create(&world.app.db(), tenant, tenant).await.expect("tenant");
    }
}

async fn delete_until_gone(world: &World, tenant: &str, name: &str) {
    let deleted = world.app.send(world.app.request(Method::DELETE, &environment_path(tenant, name))).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(converge(world, tenant, name).await, None);
    assert_eq!(world.app.get(&environment_path(tenant, name)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_colliding_tenant_and_environment_name_gets_resources_of_its_own() {
    let world = World::new().await;
    tenants(&world).await;
    assert_eq!(world.app.create("red-prod", &manifest("ci")).await.status, StatusCode::CREATED);
    assert_eq!(converge(&world, "red-prod", "ci").await, None);
    let before = victim_state(&world, "red-prod", "ci").await;

    assert_eq!(world.app.create("red", &manifest("prod-ci")).await.status, StatusCode::CREATED);
    assert_eq!(converge(&world, "red", "prod-ci").await, None);
    let (victim, _) = names_of(&world.app.get(&environment_path("red-prod", "ci")).await.json());
    let (attacker, _) = names_of(&world.app.get(&environment_path("red", "prod-ci")).await.json());
    for ((what, mine), (_, theirs)) in victim.all().into_iter().zip(attacker.all()) {
        assert_ne!(mine, theirs, "{what} is shared");
    }
    assert_eq!(victim_state(&world, "red-prod", "ci").await, before, "the victim changed");

    delete_until_gone(&world, "red", "prod-ci").await;
    assert_eq!(victim_state(&world, "red-prod", "ci").await, before, "deleting the attacker touched the victim");
}

#[tokio::test]
async fn legacy_names_that_collide_are_refused_never_adopted_changed_or_deleted() {
    let world = World::new().await;
    tenants(&world).await;
    // Both made before names were recorded: their legacy names collide.
    assert_eq!(world.app.create("red-prod", &manifest("ci")).await.status, StatusCode::CREATED);
    let mut attack = manifest("prod-ci");
    attack["spec"]["capacity"] = serde_json::json!({ "min": 2, "max": 9 });
    assert_eq!(world.app.create("red", &attack).await.status, StatusCode::CREATED);
    let strip = "UPDATE jenkins_environments SET status = status - 'awsNames'";
    world.app.db().execute(Statement::from_string(DbBackend::Postgres, strip)).await.expect("strip");

    assert_eq!(converge(&world, "red-prod", "ci").await, None);
    let victim = world.app.get(&environment_path("red-prod", "ci")).await.json();
    assert_eq!(victim["status"]["awsNames"]["scheme"], 1, "legacy names recorded: {victim}");
    assert_eq!(victim["status"]["awsNames"]["cluster"], "butler-red-prod-ci");
    let before = victim_state(&world, "red-prod", "ci").await;

    let refused = converge(&world, "red", "prod-ci").await.expect("the attacker's pass is refused");
    assert!(refused.contains("ResourceNotOwned"), "{refused}");
    let attacker = world.app.get(&environment_path("red", "prod-ci")).await.json();
    assert_eq!(condition(&attacker, "Ready")["status"], "False");
    assert_eq!(condition(&attacker, "Ready")["reason"], "ResourceNotOwned", "{attacker}");
    let message = condition(&attacker, "Ready")["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains("another environment") && !message.contains(victim["metadata"]["uid"].as_str().expect("uid"))
    );
    assert_eq!(victim_state(&world, "red-prod", "ci").await, before, "the victim changed");

    delete_until_gone(&world, "red", "prod-ci").await;
    assert_eq!(victim_state(&world, "red-prod", "ci").await, before, "deleting the attacker touched the victim");
    // The victim, upgraded in place, still converges on its legacy names: nothing duplicated, nothing lost.
    assert_eq!(converge(&world, "red-prod", "ci").await, None);
    let object = world.app.get(&environment_path("red-prod", "ci")).await.json();
    assert_eq!(object["status"]["phase"], "Ready", "{object}");
    let (names, uid) = names_of(&object);
    let current = butler::domain::aws_names::Names::current("red-prod", "ci", &uid.parse().expect("uid"));
    for (what, count) in world.inventory(&names, &uid).await {
        assert_eq!(count, if what == "mount targets" { 2 } else { 1 }, "{what}");
    }
    for (what, count) in world.inventory(&current, &uid).await {
        // The uid-keyed file system, its mount targets and access point, the log groups and the admin password
        // are the same resources under either scheme; everything named by scheme 2 must not exist.
        let shared = ["file system", "mount targets", "access points", "admin password"];
        if !shared.contains(&what.as_str()) && !what.starts_with("log group") {
            assert_eq!(count, 0, "{what} duplicated under the new scheme");
        }
    }
}
