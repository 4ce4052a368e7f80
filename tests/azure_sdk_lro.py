"""The Azure SDK for Python (azure-mgmt-containerinstance) against a live platform: a create,
a restart and a delete through its long-running-operation poller (azure-core's ARMPolling),
with every delay the poller chose summed. Prints one JSON object; tests/tests/arm_polling.rs
runs it and judges it.

Usage: python azure_sdk_lro.py <api url> <token> <subscription>
"""

import json
import sys

from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.containerinstance import ContainerInstanceManagementClient
from azure.mgmt.containerinstance.models import (
    Container,
    ContainerGroup,
    ResourceRequests,
    ResourceRequirements,
)
from azure.mgmt.core.polling.arm_polling import ARMPolling

api, token, subscription = sys.argv[1:4]


class Bearer(SansIOHTTPPolicy):
    """The platform's token as a bearer token (the SDK's own policy insists on https)."""

    def on_request(self, request):
        request.http_request.headers["Authorization"] = f"Bearer {token}"


class NoCredential:
    """Never asked: the Bearer policy above replaces the credential's policy."""

    def get_token(self, *scopes, **kwargs):
        raise RuntimeError("no credential")


waited = []


class CountingPolling(ARMPolling):
    """The SDK's own poller, with each delay it sleeps recorded."""

    def _sleep(self, delay):
        waited.append(delay)
        super()._sleep(delay)


client = ContainerInstanceManagementClient(
    NoCredential(), subscription, base_url=api, authentication_policy=Bearer()
)
ops = client.container_groups
group = ContainerGroup(
    location="local",
    os_type="Linux",
    containers=[
        Container(
            name="main",
            image="waci/hello-http",
            resources=ResourceRequirements(
                requests=ResourceRequests(cpu=1.0, memory_in_gb=0.5)
            ),
        )
    ],
)
out = {}
created = ops.begin_create_or_update(
    "sdk", "web", group, polling=CountingPolling()
).result()
out["create"] = {
    "provisioningState": created.provisioning_state,
    "state": created.instance_view.state if created.instance_view else None,
}
ops.begin_restart("sdk", "web", polling=CountingPolling()).result()
out["restart"] = {"state": ops.get("sdk", "web").instance_view.state}
deleted = ops.begin_delete("sdk", "web", polling=CountingPolling()).result()
out["delete"] = {"provisioningState": deleted.provisioning_state if deleted else None}
out["waited"] = waited
print(json.dumps(out))
