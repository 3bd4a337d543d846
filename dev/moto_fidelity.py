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
