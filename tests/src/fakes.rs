//! In-memory AWS for what the emulator cannot show: resources that take time (EFS `creating` → `available`,
//! mount targets deleting), and throttling bursts. Each fake counts creates so tests can prove "never two".
//! ECS, Auto Scaling and SSM live in `fakes_compute`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use butler::aws::autoscaling::Group;
use butler::aws::discovery::{DiscoveryApi, OperationState, Resource};
use butler::aws::ec2::{
    Ec2Api, FoundGroup, IngressRule, LaunchTemplate, LaunchTemplateData, Outbound, SubnetInfo, TaggedInstance,
};
use butler::aws::ecs::{CapacityProvider, Cluster, Service};
use butler::aws::efs::{AccessPoint, EfsApi, FileSystem, Lifecycle, MountTarget, Throughput};
use butler::aws::iam::{policy_document, IamApi, Role, RoleContent};
use butler::aws::logs::LogsApi;
use butler::aws::tags::UID;
use butler::aws::{AwsError, AwsErrorKind};
use butler::reconcile::environment::{AwsProvider, AwsServices};

/// A task definition revision: ARN, tags, still active.
pub type Revision = (String, BTreeMap<String, String>, bool);

/// Shared state of the fake account.
#[derive(Default)]
pub struct FakeState {
    /// Name → the group (id and owner).
    pub security_groups: HashMap<String, FoundGroup>,
    pub file_systems: HashMap<String, (FileSystem, u32)>,
    pub mount_targets: HashMap<String, Vec<(MountTarget, u32)>>,
    /// Security groups by mount target id.
    pub mount_target_groups: HashMap<String, Vec<String>>,
    pub access_points: HashMap<String, Vec<AccessPoint>>,
    /// File system id → its resource policy.
    pub file_system_policies: HashMap<String, serde_json::Value>,
    pub namespaces: HashMap<String, String>,
    pub services: HashMap<String, Resource>,
    pub roles: HashMap<String, Role>,
    /// What each role says (trust, inline and attached policies).
    pub role_content: HashMap<String, RoleContent>,
    pub log_groups: HashMap<String, Option<i32>>,
    pub launch_templates: HashMap<String, LaunchTemplate>,
    pub clusters: HashMap<String, Cluster>,
    pub capacity_providers: HashMap<String, CapacityProvider>,
    /// Family → its revisions.
    pub task_definitions: HashMap<String, Vec<Revision>>,
    /// (cluster, service) → the service and how many times it has been described.
    pub ecs_services: HashMap<(String, String), (Service, u32)>,
    /// Name → the group and, once deleting, how many describes it has left.
    pub groups: HashMap<String, (Group, Option<u32>)>,
    pub parameters: HashMap<String, String>,
    /// Secrets Manager: name → (description, tags); values are not kept (Butler never reads them back).
    pub secrets: BTreeMap<String, (String, BTreeMap<String, String>)>,
    /// What DescribeInstances reports (the cost meter's input).
    pub tagged_instances: Vec<TaggedInstance>,
    /// (instance type, zone) → Spot price.
    pub spot_prices: HashMap<(String, String), f64>,
    /// The profile's subnets have no default route (no egress).
    pub no_egress: bool,
    /// The controller task definition registered last, as Butler sent it.
    pub last_controller_task: Option<butler::aws::ecs::ControllerTask>,
    /// The controller task stops as soon as it starts, for this reason.
    pub controller_crash: Option<butler::aws::ecs::StoppedTask>,
    /// The controller task runs but Jenkins never answers its health check.
    pub jenkins_unhealthy: bool,
    /// Every new revision a service is updated to fails its tasks: ECS's circuit breaker rolls the service back.
    pub new_revisions_fail: bool,
    /// (cluster, service) → (the revision it ran, the one that fails), until the circuit breaker acts.
    pub pending_rollbacks: HashMap<(String, String), (String, String)>,
    /// The region publishes no ECS-optimised AMI parameter (a permanent error unless the profile names an AMI).
    pub no_ecs_ami: bool,
    /// How many describes a new service shows its task pending before it runs.
    pub service_start_after: u32,
    /// Every mutating call by operation (creates, updates, deletes).
    pub mutations: BTreeMap<&'static str, u32>,
    /// Operation name → how many more calls answer ThrottlingException.
    pub throttle: HashMap<&'static str, u32>,
    /// Operations answered AccessDenied (a permanent refusal).
    pub denied: Vec<&'static str>,
    /// How many describes a new file system or mount target stays `creating` (or `deleting`).
    pub settle_after: u32,
    pub creates: BTreeMap<&'static str, u32>,
    next_id: u32,
}

impl FakeState {
    /// A fresh id with `prefix`.
    pub fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:08x}", self.next_id)
    }

    /// Answers ThrottlingException while `throttle` says so.
    pub fn check(&mut self, operation: &'static str) -> Result<(), AwsError> {
        if self.denied.contains(&operation) {
            return Err(AwsError {
                kind: AwsErrorKind::AccessDenied,
                operation,
                code: "AccessDeniedException".into(),
                message: format!("not authorized to perform {operation}"),
            });
        }
        if let Some(left) = self.throttle.get_mut(operation) {
            if *left > 0 {
                *left -= 1;
                return Err(AwsError {
                    kind: AwsErrorKind::Throttled,
                    operation,
                    code: "ThrottlingException".into(),
                    message: "Rate exceeded".into(),
                });
            }
        }
        Ok(())
    }

    /// Counts a create (and the mutation).
    pub fn created(&mut self, operation: &'static str) {
        *self.creates.entry(operation).or_default() += 1;
        self.mutated(operation);
    }

    /// Counts a mutating call.
    pub fn mutated(&mut self, operation: &'static str) {
        *self.mutations.entry(operation).or_default() += 1;
    }
}

/// A fake account: EC2, EFS and Cloud Map over one shared state.
#[derive(Clone, Default)]
pub struct FakeAws {
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeAws {
    /// Locks the state.
    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake state")
    }
}

#[async_trait]
impl AwsProvider for FakeAws {
    async fn services(&self, _region: &str, _role_arn: Option<&str>) -> AwsServices {
        AwsServices {
            ec2: Arc::new(self.clone()),
            efs: Arc::new(self.clone()),
            discovery: Arc::new(self.clone()),
            iam: Arc::new(self.clone()),
            logs: Arc::new(self.clone()),
            ecs: Arc::new(self.clone()),
            autoscaling: Arc::new(self.clone()),
            ssm: Arc::new(self.clone()),
            elb: Arc::new(crate::fakes_ingress::NoIngress),
            dns: Arc::new(crate::fakes_ingress::NoIngress),
            secrets: Arc::new(self.clone()),
        }
    }
}

/// A NotFound error of `operation`.
pub fn not_found(operation: &'static str) -> AwsError {
    AwsError { kind: AwsErrorKind::NotFound, operation, code: "NotFound".into(), message: "no such resource".into() }
}

#[async_trait]
impl Ec2Api for FakeAws {
    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<SubnetInfo>, AwsError> {
        Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| SubnetInfo {
                id: id.clone(),
                vpc_id: "vpc-fake".into(),
                availability_zone: format!("zone-{i}"),
            })
            .collect())
    }
    async fn find_security_group(&self, _vpc_id: &str, name: &str) -> Result<Option<FoundGroup>, AwsError> {
        let mut state = self.state();
        state.check("ec2:DescribeSecurityGroups")?;
        Ok(state.security_groups.get(name).cloned())
    }
    async fn find_security_groups(
        &self,
        _vpc: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, FoundGroup>, AwsError> {
        let mut state = self.state();
        state.check("ec2:DescribeSecurityGroups")?;
        Ok(names.iter().filter_map(|n| Some((n.clone(), state.security_groups.get(n)?.clone()))).collect())
    }
    async fn create_security_group(
        &self,
        _vpc: &str,
        name: &str,
        _d: &str,
        t: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut state = self.state();
        state.check("ec2:CreateSecurityGroup")?;
        let id = state.id("sg");
        let group = FoundGroup { id: id.clone(), owner: t.get(UID).cloned(), ..FoundGroup::default() };
        state.security_groups.insert(name.to_owned(), group);
        state.created("ec2:CreateSecurityGroup");
        Ok(id)
    }
    async fn authorize_ingress(&self, group_id: &str, rules: &[IngressRule]) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("ec2:AuthorizeSecurityGroupIngress");
        if let Some(group) = state.security_groups.values_mut().find(|g| g.id == group_id) {
            group.ingress.extend(rules.iter().cloned());
            group.ingress.sort();
            group.ingress.dedup();
        }
        Ok(())
    }
    async fn default_routes(
        &self,
        _vpc_id: &str,
        subnet_ids: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, AwsError> {
        let state = self.state();
        let target = (!state.no_egress).then(|| "nat-fake".to_owned());
        Ok(subnet_ids.iter().map(|subnet| (subnet.clone(), target.clone())).collect())
    }
    async fn ensure_nat_route(&self, _vpc: &str, _subnet: &str, _t: &BTreeMap<String, String>) -> Result<(), AwsError> {
        Ok(())
    }
    async fn converge_ingress(&self, group_id: &str, desired: &[IngressRule]) -> Result<Vec<String>, AwsError> {
        let mut state = self.state();
        state.mutated("ec2:RevokeSecurityGroupIngress");
        let group = state.security_groups.values_mut().find(|g| g.id == group_id).expect("group");
        let changed = group.ingress != desired || group.other_ingress;
        group.ingress = desired.to_vec();
        group.other_ingress = false;
        Ok(if changed { vec!["rules set".to_owned()] } else { Vec::new() })
    }
    async fn revoke_default_egress(&self, group_id: &str) -> Result<(), AwsError> {
        self.converge_egress(group_id, Outbound::Nothing).await.map(|_| ())
    }
    async fn converge_egress(&self, group_id: &str, desired: Outbound) -> Result<Vec<String>, AwsError> {
        let mut state = self.state();
        state.mutated("ec2:RevokeSecurityGroupEgress");
        let group = state.security_groups.values_mut().find(|g| g.id == group_id).expect("group");
        let changed = group.outbound != desired;
        group.outbound = desired;
        Ok(if changed { vec!["outbound set".to_owned()] } else { Vec::new() })
    }
    async fn delete_security_group(&self, group_id: &str) -> Result<(), AwsError> {
        self.state().security_groups.retain(|_, group| group.id != group_id);
        Ok(())
    }
    async fn find_vpc_by_tag(&self, _tag: &str, _value: &str) -> Result<Option<String>, AwsError> {
        Ok(Some("vpc-fake".into()))
    }
    async fn create_vpc(&self, _cidr: &str, _tags: &BTreeMap<String, String>) -> Result<String, AwsError> {
        Ok("vpc-fake".into())
    }
    async fn find_subnets_by_tag(&self, _vpc: &str, _tag: &str, _value: &str) -> Result<Vec<SubnetInfo>, AwsError> {
        Ok(Vec::new())
    }
    async fn create_subnet(
        &self,
        _vpc: &str,
        _cidr: &str,
        _az: &str,
        _t: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        Ok("subnet-fake".into())
    }
    async fn availability_zones(&self) -> Result<Vec<String>, AwsError> {
        Ok(vec!["zone-0".into(), "zone-1".into()])
    }
    async fn find_launch_template(&self, name: &str) -> Result<Option<LaunchTemplate>, AwsError> {
        Ok(self.state().launch_templates.get(name).cloned())
    }
    async fn create_launch_template(
        &self,
        name: &str,
        data: &LaunchTemplateData,
        t: &BTreeMap<String, String>,
    ) -> Result<LaunchTemplate, AwsError> {
        let mut state = self.state();
        state.check("ec2:CreateLaunchTemplate")?;
        let template = LaunchTemplate {
            id: state.id("lt"),
            name: name.to_owned(),
            version: 1,
            data: data.clone(),
            owner: t.get(UID).cloned(),
        };
        state.launch_templates.insert(name.to_owned(), template.clone());
        state.created("ec2:CreateLaunchTemplate");
        Ok(template)
    }
    async fn create_launch_template_version(
        &self,
        template: &LaunchTemplate,
        data: &LaunchTemplateData,
    ) -> Result<LaunchTemplate, AwsError> {
        let mut state = self.state();
        state.mutated("ec2:CreateLaunchTemplateVersion");
        let updated = LaunchTemplate { version: template.version + 1, data: data.clone(), ..template.clone() };
        state.launch_templates.insert(template.name.clone(), updated.clone());
        Ok(updated)
    }
    async fn tagged_instances(&self) -> Result<Vec<TaggedInstance>, AwsError> {
        let mut state = self.state();
        state.check("ec2:DescribeInstances")?;
        Ok(state.tagged_instances.clone())
    }
    async fn spot_price(&self, instance_type: &str, zone: &str) -> Result<Option<f64>, AwsError> {
        let mut state = self.state();
        state.check("ec2:DescribeSpotPriceHistory")?;
        *state.creates.entry("ec2:DescribeSpotPriceHistory").or_default() += 1;
        Ok(state.spot_prices.get(&(instance_type.to_owned(), zone.to_owned())).copied())
    }
    async fn delete_launch_template(&self, id: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        let before = state.launch_templates.len();
        state.launch_templates.retain(|_, t| t.id != id);
        if state.launch_templates.len() < before {
            state.mutated("ec2:DeleteLaunchTemplate");
        }
        Ok(())
    }
}

/// Advances a lifecycle one describe: `creating` becomes `available` after `settle_after` looks.
fn settle(lifecycle: &mut Lifecycle, looks: &mut u32, settle_after: u32) {
    *looks += 1;
    if *lifecycle == Lifecycle::Creating && *looks > settle_after {
        *lifecycle = Lifecycle::Available;
    }
}

#[async_trait]
impl EfsApi for FakeAws {
    async fn file_system_sizes(&self) -> Result<BTreeMap<String, i64>, AwsError> {
        Ok(self.state().file_systems.iter().map(|(token, (fs, _))| (token.clone(), fs.size_bytes)).collect())
    }
    async fn find_file_system(&self, token: &str) -> Result<Option<FileSystem>, AwsError> {
        let mut state = self.state();
        state.check("efs:DescribeFileSystems")?;
        let settle_after = state.settle_after;
        Ok(state.file_systems.get_mut(token).map(|(fs, looks)| {
            settle(&mut fs.lifecycle, looks, settle_after);
            fs.clone()
        }))
    }
    async fn create_file_system(
        &self,
        token: &str,
        throughput: Throughput,
        _t: &BTreeMap<String, String>,
    ) -> Result<FileSystem, AwsError> {
        let mut state = self.state();
        state.check("efs:CreateFileSystem")?;
        if state.file_systems.contains_key(token) {
            return Err(AwsError {
                kind: AwsErrorKind::AlreadyExists,
                operation: "efs:CreateFileSystem",
                code: "FileSystemAlreadyExists".into(),
                message: String::new(),
            });
        }
        let id = state.id("fs");
        let arn = format!("arn:aws:elasticfilesystem:eu-west-1:000000000000:file-system/{id}");
        let fs = FileSystem { id, arn, lifecycle: Lifecycle::Creating, size_bytes: 0, throughput, encrypted: true };
        state.file_systems.insert(token.to_owned(), (fs.clone(), 0));
        state.created("efs:CreateFileSystem");
        Ok(fs)
    }
    async fn update_throughput(&self, id: &str, throughput: Throughput) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("efs:UpdateFileSystem");
        for (fs, _) in state.file_systems.values_mut().filter(|(fs, _)| fs.id == id) {
            fs.throughput = throughput;
        }
        Ok(())
    }
    async fn delete_file_system(&self, id: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        if state.mount_targets.get(id).is_some_and(|targets| !targets.is_empty()) {
            return Err(AwsError {
                kind: AwsErrorKind::Conflict,
                operation: "efs:DeleteFileSystem",
                code: "FileSystemInUse".into(),
                message: String::new(),
            });
        }
        state.file_systems.retain(|_, (fs, _)| fs.id != id);
        Ok(())
    }
    async fn mount_targets(&self, id: &str) -> Result<Vec<MountTarget>, AwsError> {
        let mut state = self.state();
        let settle_after = state.settle_after;
        let targets = state.mount_targets.entry(id.to_owned()).or_default();
        for (target, looks) in targets.iter_mut() {
            settle(&mut target.lifecycle, looks, settle_after);
        }
        // A target being deleted is gone once it has been seen deleting `settle_after` times.
        targets.retain(|(target, looks)| !(target.lifecycle == Lifecycle::Deleting && *looks > settle_after));
        Ok(targets.iter().map(|(target, _)| target.clone()).collect())
    }
    async fn create_mount_target(&self, id: &str, subnet: &str, sg: &str) -> Result<MountTarget, AwsError> {
        let mut state = self.state();
        let target_id = state.id("fsmt");
        state.mount_target_groups.insert(target_id.clone(), vec![sg.to_owned()]);
        let target = MountTarget { id: target_id, subnet_id: subnet.to_owned(), lifecycle: Lifecycle::Creating };
        state.mount_targets.entry(id.to_owned()).or_default().push((target.clone(), 0));
        state.created("efs:CreateMountTarget");
        Ok(target)
    }
    async fn delete_mount_target(&self, target_id: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        for targets in state.mount_targets.values_mut() {
            for (target, looks) in targets.iter_mut().filter(|(t, _)| t.id == target_id) {
                target.lifecycle = Lifecycle::Deleting;
                *looks = 0;
            }
        }
        Ok(())
    }
    async fn mount_target_security_groups(&self, target_id: &str) -> Result<Vec<String>, AwsError> {
        let state = self.state();
        Ok(state.mount_target_groups.get(target_id).cloned().unwrap_or_default())
    }
    async fn set_mount_target_security_groups(&self, target_id: &str, groups: &[String]) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("efs:ModifyMountTargetSecurityGroups");
        state.mount_target_groups.insert(target_id.to_owned(), groups.to_vec());
        Ok(())
    }
    async fn file_systems_by_token(&self) -> Result<BTreeMap<String, FileSystem>, AwsError> {
        Ok(self.state().file_systems.iter().map(|(token, (fs, _))| (token.clone(), fs.clone())).collect())
    }
    async fn all_access_points(&self) -> Result<BTreeMap<String, Vec<AccessPoint>>, AwsError> {
        Ok(self.state().access_points.iter().map(|(fs, points)| (fs.clone(), points.clone())).collect())
    }
    async fn access_points(&self, id: &str) -> Result<Vec<AccessPoint>, AwsError> {
        Ok(self.state().access_points.get(id).cloned().unwrap_or_default())
    }
    async fn create_access_point(
        &self,
        id: &str,
        _token: &str,
        root: &str,
        _t: &BTreeMap<String, String>,
    ) -> Result<AccessPoint, AwsError> {
        let mut state = self.state();
        let point_id = state.id("fsap");
        let point = AccessPoint {
            arn: format!("arn:aws:elasticfilesystem:eu-west-1:000000000000:access-point/{point_id}"),
            id: point_id,
            root_path: root.to_owned(),
            uid: Some(1000),
            gid: Some(1000),
            lifecycle: Lifecycle::Available,
        };
        state.access_points.entry(id.to_owned()).or_default().push(point.clone());
        state.created("efs:CreateAccessPoint");
        Ok(point)
    }
    async fn delete_access_point(&self, point_id: &str) -> Result<(), AwsError> {
        for points in self.state().access_points.values_mut() {
            points.retain(|p| p.id != point_id);
        }
        Ok(())
    }
    async fn file_system_policy(&self, file_system_id: &str) -> Result<Option<serde_json::Value>, AwsError> {
        Ok(self.state().file_system_policies.get(file_system_id).cloned())
    }
    async fn put_file_system_policy(&self, file_system_id: &str, policy: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("efs:PutFileSystemPolicy");
        let document = serde_json::from_str(policy).expect("a JSON policy");
        state.file_system_policies.insert(file_system_id.to_owned(), document);
        Ok(())
    }
}

#[async_trait]
impl DiscoveryApi for FakeAws {
    async fn find_namespace(&self, name: &str) -> Result<Option<Resource>, AwsError> {
        Ok(self.state().namespaces.get(name).map(|id| Resource {
            id: id.clone(),
            arn: format!("arn:{id}"),
            name: name.to_owned(),
            creator_request_id: None,
            dns_records: Vec::new(),
        }))
    }
    async fn create_namespace(
        &self,
        name: &str,
        _vpc: &str,
        _request: &str,
        _t: &BTreeMap<String, String>,
    ) -> Result<String, AwsError> {
        let mut state = self.state();
        let id = state.id("ns");
        state.namespaces.insert(name.to_owned(), id);
        state.created("servicediscovery:CreatePrivateDnsNamespace");
        Ok("op-1".into())
    }
    async fn operation(&self, _operation_id: &str) -> Result<OperationState, AwsError> {
        Ok(OperationState::Succeeded { namespace_id: None })
    }
    async fn set_controller_records(&self, service_id: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("servicediscovery:UpdateService");
        for service in state.services.values_mut().filter(|s| s.id == service_id) {
            service.dns_records = butler::aws::discovery::controller_records();
        }
        Ok(())
    }
    async fn find_service(&self, namespace_id: &str, name: &str) -> Result<Option<Resource>, AwsError> {
        Ok(self.state().services.get(&format!("{namespace_id}/{name}")).cloned())
    }
    async fn create_service(
        &self,
        namespace_id: &str,
        name: &str,
        request: &str,
        _t: &BTreeMap<String, String>,
    ) -> Result<Resource, AwsError> {
        let mut state = self.state();
        state.check("servicediscovery:CreateService")?;
        let id = state.id("srv");
        let service = Resource {
            id: id.clone(),
            arn: format!("arn:{id}"),
            name: name.to_owned(),
            creator_request_id: Some(request.to_owned()),
            dns_records: butler::aws::discovery::controller_records(),
        };
        state.services.insert(format!("{namespace_id}/{name}"), service.clone());
        state.created("servicediscovery:CreateService");
        Ok(service)
    }
    async fn instances(&self, _service_id: &str) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn deregister_instance(&self, _service_id: &str, _instance_id: &str) -> Result<(), AwsError> {
        Ok(())
    }
    async fn delete_service(&self, service_id: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        if !state.services.values().any(|s| s.id == service_id) {
            return Err(not_found("servicediscovery:DeleteService"));
        }
        state.services.retain(|_, s| s.id != service_id);
        Ok(())
    }
}

#[async_trait]
impl IamApi for FakeAws {
    async fn get_role(&self, name: &str) -> Result<Option<Role>, AwsError> {
        Ok(self.state().roles.get(name).cloned())
    }
    async fn create_role(&self, name: &str, trust: &str, _t: &BTreeMap<String, String>) -> Result<Role, AwsError> {
        let mut state = self.state();
        let role = Role { name: name.to_owned(), arn: format!("arn:aws:iam::000000000000:role/{name}") };
        state.roles.insert(name.to_owned(), role.clone());
        let content = RoleContent { trust: policy_document(trust), ..RoleContent::default() };
        state.role_content.insert(name.to_owned(), content);
        state.created("iam:CreateRole");
        Ok(role)
    }
    async fn roles_with_prefix(&self, prefix: &str) -> Result<butler::aws::iam::RoleInventory, AwsError> {
        let mut state = self.state();
        state.check("iam:GetAccountAuthorizationDetails")?;
        let roles = state
            .roles
            .keys()
            .filter(|name| name.starts_with(prefix))
            .map(|name| (name.clone(), state.role_content.get(name).cloned().unwrap_or_default()))
            .collect();
        Ok(butler::aws::iam::RoleInventory { roles, instance_profiles: Default::default() })
    }
    async fn role_content(&self, name: &str) -> Result<Option<RoleContent>, AwsError> {
        let mut state = self.state();
        state.check("iam:GetRole")?;
        Ok(state.roles.contains_key(name).then(|| state.role_content.get(name).cloned().unwrap_or_default()))
    }
    async fn update_trust(&self, role: &str, document: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("iam:UpdateAssumeRolePolicy");
        state.role_content.entry(role.to_owned()).or_default().trust = policy_document(document);
        Ok(())
    }
    async fn put_role_policy(&self, role: &str, name: &str, document: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("iam:PutRolePolicy");
        state
            .role_content
            .entry(role.to_owned())
            .or_default()
            .inline
            .insert(name.to_owned(), policy_document(document));
        Ok(())
    }
    async fn delete_role_policy(&self, role: &str, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("iam:DeleteRolePolicy");
        state.role_content.entry(role.to_owned()).or_default().inline.remove(name);
        Ok(())
    }
    async fn attach_managed_policy(&self, role: &str, arn: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("iam:AttachRolePolicy");
        let attached = &mut state.role_content.entry(role.to_owned()).or_default().attached;
        if !attached.iter().any(|a| a == arn) {
            attached.push(arn.to_owned());
        }
        Ok(())
    }
    async fn detach_managed_policy(&self, role: &str, arn: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.mutated("iam:DetachRolePolicy");
        state.role_content.entry(role.to_owned()).or_default().attached.retain(|a| a != arn);
        Ok(())
    }
    async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        let mut state = self.state();
        state.roles.remove(name);
        state.role_content.remove(name);
        Ok(())
    }
    async fn ensure_instance_profile(&self, _name: &str, _role: &str, _look: bool) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn delete_instance_profile(&self, _name: &str) -> Result<(), AwsError> {
        Ok(())
    }
}

#[async_trait]
impl LogsApi for FakeAws {
    async fn find_log_group(&self, name: &str) -> Result<Option<Option<i32>>, AwsError> {
        Ok(self.state().log_groups.get(name).cloned())
    }
    async fn log_groups_with_prefix(&self, prefix: &str) -> Result<BTreeMap<String, Option<i32>>, AwsError> {
        Ok(self
            .state()
            .log_groups
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(n, r)| (n.clone(), *r))
            .collect())
    }
    async fn create_log_group(&self, name: &str, _t: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.state().log_groups.insert(name.to_owned(), None);
        Ok(())
    }
    async fn put_retention(&self, name: &str, days: i32) -> Result<(), AwsError> {
        self.state().log_groups.insert(name.to_owned(), Some(days));
        Ok(())
    }
    async fn delete_log_group(&self, name: &str) -> Result<(), AwsError> {
        self.state().log_groups.remove(name);
        Ok(())
    }
    async fn tail(&self, _name: &str, _lines: i32) -> Result<Vec<butler::aws::logs::LogLine>, AwsError> {
        Ok(Vec::new())
    }
}
