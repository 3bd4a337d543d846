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
