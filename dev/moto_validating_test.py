"""End-to-end check of dev/moto_validating.py, the validating front for moto.

Starts the front on a free loopback port, as dev/lib.sh does, and drives it with boto3 for each protocol family
the control plane meets (json, query, ec2, rest-json, rest-xml). For each it shows that
  (a) valid calls typical of the control plane still succeed exactly as on plain moto, and
  (b) invalid calls, sent with botocore's own client-side validation switched off so that they reach the wire,
      are refused with HTTP 400, the protocol's error code, and a message naming the offending member,
and that every refusal is written to the BUTLER_MOTO_VIOLATIONS file.

Run: .venv/bin/python dev/moto_validating_test.py    (exits non-zero if any check fails)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import botocore.serialize
from botocore.config import Config
from botocore.exceptions import ClientError

DEV = Path(__file__).resolve().parent
sys.path.insert(0, str(DEV))
sys.dont_write_bytecode = True  # importing the module under test must not leave dev/__pycache__ behind
import moto_validating  # noqa: E402  (the module under test, for its pattern translation)

TRUST_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})
ROLE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                   "Resource": "*"}],
})
EFS_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "elasticfilesystem:ClientMount",
                   "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}],
})


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Front:
    """The validating front, run as dev/lib.sh runs it, on a port of its own."""

    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.violations = Path(workdir) / "moto-violations.jsonl"
        self.log = Path(workdir) / "moto.log"
        self.process = None

    def __enter__(self):
        env = dict(os.environ, MOTO_ECS_SERVICE_RUNNING="1", MOTO_IAM_LOAD_MANAGED_POLICIES="true",
                   BUTLER_MOTO_VIOLATIONS=str(self.violations))
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(DEV / "moto_validating.py"), "-H", "127.0.0.1", "-p", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.moto_api_answers():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"the validating front did not start:\n{self.log.read_text()}")

    def __exit__(self, *_):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def moto_api_answers(self):
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def violation_records(self):
        if not self.violations.exists():
            return []
        return [json.loads(line) for line in self.violations.read_text().splitlines() if line.strip()]

    def client(self, service, validate=True):
        return boto3.client(
            service, endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(parameter_validation=validate, retries={"max_attempts": 1}))


class Checks:
    """Runs checks, prints one line each, and remembers which failed and which refusals to expect in the log."""

    def __init__(self):
        self.failed = []
        self.count = 0
        self.refused_paths = []

    def ok(self, label, call):
        """A valid call: must succeed. Returns its result (None if it failed)."""
        self.count += 1
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            return self._fail(label, f"expected success, got {_describe(error)}")
        print(f"ok    {label}")
        return result

    def refused(self, label, call, code, *paths):
        """An invalid call: must be refused with 400, this error code, and a message naming every path."""
        self.count += 1
        try:
            call()
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            got_code, message = error.response["Error"].get("Code"), error.response["Error"].get("Message", "")
            missing = [p for p in paths if f"'{p}'" not in message]
            if status != 400 or got_code != code or missing:
                expected = f"expected 400 {code} naming {list(paths)}"
                return self._fail(label, f"{expected}, got {status} {got_code}: {message}")
            self.refused_paths += paths
            print(f"ok    {label}  ->  {got_code}: {_shorten(message)}")
            return
        except Exception as error:  # noqa: BLE001
            return self._fail(label, f"expected a 400 {code}, got {_describe(error)}")
        self._fail(label, f"expected a 400 {code}, but the call succeeded")

    def that(self, label, condition, detail=""):
        self.count += 1
        if condition:
            print(f"ok    {label}")
        else:
            self._fail(label, detail or "condition not met")

    def _fail(self, label, detail):
        self.failed.append(label)
        print(f"FAIL  {label}: {detail}")
        return None


def _describe(error):
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{status} {error.response['Error'].get('Code')}: {error.response['Error'].get('Message')}"
    return "".join(traceback.format_exception_only(error)).strip()


def _shorten(text, limit=150):
    return text if len(text) <= limit else text[:limit] + "…"


# ---- the scenarios, one per protocol family; each returns what later ones need

def network(front, checks):
    """ec2 (ec2 protocol): the VPC pieces the rest build on, then security groups with rule descriptions."""
    ec2, ec2_raw = front.client("ec2"), front.client("ec2", validate=False)
    vpc = checks.ok("ec2 create_vpc", lambda: ec2.create_vpc(CidrBlock="10.20.0.0/16"))["Vpc"]["VpcId"]
    subnet = checks.ok("ec2 create_subnet", lambda: ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a"))["Subnet"]["SubnetId"]
    group = checks.ok("ec2 create_security_group", lambda: ec2.create_security_group(
        GroupName="butler-jenkins", Description="Jenkins controller (tenant acme)", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "butler:tenant", "Value": "acme"}]}],
    ))["GroupId"]
    checks.ok("ec2 authorize_security_group_ingress with IpPermissions/UserIdGroupPairs", lambda:
              ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                  {"IpProtocol": "tcp", "FromPort": 50000, "ToPort": 50000,
                   "UserIdGroupPairs": [{"GroupId": group, "Description": "agents to controller"}]},
                  {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                   "IpRanges": [{"CidrIp": "10.20.0.0/16", "Description": "load balancer"}]},
              ]))
    checks.ok("ec2 describe_security_groups with Filters", lambda: ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}]))
    checks.refused("ec2 create_security_group with a 256-character description", lambda:
                   ec2_raw.create_security_group(GroupName="too-long", Description="d" * 256, VpcId=vpc),
                   "InvalidParameterValue", "CreateSecurityGroup.Description")
    checks.refused("ec2 create_security_group without GroupName", lambda:
                   ec2_raw.create_security_group(Description="no name", VpcId=vpc),
                   "MissingParameter", "CreateSecurityGroup.GroupName")
    checks.refused("ec2 authorize_security_group_ingress with a FromPort that is not an integer", lambda:
                   ec2_raw.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                       {"IpProtocol": "tcp", "FromPort": "http", "ToPort": 80}]),
                   "InvalidParameterValue", "AuthorizeSecurityGroupIngress.IpPermissions[0].FromPort")
    checks.refused("ec2 authorize_security_group_ingress with a rule description AWS refuses", lambda:
                   ec2_raw.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                       {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ops' bastion"}]}]),
                   "InvalidParameterValue", "AuthorizeSecurityGroupIngress.IpPermissions[0].IpRanges[0].Description")
    return vpc, subnet, group


def identity(front, checks):
    """iam and sts (query protocol)."""
    iam, iam_raw = front.client("iam"), front.client("iam", validate=False)
    role = checks.ok("iam create_role with a trust policy", lambda: iam.create_role(
        RoleName="butler-acme-task", AssumeRolePolicyDocument=TRUST_POLICY,
        Tags=[{"Key": "butler:tenant", "Value": "acme"}]))["Role"]["Arn"]
    checks.ok("iam put_role_policy", lambda: iam.put_role_policy(
        RoleName="butler-acme-task", PolicyName="efs", PolicyDocument=ROLE_POLICY))
    checks.ok("iam get_policy of an AWS managed policy (MOTO_IAM_LOAD_MANAGED_POLICIES honoured)", lambda:
              iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"))
    checks.that("iam get_role of a missing role still answers moto's own NoSuchEntity", _error_code(
        lambda: iam.get_role(RoleName="nobody")) == "NoSuchEntity")
    checks.ok("sts get_caller_identity", lambda: front.client("sts").get_caller_identity())
    checks.refused("iam create_role with a 65-character name", lambda: iam_raw.create_role(
        RoleName="r" * 65, AssumeRolePolicyDocument=TRUST_POLICY), "ValidationError", "CreateRole.RoleName")
    checks.refused("iam put_role_policy with a character outside the policy pattern", lambda:
                   iam_raw.put_role_policy(RoleName="butler-acme-task", PolicyName="efs",
                                           PolicyDocument=ROLE_POLICY.replace("Allow", "Allow ☃")),
                   "ValidationError", "PutRolePolicy.PolicyDocument")
    return role


def storage(front, checks, subnet, group):
    """efs (rest-json): path labels, query-string members and JSON bodies."""
    efs, efs_raw = front.client("efs"), front.client("efs", validate=False)
    file_system = checks.ok("efs create_file_system", lambda: efs.create_file_system(
        CreationToken="butler-acme", Encrypted=True, PerformanceMode="generalPurpose",
        ThroughputMode="elastic", Tags=[{"Key": "Name", "Value": "butler-acme"}]))["FileSystemId"]
    checks.ok("efs create_mount_target", lambda: efs.create_mount_target(
        FileSystemId=file_system, SubnetId=subnet, SecurityGroups=[group]))
    access_point = checks.ok("efs create_access_point with PosixUser/RootDirectory", lambda: efs.create_access_point(
        FileSystemId=file_system, PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={"Path": "/jenkins_home", "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000,
                                                                 "Permissions": "0750"}},
        Tags=[{"Key": "butler:tenant", "Value": "acme"}]))["AccessPointId"]
    checks.ok("efs put_file_system_policy", lambda: efs.put_file_system_policy(
        FileSystemId=file_system, Policy=EFS_POLICY))
    checks.ok("efs describe_file_systems by FileSystemId (query string)", lambda: efs.describe_file_systems(
        FileSystemId=file_system))
    checks.ok("efs describe_access_points", lambda: efs.describe_access_points(FileSystemId=file_system))
    checks.refused("efs create_access_point with PosixUser.Uid missing", lambda: efs_raw.create_access_point(
        FileSystemId=file_system, PosixUser={"Gid": 1000}), "ValidationException", "CreateAccessPoint.PosixUser.Uid")
    checks.refused("efs put_file_system_policy with a bad FileSystemId in the path", lambda:
                   efs_raw.put_file_system_policy(FileSystemId="not-a-file-system", Policy=EFS_POLICY),
                   "ValidationException", "PutFileSystemPolicy.FileSystemId")
    checks.refused("efs describe_file_systems with MaxItems 0 (query string)", lambda:
                   efs_raw.describe_file_systems(MaxItems=0),
                   "ValidationException", "DescribeFileSystems.MaxItems")
    return file_system, access_point


def logs(front, checks):
    """CloudWatch Logs (json protocol)."""
    client, raw = front.client("logs"), front.client("logs", validate=False)
    checks.ok("logs create_log_group", lambda: client.create_log_group(
        logGroupName="/butler/acme/jenkins", tags={"butler:tenant": "acme"}))
    checks.ok("logs put_retention_policy 30 days", lambda: client.put_retention_policy(
        logGroupName="/butler/acme/jenkins", retentionInDays=30))
    checks.refused("logs put_retention_policy retentionInDays=4 (not an allowed value)", lambda:
                   raw.put_retention_policy(logGroupName="/butler/acme/jenkins", retentionInDays=4),
                   "InvalidParameterException", "PutRetentionPolicy.retentionInDays")
    checks.refused("logs create_log_group with a space in the name (unanchored pattern: whole value)", lambda:
                   raw.create_log_group(logGroupName="/butler/acme jenkins"),
                   "InvalidParameterException", "CreateLogGroup.logGroupName")


def containers(front, checks, role, subnet, group, file_system, access_point):
    """ecs (json protocol): nested structures, lists of structures, maps, Unicode tag patterns."""
    ecs, ecs_raw = front.client("ecs"), front.client("ecs", validate=False)
    checks.ok("ecs create_cluster with tags (\\p{L} pattern, non-ASCII value)", lambda: ecs.create_cluster(
        clusterName="butler", tags=[{"key": "butler:tenant", "value": "acmé GmbH"}],
        settings=[{"name": "containerInsights", "value": "enabled"}]))
    checks.ok("ecs register_task_definition with awsvpc and an EFS volume", lambda: ecs.register_task_definition(
        family="butler-acme-jenkins", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="1024", memory="2048", taskRoleArn=role, executionRoleArn=role,
        containerDefinitions=[{
            "name": "jenkins", "image": "jenkins/jenkins:lts-jdk21", "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}, {"containerPort": 50000}],
            "environment": [{"name": "JAVA_OPTS", "value": "-Djenkins.install.runSetupWizard=false"}],
            "mountPoints": [{"sourceVolume": "jenkins-home", "containerPath": "/var/jenkins_home"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/butler/acme/jenkins", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "jenkins"}},
        }],
        volumes=[{"name": "jenkins-home", "efsVolumeConfiguration": {
            "fileSystemId": file_system, "transitEncryption": "ENABLED",
            "authorizationConfig": {"accessPointId": access_point, "iam": "ENABLED"}}}]))
    checks.ok("ecs create_service with awsvpc networkConfiguration", lambda: ecs.create_service(
        cluster="butler", serviceName="acme-jenkins", taskDefinition="butler-acme-jenkins", desiredCount=1,
        launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
            "subnets": [subnet], "securityGroups": [group], "assignPublicIp": "DISABLED"}}))
    services = checks.ok("ecs describe_services", lambda: ecs.describe_services(
        cluster="butler", services=["acme-jenkins"]))
    checks.that("ecs service reports its task running (MOTO_ECS_SERVICE_RUNNING honoured)",
                bool(services) and services["services"][0]["runningCount"] == 1, f"got {services}")
    checks.refused("ecs create_service with desiredCount but no serviceName", lambda: ecs_raw.create_service(
        cluster="butler", taskDefinition="butler-acme-jenkins", desiredCount=1),
        "ValidationException", "CreateService.serviceName")
    checks.refused("ecs create_service with nested violations (missing subnets, bad enum)", lambda:
                   ecs_raw.create_service(
                       cluster="butler", serviceName="acme-broken", taskDefinition="butler-acme-jenkins",
                       networkConfiguration={"awsvpcConfiguration": {"securityGroups": [group],
                                                                     "assignPublicIp": "MAYBE"}}),
                   "ValidationException", "CreateService.networkConfiguration.awsvpcConfiguration.subnets",
                   "CreateService.networkConfiguration.awsvpcConfiguration.assignPublicIp")
    checks.refused("ecs create_service with a null in a list of strings", lambda: ecs_raw.create_service(
        cluster="butler", serviceName="acme-broken", taskDefinition="butler-acme-jenkins",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [None]}}),
        "ValidationException", "CreateService.networkConfiguration.awsvpcConfiguration.subnets[0]")
    checks.refused("ecs create_cluster with a tag key outside the \\p{L} pattern", lambda: ecs_raw.create_cluster(
        clusterName="other", tags=[{"key": "bad#key", "value": "x"}]),
        "ValidationException", "CreateCluster.tags[0].key")
    checks.refused("ecs register_task_definition with a string where an integer belongs", lambda:
                   ecs_raw.register_task_definition(family="x", containerDefinitions=[
                       {"name": "c", "image": "i", "portMappings": [{"containerPort": "8080"}]}]),
                   "ValidationException",
                   "RegisterTaskDefinition.containerDefinitions[0].portMappings[0].containerPort")


def discovery(front, checks, vpc):
    """Cloud Map (json protocol; its model prefers CBOR, clients still speak json)."""
    client, raw = front.client("servicediscovery"), front.client("servicediscovery", validate=False)
    checks.ok("servicediscovery create_private_dns_namespace", lambda: client.create_private_dns_namespace(
        Name="acme.butler.internal", Vpc=vpc, Description="Jenkins agents find their controller here"))
    checks.ok("servicediscovery list_namespaces", lambda: client.list_namespaces())
    checks.refused("servicediscovery create_private_dns_namespace without Vpc", lambda:
                   raw.create_private_dns_namespace(Name="broken.internal"),
                   "ValidationException", "CreatePrivateDnsNamespace.Vpc")
    # As AWS does (dev/moto_fidelity.py): a retried CreateService (same CreatorRequestId) returns the first one;
    # another service of the same name in the namespace is ServiceAlreadyExists.
    namespace = client.list_namespaces()["Namespaces"][0]["Id"]
    dns = {"DnsRecords": [{"Type": "A", "TTL": 10}]}
    first = client.create_service(Name="master", NamespaceId=namespace, CreatorRequestId="uid-1", DnsConfig=dns)
    again = client.create_service(Name="master", NamespaceId=namespace, CreatorRequestId="uid-1", DnsConfig=dns)
    checks.that("servicediscovery create_service retried returns the same service",
                first["Service"]["Id"] == again["Service"]["Id"])
    try:
        client.create_service(Name="master", NamespaceId=namespace, CreatorRequestId="uid-2", DnsConfig=dns)
        checks.that("servicediscovery create_service of a taken name is refused", False, "it was made")
    except ClientError as error:
        checks.that("servicediscovery create_service of a taken name is refused",
                    error.response["Error"]["Code"] == "ServiceAlreadyExists", str(error))


def scaling(front, checks, subnet, group):
    """autoscaling (query protocol): nested structures and lists of structures."""
    ec2 = front.client("ec2")
    autoscaling, raw = front.client("autoscaling"), front.client("autoscaling", validate=False)
    template = checks.ok("ec2 create_launch_template", lambda: ec2.create_launch_template(
        LaunchTemplateName="butler-agents", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "SecurityGroupIds": [group],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "butler:role", "Value": "agent"}]}]},
    ))["LaunchTemplate"]["LaunchTemplateId"]
    mixed = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template, "Version": "$Latest"},
            "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "m5a.large"}, {"InstanceType": "m6i.large"}],
        },
        "InstancesDistribution": {"OnDemandBaseCapacity": 0, "OnDemandPercentageAboveBaseCapacity": 0,
                                  "SpotAllocationStrategy": "price-capacity-optimized"},
    }
    checks.ok("autoscaling create_launch_configuration", lambda: autoscaling.create_launch_configuration(
        LaunchConfigurationName="butler-legacy", ImageId="ami-12c6146b", InstanceType="t3.micro"))
    checks.ok("autoscaling create_auto_scaling_group with MixedInstancesPolicy", lambda:
              autoscaling.create_auto_scaling_group(
                  AutoScalingGroupName="butler-acme-agents", MinSize=0, MaxSize=4, DesiredCapacity=0,
                  MixedInstancesPolicy=mixed, VPCZoneIdentifier=subnet, CapacityRebalance=True,
                  Tags=[{"Key": "butler:tenant", "Value": "acme 🚀", "PropagateAtLaunch": True}]))
    checks.ok("autoscaling describe_auto_scaling_groups", lambda: autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=["butler-acme-agents"]))
    checks.refused("autoscaling create_auto_scaling_group without MaxSize", lambda: raw.create_auto_scaling_group(
        AutoScalingGroupName="butler-broken", MinSize=0, MixedInstancesPolicy=mixed, VPCZoneIdentifier=subnet),
        "ValidationError", "CreateAutoScalingGroup.MaxSize")
    checks.refused("autoscaling create_auto_scaling_group with a 256-character InstanceType override",
                   lambda: raw.create_auto_scaling_group(
                       AutoScalingGroupName="butler-broken", MinSize=0, MaxSize=1, VPCZoneIdentifier=subnet,
                       MixedInstancesPolicy={**mixed, "LaunchTemplate": {
                           **mixed["LaunchTemplate"], "Overrides": [{"InstanceType": "m" * 256}]}}),
                   "ValidationError",
                   "CreateAutoScalingGroup.MixedInstancesPolicy.LaunchTemplate.Overrides[0].InstanceType")


def load_balancing(front, checks, vpc):
    """elbv2 and the classic elb (query protocol, one signing name told apart by Version)."""
    elbv2, raw = front.client("elbv2"), front.client("elbv2", validate=False)
    checks.ok("elbv2 create_target_group", lambda: elbv2.create_target_group(
        Name="butler-acme-jenkins", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
        HealthCheckPath="/login", Matcher={"HttpCode": "200"}))
    checks.ok("elb (classic) describe_load_balancers", lambda: front.client("elb").describe_load_balancers())
    checks.refused("elbv2 create_target_group with a 33-character name", lambda: raw.create_target_group(
        Name="t" * 33, Protocol="HTTP", Port=8080, VpcId=vpc), "ValidationError", "CreateTargetGroup.Name")
    checks.refused("elbv2 create_target_group with Port 70000", lambda: raw.create_target_group(
        Name="butler-port", Protocol="HTTP", Port=70000, VpcId=vpc), "ValidationError", "CreateTargetGroup.Port")


def parameters_and_secrets(front, checks):
    """ssm and secretsmanager (json protocol)."""
    ssm, raw = front.client("ssm"), front.client("ssm", validate=False)
    checks.ok("ssm put_parameter", lambda: ssm.put_parameter(
        Name="/butler/acme/admin-password", Value="s3cret", Type="SecureString"))
    checks.ok("ssm get_parameter", lambda: ssm.get_parameter(Name="/butler/acme/admin-password", WithDecryption=True))
    checks.refused("ssm put_parameter with Type 'Secret'", lambda: raw.put_parameter(
        Name="/butler/acme/x", Value="v", Type="Secret"), "ValidationException", "PutParameter.Type")
    checks.ok("secretsmanager create_secret", lambda: front.client("secretsmanager").create_secret(
        Name="butler/acme/github-token", SecretString="ghp_x"))


def dns(front, checks):
    """route53 (rest-xml): XML bodies, path labels."""
    route53, raw = front.client("route53"), front.client("route53", validate=False)
    zone = checks.ok("route53 create_hosted_zone", lambda: route53.create_hosted_zone(
        Name="acme.example.com", CallerReference="butler-acme",
        HostedZoneConfig={"Comment": "butler", "PrivateZone": False}))["HostedZone"]["Id"]
    record = {"Name": "jenkins.acme.example.com", "Type": "A", "TTL": 60,
              "ResourceRecords": [{"Value": "10.20.1.10"}]}
    checks.ok("route53 change_resource_record_sets UPSERT", lambda: route53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}))
    checks.ok("route53 list_resource_record_sets", lambda: route53.list_resource_record_sets(HostedZoneId=zone))
    checks.refused("route53 change_resource_record_sets with Action MERGE", lambda: raw.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "MERGE", "ResourceRecordSet": record}]}),
        "InvalidInput", "ChangeResourceRecordSets.ChangeBatch.Changes[0].Action")
    checks.refused("route53 change_resource_record_sets with a record set missing its Name", lambda:
                   raw.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
                       {"Action": "UPSERT", "ResourceRecordSet": {"Type": "A", "TTL": 60,
                                                                  "ResourceRecords": [{"Value": "10.0.0.1"}]}}]}),
                   "InvalidInput", "ChangeResourceRecordSets.ChangeBatch.Changes[0].ResourceRecordSet.Name")


def pass_through(front, checks):
    """What the front cannot attribute reaches moto unchanged; an unknown operation is logged as unparsed."""
    checks.that("/moto-api/ answers through the front", front.moto_api_answers())
    auth = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/ecs/aws4_request, "
            "SignedHeaders=host, Signature=0")
    request = urllib.request.Request(f"{front.url}/", data=b"{}", method="POST", headers={
        "Authorization": auth, "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.NoSuchOperation"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = f"{response.status} {response.read()[:200]!r}"
    except urllib.error.HTTPError as error:
        answer = f"{error.code} {error.read()[:200]!r}"
    unparsed = [r["unparsed"] for r in front.violation_records() if "unparsed" in r]
    checks.that(f"an unknown ecs operation reaches moto (moto answered {answer}) and is logged as unparsed",
                any((r.get("target") or "").endswith("NoSuchOperation") for r in unparsed), f"unparsed: {unparsed}")


def _error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


def pattern_translation(checks):
    """Java-only regex syntax in the models, translated for Python's re."""
    patterns = moto_validating.Patterns()
    cases = [
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", ["clé 1", ""], ["a#b"]),
        (r"[\w-_]*", ["a-b_c"], ["a b"]),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*", ["rocket 🚀"], ["\x01"]),
        (r"\p{ASCII}+", ["abc"], ["é"]),
        (r"[\.\-_/#A-Za-z0-9]+", ["/a/b"], ["a b"]),  # unanchored: the whole value must match
        (r"^fs-[0-9a-f]{8,40}", ["fs-0123abcd-and-more"], ["x-fs-0123abcd"]),  # anchored: as written
    ]
    for pattern, good, bad in cases:
        check = patterns.get(pattern)
        results = [check(text) for text in good] + [not check(text) for text in bad] if check else [False]
        checks.that(f"pattern {pattern[:40]} translated and applied", all(results), f"results {results}")


# One input per protocol family, with the nesting the control plane uses: lists of structures, maps, path labels.
ROUND_TRIPS = [
    ("ec2", "ec2", "AuthorizeSecurityGroupIngress", {"GroupId": "sg-1", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": "sg-1", "Description": "x"}],
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}),
    ("autoscaling", "autoscaling", "CreateAutoScalingGroup", {
        "AutoScalingGroupName": "a", "MinSize": 0, "MaxSize": 1,
        "Tags": [{"Key": "k", "Value": "v", "PropagateAtLaunch": True}],
        "MixedInstancesPolicy": {"LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1", "Version": "$Latest"},
            "Overrides": [{"InstanceType": "m5.large"}, {"InstanceType": "m5a.large"}]}}}),
    ("iam", "iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": TRUST_POLICY,
                                  "Tags": [{"Key": "k", "Value": "v"}]}),
    ("elbv2", "elasticloadbalancing", "CreateTargetGroup", {"Name": "tg", "Port": 80, "Matcher": {"HttpCode": "200"}}),
    ("efs", "elasticfilesystem", "CreateAccessPoint", {"ClientToken": "t", "FileSystemId": "fs-12345678",
                                                       "PosixUser": {"Uid": 1, "Gid": 2, "SecondaryGids": [3, 4]}}),
    ("efs", "elasticfilesystem", "DescribeMountTargets", {"FileSystemId": "fs-12345678", "MaxItems": 5}),
    ("efs", "elasticfilesystem", "UntagResource", {"ResourceId": "fs-12345678", "TagKeys": ["a", "b"]}),
    ("route53", "route53", "ChangeResourceRecordSets", {"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": "a.", "Type": "A", "TTL": 60,
                                                   "ResourceRecords": [{"Value": "10.0.0.1"}]}}]}}),
    ("ecs", "ecs", "RegisterTaskDefinition", {"family": "f", "containerDefinitions": [
        {"name": "c", "image": "i", "logConfiguration": {"logDriver": "awslogs", "options": {"a": "b"}}}]}),
    ("logs", "logs", "CreateLogGroup", {"logGroupName": "/a", "tags": {"k": "v"}}),
]


def decoders_round_trip(checks):
    """The front decodes what botocore's own serializers encode back into the same parameters."""
    models = moto_validating.Models()
    front = moto_validating.ValidatingMiddleware(None, moto_validating.ViolationLog(None), models)
    for service, signing_name, operation, params in ROUND_TRIPS:
        model = models.get(service)
        protocol = moto_validating.wire_protocol(model)
        serializer = botocore.serialize.create_serializer(protocol, include_validation=False)
        encoded = serializer.serialize_to_request(params, model.operation_model(operation))
        body = encoded["body"]
        body = urllib.parse.urlencode(body).encode() if isinstance(body, dict) else (body or b"")
        request = moto_validating.Request(
            encoded["method"], encoded["url_path"], urllib.parse.urlencode(encoded["query_string"], doseq=True),
            {k.lower(): v for k, v in encoded["headers"].items()}, body.encode() if isinstance(body, str) else body)
        call = front.decode(signing_name, request)
        decoded = getattr(call, "params", call)
        checks.that(f"{service} {operation} decodes to what botocore encoded",
                    _as_text(decoded) == _as_text(params), f"sent {params}, decoded {decoded}")


def _as_text(value):
    """Parameters with every scalar as the text the query protocols would carry, to compare across protocols."""
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


def violations_logged(front, checks):
    records = front.violation_records()
    logged = {r.get("path") for r in records if "path" in r}
    missing = [p for p in checks.refused_paths if p not in logged]
    checks.that(f"every refusal is in the violations file ({len(records)} lines)", not missing, f"missing {missing}")
    checks.that("every violation line has service, operation, path, constraint and message", all(
        {"service", "operation", "path", "constraint", "message"} <= r.keys() for r in records if "unparsed" not in r))
    # Every call above but the deliberate unknown operation must have been attributed, hence validated.
    stray = [r["unparsed"] for r in records
             if "unparsed" in r and not (r["unparsed"].get("target") or "").endswith("NoSuchOperation")]
    checks.that("every other request was attributed to an operation (no stray unparsed lines)", not stray,
                f"unparsed: {stray}")


def main():
    checks = Checks()
    pattern_translation(checks)
    decoders_round_trip(checks)
    with tempfile.TemporaryDirectory() as workdir, Front(workdir) as front:
        try:
            vpc, subnet, group = network(front, checks)
            role = identity(front, checks)
            file_system, access_point = storage(front, checks, subnet, group)
            logs(front, checks)
            containers(front, checks, role, subnet, group, file_system, access_point)
            discovery(front, checks, vpc)
            scaling(front, checks, subnet, group)
            load_balancing(front, checks, vpc)
            parameters_and_secrets(front, checks)
            dns(front, checks)
            pass_through(front, checks)
            violations_logged(front, checks)
        except Exception:  # noqa: BLE001 - a scenario that breaks is a failure, with the front's log to hand
            traceback.print_exc()
            checks.failed.append("scenario crashed")
        if checks.failed:
            print("\n---- front log (tail) ----\n" + "\n".join(front.log.read_text().splitlines()[-40:]))
    print(f"\n{checks.count} checks, {len(checks.failed)} failed")
    for label in checks.failed:
        print(f"  failed: {label}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
