"""Drive a running kiln server with the real Azure Python management SDKs.

Started by tests/sdk/run.sh, which provides:
  KILN_URL    https base URL of the server (used as the SDKs' base_url)
  KILN_TOKEN  bearer token from `kiln token`
  KILN_CA     the server's self-signed certificate (trusted via connection_verify)
  KILN_OBJECTS the server's object-store directory (storage accounts, containers)
Optional: KILN_SDK_DEBUG=1 logs every HTTP request and response.

What is exercised is exactly what a user of these SDKs does: subscription
discovery, resource groups, and an AI Foundry hub + project through the
azure-mgmt-machinelearningservices 1.0.1 workspace operations, including their
long-running-operation pollers, and its workspace_connections operations (create,
list with category/target, get, delete; listsecrets through the client's pipeline). Plain asserts rather than pytest: steps depend
on each other, so the run stops at the first failure. The last line is
"N passed, M failed".
"""

import json
import os
import sys
import uuid

from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

from sdk_common import (
    Ctx,
    ResourceManagementClient,
    StaticTokenCredential,
    SubscriptionClient,
    client_kwargs,
    gone,
    run,
    same_id,
    step,
    timed_lro,
)

KILN_URL = os.environ["KILN_URL"].rstrip("/")
KILN_TOKEN = os.environ["KILN_TOKEN"]
KILN_CA = os.environ["KILN_CA"]
KILN_OBJECTS = os.environ["KILN_OBJECTS"]
CONTAINERS = ("azureml", "blobstore", "code", "file")


def account_dir(storage_account_id):
    return os.path.join(KILN_OBJECTS, storage_account_id.rstrip("/").rsplit("/", 1)[-1])

# Newest workspace api-version kiln serves that has kind Hub/Project; the
# 1.0.1 client would otherwise send its own default, 2020-08-01.
ML_API_VERSION = "2025-12-01"
RG = "sdk-rg"
LOCATION = "eastus"
HUB = "sdk-hub"
PROJECT = "sdk-project"


def raw_json(pipeline_response, deserialized, headers):
    """cls= hook: return the response body as JSON instead of the SDK model.

    The 1.0.1 Workspace model predates `kind` and `hubResourceId`, so the
    model would silently drop exactly the fields this test checks.
    """
    return pipeline_response.http_response.json()


def raw_body(doc):
    """A request body the 1.0.1 operations pass through untouched.

    A dict would be serialized through the 2020-08-01 Workspace model, which
    drops `kind` and `hubResourceId`; bytes go out as they are.
    """
    return json.dumps(doc).encode("utf-8")


ctx = Ctx()
ctx.cred = StaticTokenCredential(KILN_TOKEN)
ctx.client_kwargs = client_kwargs(KILN_URL, KILN_CA)


def list_subscription_ids_raw():
    """Fallback for an azure-mgmt-resource without SubscriptionClient:
    GET /subscriptions through an azure-core ARM pipeline (same auth policy)."""
    from azure.core.rest import HttpRequest
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

    client = ARMPipelineClient(
        base_url=KILN_URL,
        policies=[ARMChallengeAuthenticationPolicy(ctx.cred, "https://management.azure.com/.default")],
        connection_verify=KILN_CA,
    )
    response = client.send_request(HttpRequest("GET", f"{KILN_URL}/subscriptions?api-version=2022-12-01"))
    response.raise_for_status()
    return [s["subscriptionId"] for s in response.json()["value"]]


@step("discover the subscription (SubscriptionClient.subscriptions.list)")
def discover_subscription():
    if SubscriptionClient is not None:
        client = SubscriptionClient(ctx.cred, **ctx.client_kwargs)
        print(f"    SubscriptionClient api-version {client._config.api_version}")
        subs = [s.subscription_id for s in client.subscriptions.list()]
    else:
        print("    SubscriptionClient not installed: raw GET /subscriptions")
        subs = list_subscription_ids_raw()
    assert subs, "GET /subscriptions returned no subscription"
    ctx.sub = subs[0]
    uuid.UUID(ctx.sub)  # subscription ids are GUIDs
    print(f"    subscription {ctx.sub}")
    ctx.rm = ResourceManagementClient(ctx.cred, ctx.sub, **ctx.client_kwargs)
    print(f"    ResourceManagementClient api-version {ctx.rm._config.api_version}")
    ctx.ml = MachineLearningServicesMgmtClient(ctx.cred, ctx.sub, api_version=ML_API_VERSION, **ctx.client_kwargs)


@step("create resource group (resource_groups.create_or_update)")
def create_rg():
    rg = ctx.rm.resource_groups.create_or_update(RG, {"location": LOCATION})
    assert rg.name == RG, rg
    assert rg.location == LOCATION, rg
    ctx.rg_id = rg.id
    assert same_id(rg.id, f"/subscriptions/{ctx.sub}/resourceGroups/{RG}"), rg.id


@step("resource group exists (resource_groups.check_existence -> True)")
def rg_exists():
    assert ctx.rm.resource_groups.check_existence(RG) is True


@step("get resource group (resource_groups.get)")
def get_rg():
    rg = ctx.rm.resource_groups.get(RG)
    assert rg.name == RG and rg.location == LOCATION, rg
    assert rg.properties.provisioning_state == "Succeeded", rg.properties


@step("create hub (workspaces.begin_create_or_update, kind Hub)")
def create_hub():
    body = {"location": LOCATION, "kind": "Hub", "properties": {"friendlyName": "SDK hub"}}
    poller = ctx.ml.workspaces.begin_create_or_update(RG, HUB, raw_body(body), cls=raw_json)
    hub = timed_lro("hub create", poller)
    assert hub is not None, "LRO returned no body"
    assert hub["name"] == HUB, hub
    assert hub["properties"]["provisioningState"] == "Succeeded", hub
    ctx.hub_id = hub["id"]
    # The poller returned only after the worker finished: the dependent resources are set
    # and the storage account's root already exists.
    props = hub["properties"]
    assert "/providers/Microsoft.Storage/storageAccounts/" in props.get("storageAccount", ""), props
    assert "/providers/Microsoft.KeyVault/vaults/" in props.get("keyVault", ""), props
    ctx.account_dir = account_dir(props["storageAccount"])
    assert os.path.isdir(ctx.account_dir), ctx.account_dir
    expected = (
        f"/subscriptions/{ctx.sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{HUB}"
    )
    assert same_id(ctx.hub_id, expected), ctx.hub_id


@step("create project under the hub (kind Project, hubResourceId)")
def create_project():
    body = {"location": LOCATION, "kind": "Project", "properties": {"hubResourceId": ctx.hub_id}}
    poller = ctx.ml.workspaces.begin_create_or_update(RG, PROJECT, raw_body(body), cls=raw_json)
    project = timed_lro("project create", poller)
    assert project is not None, "LRO returned no body"
    assert project["properties"]["provisioningState"] == "Succeeded", project
    ctx.project_id = project["id"]
    # Its containers and its system-assigned identity came with it.
    ctx.containers = [
        os.path.join(ctx.account_dir, f"{project['properties']['workspaceId']}-{c}") for c in CONTAINERS
    ]
    for container in ctx.containers:
        assert os.path.isdir(container), container
    identity = project.get("identity") or {}
    assert identity.get("type") == "SystemAssigned", identity
    uuid.UUID(identity["principalId"])


@step("get hub and project (workspaces.get): states, kinds, links")
def get_both():
    hub = ctx.ml.workspaces.get(RG, HUB, cls=raw_json)
    project = ctx.ml.workspaces.get(RG, PROJECT, cls=raw_json)
    for doc, kind in ((hub, "hub"), (project, "project")):
        assert doc["properties"]["provisioningState"] == "Succeeded", doc
        assert (doc.get("kind") or "").lower() == kind, doc
    assert same_id(hub["id"], ctx.hub_id), hub["id"]
    assert same_id(project["id"], ctx.project_id), project["id"]
    assert same_id(project["properties"].get("hubResourceId"), ctx.hub_id), project["properties"]
    uuid.UUID(project["properties"]["workspaceId"])  # a GUID
    associated = [a.lower() for a in hub["properties"].get("associatedWorkspaces") or []]
    assert ctx.project_id.lower() in associated, hub["properties"]


HUB_KEY = f"sdk-hub-secret-{uuid.uuid4().hex}"
PROJECT_KEY = f"sdk-project-secret-{uuid.uuid4().hex}"
LEGACY_PAT = f"sdk-legacy-secret-{uuid.uuid4().hex}"


def list_secrets(workspace, name):
    """POST .../listsecrets through the client's own pipeline (1.0.1 has no operation)."""
    from azure.core.rest import HttpRequest

    path = (
        f"/subscriptions/{ctx.sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
        f"/workspaces/{workspace}/connections/{name}/listsecrets?api-version=2025-12-01"
    )
    response = ctx.ml._send_request(HttpRequest("POST", KILN_URL + path))
    response.raise_for_status()
    return response.json()


@step("create connections (workspace_connections.create): hub shared to all, project's own, 2020 DTO")
def create_connections():
    ops = ctx.ml.workspace_connections
    shared = {"properties": {"authType": "ApiKey", "category": "AzureOpenAI", "target": "https://aoai.example.com",
                             "isSharedToAll": True, "credentials": {"key": HUB_KEY}}}
    hub_conn = ops.create(RG, HUB, "aoai-shared", raw_body(shared), cls=raw_json)
    own = {"properties": {"authType": "ApiKey", "category": "CognitiveSearch", "target": "https://search.example.com",
                          "credentials": {"key": PROJECT_KEY}}}
    project_conn = ops.create(RG, PROJECT, "search-own", raw_body(own), cls=raw_json)
    from azure.mgmt.machinelearningservices.models import WorkspaceConnectionDto

    legacy = ops.create(RG, PROJECT, "feed-legacy", WorkspaceConnectionDto(
        category="PythonFeed", target="https://pypi.example.com", auth_type="PAT", value=LEGACY_PAT))
    for doc in (hub_conn, project_conn):
        text = json.dumps(doc)
        assert HUB_KEY not in text and PROJECT_KEY not in text, text
        assert doc["properties"]["authType"] == "ApiKey", doc
    assert legacy.auth_type == "PAT" and legacy.value is None, legacy.as_dict()
    ctx.hub_conn_id = hub_conn["id"]


@step("list connections of the project (workspace_connections.list, category/target)")
def list_connections():
    ops = ctx.ml.workspace_connections
    names = sorted(c.name for c in ops.list(RG, PROJECT))
    assert names == ["aoai-shared", "feed-legacy", "search-own"], names
    assert all(c.value is None for c in ops.list(RG, PROJECT))
    by_category = [c.id for c in ops.list(RG, PROJECT, category="AzureOpenAI")]
    assert len(by_category) == 1 and same_id(by_category[0], ctx.hub_conn_id), by_category
    by_target = [c.name for c in ops.list(RG, PROJECT, target="https://search.example.com")]
    assert by_target == ["search-own"], by_target
    raw = ops.list(RG, PROJECT, cls=lambda items: items)
    owners = {c.name: c.id.rsplit("/connections/", 1)[0].rsplit("/", 1)[-1] for c in raw}
    assert owners == {"aoai-shared": HUB, "feed-legacy": PROJECT, "search-own": PROJECT}, owners


@step("get connections (workspace_connections.get): a hub's shared one through the project")
def get_connections():
    ops = ctx.ml.workspace_connections
    shared = ops.get(RG, PROJECT, "aoai-shared", cls=raw_json)
    assert same_id(shared["id"], ctx.hub_conn_id), shared["id"]
    assert "credentials" not in shared["properties"], shared
    own = ops.get(RG, PROJECT, "search-own")
    assert own.category == "CognitiveSearch" and own.value is None, own.as_dict()


@step("list secrets (POST listsecrets through the client's pipeline)")
def connection_secrets():
    assert list_secrets(PROJECT, "aoai-shared")["properties"]["credentials"]["key"] == HUB_KEY
    assert list_secrets(PROJECT, "search-own")["properties"]["credentials"]["key"] == PROJECT_KEY
    assert list_secrets(PROJECT, "feed-legacy")["properties"]["value"] == LEGACY_PAT


@step("delete connections (workspace_connections.delete)")
def delete_connections():
    ops = ctx.ml.workspace_connections
    for workspace, name in ((PROJECT, "search-own"), (PROJECT, "feed-legacy"), (HUB, "aoai-shared")):
        ops.delete(RG, workspace, name)
        assert gone(lambda: ops.get(RG, workspace, name)), f"connection {name} still exists after delete"


@step("list workspaces by resource group (workspaces.list_by_resource_group)")
def list_rg():
    ids = {w.id.lower() for w in ctx.ml.workspaces.list_by_resource_group(RG)}
    assert ctx.hub_id.lower() in ids and ctx.project_id.lower() in ids, ids


@step("list workspaces by subscription (workspaces.list_by_subscription)")
def list_sub():
    ids = {w.id.lower() for w in ctx.ml.workspaces.list_by_subscription()}
    assert ctx.hub_id.lower() in ids and ctx.project_id.lower() in ids, ids


@step("delete project (workspaces.begin_delete)")
def delete_project():
    timed_lro("project delete", ctx.ml.workspaces.begin_delete(RG, PROJECT))
    for container in ctx.containers:
        assert not os.path.exists(container), container


@step("delete hub (workspaces.begin_delete)")
def delete_hub():
    timed_lro("hub delete", ctx.ml.workspaces.begin_delete(RG, HUB))
    assert not os.path.exists(ctx.account_dir), ctx.account_dir


@step("deleted workspaces are gone (workspaces.get -> ResourceNotFoundError)")
def workspaces_gone():
    for name in (PROJECT, HUB):
        assert gone(lambda: ctx.ml.workspaces.get(RG, name)), f"workspace {name} still exists after delete"


@step("delete resource group (resource_groups.begin_delete)")
def delete_rg():
    timed_lro("resource group delete", ctx.rm.resource_groups.begin_delete(RG))


@step("resource group is gone (resource_groups.check_existence -> False)")
def rg_gone():
    assert ctx.rm.resource_groups.check_existence(RG) is False


def main():
    return run(f"Azure SDK compatibility test against {KILN_URL}")


if __name__ == "__main__":
    sys.exit(main())
