//! Elastic Load Balancing v2: the shared Application Load Balancers of a profile's pool (HTTPS on 443 with the
//! profile's certificate, 80 redirecting to 443, a fixed 404 for unknown hosts) and each environment's target
//! group (ip targets on 8080, health check `/login`) and host rule. Listeners and rules are read back as Butler's
//! own shapes so the reconciler can compare them with what it wants.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig, IpAddressType,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, RuleCondition, Tag, TargetGroupAttribute, TargetTypeEnum,
};

use super::context::AwsAccount;
use super::error::{gone_is_fine, AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// The controller's HTTP port, where the target group sends traffic.
pub const JENKINS_PORT: i32 = 8080;
/// How long a deregistered controller keeps its connections: short, so a redeploy does not wait ELB's default
/// 300 seconds (one controller at a time, never two).
pub const DEREGISTRATION_DELAY_SECONDS: &str = "15";
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
/// The body of the default action: a host Butler does not know.
pub const UNKNOWN_HOST_BODY: &str = "No Jenkins here: this host is not an environment of this Butler.";

/// A load balancer of the pool, as Butler creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancerSpec {
    pub name: String,
    /// `internal` or `internet-facing`.
    pub scheme: String,
    pub subnets: Vec<String>,
    pub security_group: String,
}

/// A load balancer as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balancer {
    pub arn: String,
    pub dns_name: String,
    pub canonical_zone_id: String,
    /// `provisioning`, `active`, `failed`…
    pub state: String,
    pub scheme: String,
    pub security_groups: Vec<String>,
}

/// What a listener does by default, in Butler's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultAction {
    /// A fixed response (status code).
    Fixed(String),
    /// A redirect to HTTPS on 443.
    RedirectToHttps,
    /// Anything else (a forward, another redirect…).
    Other,
}

/// A listener as Butler wants it or found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    pub ssl_policy: Option<String>,
    pub certificate: Option<String>,
    pub default_action: DefaultAction,
}

impl Listener {
    /// The HTTPS listener Butler wants: the profile's certificate, the modern policy, 404 for unknown hosts.
    pub fn https(certificate: &str, policy: &str) -> Self {
        Self {
            arn: String::new(),
            port: 443,
            protocol: "HTTPS".to_owned(),
            ssl_policy: Some(policy.to_owned()),
            certificate: Some(certificate.to_owned()),
            default_action: DefaultAction::Fixed("404".to_owned()),
        }
    }

    /// The plain HTTP listener: nothing but a redirect to HTTPS.
    pub fn http_redirect() -> Self {
        Self {
            arn: String::new(),
            port: 80,
            protocol: "HTTP".to_owned(),
            ssl_policy: None,
            certificate: None,
            default_action: DefaultAction::RedirectToHttps,
        }
    }

    /// Whether `found` says what this says (the ARN aside).
    pub fn same_as(&self, found: &Listener) -> bool {
        Self { arn: found.arn.clone(), ..self.clone() } == *found
    }
}

/// A target group as Butler wants it or found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupSpec {
    pub name: String,
    pub vpc_id: String,
    pub port: i32,
    pub health_check_path: String,
    pub matcher: String,
}

/// A target group as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    pub arn: String,
    pub spec: TargetGroupSpec,
    /// `ip`, `instance`…
    pub target_type: String,
}

/// A listener rule: one host, forwarded to one target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    pub arn: String,
    pub priority: i32,
    /// The host-header values of its conditions (Butler's rules have one).
    pub hosts: Vec<String>,
    /// The target groups its forward action sends to (Butler's rules have one).
    pub target_groups: Vec<String>,
    /// Whether it has anything besides host conditions and a forward action.
    pub other: bool,
}

/// One target's health as the load balancer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    pub id: String,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining`, `unavailable`.
    pub state: String,
    pub reason: Option<String>,
    pub description: Option<String>,
}

/// What the reconciler needs of Elastic Load Balancing.
#[async_trait]
pub trait ElbApi: Send + Sync {
    /// A load balancer by name; None when absent.
    async fn find_load_balancer(&self, name: &str) -> Result<Option<Balancer>, AwsError>;
    /// Creates an Application Load Balancer (a create with a name and configuration that exist returns that one).
    async fn create_load_balancer(
        &self,
        spec: &BalancerSpec,
        tags: &BTreeMap<String, String>,
    ) -> Result<Balancer, AwsError>;
    /// Deletes a load balancer and its listeners and rules; gone is fine.
    async fn delete_load_balancer(&self, arn: &str) -> Result<(), AwsError>;
    /// The listeners of a load balancer.
    async fn listeners(&self, balancer_arn: &str) -> Result<Vec<Listener>, AwsError>;
    /// Creates a listener as `wanted` says.
    async fn create_listener(&self, balancer_arn: &str, wanted: &Listener) -> Result<String, AwsError>;
    /// Puts a listener back to `wanted` (its ARN is the one changed).
    async fn modify_listener(&self, wanted: &Listener) -> Result<(), AwsError>;
    /// A target group by name; None when absent.
    async fn find_target_group(&self, name: &str) -> Result<Option<TargetGroup>, AwsError>;
    /// Creates an ip target group with Butler's health check and deregistration delay.
    async fn create_target_group(
        &self,
        spec: &TargetGroupSpec,
        tags: &BTreeMap<String, String>,
    ) -> Result<TargetGroup, AwsError>;
    /// Puts a target group's health check back to `spec`.
    async fn modify_target_group(&self, arn: &str, spec: &TargetGroupSpec) -> Result<(), AwsError>;
    /// The deregistration delay of a target group, in seconds as AWS writes it.
    async fn deregistration_delay(&self, arn: &str) -> Result<Option<String>, AwsError>;
    /// Sets the deregistration delay to Butler's.
    async fn set_deregistration_delay(&self, arn: &str) -> Result<(), AwsError>;
    /// Deletes a target group; gone is fine, in use is a Conflict.
    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError>;
    /// The non-default rules of a listener.
    async fn rules(&self, listener_arn: &str) -> Result<Vec<HostRule>, AwsError>;
    /// Creates a rule forwarding `host` to `target_group` at `priority`.
    async fn create_rule(
        &self,
        listener_arn: &str,
        priority: i32,
        host: &str,
        target_group: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError>;
    /// Puts a rule's condition and action back to `host` → `target_group`.
    async fn modify_rule(&self, rule_arn: &str, host: &str, target_group: &str) -> Result<(), AwsError>;
    /// Deletes a rule; gone is fine.
    async fn delete_rule(&self, rule_arn: &str) -> Result<(), AwsError>;
    /// The health of a target group's targets.
    async fn target_health(&self, target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError>;
}

/// The SDK-backed ELB adapter.
pub struct SdkElb {
    account: AwsAccount,
    client: aws_sdk_elasticloadbalancingv2::Client,
}

impl SdkElb {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_elasticloadbalancingv2::Client::new(&account.config) }
    }
}

fn tags(tag_set: &BTreeMap<String, String>) -> Vec<Tag> {
    tag_set.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

fn balancer_of(found: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer) -> Balancer {
    Balancer {
        arn: found.load_balancer_arn().unwrap_or_default().to_owned(),
        dns_name: found.dns_name().unwrap_or_default().to_owned(),
        canonical_zone_id: found.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        state: found.state().and_then(|s| s.code()).map(|c| c.as_str().to_owned()).unwrap_or_default(),
        scheme: found.scheme().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        security_groups: found.security_groups().to_vec(),
    }
}

fn default_action_of(actions: &[Action]) -> DefaultAction {
    match actions {
        [only] => match only.r#type() {
            Some(ActionTypeEnum::FixedResponse) => {
                only.fixed_response_config().map_or(DefaultAction::Other, |config| {
                    DefaultAction::Fixed(config.status_code().unwrap_or_default().to_owned())
                })
            }
            Some(ActionTypeEnum::Redirect) => {
                let to_https = only.redirect_config().is_some_and(|config| {
                    config.protocol() == Some("HTTPS")
                        && config.port() == Some("443")
                        && config.status_code() == Some(&RedirectActionStatusCodeEnum::Http301)
                });
                if to_https {
                    DefaultAction::RedirectToHttps
                } else {
                    DefaultAction::Other
                }
            }
            _ => DefaultAction::Other,
        },
        _ => DefaultAction::Other,
    }
}

/// The default action a listener should have (`Other` is only ever read, never wanted).
fn action_of(wanted: &DefaultAction) -> Action {
    match wanted {
        DefaultAction::Fixed(code) => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(code)
                    .content_type("text/plain")
                    .message_body(UNKNOWN_HOST_BODY)
                    .build(),
            )
            .build(),
        DefaultAction::RedirectToHttps | DefaultAction::Other => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    }
}

fn forward(target_group: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group).build()
}

fn host_condition(host: &str) -> RuleCondition {
    RuleCondition::builder()
        .field("host-header")
        .host_header_config(HostHeaderConditionConfig::builder().values(host).build())
        .build()
}

fn listener_of(found: &aws_sdk_elasticloadbalancingv2::types::Listener) -> Listener {
    // A TLS policy and certificate mean something on HTTPS only (the emulator reports a default policy on HTTP).
    let tls = found.protocol() == Some(&ProtocolEnum::Https);
    Listener {
        arn: found.listener_arn().unwrap_or_default().to_owned(),
        port: found.port().unwrap_or_default(),
        protocol: found.protocol().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        ssl_policy: found.ssl_policy().filter(|_| tls).map(str::to_owned),
        certificate: found.certificates().first().and_then(|c| c.certificate_arn()).filter(|_| tls).map(str::to_owned),
        default_action: default_action_of(found.default_actions()),
    }
}

fn target_group_of(found: &aws_sdk_elasticloadbalancingv2::types::TargetGroup) -> TargetGroup {
    TargetGroup {
        arn: found.target_group_arn().unwrap_or_default().to_owned(),
        spec: TargetGroupSpec {
            name: found.target_group_name().unwrap_or_default().to_owned(),
            vpc_id: found.vpc_id().unwrap_or_default().to_owned(),
            port: found.port().unwrap_or_default(),
            health_check_path: found.health_check_path().unwrap_or_default().to_owned(),
            matcher: found.matcher().and_then(|m| m.http_code()).unwrap_or_default().to_owned(),
        },
        target_type: found.target_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
    }
}

fn rule_of(found: &aws_sdk_elasticloadbalancingv2::types::Rule) -> HostRule {
    let mut hosts = Vec::new();
    let mut other = false;
    for condition in found.conditions() {
        match (condition.field(), condition.host_header_config()) {
            (Some("host-header"), Some(config)) => hosts.extend(config.values().iter().cloned()),
            // Older rules carry the host in `values` instead of the config.
            (Some("host-header"), None) => hosts.extend(condition.values().iter().cloned()),
            _ => other = true,
        }
    }
    let mut target_groups = Vec::new();
    for action in found.actions() {
        match (action.r#type(), action.target_group_arn()) {
            (Some(ActionTypeEnum::Forward), Some(arn)) => target_groups.push(arn.to_owned()),
            (Some(ActionTypeEnum::Forward), None) => target_groups.extend(
                action
                    .forward_config()
                    .map(|config| config.target_groups())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_owned)),
            ),
            _ => other = true,
        }
    }
    target_groups.dedup();
    HostRule {
        arn: found.rule_arn().unwrap_or_default().to_owned(),
        priority: found.priority().and_then(|p| p.parse().ok()).unwrap_or_default(),
        hosts,
        target_groups,
        other,
    }
}

#[async_trait]
impl ElbApi for SdkElb {
    async fn find_load_balancer(&self, name: &str) -> Result<Option<Balancer>, AwsError> {
        let request = self.client.describe_load_balancers().names(name).send();
        match self.account.call("elasticloadbalancing:DescribeLoadBalancers", ApiFamily::Elb, request).await {
            Ok(output) => Ok(output.load_balancers().first().map(balancer_of)),
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn create_load_balancer(
        &self,
        spec: &BalancerSpec,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<Balancer, AwsError> {
        let operation = "elasticloadbalancing:CreateLoadBalancer";
        let request = self
            .client
            .create_load_balancer()
            .name(&spec.name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::from(spec.scheme.as_str()))
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(spec.subnets.clone()))
            .security_groups(&spec.security_group)
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = self.account.call(operation, ApiFamily::Elb, request).await?;
        output
            .load_balancers()
            .first()
            .map(balancer_of)
            .ok_or_else(|| AwsError::malformed(operation, "no LoadBalancer"))
    }

    async fn delete_load_balancer(&self, arn: &str) -> Result<(), AwsError> {
        let request = self.client.delete_load_balancer().load_balancer_arn(arn).send();
        gone_is_fine(
            self.account.call("elasticloadbalancing:DeleteLoadBalancer", ApiFamily::Elb, request).await.map(|_| ()),
        )
    }

    async fn listeners(&self, balancer_arn: &str) -> Result<Vec<Listener>, AwsError> {
        let request = self.client.describe_listeners().load_balancer_arn(balancer_arn).send();
        let output = self.account.call("elasticloadbalancing:DescribeListeners", ApiFamily::Elb, request).await?;
        Ok(output.listeners().iter().map(listener_of).collect())
    }

    async fn create_listener(&self, balancer_arn: &str, wanted: &Listener) -> Result<String, AwsError> {
        let operation = "elasticloadbalancing:CreateListener";
        let request = self
            .client
            .create_listener()
            .load_balancer_arn(balancer_arn)
            .port(wanted.port)
            .protocol(ProtocolEnum::from(wanted.protocol.as_str()))
            .set_ssl_policy(wanted.ssl_policy.clone())
            .set_certificates(
                wanted.certificate.as_ref().map(|arn| vec![Certificate::builder().certificate_arn(arn).build()]),
            )
            .default_actions(action_of(&wanted.default_action))
            .send();
        let output = self.account.call(operation, ApiFamily::Elb, request).await?;
        output
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::malformed(operation, "no Listener"))
    }

    async fn modify_listener(&self, wanted: &Listener) -> Result<(), AwsError> {
        let operation = "elasticloadbalancing:ModifyListener";
        let request = self
            .client
            .modify_listener()
            .listener_arn(&wanted.arn)
            .port(wanted.port)
            .protocol(ProtocolEnum::from(wanted.protocol.as_str()))
            .set_ssl_policy(wanted.ssl_policy.clone())
            .set_certificates(
                wanted.certificate.as_ref().map(|arn| vec![Certificate::builder().certificate_arn(arn).build()]),
            )
            .default_actions(action_of(&wanted.default_action))
            .send();
        self.account.call(operation, ApiFamily::Elb, request).await.map(|_| ())
    }

    async fn find_target_group(&self, name: &str) -> Result<Option<TargetGroup>, AwsError> {
        let request = self.client.describe_target_groups().names(name).send();
        match self.account.call("elasticloadbalancing:DescribeTargetGroups", ApiFamily::Elb, request).await {
            Ok(output) => Ok(output.target_groups().first().map(target_group_of)),
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn create_target_group(
        &self,
        spec: &TargetGroupSpec,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<TargetGroup, AwsError> {
        let operation = "elasticloadbalancing:CreateTargetGroup";
        let request = self
            .client
            .create_target_group()
            .name(&spec.name)
            .protocol(ProtocolEnum::Http)
            .port(spec.port)
            .vpc_id(&spec.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path(&spec.health_check_path)
            .matcher(Matcher::builder().http_code(&spec.matcher).build())
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = self.account.call(operation, ApiFamily::Elb, request).await?;
        output
            .target_groups()
            .first()
            .map(target_group_of)
            .ok_or_else(|| AwsError::malformed(operation, "no TargetGroup"))
    }

    async fn modify_target_group(&self, arn: &str, spec: &TargetGroupSpec) -> Result<(), AwsError> {
        let request = self
            .client
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_path(&spec.health_check_path)
            .matcher(Matcher::builder().http_code(&spec.matcher).build())
            .send();
        self.account.call("elasticloadbalancing:ModifyTargetGroup", ApiFamily::Elb, request).await.map(|_| ())
    }

    async fn deregistration_delay(&self, arn: &str) -> Result<Option<String>, AwsError> {
        let request = self.client.describe_target_group_attributes().target_group_arn(arn).send();
        let output =
            self.account.call("elasticloadbalancing:DescribeTargetGroupAttributes", ApiFamily::Elb, request).await?;
        Ok(output
            .attributes()
            .iter()
            .find(|attribute| attribute.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|attribute| attribute.value())
            .map(str::to_owned))
    }

    async fn set_deregistration_delay(&self, arn: &str) -> Result<(), AwsError> {
        let attribute =
            TargetGroupAttribute::builder().key(DEREGISTRATION_DELAY).value(DEREGISTRATION_DELAY_SECONDS).build();
        let request = self.client.modify_target_group_attributes().target_group_arn(arn).attributes(attribute).send();
        self.account.call("elasticloadbalancing:ModifyTargetGroupAttributes", ApiFamily::Elb, request).await.map(|_| ())
    }

    async fn delete_target_group(&self, arn: &str) -> Result<(), AwsError> {
        let request = self.client.delete_target_group().target_group_arn(arn).send();
        gone_is_fine(
            self.account.call("elasticloadbalancing:DeleteTargetGroup", ApiFamily::Elb, request).await.map(|_| ()),
        )
    }

    async fn rules(&self, listener_arn: &str) -> Result<Vec<HostRule>, AwsError> {
        let mut rules = Vec::new();
        let mut marker = None;
        loop {
            let request = self.client.describe_rules().listener_arn(listener_arn).set_marker(marker).send();
            let output = self.account.call("elasticloadbalancing:DescribeRules", ApiFamily::Elb, request).await?;
            rules.extend(output.rules().iter().filter(|rule| rule.is_default() != Some(true)).map(rule_of));
            match output.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
                _ => return Ok(rules),
            }
        }
    }

    async fn create_rule(
        &self,
        listener_arn: &str,
        priority: i32,
        host: &str,
        target_group: &str,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let operation = "elasticloadbalancing:CreateRule";
        let request = self
            .client
            .create_rule()
            .listener_arn(listener_arn)
            .priority(priority)
            .conditions(host_condition(host))
            .actions(forward(target_group))
            .set_tags(Some(tags(tag_set)))
            .send();
        let output = self.account.call(operation, ApiFamily::Elb, request).await?;
        output
            .rules()
            .first()
            .and_then(|rule| rule.rule_arn())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::malformed(operation, "no Rule"))
    }

    async fn modify_rule(&self, rule_arn: &str, host: &str, target_group: &str) -> Result<(), AwsError> {
        let operation = "elasticloadbalancing:ModifyRule";
        let request = self
            .client
            .modify_rule()
            .rule_arn(rule_arn)
            .conditions(host_condition(host))
            .actions(forward(target_group))
            .send();
        self.account.call(operation, ApiFamily::Elb, request).await.map(|_| ())
    }

    async fn delete_rule(&self, rule_arn: &str) -> Result<(), AwsError> {
        let request = self.client.delete_rule().rule_arn(rule_arn).send();
        gone_is_fine(self.account.call("elasticloadbalancing:DeleteRule", ApiFamily::Elb, request).await.map(|_| ()))
    }

    async fn target_health(&self, target_group_arn: &str) -> Result<Vec<TargetHealth>, AwsError> {
        let request = self.client.describe_target_health().target_group_arn(target_group_arn).send();
        let output = self.account.call("elasticloadbalancing:DescribeTargetHealth", ApiFamily::Elb, request).await?;
        Ok(output
            .target_health_descriptions()
            .iter()
            .map(|description| {
                let health = description.target_health();
                TargetHealth {
                    id: description.target().and_then(|t| t.id()).unwrap_or_default().to_owned(),
                    state: health.and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                }
            })
            .collect())
    }
}
