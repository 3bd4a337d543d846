//! Ingress against the emulator with the real SDK: a profile's pool of shared load balancers, each environment's
//! target group, host rule and alias record, read back; the pool grows by slot and shrinks after the grace period;
//! drift of any part (rule, record, target group, listener) is put back by the next content check with an event
//! naming it; two reconcilers opening the same slot at once make one balancer.

use std::time::Duration;

use butler::aws::elb::{ElbApi, SdkElb};
use butler::aws::route53::{AliasRecord, DnsApi, SdkRoute53};
use butler::domain::ingress::target_group_name;
use butler::reconcile::environment::SdkProvider;
use butler::reconcile::pool;
use butler_tests::emulated::{condition, names_of, World};
use butler_tests::emulated_ingress::{pool, pool_rules};
use butler_tests::{environment_path, manifest};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn create(world: &World, name: &str) {
    let mut body = manifest(name);
    body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
    let created = world.app.create("payments", &body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    world.converge(name).await;
}

async fn delete(world: &World, name: &str) {
    let deleted = world.app.send(world.app.request(Method::DELETE, &environment_path("payments", name))).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    world.converge(name).await;
    assert_eq!(world.app.get(&environment_path("payments", name)).await.status, StatusCode::NOT_FOUND);
}

async fn sweep(world: &World, grace: Duration) -> pool::Swept {
    let provider = SdkProvider::new(world.settings.clone());
    pool::sweep(&world.app.db(), &provider, grace).await.expect("sweep")
}

#[tokio::test]
async fn three_environments_two_per_balancer_make_two_balancers_and_the_pool_shrinks_after_the_grace_period() {
    let world = World::with_ingress(2).await;
    for name in ["ci", "qa", "prod"] {
        create(&world, name).await;
    }
    let elb = SdkElb::new(&world.account);
    let (balancers, groups) = pool(&world).await;
    assert_eq!(balancers.len(), 2, "{balancers:?}");
    assert_eq!(groups.len(), 2, "{groups:?}");
    let rules = pool_rules(&world).await;
    assert_eq!(rules.len(), 3, "{rules:?}");
    let ingress = world.ingress.clone().expect("ingress");
    let mut target_groups = Vec::new();
    for name in ["ci", "qa", "prod"] {
        let object = world.object(name).await;
        assert_eq!(object["status"]["phase"], "Ready", "{name}: {}", object["status"]);
        assert_eq!(condition(&object, "IngressReady")["status"], "True", "{name}");
        let url = object["status"]["outputs"]["url"].as_str().expect("url");
        assert_eq!(url, ingress.url("payments", name));
        let problems = world.content_problems(&object).await;
        assert!(problems.is_empty(), "{name}: {problems:?}");
        // Its rule forwards its host to its own target group, nobody else's.
        let (_, uid) = names_of(&object);
        let group = elb.find_target_group(&target_group_name(&uid.parse().expect("uid"))).await.expect("tg");
        let group = group.expect("target group");
        let host = ingress.host("payments", name);
        let mine: Vec<_> = rules.iter().filter(|rule| rule.hosts == [host.clone()]).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].target_groups, std::slice::from_ref(&group.arn));
        // The controller service registers its task in that target group; the generated JCasC links the URL.
        let config = world.app.get(&format!("{}/jenkins-config", environment_path("payments", name))).await.json();
        assert!(config["casc"].as_str().expect("casc").contains(&format!("url: {url}")), "{}", config["casc"]);
        target_groups.push(group.arn);
    }
    target_groups.sort();
    target_groups.dedup();
    assert_eq!(target_groups.len(), 3);
    // ci and qa share the first balancer, prod opened the second.
    let first = world.object("ci").await["status"]["outputs"]["loadBalancer"].clone();
    assert_eq!(world.object("qa").await["status"]["outputs"]["loadBalancer"], first);
    assert_ne!(world.object("prod").await["status"]["outputs"]["loadBalancer"], first);

    delete(&world, "qa").await;
    delete(&world, "prod").await;
    // Within the grace period nothing of the pool goes.
    assert_eq!(sweep(&world, Duration::from_secs(3600)).await, pool::Swept::default());
    assert_eq!(pool(&world).await.0.len(), 2);
    let swept = sweep(&world, Duration::ZERO).await;
    assert_eq!(swept.deleted.len(), 1, "{swept:?}");
    let (balancers, groups) = pool(&world).await;
    assert_eq!((balancers.len(), groups.len()), (1, 1));
    assert_eq!(pool_rules(&world).await.len(), 1);

    // A new environment fills the room on the balancer that is left.
    create(&world, "staging").await;
    assert_eq!(world.object("staging").await["status"]["outputs"]["loadBalancer"], first);
    delete(&world, "staging").await;
    delete(&world, "ci").await;
    let swept = sweep(&world, Duration::ZERO).await;
    assert_eq!(swept.deleted.len(), 1, "{swept:?}");
    assert_eq!(pool(&world).await, (Vec::new(), Vec::new()), "nothing of the pool is left");
    for name in ["ci", "qa", "prod", "staging"] {
        let host = ingress.host("payments", name);
        let record = SdkRoute53::new(&world.account).find_alias(&ingress.hosted_zone_id, &host).await.expect("dns");
        assert_eq!(record, None, "{host}");
    }
}

#[tokio::test]
async fn a_rule_record_target_group_or_listener_removed_out_of_band_comes_back_with_an_event() {
    let world = World::with_ingress(100).await;
    create(&world, "ci").await;
    let ingress = world.ingress.clone().expect("ingress");
    let elb = SdkElb::new(&world.account);
    let dns = SdkRoute53::new(&world.account);
    let host = ingress.host("payments", "ci");
    let object = world.object("ci").await;
    let balancer = butler_tests::emulated_ingress::balancer_of(&world, &object).await.expect("balancer");

    // The rule and the record.
    let rule = pool_rules(&world).await.into_iter().find(|r| r.hosts == [host.clone()]).expect("rule");
    elb.delete_rule(&rule.arn).await.expect("delete rule");
    let record = dns.find_alias(&ingress.hosted_zone_id, &host).await.expect("dns").expect("record");
    dns.delete_alias(&ingress.hosted_zone_id, &record).await.expect("delete record");
    world.content_check("ci").await;
    let problems = world.content_problems(&world.object("ci").await).await;
    assert!(problems.is_empty(), "after rule and record: {problems:?}");
    let messages = drift_messages(&world).await;
    assert!(messages.iter().any(|m| m.contains("listener rule for") && m.contains(&host)), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("alias record") && m.contains(&host)), "{messages:?}");

    // A record pointed elsewhere is put back too.
    let elsewhere = AliasRecord { target_dns_name: "elsewhere.example.test".into(), ..record.clone() };
    dns.upsert_alias(&ingress.hosted_zone_id, &elsewhere).await.expect("upsert");
    // The target group (its rule first: AWS refuses to delete a target group a rule uses).
    let rule = pool_rules(&world).await.into_iter().find(|r| r.hosts == [host.clone()]).expect("rule");
    elb.delete_rule(&rule.arn).await.expect("delete rule");
    let uid: uuid::Uuid = names_of(&object).1.parse().expect("uid");
    let group = elb.find_target_group(&target_group_name(&uid)).await.expect("tg").expect("target group");
    elb.delete_target_group(&group.arn).await.expect("delete target group");
    world.content_check("ci").await;
    let object = world.object("ci").await;
    let problems = world.content_problems(&object).await;
    assert!(problems.is_empty(), "after target group: {problems:?}");
    assert_eq!(object["status"]["phase"], "Ready");
    let messages = drift_messages(&world).await;
    assert!(
        messages.iter().any(|m| m.contains("created target group") && m.contains(&target_group_name(&uid))),
        "{messages:?}"
    );

    // The HTTPS listener (its rules go with it).
    let listener =
        elb.listeners(&balancer.arn).await.expect("listeners").into_iter().find(|l| l.port == 443).expect("443");
    delete_listener(&world, &listener.arn).await;
    world.content_check("ci").await;
    let object = world.object("ci").await;
    let problems = world.content_problems(&object).await;
    assert!(problems.is_empty(), "after listener: {problems:?}");
    let messages = drift_messages(&world).await;
    assert!(messages.iter().any(|m| m.contains("listener 443") && m.contains(&balancer_name(&object))), "{messages:?}");
    // A content check of an untouched environment changes nothing.
    let before = drift_messages(&world).await.len();
    world.content_check("ci").await;
    assert_eq!(drift_messages(&world).await.len(), before);
}

fn balancer_name(object: &serde_json::Value) -> String {
    object["status"]["outputs"]["loadBalancer"].as_str().unwrap_or_default().to_owned()
}

async fn delete_listener(world: &World, arn: &str) {
    let client = aws_sdk_elasticloadbalancingv2::Client::new(&world.account.config);
    client.delete_listener().listener_arn(arn).send().await.expect("delete listener");
}

async fn drift_messages(world: &World) -> Vec<String> {
    let events = world.app.get(&format!("{}/events", environment_path("payments", "ci"))).await.json();
    events["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|e| e["reason"] == "DriftRepaired")
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn two_replicas_provisioning_at_once_share_one_new_balancer() {
    let world = World::with_ingress(2).await;
    for name in ["ci", "qa"] {
        let mut body = manifest(name);
        body["spec"] = json!({ "storage": { "deletionPolicy": "Delete" } });
        assert_eq!(world.app.create("payments", &body).await.status, StatusCode::CREATED);
    }
    // Two reconcilers (as two processes would have), each on its own environment, pass for pass at the same time:
    // both need the pool's first balancer before either has recorded it.
    let other = World::reconciler_with(&world.app, &world.settings);
    tokio::join!(World::converge_with(&world.reconciler, "ci"), World::converge_with(&other, "qa"));
    let (balancers, groups) = pool(&world).await;
    assert_eq!((balancers.len(), groups.len()), (1, 1), "{balancers:?} {groups:?}");
    for name in ["ci", "qa"] {
        let object = world.object(name).await;
        assert_eq!(object["status"]["phase"], "Ready", "{name}");
        let problems = world.content_problems(&object).await;
        assert!(problems.is_empty(), "{name}: {problems:?}");
    }
    assert_eq!(pool_rules(&world).await.len(), 2);
}

#[tokio::test]
async fn a_profile_without_ingress_keeps_the_cloud_map_address_and_says_so() {
    let world = World::new().await;
    create(&world, "ci").await;
    let object = world.object("ci").await;
    assert_eq!(object["status"]["phase"], "Ready");
    let ready = condition(&object, "IngressReady");
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("True"), Some("NoIngress")));
    assert!(ready["message"].as_str().expect("message").contains("only inside the VPC"));
    assert!(object["status"]["outputs"]["url"].as_str().expect("url").starts_with("http://"));
}
