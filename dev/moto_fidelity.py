"""Where moto is laxer than AWS in a way that hides a bug, make it behave as AWS's API reference says.

Cloud Map CreateService (API reference, CreateService): `CreatorRequestId` "allows failed CreateService requests
to be retried without the risk of running the operation twice" — a retry with the same id in the same namespace
returns the service the first request made; and a second service of the same name in a namespace is refused with
`ServiceAlreadyExists`. moto does neither: it makes one service per request, so an SDK retry after a lost answer
leaves a duplicate that AWS would never have made (and a teardown that deletes "the" service leaves the other).
"""

from moto.core.exceptions import JsonRESTError


class ServiceAlreadyExists(JsonRESTError):
    def __init__(self, name, service_id):
        super().__init__("ServiceAlreadyExists", f"Service {name} already exists ({service_id})")


def apply():
    apply_servicediscovery()
    apply_elbv2()
    apply_ecs()


def apply_servicediscovery():
    from moto.servicediscovery.models import ServiceDiscoveryBackend

    create = ServiceDiscoveryBackend.create_service

    def create_service(self, name, namespace_id, creator_request_id, *args, **kwargs):
        for service in self.services.values():
            if service.namespace_id != namespace_id:
                continue
            if creator_request_id and service.creator_request_id == creator_request_id:
                return service
            if service.name == name:
                raise ServiceAlreadyExists(name, service.id)
        return create(self, name, namespace_id, creator_request_id, *args, **kwargs)

    ServiceDiscoveryBackend.create_service = create_service


# Elastic Load Balancing v2 (API reference, CreateLoadBalancer and CreateTargetGroup): "If you attempt to create
# multiple load balancers [target groups] with the same name and the same configuration, the call succeeds" and
# returns the existing one; the same name with another configuration is DuplicateLoadBalancerName /
# DuplicateTargetGroupName. moto makes a second load balancer of the same name (its duplicate check compares ARNs
# that carry a fresh random id), so two replicas opening the same pool slot would get two balancers where AWS
# gives one.
#
# ECS with a load balancer (Developer Guide, "Use load balancing to distribute Amazon ECS service traffic"): the
# service registers each running task's IP in its target group and deregisters it when the task stops. moto
# records the service's loadBalancers and registers nothing, so a target group would never have a target.


def _same_balancer(existing, subnets, security_groups, scheme):
    return (
        sorted(s.id for s in existing.subnets) == sorted(subnets or [])
        and sorted(existing.security_groups) == sorted(security_groups or [])
        and existing.scheme == (scheme or "internet-facing")
    )


def apply_elbv2():
    from moto.elbv2 import exceptions
    from moto.elbv2.models import ELBv2Backend

    create_balancer = ELBv2Backend.create_load_balancer

    def create_load_balancer(self, name, security_groups, subnet_ids, subnet_mappings=None, scheme="internet-facing", *args, **kwargs):
        for existing in self.load_balancers.values():
            if existing.name == name:
                if _same_balancer(existing, subnet_ids, security_groups, scheme):
                    return existing
                raise exceptions.DuplicateLoadBalancerName()
        return create_balancer(self, name, security_groups, subnet_ids, subnet_mappings, scheme, *args, **kwargs)

    ELBv2Backend.create_load_balancer = create_load_balancer

    create_group = ELBv2Backend.create_target_group

    def create_target_group(self, name, **kwargs):
        for existing in self.target_groups.values():
            if existing.name == name:
                if str(existing.port) == str(kwargs.get("port")) and existing.vpc_id == kwargs.get("vpc_id"):
                    return existing
                raise exceptions.DuplicateTargetGroupName()
        return create_group(self, name, **kwargs)

    ELBv2Backend.create_target_group = create_target_group


def _task_ip(service):
    # One controller task per service: a stable address in the 10.42/16 range the emulator's networks use.
    digest = sum(service.name.encode()) % 250
    return f"10.42.{digest}.{(len(service.name) % 250) + 2}"


def _sync_targets(ecs_backend, service, previous=()):
    from moto.elbv2.models import elbv2_backends

    elbv2 = elbv2_backends[ecs_backend.account_id][ecs_backend.region_name]
    wanted = {lb.get("targetGroupArn") for lb in (service.load_balancers or []) if lb.get("targetGroupArn")}
    running = service.running_count > 0 and service.status == "ACTIVE"
    target = {"Id": _task_ip(service), "Port": 8080}
    for arn in set(previous) | wanted:
        group = elbv2.target_groups.get(arn)
        if group is None:
            continue
        if running and arn in wanted:
            group.register([target])
        elif target["Id"] in group.targets:
            group.deregister([target])


# ECS DeploymentConfiguration (API reference, CreateService and DescribeServices): the service keeps the deployment
# configuration it was created or updated with (its circuit breaker among it) and reports it. moto's CreateService
# drops it (UpdateService keeps whatever it is sent), so a service would never show its circuit breaker.
def apply_ecs_deployment_configuration():
    from moto.ecs.responses import EC2ContainerServiceResponse

    create_service = EC2ContainerServiceResponse.create_service

    def create(self):
        result = create_service(self)
        configuration = self._get_param("deploymentConfiguration")
        if configuration:
            cluster = self._get_param("cluster", "default").split("/")[-1]
            name = self._get_param("serviceName")
            service = self.ecs_backend.services.get(f"{cluster}:{name}")
            if service is not None:
                service.deployment_configuration = configuration
        return result

    EC2ContainerServiceResponse.create_service = create


def apply_ecs():
    from moto.ecs.models import EC2ContainerServiceBackend

    apply_ecs_deployment_configuration()

    create_service = EC2ContainerServiceBackend.create_service
    update_service = EC2ContainerServiceBackend.update_service
    delete_service = EC2ContainerServiceBackend.delete_service

    def create(self, *args, **kwargs):
        service = create_service(self, *args, **kwargs)
        _sync_targets(self, service)
        return service

    def update(self, service_properties):
        cluster = service_properties.get("cluster", "default")
        name = service_properties.get("service", "").split("/")[-1]
        try:
            before = [lb.get("targetGroupArn") for lb in self._get_service(cluster, name).load_balancers or []]
        except Exception:  # the update itself reports a missing service
            before = []
        service = update_service(self, service_properties)
        _sync_targets(self, service, before)
        return service

    def delete(self, cluster_name, service_name, force):
        service = delete_service(self, cluster_name, service_name, force)
        _sync_targets(self, service, [lb.get("targetGroupArn") for lb in service.load_balancers or []])
        return service

    EC2ContainerServiceBackend.create_service = create
    EC2ContainerServiceBackend.update_service = update
    EC2ContainerServiceBackend.delete_service = delete
