//! EC2: subnets and VPCs (profiles; the emulator network), security groups, and the container instances'
//! launch template (found by name, its latest version compared with what the spec wants).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, LaunchTemplateIamInstanceProfileSpecificationRequest, RequestLaunchTemplateData,
    ResourceType, Tag, TagSpecification, UserIdGroupPair,
};
use base64::Engine;

use super::context::AwsAccount;
use super::ec2_rules::{found_group, owner_of};
pub use super::ec2_rules::{FoundGroup, Outbound};
use super::error::{AwsError, AwsErrorKind};
use super::limits::ApiFamily;

/// A subnet and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
}

/// Where an inbound rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleSource {
    /// Another security group (every environment group's rules are of this kind).
    Group(String),
    /// An IPv4 CIDR: only a shared load balancer's group, from the profile's allowed CIDRs.
    Cidr(String),
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Group(id) | Self::Cidr(id) => f.write_str(id),
        }
    }
}

/// An inbound TCP rule on one port. Environment groups admit only other groups; only a load balancer's group
/// admits CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IngressRule {
    pub port: i32,
    pub source: RuleSource,
}

impl IngressRule {
    /// TCP `port` from the security group `group_id`.
    pub fn from_group(port: i32, group_id: &str) -> Self {
        Self { port, source: RuleSource::Group(group_id.to_owned()) }
    }

    /// TCP `port` from the IPv4 range `cidr`.
    pub fn from_cidr(port: i32, cidr: &str) -> Self {
        Self { port, source: RuleSource::Cidr(cidr.to_owned()) }
    }
}

/// What a launch template version says, in Butler's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplateData {
    pub image_id: String,
    /// The instance profile's name.
    pub instance_profile: String,
    pub security_group_ids: Vec<String>,
    /// The user data script, plain text (the adapter encodes it).
    pub user_data: String,
}

/// A launch template and its latest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchTemplate {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub data: LaunchTemplateData,
    /// The template's `butler:uid` tag: whose it is.
    pub owner: Option<String>,
}

/// A running instance carrying a Butler environment's uid tag (the cost meter's view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedInstance {
    pub id: String,
    pub instance_type: String,
    pub availability_zone: String,
    pub spot: bool,
    /// The `butler:uid` tag.
    pub environment_uid: String,
}

/// What the reconciler needs of EC2.
#[async_trait]
pub trait Ec2Api: Send + Sync {
    /// The named subnets (all of them, or an error).
    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<SubnetInfo>, AwsError>;
    /// A security group by VPC and name (names are unique per VPC: the lookup before create).
    async fn find_security_group(&self, vpc_id: &str, name: &str) -> Result<Option<FoundGroup>, AwsError>;
    /// Security groups of a VPC by name, in one call (absent names are left out).
    async fn find_security_groups(
        &self,
        vpc_id: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, FoundGroup>, AwsError>;
    /// Creates a tagged security group; returns its id.
    async fn create_security_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError>;
    /// Adds inbound rules; rules already present are fine.
    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> Result<(), AwsError>;
    /// Makes a group's inbound rules exactly `desired`: revokes every other rule (whatever its shape), then
    /// authorizes the missing ones (AuthorizeSecurityGroupIngress is all-or-nothing: a rule already present would
    /// fail the whole batch). Returns what it changed.
    async fn converge_ingress(&self, group_id: &str, desired: &[IngressRule]) -> Result<Vec<String>, AwsError>;
    /// Revokes the all-traffic outbound rule every new group starts with (no read: a new group has exactly it).
    async fn revoke_default_egress(&self, group_id: &str) -> Result<(), AwsError>;
    /// Makes a group's outbound rules `desired` (everything, or nothing). Returns what it changed.
    async fn converge_egress(&self, group_id: &str, desired: Outbound) -> Result<Vec<String>, AwsError>;
    /// Deletes a security group; already gone is fine.
    async fn delete_security_group(&self, group_id: &str) -> Result<(), AwsError>;
    /// For each subnet, where its `0.0.0.0/0` route leads (`nat-…`, `igw-…`, `tgw-…`, `eni-…`, `i-…`), from its
    /// own route table or else the VPC's main one; None when it has no default route. One call for all.
    async fn default_routes(
        &self,
        vpc_id: &str,
        subnet_ids: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, AwsError>;
    /// Development only (the emulator's network): an internet gateway, a NAT gateway in `public_subnet` and the
    /// VPC main route table's default route to it, as a real private network has.
    async fn ensure_nat_route(
        &self,
        vpc_id: &str,
        public_subnet: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError>;
    /// A VPC carrying `tag=value`.
    async fn find_vpc_by_tag(&self, tag: &str, value: &str) -> Result<Option<String>, AwsError>;
    /// Creates a tagged VPC.
    async fn create_vpc(&self, cidr: &str, tags: &BTreeMap<String, String>) -> Result<String, AwsError>;
    /// Subnets of a VPC carrying `tag=value`.
    async fn find_subnets_by_tag(&self, vpc_id: &str, tag: &str, value: &str) -> Result<Vec<SubnetInfo>, AwsError>;
    /// Creates a tagged subnet in an availability zone.
    async fn create_subnet(
        &self,
        vpc_id: &str,
        cidr: &str,
        availability_zone: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError>;
    /// The availability zones of the region.
    async fn availability_zones(&self) -> Result<Vec<String>, AwsError>;
    /// A launch template's latest version, by name; None when there is no such template.
    async fn find_launch_template(&self, name: &str) -> Result<Option<LaunchTemplate>, AwsError>;
    /// Creates a tagged launch template (names are unique per region: a second create is AlreadyExists).
    async fn create_launch_template(
        &self,
        name: &str,
        data: &LaunchTemplateData,
        tags: &BTreeMap<String, String>,
    ) -> Result<LaunchTemplate, AwsError>;
    /// Adds a version to a launch template (the ASG follows `$Latest`).
    async fn create_launch_template_version(
        &self,
        template: &LaunchTemplate,
        data: &LaunchTemplateData,
    ) -> Result<LaunchTemplate, AwsError>;
    /// Deletes a launch template by id; gone is fine.
    async fn delete_launch_template(&self, id: &str) -> Result<(), AwsError>;
    /// Every running or pending instance tagged with a Butler environment's uid, pages of up to 1,000.
    async fn tagged_instances(&self) -> Result<Vec<TaggedInstance>, AwsError>;
    /// The latest Linux Spot price of a type in a zone (one call), if AWS reports one.
    async fn spot_price(&self, instance_type: &str, availability_zone: &str) -> Result<Option<f64>, AwsError>;
}

/// The SDK-backed EC2 adapter.
pub struct SdkEc2 {
    pub(super) account: AwsAccount,
    pub(super) client: aws_sdk_ec2::Client,
}

impl SdkEc2 {
    /// An adapter for `account`.
    pub fn new(account: &AwsAccount) -> Self {
        Self { account: account.clone(), client: aws_sdk_ec2::Client::new(&account.config) }
    }
}

pub(super) fn tag_spec(resource: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    TagSpecification::builder().resource_type(resource).set_tags(Some(tags)).build()
}

fn template_request(data: &LaunchTemplateData) -> RequestLaunchTemplateData {
    RequestLaunchTemplateData::builder()
        .image_id(&data.image_id)
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder().name(&data.instance_profile).build(),
        )
        .set_security_group_ids(Some(data.security_group_ids.clone()))
        .user_data(base64::engine::general_purpose::STANDARD.encode(&data.user_data))
        .build()
}

fn template_of(version: &aws_sdk_ec2::types::LaunchTemplateVersion) -> Option<LaunchTemplate> {
    let data = version.launch_template_data()?;
    let user_data = data
        .user_data()
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Some(LaunchTemplate {
        id: version.launch_template_id()?.to_owned(),
        name: version.launch_template_name()?.to_owned(),
        version: version.version_number()?,
        data: LaunchTemplateData {
            image_id: data.image_id().unwrap_or_default().to_owned(),
            instance_profile: data.iam_instance_profile().and_then(|p| p.name()).unwrap_or_default().to_owned(),
            security_group_ids: data.security_group_ids().to_vec(),
            user_data,
        },
        owner: None,
    })
}

pub(super) fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn subnet_info(subnet: &aws_sdk_ec2::types::Subnet) -> Option<SubnetInfo> {
    Some(SubnetInfo {
        id: subnet.subnet_id()?.to_owned(),
        vpc_id: subnet.vpc_id()?.to_owned(),
        availability_zone: subnet.availability_zone()?.to_owned(),
    })
}

#[async_trait]
impl Ec2Api for SdkEc2 {
    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<SubnetInfo>, AwsError> {
        let request = self.client.describe_subnets().set_subnet_ids(Some(ids.to_vec())).send();
        let output = self.account.call("ec2:DescribeSubnets", ApiFamily::Ec2Read, request).await?;
        Ok(output.subnets().iter().filter_map(subnet_info).collect())
    }

    async fn find_security_group(&self, vpc_id: &str, name: &str) -> Result<Option<FoundGroup>, AwsError> {
        let request = self
            .client
            .describe_security_groups()
            .filters(filter("vpc-id", vpc_id))
            .filters(filter("group-name", name))
            .send();
        let output = self.account.call("ec2:DescribeSecurityGroups", ApiFamily::Ec2Read, request).await?;
        Ok(output.security_groups().iter().find_map(found_group))
    }

    async fn find_security_groups(
        &self,
        vpc_id: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, FoundGroup>, AwsError> {
        let request = self
            .client
            .describe_security_groups()
            .filters(filter("vpc-id", vpc_id))
            .filters(Filter::builder().name("group-name").set_values(Some(names.to_vec())).build())
            .send();
        let output = self.account.call("ec2:DescribeSecurityGroups", ApiFamily::Ec2Read, request).await?;
        Ok(output
            .security_groups()
            .iter()
            .filter_map(|group| Some((group.group_name()?.to_owned(), found_group(group)?)))
            .collect())
    }

    async fn create_security_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let request = self
            .client
            .create_security_group()
            .vpc_id(vpc_id)
            .group_name(name)
            .description(description)
            .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
            .send();
        let output = self.account.call("ec2:CreateSecurityGroup", ApiFamily::Ec2Write, request).await?;
        output.group_id().map(str::to_owned).ok_or_else(|| AwsError::malformed("ec2:CreateSecurityGroup", "no GroupId"))
    }

    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> Result<(), AwsError> {
        let permissions = rules
            .iter()
            .map(|rule| {
                let permission = IpPermission::builder().ip_protocol("tcp").from_port(rule.port).to_port(rule.port);
                match &rule.source {
                    RuleSource::Group(id) => {
                        permission.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
                    }
                    RuleSource::Cidr(cidr) => {
                        permission.ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(cidr).build())
                    }
                }
                .build()
            })
            .collect();
        let request = self
            .client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send();
        match self.account.call("ec2:AuthorizeSecurityGroupIngress", ApiFamily::Ec2Write, request).await {
            // InvalidPermission.Duplicate: the rule is already there.
            Err(error) if error.kind == AwsErrorKind::AlreadyExists => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn converge_ingress(&self, group_id: &str, desired: &[IngressRule]) -> Result<Vec<String>, AwsError> {
        super::ec2_rules::converge_ingress(self, group_id, desired).await
    }

    async fn converge_egress(&self, group_id: &str, desired: Outbound) -> Result<Vec<String>, AwsError> {
        super::ec2_rules::converge_egress(self, group_id, desired).await
    }

    async fn revoke_default_egress(&self, group_id: &str) -> Result<(), AwsError> {
        super::ec2_rules::revoke_default_egress(self, group_id).await
    }

    async fn default_routes(
        &self,
        vpc_id: &str,
        subnet_ids: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, AwsError> {
        super::ec2_routes::default_routes(self, vpc_id, subnet_ids).await
    }

    async fn ensure_nat_route(
        &self,
        vpc_id: &str,
        public_subnet: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        super::ec2_routes::ensure_nat_route(self, vpc_id, public_subnet, tags).await
    }

    async fn delete_security_group(&self, group_id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_security_group().group_id(group_id).send();
        match self.account.call("ec2:DeleteSecurityGroup", ApiFamily::Ec2Write, request).await {
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn find_vpc_by_tag(&self, tag: &str, value: &str) -> Result<Option<String>, AwsError> {
        let request = self.client.describe_vpcs().filters(filter(&format!("tag:{tag}"), value)).send();
        let output = self.account.call("ec2:DescribeVpcs", ApiFamily::Ec2Read, request).await?;
        Ok(output.vpcs().iter().find_map(|vpc| vpc.vpc_id().map(str::to_owned)))
    }

    async fn create_vpc(&self, cidr: &str, tags: &BTreeMap<String, String>) -> Result<String, AwsError> {
        let request =
            self.client.create_vpc().cidr_block(cidr).tag_specifications(tag_spec(ResourceType::Vpc, tags)).send();
        let output = self.account.call("ec2:CreateVpc", ApiFamily::Ec2Write, request).await?;
        output
            .vpc()
            .and_then(|vpc| vpc.vpc_id())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::malformed("ec2:CreateVpc", "no VpcId"))
    }

    async fn find_subnets_by_tag(&self, vpc_id: &str, tag: &str, value: &str) -> Result<Vec<SubnetInfo>, AwsError> {
        let request = self
            .client
            .describe_subnets()
            .filters(filter("vpc-id", vpc_id))
            .filters(filter(&format!("tag:{tag}"), value))
            .send();
        let output = self.account.call("ec2:DescribeSubnets", ApiFamily::Ec2Read, request).await?;
        Ok(output.subnets().iter().filter_map(subnet_info).collect())
    }

    async fn create_subnet(
        &self,
        vpc_id: &str,
        cidr: &str,
        availability_zone: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let request = self
            .client
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(cidr)
            .availability_zone(availability_zone)
            .tag_specifications(tag_spec(ResourceType::Subnet, tags))
            .send();
        let output = self.account.call("ec2:CreateSubnet", ApiFamily::Ec2Write, request).await?;
        output
            .subnet()
            .and_then(|subnet| subnet.subnet_id())
            .map(str::to_owned)
            .ok_or_else(|| AwsError::malformed("ec2:CreateSubnet", "no SubnetId"))
    }

    async fn availability_zones(&self) -> Result<Vec<String>, AwsError> {
        let request = self.client.describe_availability_zones().send();
        let output = self.account.call("ec2:DescribeAvailabilityZones", ApiFamily::Ec2Read, request).await?;
        Ok(output.availability_zones().iter().filter_map(|zone| zone.zone_name().map(str::to_owned)).collect())
    }

    async fn find_launch_template(&self, name: &str) -> Result<Option<LaunchTemplate>, AwsError> {
        // The template (for its tags: whose it is), then its latest version (for what it says).
        let operation = "ec2:DescribeLaunchTemplates";
        let request = self.client.describe_launch_templates().launch_template_names(name).send();
        let owner = match self.account.call(operation, ApiFamily::Ec2Read, request).await {
            Ok(output) => match output.launch_templates().first() {
                Some(template) => owner_of(template.tags()),
                None => return Ok(None),
            },
            Err(error) if error.kind == AwsErrorKind::NotFound => return Ok(None),
            Err(error) if error.code.contains("InvalidLaunchTemplateName") => return Ok(None),
            Err(error) => return Err(error),
        };
        let operation = "ec2:DescribeLaunchTemplateVersions";
        let request =
            self.client.describe_launch_template_versions().launch_template_name(name).versions("$Latest").send();
        match self.account.call(operation, ApiFamily::Ec2Read, request).await {
            Ok(output) => Ok(output
                .launch_template_versions()
                .first()
                .and_then(template_of)
                .map(|t| LaunchTemplate { owner, ..t })),
            Err(error) if error.kind == AwsErrorKind::NotFound => Ok(None),
            // EC2 answers a missing name with a validation error on some paths.
            Err(error) if error.code.contains("InvalidLaunchTemplateName") => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn create_launch_template(
        &self,
        name: &str,
        data: &LaunchTemplateData,
        tags: &BTreeMap<String, String>,
    ) -> Result<LaunchTemplate, AwsError> {
        let operation = "ec2:CreateLaunchTemplate";
        let request = self
            .client
            .create_launch_template()
            .launch_template_name(name)
            .launch_template_data(template_request(data))
            .tag_specifications(tag_spec(ResourceType::LaunchTemplate, tags))
            .send();
        let output = self.account.call(operation, ApiFamily::Ec2Write, request).await?;
        let template = output.launch_template().ok_or_else(|| AwsError::malformed(operation, "no LaunchTemplate"))?;
        Ok(LaunchTemplate {
            id: template.launch_template_id().unwrap_or_default().to_owned(),
            name: name.to_owned(),
            version: template.latest_version_number().unwrap_or(1),
            data: data.clone(),
            owner: tags.get(super::tags::UID).cloned(),
        })
    }

    async fn create_launch_template_version(
        &self,
        template: &LaunchTemplate,
        data: &LaunchTemplateData,
    ) -> Result<LaunchTemplate, AwsError> {
        let operation = "ec2:CreateLaunchTemplateVersion";
        let request = self
            .client
            .create_launch_template_version()
            .launch_template_id(&template.id)
            .launch_template_data(template_request(data))
            .send();
        let output = self.account.call(operation, ApiFamily::Ec2Write, request).await?;
        let version = output
            .launch_template_version()
            .and_then(|version| version.version_number())
            .ok_or_else(|| AwsError::malformed(operation, "no VersionNumber"))?;
        Ok(LaunchTemplate { version, data: data.clone(), ..template.clone() })
    }

    async fn delete_launch_template(&self, id: &str) -> Result<(), AwsError> {
        let request = self.client.delete_launch_template().launch_template_id(id).send();
        match self.account.call("ec2:DeleteLaunchTemplate", ApiFamily::Ec2Write, request).await {
            Err(error) if error.kind == AwsErrorKind::NotFound || error.code.contains("InvalidLaunchTemplateId") => {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    async fn tagged_instances(&self) -> Result<Vec<TaggedInstance>, AwsError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = self
                .client
                .describe_instances()
                .filters(Filter::builder().name("tag-key").values(super::tags::UID).build())
                .filters(Filter::builder().name("instance-state-name").values("running").values("pending").build())
                .max_results(1000)
                .set_next_token(token.take())
                .send();
            let output = self.account.call("ec2:DescribeInstances", ApiFamily::Ec2Read, request).await?;
            for instance in output.reservations().iter().flat_map(|r| r.instances()) {
                let uid = instance.tags().iter().find(|t| t.key() == Some(super::tags::UID)).and_then(|t| t.value());
                let (Some(id), Some(uid)) = (instance.instance_id(), uid) else { continue };
                found.push(TaggedInstance {
                    id: id.to_owned(),
                    instance_type: instance.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                    availability_zone: instance
                        .placement()
                        .and_then(|p| p.availability_zone())
                        .unwrap_or_default()
                        .to_owned(),
                    spot: instance.instance_lifecycle().is_some_and(|l| l.as_str() == "spot"),
                    environment_uid: uid.to_owned(),
                });
            }
            match output.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(found),
            }
        }
    }

    async fn spot_price(&self, instance_type: &str, availability_zone: &str) -> Result<Option<f64>, AwsError> {
        let request = self
            .client
            .describe_spot_price_history()
            .instance_types(aws_sdk_ec2::types::InstanceType::from(instance_type))
            .availability_zone(availability_zone)
            .product_descriptions("Linux/UNIX")
            .start_time(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
            .max_results(1)
            .send();
        let output = self.account.call("ec2:DescribeSpotPriceHistory", ApiFamily::Ec2Read, request).await?;
        Ok(output.spot_price_history().first().and_then(|p| p.spot_price()).and_then(|p| p.parse().ok()))
    }
}
