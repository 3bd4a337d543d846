//! Where a VPC's subnets send their internet traffic (the egress check), and the emulator's NAT gateway
//! (development only). The `Ec2Api` methods delegate here.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::ResourceType;

use super::ec2::{filter, tag_spec, SdkEc2};
use super::limits::ApiFamily;
use super::AwsError;

pub(super) async fn default_routes(
    ec2: &SdkEc2,
    vpc_id: &str,
    subnet_ids: &[String],
) -> Result<BTreeMap<String, Option<String>>, AwsError> {
    let request = ec2.client.describe_route_tables().filters(filter("vpc-id", vpc_id)).send();
    let output = ec2.account.call("ec2:DescribeRouteTables", ApiFamily::Ec2Read, request).await?;
    let target = |table: &aws_sdk_ec2::types::RouteTable| {
        table.routes().iter().filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).find_map(|route| {
            let blackhole = route.state().is_some_and(|s| s.as_str() == "blackhole");
            (!blackhole).then(|| {
                route
                    .nat_gateway_id()
                    .or(route.transit_gateway_id())
                    .or(route.network_interface_id())
                    .or(route.instance_id())
                    .or(route.gateway_id())
                    .map(str::to_owned)
            })?
        })
    };
    let tables = output.route_tables();
    let main = tables.iter().find(|t| t.associations().iter().any(|a| a.main() == Some(true)));
    Ok(subnet_ids
        .iter()
        .map(|subnet| {
            let own = tables.iter().find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet.as_str())));
            (subnet.clone(), own.or(main).and_then(target))
        })
        .collect())
}

pub(super) async fn ensure_nat_route(
    ec2: &SdkEc2,
    vpc_id: &str,
    public_subnet: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let routes = default_routes(ec2, vpc_id, &[public_subnet.to_owned()]).await?;
    if routes.values().flatten().any(|target| target.starts_with("nat-")) {
        return Ok(());
    }
    let request =
        ec2.client.create_internet_gateway().tag_specifications(tag_spec(ResourceType::InternetGateway, tags)).send();
    let gateway = ec2.account.call("ec2:CreateInternetGateway", ApiFamily::Ec2Write, request).await?;
    let gateway_id = gateway.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default();
    let request = ec2.client.attach_internet_gateway().internet_gateway_id(gateway_id).vpc_id(vpc_id).send();
    ec2.account.call("ec2:AttachInternetGateway", ApiFamily::Ec2Write, request).await?;
    let request = ec2.client.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send();
    let address = ec2.account.call("ec2:AllocateAddress", ApiFamily::Ec2Write, request).await?;
    let request = ec2
        .client
        .create_nat_gateway()
        .subnet_id(public_subnet)
        .set_allocation_id(address.allocation_id().map(str::to_owned))
        .tag_specifications(tag_spec(ResourceType::Natgateway, tags))
        .send();
    let nat = ec2.account.call("ec2:CreateNatGateway", ApiFamily::Ec2Write, request).await?;
    let nat_id = nat.nat_gateway().and_then(|n| n.nat_gateway_id()).unwrap_or_default().to_owned();
    let request = ec2
        .client
        .describe_route_tables()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("association.main", "true"))
        .send();
    let tables = ec2.account.call("ec2:DescribeRouteTables", ApiFamily::Ec2Read, request).await?;
    let table = tables.route_tables().first().and_then(|t| t.route_table_id()).unwrap_or_default().to_owned();
    let request = ec2
        .client
        .create_route()
        .route_table_id(table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(nat_id)
        .send();
    ec2.account.call("ec2:CreateRoute", ApiFamily::Ec2Write, request).await.map(|_| ())
}
