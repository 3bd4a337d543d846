//! Development only: a VPC with two subnets in two availability zones and a NAT gateway inside the AWS emulator, for the
//! `default` cloud profile `./dev/run` creates. Idempotent: found by tag before anything is created.

use super::ec2::Ec2Api;
use super::tags::{profile_tags, PROFILE};
use super::AwsError;

/// The network a profile's environments use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileNetwork {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
}

/// Finds or creates the profile's VPC (10.42.0.0/16) and one subnet in each of its first two zones.
pub async fn ensure_network(ec2: &dyn Ec2Api, profile: &str) -> Result<ProfileNetwork, AwsError> {
    let tags = profile_tags(profile);
    let vpc_id = match ec2.find_vpc_by_tag(PROFILE, profile).await? {
        Some(vpc_id) => vpc_id,
        None => ec2.create_vpc("10.42.0.0/16", &tags).await?,
    };
    let mut subnets = ec2.find_subnets_by_tag(&vpc_id, PROFILE, profile).await?;
    let zones = ec2.availability_zones().await?;
    for (index, zone) in zones.iter().take(2).enumerate() {
        if !subnets.iter().any(|subnet| &subnet.availability_zone == zone) {
            let cidr = format!("10.42.{}.0/24", index + 1);
            let id = ec2.create_subnet(&vpc_id, &cidr, zone, &tags).await?;
            subnets.push(super::ec2::SubnetInfo { id, vpc_id: vpc_id.clone(), availability_zone: zone.clone() });
        }
    }
    subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    // A way out, as real private subnets have: controllers download their plugins at start.
    if let Some(first) = subnets.first() {
        ec2.ensure_nat_route(&vpc_id, &first.id, &tags).await?;
    }
    Ok(ProfileNetwork { vpc_id, subnet_ids: subnets.into_iter().map(|subnet| subnet.id).collect() })
}

/// Finds or creates, in the emulator, what a profile's ingress needs from outside Butler: a Route 53 hosted zone
/// for `domain` and an ACM certificate for `*.<domain>` (in real accounts the platform team owns both). The load
/// balancers go in the profile's subnets; `capacity` is the environments per load balancer.
pub async fn ensure_ingress(
    account: &super::context::AwsAccount,
    domain: &str,
    subnet_ids: &[String],
    capacity: u32,
) -> Result<crate::domain::ingress::Ingress, AwsError> {
    use super::limits::ApiFamily;
    let route53 = aws_sdk_route53::Client::new(&account.config);
    let acm = aws_sdk_acm::Client::new(&account.config);
    let request = route53.list_hosted_zones_by_name().dns_name(domain).max_items(1).send();
    let zones = account.call("route53:ListHostedZonesByName", ApiFamily::Route53, request).await?;
    let wanted = format!("{domain}.");
    let existing = zones.hosted_zones().iter().find(|zone| zone.name() == wanted).map(|zone| zone.id().to_owned());
    let zone = match existing {
        Some(id) => id,
        None => {
            let request = route53.create_hosted_zone().name(domain).caller_reference(format!("butler-{domain}")).send();
            let created = account.call("route53:CreateHostedZone", ApiFamily::Route53, request).await?;
            created.hosted_zone().map(|zone| zone.id().to_owned()).unwrap_or_default()
        }
    };
    let wildcard = format!("*.{domain}");
    let request = acm.list_certificates().send();
    let certificates = account.call("acm:ListCertificates", ApiFamily::Route53, request).await?;
    let existing = certificates
        .certificate_summary_list()
        .iter()
        .find(|summary| summary.domain_name() == Some(wildcard.as_str()))
        .and_then(|summary| summary.certificate_arn().map(str::to_owned));
    let certificate = match existing {
        Some(arn) => arn,
        None => {
            let request = acm
                .request_certificate()
                .domain_name(&wildcard)
                .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
                .idempotency_token("butler")
                .send();
            let requested = account.call("acm:RequestCertificate", ApiFamily::Route53, request).await?;
            requested.certificate_arn().unwrap_or_default().to_owned()
        }
    };
    Ok(crate::domain::ingress::Ingress {
        scheme: crate::domain::ingress::Scheme::InternetFacing,
        subnet_ids: subnet_ids.to_vec(),
        domain: domain.to_owned(),
        hosted_zone_id: zone.trim_start_matches("/hostedzone/").to_owned(),
        certificate_arn: certificate,
        allowed_cidrs: vec!["0.0.0.0/0".to_owned()],
        max_environments_per_load_balancer: capacity,
    })
}
