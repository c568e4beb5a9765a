"""Drive a running kiln with the real azure-ai-ml MLClient (1.35.2, the SDK behind `az ml`).

Started by tests/az/run.sh (see azwire.py for the environment). MLClient finds the ARM
endpoint through ARM_CLOUD_METADATA_URL (azure/ai/ml/_azure_environments.py: it GETs that
URL, takes the cloud whose `resourceManager` is a prefix of it, and uses that endpoint as
base_url). The hub and project are made here over REST as the bootstrap administrator
(in a group of their own), so that this test does not depend on az; MLClient signs in as
the service principal with ClientSecretCredential against kiln's token endpoint.
Every step runs; the last line is "mlclient: N passed, M failed".
"""

import logging
import os
import sys

from azwire import KILN_CA, KILN_URL, SP, SUB, Rest, Runner, StepFailed, _wire

os.environ["ARM_CLOUD_METADATA_URL"] = f"{KILN_URL}/metadata/endpoints?api-version=2022-09-01"
os.environ.pop("AZUREML_CURRENT_CLOUD", None)

from azure.identity import ClientSecretCredential  # noqa: E402
from azure.ai.ml import MLClient  # noqa: E402

RG = "kiln-ml-rg"
HUB, PROJECT = "kiln-ml-hub", "kiln-ml-project"
WS = "Microsoft.MachineLearningServices/workspaces"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}"
HUB_ID = f"{RG_ID}/providers/{WS}/{HUB}"
PROJECT_ID = f"{RG_ID}/providers/{WS}/{PROJECT}"


class Collect(logging.Handler):
    """The request lines azure-core's HttpLoggingPolicy logs (URL, method, status)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        msg = record.getMessage()
        for line in msg.splitlines():
            if line.startswith(("Request URL", "Request method", "Response status")):
                self.lines.append(line.replace(KILN_URL, ""))


wire = Collect()
http_log = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
http_log.setLevel(logging.INFO)
http_log.addHandler(wire)
http_log.propagate = False

r = Runner("mlclient")
state = {}


class MlRunner:
    """Runner.step with the azure-core request lines of the step in the wire log."""

    def step(self, name, fn):
        wire.lines.clear()

        def run():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - the error and the requests, not the traceback
                raise StepFailed(f"{type(e).__name__}: {e}\n  HTTP:\n    " + "\n    ".join(wire.lines)) from e

        ok = r.step("mlclient", name, run)
        if ok and wire.lines:
            _wire("\n```\n" + "\n".join(wire.lines) + "\n```\n")
        return ok


def setup():
    rest = Rest()
    rest.ensure(f"/subscriptions/{SUB}/resourcegroups/{RG}", "2024-03-01", {"location": "eastus"})
    rest.ensure(HUB_ID, "2025-12-01", {"location": "eastus", "kind": "Hub",
                                       "properties": {"friendlyName": "ml hub"}})
    rest.ensure(PROJECT_ID, "2025-12-01", {"location": "eastus", "kind": "Project",
                                           "properties": {"hubResourceId": HUB_ID}})


def client():
    cred = ClientSecretCredential(SP["tenant"], SP["appId"], SP["password"], authority=KILN_URL,
                                  disable_instance_discovery=True, connection_verify=KILN_CA)
    state["ml"] = MLClient(cred, SUB, RG, logging_enable=True)
    from azure.ai.ml._azure_environments import _get_base_url_from_metadata, _get_default_cloud_name

    cloud = _get_default_cloud_name()
    assert cloud == "Kiln", f"cloud from ARM_CLOUD_METADATA_URL: {cloud!r}"
    base = _get_base_url_from_metadata(cloud)
    assert base.rstrip("/") == KILN_URL, f"base_url {base!r}"


def get_hub():
    hub = state["ml"].workspaces.get(HUB)
    assert hub.name == HUB, hub
    assert type(hub).__name__ == "Hub", type(hub)
    assert (hub._kind or "").lower() == "hub", hub._kind


def get_project():
    p = state["ml"].workspaces.get(PROJECT)
    assert p.name == PROJECT, p
    assert type(p).__name__ == "Project", type(p)
    assert (p.hub_id or "").lower() == HUB_ID.lower(), p.hub_id


def list_group():
    got = {w.name: (w._kind or "").lower() for w in state["ml"].workspaces.list()}
    assert got == {HUB: "hub", PROJECT: "project"}, got


def list_subscription_kind():
    got = [w.name for w in state["ml"].workspaces.list(scope="subscription", filtered_kinds="project")]
    assert PROJECT in got and HUB not in got, got


def main():
    m = MlRunner()
    if not m.step("setup over REST (group, hub, project)", setup):
        return r.summary()
    if not m.step("MLClient from ARM_CLOUD_METADATA_URL", client):
        return r.summary()
    m.step("workspaces.get(hub) -> Hub", get_hub)
    m.step("workspaces.get(project) -> Project with hub_id", get_project)
    m.step("workspaces.list() in the resource group", list_group)
    m.step("workspaces.list(scope=subscription, filtered_kinds=project)", list_subscription_kind)
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
