//! The fake account has no load balancers or DNS: its profiles carry no ingress, so the reconciler never asks.
//! Should it ask (a profile with ingress on a fake account), every call fails loudly with what was asked.
//! Ingress is tested against the emulator, which models ELB and Route 53 (`tests/tests/ingress.rs`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use butler::aws::elb::{
    Balancer, BalancerSpec, ElbApi, HostRule, Listener, TargetGroup, TargetGroupSpec, TargetHealth,
};
use butler::aws::route53::{AliasRecord, DnsApi};
use butler::aws::{AwsError, AwsErrorKind};

/// The adapters of an account without ingress.
pub struct NoIngress;

fn unmodelled(operation: &'static str) -> AwsError {
    AwsError {
        kind: AwsErrorKind::Invalid,
        operation,
        code: "NotModelled".into(),
        message: "the in-memory fake has no load balancers or DNS; use the emulator".into(),
    }
}

#[async_trait]
impl ElbApi for NoIngress {
    async fn find_load_balancer(&self, _: &str) -> Result<Option<Balancer>, AwsError> {
        Err(unmodelled("elasticloadbalancing:DescribeLoadBalancers"))
    }
    async fn create_load_balancer(&self, _: &BalancerSpec, _: &BTreeMap<String, String>) -> Result<Balancer, AwsError> {
        Err(unmodelled("elasticloadbalancing:CreateLoadBalancer"))
    }
    async fn delete_load_balancer(&self, _: &str) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:DeleteLoadBalancer"))
    }
    async fn listeners(&self, _: &str) -> Result<Vec<Listener>, AwsError> {
        Err(unmodelled("elasticloadbalancing:DescribeListeners"))
    }
    async fn create_listener(&self, _: &str, _: &Listener) -> Result<String, AwsError> {
        Err(unmodelled("elasticloadbalancing:CreateListener"))
    }
    async fn modify_listener(&self, _: &Listener) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:ModifyListener"))
    }
    async fn find_target_group(&self, _: &str) -> Result<Option<TargetGroup>, AwsError> {
        // Teardown looks for the environment's target group whatever the profile says: there is none here.
        Ok(None)
    }
    async fn create_target_group(
        &self,
        _: &TargetGroupSpec,
        _: &BTreeMap<String, String>,
    ) -> Result<TargetGroup, AwsError> {
        Err(unmodelled("elasticloadbalancing:CreateTargetGroup"))
    }
    async fn modify_target_group(&self, _: &str, _: &TargetGroupSpec) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:ModifyTargetGroup"))
    }
    async fn deregistration_delay(&self, _: &str) -> Result<Option<String>, AwsError> {
        Err(unmodelled("elasticloadbalancing:DescribeTargetGroupAttributes"))
    }
    async fn set_deregistration_delay(&self, _: &str) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:ModifyTargetGroupAttributes"))
    }
    async fn delete_target_group(&self, _: &str) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:DeleteTargetGroup"))
    }
    async fn rules(&self, _: &str) -> Result<Vec<HostRule>, AwsError> {
        Err(unmodelled("elasticloadbalancing:DescribeRules"))
    }
    async fn create_rule(
        &self,
        _: &str,
        _: i32,
        _: &str,
        _: &str,
        _: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        Err(unmodelled("elasticloadbalancing:CreateRule"))
    }
    async fn modify_rule(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:ModifyRule"))
    }
    async fn delete_rule(&self, _: &str) -> Result<(), AwsError> {
        Err(unmodelled("elasticloadbalancing:DeleteRule"))
    }
    async fn target_health(&self, _: &str) -> Result<Vec<TargetHealth>, AwsError> {
        Err(unmodelled("elasticloadbalancing:DescribeTargetHealth"))
    }
}

#[async_trait]
impl DnsApi for NoIngress {
    async fn find_alias(&self, _: &str, _: &str) -> Result<Option<AliasRecord>, AwsError> {
        Err(unmodelled("route53:ListResourceRecordSets"))
    }
    async fn upsert_alias(&self, _: &str, _: &AliasRecord) -> Result<(), AwsError> {
        Err(unmodelled("route53:ChangeResourceRecordSets"))
    }
    async fn delete_alias(&self, _: &str, _: &AliasRecord) -> Result<(), AwsError> {
        Err(unmodelled("route53:ChangeResourceRecordSets"))
    }
}
