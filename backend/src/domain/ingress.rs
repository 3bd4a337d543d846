//! A cloud profile's ingress: the shared HTTPS load balancers its environments are reached through, and the
//! names Butler gives what it makes for them (each load balancer of the pool, each environment's target group and
//! host name). The names are pure functions of the profile, the slot and the environment, so a crashed pass that
//! made something finds it again by name.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// AWS allows at most 100 target groups per Application Load Balancer (not adjustable).
pub(crate) const MAX_TARGET_GROUPS_PER_LOAD_BALANCER: u32 = 100;
/// At most this many allowed CIDRs: each is one rule per port on the load balancer's group (60 rules a group).
pub(crate) const MAX_ALLOWED_CIDRS: usize = 20;
/// The TLS policy of every HTTPS listener: TLS 1.3 and 1.2 with forward secrecy only (ELB's recommended policy).
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$").expect("static regex")
});
// Route 53's model: ResourceId, at most 32 characters (ids AWS gives are upper-case letters and digits).
static HOSTED_ZONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z0-9]{1,32}$").expect("static regex"));
static CERTIFICATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[A-Za-z0-9-]+$").expect("static regex")
});
static SUBNET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^subnet-[0-9a-f]{8,17}$").expect("static regex"));
static CIDR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$").expect("static regex"));

/// Whether the load balancers face the internet or only the VPC (and what is peered or connected to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    Internal,
    InternetFacing,
}

impl Scheme {
    /// ELB's own word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "internal",
            Self::InternetFacing => "internet-facing",
        }
    }
}

fn default_capacity() -> u32 {
    MAX_TARGET_GROUPS_PER_LOAD_BALANCER
}

/// The ingress section of a cloud profile, as a platform admin sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    pub scheme: Scheme,
    /// Where the load balancers live: at least two subnets in different Availability Zones (ELB's rule).
    pub subnet_ids: Vec<String>,
    /// Environments are `<host label>.<domain>`.
    pub domain: String,
    /// The Route 53 hosted zone of `domain`.
    pub hosted_zone_id: String,
    /// An ACM certificate for `*.<domain>`, in the profile's region.
    pub certificate_arn: String,
    /// Who may connect (443 and 80): IPv4 ranges, `0.0.0.0/0` (anyone who can route to it) when left out.
    #[serde(default = "anywhere")]
    pub allowed_cidrs: Vec<String>,
    /// Environments per load balancer before Butler makes the next one.
    #[serde(default = "default_capacity")]
    pub max_environments_per_load_balancer: u32,
}

fn anywhere() -> Vec<String> {
    vec!["0.0.0.0/0".to_owned()]
}

impl Ingress {
    /// What is wrong with it, field (relative to `ingress`) by field; empty when it can be used. `region` is the
    /// profile's: the certificate must live there.
    pub fn problems(&self, region: &str) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: &str| problems.push((field.to_owned(), message.to_owned()));
        if self.subnet_ids.len() < 2 {
            problem("subnetIds", "must list at least two subnets in different Availability Zones (ELB's rule)");
        }
        for (index, subnet) in self.subnet_ids.iter().enumerate() {
            if !SUBNET.is_match(subnet) {
                problem(&format!("subnetIds[{index}]"), "must be a subnet id (subnet-…)");
            }
        }
        if !DOMAIN.is_match(&self.domain) || self.domain.len() > 180 {
            problem("domain", "must be a lower-case DNS name of at most 180 characters, such as jenkins.example.com");
        }
        if !HOSTED_ZONE.is_match(&self.hosted_zone_id) {
            problem(
                "hostedZoneId",
                "must be a Route 53 hosted zone id (upper-case letters and digits, such as Z0123456789ABC)",
            );
        }
        match CERTIFICATE.captures(&self.certificate_arn) {
            None => problem(
                "certificateArn",
                "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
            ),
            Some(captures) if &captures[1] != region => {
                problem("certificateArn", &format!("must be a certificate in the profile's region {region}"));
            }
            Some(_) => {}
        }
        if self.allowed_cidrs.is_empty() {
            problem("allowedCidrs", "must list at least one IPv4 range (0.0.0.0/0 for anyone)");
        }
        if self.allowed_cidrs.len() > MAX_ALLOWED_CIDRS {
            problem("allowedCidrs", &format!("must list at most {MAX_ALLOWED_CIDRS} ranges"));
        }
        for (index, cidr) in self.allowed_cidrs.iter().enumerate() {
            if !valid_cidr(cidr) {
                problem(&format!("allowedCidrs[{index}]"), "must be an IPv4 range such as 10.0.0.0/8");
            }
        }
        if !(1..=MAX_TARGET_GROUPS_PER_LOAD_BALANCER).contains(&self.max_environments_per_load_balancer) {
            problem(
                "maxEnvironmentsPerLoadBalancer",
                &format!(
                    "must be 1 to {MAX_TARGET_GROUPS_PER_LOAD_BALANCER} (AWS: 100 target groups per load balancer)"
                ),
            );
        }
        problems
    }

    /// The host name of an environment: one label under the domain, so the domain's wildcard certificate covers
    /// it (a wildcard matches one label only).
    pub fn host(&self, tenant: &str, environment: &str) -> String {
        format!("{}.{}", host_label(tenant, environment), self.domain)
    }

    /// The environment's HTTPS address.
    pub fn url(&self, tenant: &str, environment: &str) -> String {
        format!("https://{}/", self.host(tenant, environment))
    }
}

fn valid_cidr(cidr: &str) -> bool {
    let Some(captures) = CIDR.captures(cidr) else { return false };
    let octets_ok = (1..=4).all(|i| captures[i].parse::<u16>().is_ok_and(|octet| octet <= 255));
    octets_ok && captures[5].parse::<u8>().is_ok_and(|prefix| prefix <= 32)
}

/// `<environment>-<tenant>-<length of tenant>`: one DNS label (tenant and environment names are DNS labels within
/// a 55-character budget, so it stays under 63) that parses back from the right — the digits give the tenant's
/// length, the tenant precedes them, the environment is the rest — so no two environments share a host, even when
/// their names contain hyphens (`a-b`/`c` and `a`/`b-c` give `c-a-b-3` and `b-c-a-1`).
pub fn host_label(tenant: &str, environment: &str) -> String {
    format!("{environment}-{tenant}-{}", tenant.len())
}

/// The load balancer of `slot` in `profile`'s pool: `butler-<hash of the profile>-<slot>` (ELB names: 32
/// characters, letters, digits and hyphens; the hash keeps any profile name within that).
pub fn load_balancer_name(profile: &str, slot: i32) -> String {
    let digest = Sha256::digest(profile.as_bytes());
    let hash: String = digest.iter().take(5).map(|byte| format!("{byte:02x}")).collect();
    format!("butler-{hash}-{slot}")
}

/// The security group of a pool load balancer (one per load balancer, made and deleted with it).
pub fn load_balancer_security_group(profile: &str, slot: i32) -> String {
    format!("butler-lb_{profile}_{slot}")
}

/// An environment's target group: `butler-` and the first 25 hex digits of its uid (32 characters, ELB's
/// limit; unique per region and account, as target group names must be).
pub fn target_group_name(uid: &uuid::Uuid) -> String {
    format!("butler-{}", &uid.simple().to_string()[..25])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress() -> Ingress {
        Ingress {
            scheme: Scheme::InternetFacing,
            subnet_ids: vec!["subnet-0123456789abcdef0".into(), "subnet-0123456789abcdef1".into()],
            domain: "jenkins.example.com".into(),
            hosted_zone_id: "Z0123456789ABCDEFGHIJ".into(),
            certificate_arn: "arn:aws:acm:eu-west-1:123456789012:certificate/1a2b3c4d-0000-1111-2222-333344445555"
                .into(),
            allowed_cidrs: vec!["0.0.0.0/0".into()],
            max_environments_per_load_balancer: 100,
        }
    }

    #[test]
    fn a_complete_section_is_accepted_and_each_bad_field_is_named() {
        assert!(ingress().problems("eu-west-1").is_empty());
        assert_eq!(ingress().problems("us-east-1")[0].0, "certificateArn");
        let mut bad = ingress();
        bad.subnet_ids.truncate(1);
        bad.allowed_cidrs = vec!["10.0.0.0/33".into(), "300.1.1.1/8".into()];
        bad.max_environments_per_load_balancer = 101;
        bad.domain = "Jenkins..example".into();
        let fields: Vec<String> = bad.problems("eu-west-1").into_iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
            ["subnetIds", "domain", "allowedCidrs[0]", "allowedCidrs[1]", "maxEnvironmentsPerLoadBalancer"]
        );
    }

    #[test]
    fn host_labels_parse_back_so_no_two_environments_share_one() {
        let parse = |label: &str| {
            let (rest, length) = label.rsplit_once('-').expect("length");
            let length: usize = length.parse().expect("digits");
            let (environment, tenant) = rest.split_at(rest.len() - length - 1);
            (tenant[1..].to_owned(), environment.to_owned())
        };
        for (tenant, environment) in [("a-b", "c"), ("a", "b-c"), ("payments", "ci"), ("x-1", "y-2-3")] {
            assert_eq!(parse(&host_label(tenant, environment)), (tenant.to_owned(), environment.to_owned()));
        }
        assert_ne!(host_label("a-b", "c"), host_label("a", "b-c"));
        // The longest names admission allows (55 characters together) stay one DNS label.
        assert!(host_label(&"t".repeat(27), &"e".repeat(28)).len() <= 63);
    }

    #[test]
    fn aws_names_fit_elb_limits() {
        let name = load_balancer_name("a-very-long-profile-name-that-goes-on-and-on", 12345);
        assert!(name.len() <= 32 && !name.starts_with("internal-"), "{name}");
        assert_ne!(load_balancer_name("a", 1), load_balancer_name("b", 1));
        let group = target_group_name(&uuid::Uuid::new_v4());
        assert_eq!(group.len(), 32);
        assert!(group.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
