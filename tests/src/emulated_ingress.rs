//! What AWS holds for an environment's address and its profile's pool, read back with the SDK adapters: the
//! inventory lines ("exactly one of each", "nothing left") and the content problems (each listener, rule, target
//! group and record exactly as Butler wants it).

use butler::aws::ec2::{Ec2Api, IngressRule, SdkEc2};
use butler::aws::elb::{Balancer, DefaultAction, ElbApi, HostRule, SdkElb};
use butler::aws::route53::{DnsApi, SdkRoute53};
use butler::domain::ingress::{load_balancer_name, load_balancer_security_group, target_group_name, TLS_POLICY};

use crate::emulated::{names_of, World};

/// Pool slots a test looks at.
const SLOTS: std::ops::RangeInclusive<i32> = 1..=6;

/// The environment's tenant and name, from its recorded Cloud Map name (`<env>.<tenant>`).
fn tenant_and_name(names: &butler::reconcile::environment::names::Names) -> (String, String) {
    let service = names.discovery_service();
    let (name, tenant) = service.split_once('.').expect("current-scheme names");
    (tenant.to_owned(), name.to_owned())
}

/// The load balancer the environment's status names.
pub async fn balancer_of(world: &World, object: &serde_json::Value) -> Option<Balancer> {
    let name = object["status"]["outputs"]["loadBalancer"].as_str()?;
    SdkElb::new(&world.account).find_load_balancer(name).await.expect("describe load balancer")
}

/// The pool's load balancers (by slot name) and their security groups that exist.
pub async fn pool(world: &World) -> (Vec<Balancer>, Vec<String>) {
    let (elb, ec2) = (SdkElb::new(&world.account), SdkEc2::new(&world.account));
    let mut balancers = Vec::new();
    let mut groups = Vec::new();
    for slot in SLOTS {
        if let Some(found) = elb.find_load_balancer(&load_balancer_name("default", slot)).await.expect("lb") {
            balancers.push(found);
        }
        let group = load_balancer_security_group("default", slot);
        if ec2.find_security_group(&world.vpc, &group).await.expect("sg").is_some() {
            groups.push(group);
        }
    }
    (balancers, groups)
}

/// Every non-default rule on the pool's HTTPS listeners.
pub async fn pool_rules(world: &World) -> Vec<HostRule> {
    let elb = SdkElb::new(&world.account);
    let mut rules = Vec::new();
    for balancer in pool(world).await.0 {
        for listener in elb.listeners(&balancer.arn).await.expect("listeners") {
            if listener.port == 443 {
                rules.extend(elb.rules(&listener.arn).await.expect("rules"));
            }
        }
    }
    rules
}

/// Inventory lines of the environment's own address: its target group, its host rules, its alias record.
pub async fn inventory(
    world: &World,
    names: &butler::reconcile::environment::names::Names,
    uid: &str,
) -> Vec<(String, usize)> {
    let ingress = world.ingress.as_ref().expect("ingress");
    let uid: uuid::Uuid = uid.parse().expect("uid");
    let elb = SdkElb::new(&world.account);
    let group = elb.find_target_group(&target_group_name(&uid)).await.expect("tg");
    let mut counts = vec![("target group".to_owned(), usize::from(group.is_some()))];
    let (tenant, name) = tenant_and_name(names);
    let host = ingress.host(&tenant, &name);
    let rules = pool_rules(world).await;
    counts.push(("host rule".to_owned(), rules.iter().filter(|r| r.hosts.contains(&host)).count()));
    let record = SdkRoute53::new(&world.account).find_alias(&ingress.hosted_zone_id, &host).await.expect("dns");
    counts.push(("alias record".to_owned(), usize::from(record.is_some())));
    counts
}

/// Where the environment's address differs from what Butler wants.
pub async fn problems(world: &World, object: &serde_json::Value) -> Vec<String> {
    let ingress = world.ingress.as_ref().expect("ingress");
    let (names, uid) = names_of(object);
    let (tenant, name) = tenant_and_name(&names);
    let host = ingress.host(&tenant, &name);
    let elb = SdkElb::new(&world.account);
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let outputs = &object["status"]["outputs"];
    check(outputs["url"] == format!("https://{host}/"), format!("url {}", outputs["url"]));
    let Some(balancer) = balancer_of(world, object).await else {
        check(false, "no load balancer".into());
        return problems;
    };
    check(balancer.scheme == ingress.scheme.as_str(), format!("scheme {}", balancer.scheme));
    let listeners = elb.listeners(&balancer.arn).await.expect("listeners");
    let https = listeners.iter().find(|l| l.port == 443);
    check(
        https.is_some_and(|l| {
            l.protocol == "HTTPS"
                && l.ssl_policy.as_deref() == Some(TLS_POLICY)
                && l.certificate.as_deref() == Some(ingress.certificate_arn.as_str())
                && l.default_action == DefaultAction::Fixed("404".into())
        }),
        format!("HTTPS listener {https:?}"),
    );
    let http = listeners.iter().find(|l| l.port == 80);
    check(
        http.is_some_and(|l| l.protocol == "HTTP" && l.default_action == DefaultAction::RedirectToHttps),
        format!("HTTP listener {http:?}"),
    );
    check(listeners.len() == 2, format!("{} listeners", listeners.len()));
    let uid: uuid::Uuid = uid.parse().expect("uid");
    let group = elb.find_target_group(&target_group_name(&uid)).await.expect("tg");
    let Some(group) = group else {
        check(false, "no target group".into());
        return problems;
    };
    check(outputs["targetGroupArn"] == group.arn.as_str(), format!("targetGroupArn {}", outputs["targetGroupArn"]));
    check(
        group.target_type == "ip"
            && group.spec.port == 8080
            && group.spec.health_check_path == "/login"
            && group.spec.matcher == "200"
            && group.spec.vpc_id == world.vpc,
        format!("target group {group:?}"),
    );
    let delay = elb.deregistration_delay(&group.arn).await.expect("attributes");
    check(delay.as_deref() == Some("15"), format!("deregistration delay {delay:?}"));
    if let Some(https) = https {
        let rules: Vec<HostRule> =
            elb.rules(&https.arn).await.expect("rules").into_iter().filter(|r| r.hosts.contains(&host)).collect();
        check(
            rules.len() == 1
                && rules[0].hosts == [host.clone()]
                && rules[0].target_groups == [group.arn.clone()]
                && !rules[0].other,
            format!("host rules {rules:?}"),
        );
    }
    let record = SdkRoute53::new(&world.account).find_alias(&ingress.hosted_zone_id, &host).await.expect("dns");
    check(
        record.as_ref().is_some_and(|r| {
            r.target_dns_name == balancer.dns_name.to_ascii_lowercase()
                && r.target_zone_id == balancer.canonical_zone_id
        }),
        format!("alias record {record:?}"),
    );
    let ec2 = SdkEc2::new(&world.account);
    if let Some(group_id) = balancer.security_groups.first() {
        let name = object["status"]["outputs"]["loadBalancer"].as_str().unwrap_or_default();
        let slot: i32 = name.rsplit('-').next().and_then(|s| s.parse().ok()).unwrap_or_default();
        let own =
            ec2.find_security_group(&world.vpc, &load_balancer_security_group("default", slot)).await.expect("sg");
        let mut wanted: Vec<IngressRule> = ingress
            .allowed_cidrs
            .iter()
            .flat_map(|c| [IngressRule::from_cidr(443, c), IngressRule::from_cidr(80, c)])
            .collect();
        wanted.sort();
        check(
            own.as_ref().is_some_and(|g| &g.id == group_id && g.ingress == wanted && !g.other_ingress),
            format!("load balancer group {own:?}"),
        );
    }
    problems
}
