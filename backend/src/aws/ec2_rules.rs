//! Security group rules in Butler's terms: a group found by name with its owner, inbound and outbound rules, and
//! the convergence of those rules to exactly what Butler wants (the `Ec2Api` methods delegate here).

use aws_sdk_ec2::types::IpPermission;

use super::ec2::{Ec2Api, IngressRule, SdkEc2};
use super::limits::ApiFamily;
use super::{AwsError, AwsErrorKind};

/// A security group found by name, with its `butler:uid` tag and its inbound rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FoundGroup {
    pub id: String,
    pub owner: Option<String>,
    /// The inbound rules Butler's shape can express (TCP, one port, from a group or an IPv4 CIDR), sorted.
    pub ingress: Vec<IngressRule>,
    /// Whether it also has inbound rules of any other shape (IPv6, a prefix list, a port range, another protocol).
    pub other_ingress: bool,
    /// Its outbound rules, in the two shapes Butler uses.
    pub outbound: Outbound,
}

/// A group's outbound rules as Butler sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outbound {
    /// Exactly the rule a new group starts with: all traffic to `0.0.0.0/0`.
    #[default]
    Everything,
    /// No outbound rule (security groups are stateful: answers to allowed inbound traffic still leave).
    Nothing,
    /// Anything else.
    Other,
}

/// The all-traffic IPv4 destination of a new group's default outbound rule.
const ANYWHERE: &str = "0.0.0.0/0";

fn is_all_traffic_anywhere(permission: &IpPermission) -> bool {
    permission.ip_protocol() == Some("-1")
        && permission.ip_ranges().len() == 1
        && permission.ip_ranges()[0].cidr_ip() == Some(ANYWHERE)
        && permission.ipv6_ranges().is_empty()
        && permission.prefix_list_ids().is_empty()
        && permission.user_id_group_pairs().is_empty()
}

pub(super) fn outbound_of(group: &aws_sdk_ec2::types::SecurityGroup) -> Outbound {
    match group.ip_permissions_egress() {
        [] => Outbound::Nothing,
        [only] if is_all_traffic_anywhere(only) => Outbound::Everything,
        _ => Outbound::Other,
    }
}

/// The inbound rules of a group, split into Butler's shape and "anything else".
pub(super) fn ingress_of(group: &aws_sdk_ec2::types::SecurityGroup) -> (Vec<IngressRule>, bool) {
    let mut rules = Vec::new();
    let mut other = false;
    for permission in group.ip_permissions() {
        let single_tcp_port = permission.ip_protocol() == Some("tcp") && permission.from_port() == permission.to_port();
        let ranges = !permission.ipv6_ranges().is_empty() || !permission.prefix_list_ids().is_empty();
        if !single_tcp_port || ranges {
            other = true;
        }
        if let (true, Some(port)) = (single_tcp_port, permission.from_port()) {
            for pair in permission.user_id_group_pairs() {
                if let Some(group_id) = pair.group_id() {
                    rules.push(IngressRule::from_group(port, group_id));
                }
            }
            for range in permission.ip_ranges() {
                if let Some(cidr) = range.cidr_ip() {
                    rules.push(IngressRule::from_cidr(port, cidr));
                }
            }
        } else if !permission.ip_ranges().is_empty() {
            other = true;
        }
    }
    rules.sort();
    (rules, other)
}

pub(super) fn found_group(group: &aws_sdk_ec2::types::SecurityGroup) -> Option<FoundGroup> {
    let (ingress, other_ingress) = ingress_of(group);
    Some(FoundGroup {
        id: group.group_id()?.to_owned(),
        owner: owner_of(group.tags()),
        ingress,
        other_ingress,
        outbound: outbound_of(group),
    })
}

pub(super) fn owner_of(tags: &[aws_sdk_ec2::types::Tag]) -> Option<String> {
    tags.iter().find(|tag| tag.key() == Some(super::tags::UID)).and_then(|tag| tag.value()).map(str::to_owned)
}

/// Makes a group's outbound rules `desired` (`Everything` or `Nothing`): revokes every outbound permission that
/// is not the wanted one, exactly as listed, then adds the all-traffic rule if it is wanted and missing.
pub(super) async fn converge_egress(ec2: &SdkEc2, group_id: &str, desired: Outbound) -> Result<Vec<String>, AwsError> {
    let group = describe(ec2, group_id).await?;
    let keep = |permission: &IpPermission| desired == Outbound::Everything && is_all_traffic_anywhere(permission);
    let revoke: Vec<IpPermission> = group.ip_permissions_egress().iter().filter(|p| !keep(p)).cloned().collect();
    let mut changes = Vec::new();
    if !revoke.is_empty() {
        changes.push(format!("revoked {} outbound rule(s)", revoke.len()));
        let request =
            ec2.client.revoke_security_group_egress().group_id(group_id).set_ip_permissions(Some(revoke)).send();
        ec2.account.call("ec2:RevokeSecurityGroupEgress", ApiFamily::Ec2Write, request).await?;
    }
    if desired == Outbound::Everything && !group.ip_permissions_egress().iter().any(is_all_traffic_anywhere) {
        let request = ec2
            .client
            .authorize_security_group_egress()
            .group_id(group_id)
            .ip_permissions(all_traffic_anywhere())
            .send();
        ec2.account.call("ec2:AuthorizeSecurityGroupEgress", ApiFamily::Ec2Write, request).await?;
        changes.push(format!("allowed all outbound traffic to {ANYWHERE}"));
    }
    Ok(changes)
}

pub(super) async fn revoke_default_egress(ec2: &SdkEc2, group_id: &str) -> Result<(), AwsError> {
    let request =
        ec2.client.revoke_security_group_egress().group_id(group_id).ip_permissions(all_traffic_anywhere()).send();
    match ec2.account.call("ec2:RevokeSecurityGroupEgress", ApiFamily::Ec2Write, request).await {
        // InvalidPermission.NotFound: gone already (a pass whose answer was lost).
        Err(error) if error.kind == AwsErrorKind::NotFound => Ok(()),
        other => other.map(|_| ()),
    }
}

fn all_traffic_anywhere() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(ANYWHERE).build())
        .build()
}

async fn describe(ec2: &SdkEc2, group_id: &str) -> Result<aws_sdk_ec2::types::SecurityGroup, AwsError> {
    let request = ec2.client.describe_security_groups().group_ids(group_id).send();
    let output = ec2.account.call("ec2:DescribeSecurityGroups", ApiFamily::Ec2Read, request).await?;
    output.security_groups().first().cloned().ok_or_else(|| AwsError {
        kind: AwsErrorKind::NotFound,
        operation: "ec2:DescribeSecurityGroups",
        code: "InvalidGroup.NotFound".into(),
        message: group_id.to_owned(),
    })
}

pub(super) async fn converge_ingress(
    ec2: &SdkEc2,
    group_id: &str,
    desired: &[IngressRule],
) -> Result<Vec<String>, AwsError> {
    let group = describe(ec2, group_id).await?;
    let mut changes = Vec::new();
    let mut present = Vec::new();
    let mut revoke = Vec::new();
    for permission in group.ip_permissions() {
        let single_tcp_port = permission.ip_protocol() == Some("tcp") && permission.from_port() == permission.to_port();
        // Split a permission into its sources; keep each one Butler wants, revoke the rest exactly as listed.
        let mut unwanted_pairs = Vec::new();
        let mut unwanted_ranges = Vec::new();
        let mut any_unwanted = !permission.ipv6_ranges().is_empty() || !permission.prefix_list_ids().is_empty();
        for range in permission.ip_ranges() {
            let rule = match (single_tcp_port, permission.from_port(), range.cidr_ip()) {
                (true, Some(port), Some(cidr)) => Some(IngressRule::from_cidr(port, cidr)),
                _ => None,
            };
            match rule {
                Some(rule) if desired.contains(&rule) => present.push(rule),
                _ => {
                    unwanted_ranges.push(range.clone());
                    any_unwanted = true;
                }
            }
        }
        for pair in permission.user_id_group_pairs() {
            let rule = match (single_tcp_port, permission.from_port(), pair.group_id()) {
                (true, Some(port), Some(source)) => Some(IngressRule::from_group(port, source)),
                _ => None,
            };
            match rule {
                Some(rule) if desired.contains(&rule) => present.push(rule),
                _ => {
                    unwanted_pairs.push(pair.clone());
                    any_unwanted = true;
                }
            }
        }
        if any_unwanted {
            changes.push(format!(
                "revoked {} {:?}-{:?}",
                permission.ip_protocol().unwrap_or("?"),
                permission.from_port(),
                permission.to_port()
            ));
            revoke.push(
                IpPermission::builder()
                    .set_ip_protocol(permission.ip_protocol().map(str::to_owned))
                    .set_from_port(permission.from_port())
                    .set_to_port(permission.to_port())
                    .set_ip_ranges((!unwanted_ranges.is_empty()).then_some(unwanted_ranges))
                    .set_ipv6_ranges((!permission.ipv6_ranges().is_empty()).then(|| permission.ipv6_ranges().to_vec()))
                    .set_prefix_list_ids(
                        (!permission.prefix_list_ids().is_empty()).then(|| permission.prefix_list_ids().to_vec()),
                    )
                    .set_user_id_group_pairs((!unwanted_pairs.is_empty()).then_some(unwanted_pairs))
                    .build(),
            );
        }
    }
    if !revoke.is_empty() {
        let request =
            ec2.client.revoke_security_group_ingress().group_id(group_id).set_ip_permissions(Some(revoke)).send();
        ec2.account.call("ec2:RevokeSecurityGroupIngress", ApiFamily::Ec2Write, request).await?;
    }
    let missing: Vec<IngressRule> = desired.iter().filter(|rule| !present.contains(rule)).cloned().collect();
    if !missing.is_empty() {
        ec2.authorize_ingress(group_id, &missing).await?;
        changes.extend(missing.iter().map(|rule| format!("allowed {} from {}", rule.port, rule.source)));
    }
    Ok(changes)
}
