//! Ingress: the environment's HTTPS address. Before storage, the environment is placed on a load balancer of its
//! profile's pool (made here by the first pass that needs it: its security group, the balancer, HTTPS and
//! redirect listeners), so the controller's group can admit that balancer. After discovery, its own target group,
//! host rule and alias record are made or put back. After the controller, the target's health decides
//! `IngressReady`. A profile without ingress keeps the Cloud Map address, and `IngressReady` says so.

use sea_orm::DatabaseConnection;

use super::conditions::{self, INGRESS_READY};
use super::{Pass, Progress};
use crate::aws::ec2::{IngressRule, Outbound};
use crate::aws::elb::{BalancerSpec, Listener, TargetGroupSpec, JENKINS_PORT};
use crate::aws::route53::AliasRecord;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::ingress::{self, Ingress, TLS_POLICY};
use crate::domain::object::{ConditionStatus, EventType};
use crate::store::load_balancers::{self, BalancerRow, MadeBalancer};

/// Where the environment is reached, once placed and its balancer made.
#[derive(Debug, Clone)]
pub struct Placed {
    pub ingress: Ingress,
    pub slot: i32,
    pub priority: i32,
    pub balancer_name: String,
    pub balancer: MadeBalancer,
}

/// `IngressReady`'s reason when the profile has no ingress (the condition is True: nothing is missing).
pub(crate) const NO_INGRESS: &str = "NoIngress";

/// The health check path: `/login` answers 200 once Jenkins is up, whatever the security realm.
pub(crate) const HEALTH_CHECK_PATH: &str = "/login";

fn set(pass: &mut Pass, value: ConditionStatus, reason: &str, message: &str) {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, INGRESS_READY, value, reason, message, generation, pass.now);
}

/// The pool's tags: the profile and the slot (never an environment's: many share a balancer).
fn pool_tags(profile: &str, slot: i32) -> std::collections::BTreeMap<String, String> {
    let mut tags = crate::aws::tags::profile_tags(profile);
    tags.insert(crate::aws::tags::POOL_SLOT.to_owned(), slot.to_string());
    tags
}

/// Places the environment and makes sure its load balancer is whole. None when the profile has no ingress.
pub async fn place(pass: &mut Pass, db: &DatabaseConnection) -> Result<Option<Placed>, AwsError> {
    let Some(ingress) = pass.profile.ingress() else {
        let message =
            format!("the cloud profile {} has no ingress: Jenkins is reachable only inside the VPC", pass.profile.name);
        set(pass, ConditionStatus::True, NO_INGRESS, &message);
        return Ok(None);
    };
    let meta = &pass.object.metadata;
    let placement = load_balancers::place(
        db,
        &pass.profile.name,
        (&meta.tenant, &meta.name, meta.uid),
        ingress.max_environments_per_load_balancer,
    )
    .await
    .map_err(|e| super::store_failure("butler:PlaceOnLoadBalancer", &e))?;
    let made = recorded(&placement.balancer);
    // What an earlier pass recorded stands until a content check looks again (once per snapshot).
    let verify = match (&made, &pass.snapshot) {
        (None, _) => true,
        (Some(_), Some(snapshot)) => pass.content_check && snapshot.first_look_at_balancer(&placement.balancer.name),
        (Some(_), None) => pass.content_check,
    };
    let balancer = match made {
        Some(made) if !verify => made,
        _ => {
            let made = balancer(pass, &ingress, &placement.balancer).await?;
            load_balancers::record_made(db, &pass.profile.name, placement.balancer.slot, &made)
                .await
                .map_err(|e| super::store_failure("butler:RecordLoadBalancer", &e))?;
            made
        }
    };
    Ok(Some(Placed {
        ingress,
        slot: placement.balancer.slot,
        priority: placement.priority,
        balancer_name: placement.balancer.name,
        balancer,
    }))
}

fn recorded(row: &BalancerRow) -> Option<MadeBalancer> {
    Some(MadeBalancer {
        arn: row.arn.clone()?,
        dns_name: row.dns_name.clone()?,
        canonical_zone_id: row.canonical_zone_id.clone()?,
        security_group_id: row.security_group_id.clone()?,
        https_listener_arn: row.https_listener_arn.clone()?,
        http_listener_arn: row.http_listener_arn.clone()?,
    })
}

/// Finds or makes the pool balancer of `row`: its security group (443 and 80 from the allowed ranges), the
/// balancer (its name is the slot's, so a retried or concurrent create is the same balancer) and both listeners,
/// each put back to what Butler wants.
async fn balancer(pass: &mut Pass, ingress: &Ingress, row: &BalancerRow) -> Result<MadeBalancer, AwsError> {
    let profile = pass.profile.name.clone();
    let tags = pool_tags(&profile, row.slot);
    let group_name = ingress::load_balancer_security_group(&profile, row.slot);
    let vpc = pass.profile.vpc_id.clone();
    let mut made_group = false;
    let group = match pass.aws.ec2.find_security_group(&vpc, &group_name).await? {
        Some(found) => found.id,
        None => {
            made_group = true;
            let description = "Butler load balancer: HTTPS and HTTP from the allowed ranges";
            match pass.aws.ec2.create_security_group(&vpc, &group_name, description, &tags).await {
                Ok(id) => id,
                Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                    pass.aws.ec2.find_security_group(&vpc, &group_name).await?.map(|g| g.id).ok_or(error)?
                }
                Err(error) => return Err(error),
            }
        }
    };
    let rules: Vec<IngressRule> = ingress
        .allowed_cidrs
        .iter()
        .flat_map(|cidr| [IngressRule::from_cidr(443, cidr), IngressRule::from_cidr(80, cidr)])
        .collect();
    let changes = pass.aws.ec2.converge_ingress(&group, &rules).await?;
    // The balancer reaches its targets (8080 in the VPC) and answers health checks: outbound stays open.
    let outbound = pass.aws.ec2.converge_egress(&group, Outbound::Everything).await?;
    if !made_group && (!changes.is_empty() || !outbound.is_empty()) {
        let message = format!("load balancer group {group_name}: {}", [changes, outbound].concat().join(", "));
        pass.event(EventType::Normal, "DriftRepaired", message);
    }
    let spec = BalancerSpec {
        name: row.name.clone(),
        scheme: ingress.scheme.as_str().to_owned(),
        subnets: ingress.subnet_ids.clone(),
        security_group: group.clone(),
    };
    let found = match pass.aws.elb.find_load_balancer(&row.name).await? {
        Some(found) => found,
        None => {
            let created = pass.aws.elb.create_load_balancer(&spec, &tags).await?;
            let message = format!("created load balancer {} ({}) for the profile {profile}", row.name, spec.scheme);
            pass.event(EventType::Normal, "LoadBalancerCreated", message);
            created
        }
    };
    let listeners = pass.aws.elb.listeners(&found.arn).await?;
    let mut arns = Vec::new();
    for mut wanted in [Listener::https(&ingress.certificate_arn, TLS_POLICY), Listener::http_redirect()] {
        let arn = match listeners.iter().find(|listener| listener.port == wanted.port) {
            Some(existing) if wanted.same_as(existing) => existing.arn.clone(),
            Some(existing) => {
                wanted.arn = existing.arn.clone();
                pass.aws.elb.modify_listener(&wanted).await?;
                let message =
                    format!("listener {} of {} set back to {:?}", wanted.port, row.name, wanted.default_action);
                pass.event(EventType::Normal, "DriftRepaired", message);
                existing.arn.clone()
            }
            None => match pass.aws.elb.create_listener(&found.arn, &wanted).await {
                Ok(arn) => {
                    // A balancer that had its listeners already lost one: that is drift; a new one gets its own.
                    let reason = if row.https_listener_arn.is_some() { "DriftRepaired" } else { "ListenerCreated" };
                    pass.event(EventType::Normal, reason, format!("listener {} of {} created", wanted.port, row.name));
                    arn
                }
                // Another pass on the same balancer (another environment, another replica) made it meanwhile; its
                // settings are checked on the next look.
                Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                    let listeners = pass.aws.elb.listeners(&found.arn).await?;
                    listeners.into_iter().find(|l| l.port == wanted.port).map(|l| l.arn).ok_or(error)?
                }
                Err(error) => return Err(error),
            },
        };
        arns.push(arn);
    }
    Ok(MadeBalancer {
        arn: found.arn,
        dns_name: found.dns_name,
        canonical_zone_id: found.canonical_zone_id,
        security_group_id: group,
        https_listener_arn: arns[0].clone(),
        http_listener_arn: arns[1].clone(),
    })
}

fn target_group_spec(pass: &Pass) -> TargetGroupSpec {
    TargetGroupSpec {
        name: ingress::target_group_name(&pass.object.metadata.uid),
        vpc_id: pass.profile.vpc_id.clone(),
        port: JENKINS_PORT,
        health_check_path: HEALTH_CHECK_PATH.to_owned(),
        matcher: "200".to_owned(),
    }
}

/// Makes the environment's target group, host rule and alias record, or puts them back; records the HTTPS URL.
pub async fn ensure(pass: &mut Pass) -> Result<Progress, AwsError> {
    let Some(placed) = pass.ingress.clone() else { return Ok(Progress::Done) };
    let meta = &pass.object.metadata;
    let host = placed.ingress.host(&meta.tenant, &meta.name);
    let url = placed.ingress.url(&meta.tenant, &meta.name);
    let target_group = target_group(pass).await?;
    host_rule(pass, &placed, &host, &target_group).await?;
    alias_record(pass, &placed, &host).await?;
    pass.status.outputs.target_group_arn = Some(target_group);
    pass.status.outputs.load_balancer = Some(placed.balancer_name.clone());
    pass.status.outputs.url = Some(url);
    Ok(Progress::Done)
}

async fn target_group(pass: &mut Pass) -> Result<String, AwsError> {
    if let Some(arn) = pass.made("targetGroup") {
        return Ok(arn);
    }
    let spec = target_group_spec(pass);
    let found = if pass.fresh { None } else { pass.aws.elb.find_target_group(&spec.name).await? };
    let arn = match found {
        Some(found) => {
            if found.spec != spec {
                pass.aws.elb.modify_target_group(&found.arn, &spec).await?;
                let message = format!(
                    "target group {}: health check {} matcher {} set back",
                    spec.name, spec.health_check_path, spec.matcher
                );
                pass.event(EventType::Normal, "DriftRepaired", message);
            }
            if pass.aws.elb.deregistration_delay(&found.arn).await?.as_deref()
                != Some(crate::aws::elb::DEREGISTRATION_DELAY_SECONDS)
            {
                pass.aws.elb.set_deregistration_delay(&found.arn).await?;
            }
            found.arn
        }
        None => {
            let made = match pass.aws.elb.create_target_group(&spec, &pass.tags()).await {
                Ok(made) => made,
                // Made by a pass whose answer was lost (the name is this environment's uid).
                Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                    pass.aws.elb.find_target_group(&spec.name).await?.ok_or(error)?
                }
                Err(error) => return Err(error),
            };
            pass.aws.elb.set_deregistration_delay(&made.arn).await?;
            let reason =
                if pass.status.outputs.target_group_arn.is_some() { "DriftRepaired" } else { "TargetGroupCreated" };
            pass.event(EventType::Normal, reason, format!("created target group {}", spec.name));
            made.arn
        }
    };
    pass.record("targetGroup", arn.clone());
    Ok(arn)
}

async fn host_rule(pass: &mut Pass, placed: &Placed, host: &str, target_group: &str) -> Result<(), AwsError> {
    if pass.made("hostRule").is_some() {
        return Ok(());
    }
    let listener = placed.balancer.https_listener_arn.clone();
    let mine =
        |rules: &[crate::aws::elb::HostRule]| rules.iter().find(|rule| rule.hosts.iter().any(|h| h == host)).cloned();
    let existing = if pass.fresh { None } else { mine(&pass.aws.elb.rules(&listener).await?) };
    let arn = match existing {
        Some(rule) => {
            if rule.hosts != [host] || rule.target_groups != [target_group] || rule.other {
                pass.aws.elb.modify_rule(&rule.arn, host, target_group).await?;
                let message = format!("listener rule for {host} set back to forward to its target group");
                pass.event(EventType::Normal, "DriftRepaired", message);
            }
            rule.arn
        }
        None => match pass.aws.elb.create_rule(&listener, placed.priority, host, target_group, &pass.tags()).await {
            Ok(arn) => {
                // The stored status (this pass's has the Cloud Map URL until `ensure` ends) says whether it had one.
                let reason = if pass.object.status.outputs.target_group_arn.is_some() {
                    "DriftRepaired"
                } else {
                    "HostRuleCreated"
                };
                pass.event(
                    EventType::Normal,
                    reason,
                    format!("listener rule for {host} created (priority {})", placed.priority),
                );
                arn
            }
            // The priority is taken: by this environment's own rule (a create whose answer was lost), or not.
            Err(error) if error.code == "PriorityInUse" => match mine(&pass.aws.elb.rules(&listener).await?) {
                Some(rule) => rule.arn,
                None => {
                    return Err(AwsError {
                        kind: AwsErrorKind::Invalid,
                        message: format!(
                            "priority {} on {}'s HTTPS listener is taken by a rule Butler did not make for {host}",
                            placed.priority, placed.balancer_name
                        ),
                        ..error
                    })
                }
            },
            Err(error) => return Err(error),
        },
    };
    pass.record("hostRule", arn);
    Ok(())
}

async fn alias_record(pass: &mut Pass, placed: &Placed, host: &str) -> Result<(), AwsError> {
    if pass.made("aliasRecord").is_some() {
        return Ok(());
    }
    let wanted = AliasRecord {
        name: host.to_owned(),
        target_dns_name: placed.balancer.dns_name.trim_end_matches('.').to_ascii_lowercase(),
        target_zone_id: placed.balancer.canonical_zone_id.clone(),
    };
    let zone = placed.ingress.hosted_zone_id.clone();
    // UPSERT is idempotent: a first provisioning writes without looking.
    let found = if pass.fresh { None } else { pass.aws.dns.find_alias(&zone, host).await? };
    if found.as_ref() != Some(&wanted) {
        pass.aws.dns.upsert_alias(&zone, &wanted).await?;
        let reason = if found.is_some() || pass.status.outputs.load_balancer.is_some() {
            "DriftRepaired"
        } else {
            "DnsRecordCreated"
        };
        pass.event(EventType::Normal, reason, format!("alias record {host} → {}", wanted.target_dns_name));
    }
    pass.record("aliasRecord", host.to_owned());
    Ok(())
}

/// After the controller runs: `IngressReady` is the load balancer's view of it (a healthy target).
pub async fn observe(pass: &mut Pass) -> Result<Progress, AwsError> {
    let (Some(placed), Some(target_group)) = (pass.ingress.clone(), pass.status.outputs.target_group_arn.clone())
    else {
        return Ok(Progress::Done);
    };
    let health = pass.aws.elb.target_health(&target_group).await?;
    let url = pass.status.outputs.url.clone().unwrap_or_default();
    if health.iter().any(|target| target.state == "healthy") {
        let message = format!("{url} answers through {} (target healthy)", placed.balancer_name);
        set(pass, ConditionStatus::True, "Healthy", &message);
        return Ok(Progress::Done);
    }
    let message = match health.first() {
        Some(target) => format!(
            "{url}: the load balancer sees the controller {} ({})",
            target.state,
            target.description.clone().or_else(|| target.reason.clone()).unwrap_or_default()
        ),
        None => format!("{url}: no controller registered with the load balancer yet"),
    };
    set(pass, ConditionStatus::False, "TargetNotHealthy", &message);
    Ok(Progress::Waiting(message))
}

/// Teardown: the host rule, the alias record and the target group, then the place on the balancer. Some(wait)
/// while the target group is still in use.
pub async fn remove(pass: &mut Pass, db: &DatabaseConnection) -> Result<Option<String>, AwsError> {
    let uid = pass.object.metadata.uid;
    let placement =
        load_balancers::placement_of(db, uid).await.map_err(|e| super::store_failure("butler:FindPlacement", &e))?;
    // Never placed and no ingress: nothing of an address was ever made (the placement comes before any of it).
    if placement.is_none() && pass.profile.ingress().is_none() {
        return Ok(None);
    }
    let target_group_name = ingress::target_group_name(&uid);
    if let (Some(placement), Some(ingress)) = (&placement, pass.profile.ingress()) {
        let meta = &pass.object.metadata;
        let host = ingress.host(&meta.tenant, &meta.name);
        if let Some(listener) = &placement.balancer.https_listener_arn {
            let rules = match pass.aws.elb.rules(listener).await {
                Ok(rules) => rules,
                Err(error) if error.kind == AwsErrorKind::NotFound => Vec::new(),
                Err(error) => return Err(error),
            };
            for rule in rules.iter().filter(|rule| rule.hosts == [host.clone()]) {
                pass.aws.elb.delete_rule(&rule.arn).await?;
                pass.event(EventType::Normal, "HostRuleDeleted", format!("deleted the listener rule for {host}"));
            }
        }
        let found = pass.aws.dns.find_alias(&ingress.hosted_zone_id, &host).await?;
        let ours = placement.balancer.dns_name.as_deref().map(|dns| dns.trim_end_matches('.').to_ascii_lowercase());
        if let Some(record) = found.filter(|record| Some(&record.target_dns_name) == ours.as_ref()) {
            pass.aws.dns.delete_alias(&ingress.hosted_zone_id, &record).await?;
            pass.event(EventType::Normal, "DnsRecordDeleted", format!("deleted the alias record {host}"));
        }
    }
    if let Some(group) = pass.aws.elb.find_target_group(&target_group_name).await? {
        match pass.aws.elb.delete_target_group(&group.arn).await {
            Ok(()) => {
                pass.event(EventType::Normal, "TargetGroupDeleted", format!("deleted target group {target_group_name}"))
            }
            Err(error) if error.kind == AwsErrorKind::Conflict => {
                return Ok(Some(format!("target group {target_group_name} is still in use")))
            }
            Err(error) => return Err(error),
        }
    }
    if placement.is_some() {
        load_balancers::release(db, uid).await.map_err(|e| super::store_failure("butler:ReleasePlacement", &e))?;
    }
    Ok(None)
}
