"""Drive a running kiln with the real Azure CLI (az 2.91.0).

Started by tests/az/run.sh (see azwire.py for the environment). Every section runs even
when an earlier step failed; a failure prints the command, its exit code, what az printed
and the HTTP exchanges (request line, body, status, error). When an az command that makes
a precondition fails (group, hub, project), the precondition is made directly over REST as
the bootstrap administrator so that the later steps still test their own command.
The last line is "az: N passed, M failed"; the exit status is 1 when any step failed.

  KILN_AZ_ONLY=group,resource   run only these sections (setup always runs)
  KILN_AZ_ONLY=cognitiveservices  accounts, keys, skus, projects, soft delete (its own group)
  KILN_AZ_ONLY=cognitive-deployments  model deployments, catalog, quota (its own group)
"""

import json
import os
import sys
import time

from azwire import KILN_URL, SP, SUB, Rest, Runner

RG = "kiln-az-rg"
RG_DEL = "kiln-az-rg-del"
LOC = "eastus"
WS_TYPE = "Microsoft.MachineLearningServices/workspaces"
HUB, PROJECT = "kiln-az-hub", "kiln-az-project"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}"
HUB_ID = f"{RG_ID}/providers/{WS_TYPE}/{HUB}"
PROJECT_ID = f"{RG_ID}/providers/{WS_TYPE}/{PROJECT}"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OID = SP["objectId"]

ONLY = {s.strip() for s in os.environ.get("KILN_AZ_ONLY", "").split(",") if s.strip()}

r = Runner("az")
rest = Rest()
state = {}


def same_id(a, b):
    return (a or "").lower().rstrip("/") == (b or "").lower().rstrip("/")


# --- setup --------------------------------------------------------------------------------


def config():
    r.az("config", "set", "core.instance_discovery=false", "core.collect_telemetry=false")


def cloud_register():
    # What a user types: the ARM endpoint with its trailing slash. az fetches
    # {endpoint}/metadata/endpoints?api-version=2022-09-01 (so //metadata/... here).
    res = r.az("cloud", "register", "-n", "Kiln", "--endpoint-resource-manager", f"{KILN_URL}/", ok=False)
    if res.rc != 0:
        # Without the slash the metadata URL has a single slash: register anyway so that
        # every later step still runs, and report the step as failed.
        r.az("cloud", "register", "-n", "Kiln", "--endpoint-resource-manager", KILN_URL)
        r.check(res, False, "az cloud register with a trailing slash failed (registered without it)")
    show = r.az("cloud", "show", "-n", "Kiln").json
    r.check(res, same_id(show["endpoints"]["resourceManager"], KILN_URL), "resourceManager endpoint")
    r.check(res, same_id(show["endpoints"]["activeDirectory"], KILN_URL), "activeDirectory endpoint (login)")
    r.check(res, show["endpoints"]["activeDirectoryResourceId"] == "https://management.azure.com/",
            "activeDirectoryResourceId (token audience)")


def cloud_set():
    r.az("cloud", "set", "-n", "Kiln")
    res = r.az("cloud", "show", "--query", "isActive")
    r.check(res, res.json is True, "Kiln is the active cloud")


def login():
    res = r.az("login", "--service-principal", "-u", SP["appId"], "-p", SP["password"], "--tenant", SP["tenant"])
    subs = res.json
    r.check(res, [s["id"] for s in subs] == [SUB], f"login lists the subscription {SUB}")
    r.check(res, subs[0]["user"] == {"name": SP["appId"], "type": "servicePrincipal"}, "login user")
    r.check(res, subs[0]["tenantId"] == SP["tenant"], "tenant")


def account_show():
    res = r.az("account", "show")
    r.check(res, res.json["id"] == SUB and res.json["isDefault"] is True, "account show: the default subscription")


# --- group --------------------------------------------------------------------------------


def ensure_group(name):
    rest.ensure(f"/subscriptions/{SUB}/resourcegroups/{name}", "2024-03-01",
                {"location": LOC, "tags": {"env": "test"}})


def group_create():
    try:
        res = r.az("group", "create", "-n", RG, "-l", LOC, "--tags", "env=test")
        g = res.json
        r.check(res, g["name"] == RG and same_id(g["id"], RG_ID), "name and id")
        r.check(res, g["location"] == LOC and g["tags"] == {"env": "test"}, "location and tags")
        r.check(res, g["properties"]["provisioningState"] == "Succeeded", "provisioningState")
    finally:
        ensure_group(RG)


def group_show():
    res = r.az("group", "show", "-n", RG)
    r.check(res, res.json["name"] == RG and res.json["tags"].get("env") == "test", "name and tags")


def group_exists():
    res = r.az("group", "exists", "-n", RG)
    r.check(res, res.json is True, "exists: true")
    res = r.az("group", "exists", "-n", "kiln-az-absent")
    r.check(res, res.json is False, "exists for an absent group: false")


def group_list():
    res = r.az("group", "list", "--query", f"[?name=='{RG}'].location")
    r.check(res, res.json == [LOC], "the group is listed")
    res = r.az("group", "list", "--tag", "env=test", "--query", "[].name")
    r.check(res, RG in res.json, "group list --tag env=test")


def group_update():
    res = r.az("group", "update", "-n", RG, "--set", "tags.env=prod", "tags.owner=az")
    r.check(res, res.json["tags"] == {"env": "prod", "owner": "az"}, "tags after update --set")
    res = r.az("group", "show", "-n", RG, "--query", "tags")
    r.check(res, res.json == {"env": "prod", "owner": "az"}, "tags read back")


def group_delete():
    res = r.az("group", "create", "-n", RG_DEL, "-l", LOC, ok=False)
    if res.rc != 0:
        ensure_group(RG_DEL)
    r.az("group", "delete", "-n", RG_DEL, "--yes")
    res = r.az("group", "exists", "-n", RG_DEL)
    r.check(res, res.json is False, "the deleted group no longer exists")


# --- provider -----------------------------------------------------------------------------

ML = "Microsoft.MachineLearningServices"


def provider_show():
    res = r.az("provider", "show", "-n", ML)
    p = res.json
    r.check(res, p["namespace"] == ML and p["registrationState"] == "Registered", "namespace, Registered")
    types = {t["resourceType"].lower(): t for t in p["resourceTypes"]}
    r.check(res, "workspaces" in types, "resourceTypes has workspaces")
    r.check(res, "2025-12-01" in types["workspaces"]["apiVersions"], "workspaces apiVersions")
    r.check(res, any(l.replace(" ", "").lower() == LOC for l in types["workspaces"].get("locations", [])),
            "workspaces locations include East US")


def provider_register():
    r.az("provider", "register", "-n", ML, "--wait")
    res = r.az("provider", "show", "-n", ML, "--query", "registrationState")
    r.check(res, res.json == "Registered", "Registered after register")


def provider_list():
    res = r.az("provider", "list", "--query", "[].namespace")
    for ns in (ML, "Microsoft.Resources", "Microsoft.Authorization"):
        r.check(res, ns in res.json, f"provider list has {ns}")


def provider_operation_list():
    res = r.az("provider", "operation", "list")
    names = [p["name"] for p in res.json]
    r.check(res, ML in names, f"provider operation list has {ML}")


def provider_operation_show():
    res = r.az("provider", "operation", "show", "--namespace", ML)
    p = res.json
    r.check(res, p["name"] == ML, "name")
    ops = [o["name"] for o in p.get("operations", [])]
    for t in p.get("resourceTypes", []):
        ops += [o["name"] for o in t.get("operations", [])]
    for op in ("workspaces/read", "workspaces/write", "workspaces/delete"):
        r.check(res, any(o.lower() == f"{ML}/{op}".lower() for o in ops), f"operation {ML}/{op}")


# --- account ------------------------------------------------------------------------------


def list_locations():
    res = r.az("account", "list-locations")
    locs = {l["name"]: l for l in res.json}
    r.check(res, LOC in locs, "eastus is a location")
    r.check(res, locs[LOC]["displayName"] == "East US", "displayName of eastus")


# --- resource -----------------------------------------------------------------------------


def ws_body(kind, props, tags):
    return {"location": LOC, "kind": kind, "tags": tags, "properties": props}


def ensure_ws(ws_id, body):
    rest.ensure(ws_id, "2025-12-01", body)


def resource_create_hub():
    body = ws_body("Hub", {"friendlyName": "az hub", "description": "made by az resource create"},
                   {"env": "test", "role": "hub"})
    try:
        res = r.az("resource", "create", "-g", RG, "-n", HUB, "--resource-type", WS_TYPE,
                   "--is-full-object", "--properties", json.dumps(body))
        h = res.json
        r.check(res, same_id(h["id"], HUB_ID) and h["kind"].lower() == "hub", "id and kind")
        r.check(res, h["properties"]["provisioningState"] == "Succeeded", "provisioningState Succeeded")
        r.check(res, h["properties"]["friendlyName"] == "az hub", "friendlyName")
    finally:
        ensure_ws(HUB_ID, body)


def resource_create_project():
    body = ws_body("Project", {"hubResourceId": HUB_ID, "friendlyName": "az project"},
                   {"env": "test", "role": "project"})
    try:
        res = r.az("resource", "create", "-g", RG, "-n", PROJECT, "--resource-type", WS_TYPE,
                   "--is-full-object", "--properties", json.dumps(body))
        p = res.json
        r.check(res, same_id(p["id"], PROJECT_ID) and p["kind"].lower() == "project", "id and kind")
        r.check(res, same_id(p["properties"]["hubResourceId"], HUB_ID), "hubResourceId")
        r.check(res, p["properties"]["provisioningState"] == "Succeeded", "provisioningState Succeeded")
    finally:
        ensure_ws(PROJECT_ID, body)


def resource_show_ids():
    res = r.az("resource", "show", "--ids", HUB_ID)
    r.check(res, res.json["name"] == HUB and res.json["kind"].lower() == "hub", "name and kind")
    r.check(res, res.json["type"].lower() == WS_TYPE.lower(), "type")


def resource_show_names():
    res = r.az("resource", "show", "-g", RG, "-n", PROJECT, "--resource-type", WS_TYPE)
    r.check(res, same_id(res.json["properties"]["hubResourceId"], HUB_ID), "project names its hub")
    res = r.az("resource", "show", "-g", RG, "-n", HUB, "--namespace", ML, "--resource-type", "workspaces")
    r.check(res, res.json["name"] == HUB, "--namespace + --resource-type workspaces")


def resource_list_group():
    res = r.az("resource", "list", "-g", RG, "--query", "[].name")
    r.check(res, {HUB, PROJECT} <= set(res.json), "hub and project listed in the group")


def resource_list_type():
    res = r.az("resource", "list", "--resource-type", WS_TYPE, "--query", "[].name")
    r.check(res, {HUB, PROJECT} <= set(res.json), "hub and project listed by type")


def resource_list_tag():
    res = r.az("resource", "list", "--tag", "role=project", "--query", "[].name")
    r.check(res, res.json == [PROJECT], "only the project has role=project")


def resource_tag():
    res = r.az("resource", "tag", "--ids", PROJECT_ID, "--tags", "env=prod", "team=ml")
    r.check(res, res.json["tags"] == {"env": "prod", "team": "ml"}, "tags replaced")
    res = r.az("resource", "tag", "--ids", PROJECT_ID, "--tags", "cost=1", "-i")
    r.check(res, res.json["tags"] == {"env": "prod", "team": "ml", "cost": "1"}, "tags merged (-i)")
    res = r.az("resource", "show", "--ids", PROJECT_ID, "--query", "tags")
    r.check(res, res.json == {"env": "prod", "team": "ml", "cost": "1"}, "tags read back")


# --- tag (Microsoft.Resources/tags/default) -----------------------------------------------


def tag_create():
    res = r.az("tag", "create", "--resource-id", HUB_ID, "--tags", "a=1", "b=2")
    r.check(res, res.json["properties"]["tags"] == {"a": "1", "b": "2"}, "tags of the hub replaced")
    r.check(res, same_id(res.json["id"], f"{HUB_ID}/providers/Microsoft.Resources/tags/default"), "id")


def tag_update():
    res = r.az("tag", "update", "--resource-id", HUB_ID, "--operation", "Merge", "--tags", "c=3")
    r.check(res, res.json["properties"]["tags"] == {"a": "1", "b": "2", "c": "3"}, "Merge")
    res = r.az("tag", "update", "--resource-id", HUB_ID, "--operation", "Delete", "--tags", "a=1")
    r.check(res, res.json["properties"]["tags"] == {"b": "2", "c": "3"}, "Delete")
    res = r.az("tag", "update", "--resource-id", HUB_ID, "--operation", "Replace", "--tags", "d=4")
    r.check(res, res.json["properties"]["tags"] == {"d": "4"}, "Replace")


def tag_list():
    res = r.az("tag", "list", "--resource-id", HUB_ID)
    r.check(res, res.json["properties"]["tags"] == {"d": "4"}, "tag list --resource-id")
    res = r.az("resource", "show", "--ids", HUB_ID, "--query", "tags")
    r.check(res, res.json == {"d": "4"}, "the hub's own tags are the same")


# --- role ---------------------------------------------------------------------------------


def role_definition_list():
    res = r.az("role", "definition", "list", "--name", "Contributor")
    d = res.json
    r.check(res, [x["roleName"] for x in d] == ["Contributor"], "exactly Contributor")
    r.check(res, d[0]["name"] == CONTRIBUTOR and d[0]["roleType"] == "BuiltInRole", "GUID and roleType")


def role_assignment_create():
    res = r.az("role", "assignment", "create", "--assignee-object-id", OID,
               "--assignee-principal-type", "ServicePrincipal", "--role", "Reader", "--scope", RG_ID)
    a = res.json
    state["assignment"] = a["id"]
    r.check(res, a["principalId"] == OID and a["principalType"] == "ServicePrincipal", "principal")
    r.check(res, a["roleDefinitionId"].endswith(READER), "Reader")
    r.check(res, same_id(a["scope"], RG_ID), "scope")


def role_assignment_delete():
    if "assignment" not in state:
        raise AssertionError("no assignment to delete (role assignment create failed)")
    r.az("role", "assignment", "delete", "--ids", state["assignment"], "--yes")
    # `az role assignment list` resolves names through Microsoft Graph (another issue): read
    # the assignment back over REST instead.
    res = r.az("rest", "--method", "get", "--url", f"{state['assignment']}?api-version=2022-04-01", ok=False)
    r.check(res, res.rc != 0 and "RoleAssignmentNotFound" in res.stderr, "deleted: 404 RoleAssignmentNotFound")


# --- rest ---------------------------------------------------------------------------------


def rest_get():
    res = r.az("rest", "--method", "get", "--url", f"/subscriptions/{SUB}/resourceGroups/{RG}?api-version=2024-03-01")
    r.check(res, res.json["name"] == RG, "relative URL: the group")
    res = r.az("rest", "--method", "get", "--url", f"{KILN_URL}{HUB_ID}?api-version=2025-12-01")
    r.check(res, res.json["kind"].lower() == "hub", "absolute URL: the hub")


def rest_list():
    res = r.az("rest", "--method", "get", "--url",
               f"{RG_ID}/providers/{WS_TYPE}?api-version=2025-12-01&kind=project")
    r.check(res, [w["name"] for w in res.json["value"]] == [PROJECT], "list ?kind=project")


# --- cognitiveservices (Microsoft.CognitiveServices/accounts, kind AIServices) ------------
# az 2.91.0 bundles azure-mgmt-cognitiveservices 15.0.0b4: every call below is made at
# api-version 2026-05-15-preview. A group of its own, so the section runs alone
# (KILN_AZ_ONLY=cognitiveservices) and leaves nothing soft-deleted behind.

CS = "Microsoft.CognitiveServices"
CS_API = "2025-09-01"  # only for the REST fallbacks below
CS_RG = "kiln-az-cs-rg"
CS_ACC, CS_SUB, CS_PROJECT = "kiln-az-foundry", "kiln-az-foundry-sub", "kiln-az-foundry-project"
CS_RG_ID = f"/subscriptions/{SUB}/resourceGroups/{CS_RG}"
CS_ACC_ID = f"{CS_RG_ID}/providers/{CS}/accounts/{CS_ACC}"
CS_PROJECT_ID = f"{CS_ACC_ID}/projects/{CS_PROJECT}"
CS_DELETED = f"/subscriptions/{SUB}/providers/{CS}/locations/{LOC}/resourceGroups/{CS_RG}/deletedAccounts/{CS_ACC}"
CS_ARGS = ("-g", CS_RG, "-n", CS_ACC)


def cs_account_body():
    # What `az cognitiveservices account create --kind AIServices` sends (custom.py create).
    return {"location": LOC, "kind": "AIServices", "sku": {"name": "S0"}, "identity": {"type": "SystemAssigned"},
            "properties": {"customSubDomainName": CS_SUB, "allowProjectManagement": True}}


def cs_account_exists():
    return rest.call("GET", CS_ACC_ID, CS_API)[0] == 200


def cs_account_create():
    ensure_group(CS_RG)
    try:
        res = r.az("cognitiveservices", "account", "create", *CS_ARGS, "-l", LOC, "--kind", "AIServices",
                   "--sku", "S0", "--custom-domain", CS_SUB, "--yes")
        a = res.json
        r.check(res, same_id(a["id"], CS_ACC_ID) and a["kind"] == "AIServices", "id and kind")
        r.check(res, a["sku"]["name"] == "S0" and a["location"] == LOC, "sku and location")
        p = a["properties"]
        r.check(res, p["provisioningState"] == "Succeeded", "provisioningState Succeeded")
        r.check(res, p["customSubDomainName"] == CS_SUB, "customSubDomainName")
        # az turns these on by itself for kind AIServices.
        r.check(res, p.get("allowProjectManagement") is True, "allowProjectManagement (az's default for AIServices)")
        r.check(res, (a.get("identity") or {}).get("type") == "SystemAssigned", "system-assigned identity")
        r.check(res, (p.get("endpoint") or "").startswith(f"https://{CS_SUB}."), "endpoint on the custom subdomain")
    finally:
        rest.ensure(CS_ACC_ID, CS_API, cs_account_body())


def cs_account_show():
    res = r.az("cognitiveservices", "account", "show", *CS_ARGS)
    a = res.json
    r.check(res, a["name"] == CS_ACC and a["type"].lower() == f"{CS}/accounts".lower(), "name and type")
    r.check(res, a["properties"]["customSubDomainName"] == CS_SUB, "customSubDomainName")
    r.check(res, a["properties"]["provisioningState"] == "Succeeded", "provisioningState")


def cs_account_list():
    res = r.az("cognitiveservices", "account", "list", "-g", CS_RG, "--query", "[].name")
    r.check(res, res.json == [CS_ACC], "list -g: the account")
    res = r.az("cognitiveservices", "account", "list", "--query", "[].id")
    r.check(res, any(same_id(i, CS_ACC_ID) for i in res.json), "list (subscription): the account")


def cs_keys_list():
    res = r.az("cognitiveservices", "account", "keys", "list", *CS_ARGS)
    k = res.json
    r.check(res, k.get("key1") and k.get("key2") and k["key1"] != k["key2"], "two different keys")
    state["cs_keys"] = (k["key1"], k["key2"])


def cs_keys_regenerate():
    if "cs_keys" not in state:
        raise AssertionError("no keys to compare with (keys list failed)")
    old1, old2 = state["cs_keys"]
    res = r.az("cognitiveservices", "account", "keys", "regenerate", *CS_ARGS, "--key-name", "Key1")
    k = res.json
    r.check(res, k["key1"] != old1, "key1 changed")
    r.check(res, k["key2"] == old2, "key2 stayed")
    res = r.az("cognitiveservices", "account", "keys", "list", *CS_ARGS)
    r.check(res, (res.json["key1"], res.json["key2"]) == (k["key1"], k["key2"]), "keys list agrees")
    state["cs_keys"] = (k["key1"], k["key2"])


def cs_list_skus():
    # GET /subscriptions/{s}/providers/Microsoft.CognitiveServices/skus, filtered by az itself:
    # kind compared exactly, --location against each sku's `locations` (must be a list).
    res = r.az("cognitiveservices", "account", "list-skus", "--kind", "AIServices", "--location", LOC)
    skus = res.json
    r.check(res, any(s["name"] == "S0" and s["kind"] == "AIServices" for s in skus), "S0 for AIServices")
    r.check(res, all(s.get("resourceType") == "accounts" for s in skus), "resourceType accounts")
    res = r.az("cognitiveservices", "account", "list-skus", "--kind", "OpenAI")
    r.check(res, any(s["name"] == "S0" for s in res.json) and all(s["kind"] == "OpenAI" for s in res.json),
            "S0 for OpenAI")


def cs_project_wait():
    # `project create` does not wait: custom.py passes polling=no_wait, and without a
    # --no-wait flag no_wait is False, so az prints the PUT's own answer and exits.
    for _ in range(60):
        res = r.az("cognitiveservices", "account", "project", "show", *CS_ARGS, "--project-name", CS_PROJECT)
        if res.json["properties"]["provisioningState"] in ("Succeeded", "Failed", "Canceled"):
            return res
        time.sleep(1)
    return res


def cs_project_create():
    try:
        res = r.az("cognitiveservices", "account", "project", "create", *CS_ARGS, "--project-name", CS_PROJECT,
                   "-l", LOC, "--display-name", "az project", "--description", "made by az")
        p = res.json
        r.check(res, same_id(p["id"], CS_PROJECT_ID), "project id")
        res = cs_project_wait()
        p = res.json
        r.check(res, p["properties"]["provisioningState"] == "Succeeded", "provisioningState Succeeded")
        r.check(res, p["properties"]["displayName"] == "az project", "displayName")
        r.check(res, p["properties"].get("isDefault") is True, "the first project is the default")
        r.check(res, (p.get("identity") or {}).get("type") == "SystemAssigned", "system-assigned identity")
        res = r.az("cognitiveservices", "account", "show", *CS_ARGS, "--query", "properties.defaultProject")
        r.check(res, res.json == CS_PROJECT, "the account's defaultProject")
    finally:
        rest.ensure(CS_PROJECT_ID, CS_API, {"location": LOC, "identity": {"type": "SystemAssigned"},
                                            "properties": {"displayName": "az project"}})


def cs_project_list():
    res = r.az("cognitiveservices", "account", "project", "list", *CS_ARGS, "--query", "[].name")
    r.check(res, res.json == [CS_PROJECT], "the project is listed")


def cs_account_delete():
    r.az("cognitiveservices", "account", "delete", *CS_ARGS)
    res = r.az("cognitiveservices", "account", "show", *CS_ARGS, ok=False)
    r.check(res, res.rc == 3 and "ResourceNotFound" in res.stderr, "gone: exit 3, ResourceNotFound")
    res = r.az("cognitiveservices", "account", "list", "-g", CS_RG, "--query", "[].name")
    r.check(res, res.json == [], "no account left in the group")


def cs_list_deleted():
    res = r.az("cognitiveservices", "account", "list-deleted", "--query", "[].name")
    r.check(res, CS_ACC in res.json, "the soft-deleted account is listed")


def cs_show_deleted():
    res = r.az("cognitiveservices", "account", "show-deleted", "-l", LOC, *CS_ARGS)
    d = res.json
    r.check(res, d["name"] == CS_ACC and same_id(d["id"], CS_DELETED), "name and deletedAccounts id")
    r.check(res, d["properties"]["customSubDomainName"] == CS_SUB, "customSubDomainName kept")
    r.check(res, d["properties"].get("deletionDate") and d["properties"].get("scheduledPurgeDate"),
            "deletionDate and scheduledPurgeDate")


def cs_create_deleted_name():
    res = r.az("cognitiveservices", "account", "create", *CS_ARGS, "-l", LOC, "--kind", "AIServices",
               "--sku", "S0", "--custom-domain", CS_SUB, "--yes", ok=False)
    r.check(res, res.rc != 0 and "FlagMustBeSetForRestore" in res.stderr, "409 FlagMustBeSetForRestore")
    r.check(res, not cs_account_exists(), "the account did not come back")


def cs_recover():
    # PUT {"location": ..., "properties": {"restore": true}}: no sku, no kind.
    res = r.az("cognitiveservices", "account", "recover", "-l", LOC, *CS_ARGS)
    a = res.json
    r.check(res, same_id(a["id"], CS_ACC_ID) and a["properties"]["provisioningState"] == "Succeeded",
            "back, Succeeded")
    r.check(res, a["kind"] == "AIServices" and a["properties"]["customSubDomainName"] == CS_SUB, "kind and subdomain")
    res = r.az("cognitiveservices", "account", "keys", "list", *CS_ARGS)
    r.check(res, (res.json["key1"], res.json["key2"]) == state.get("cs_keys"), "the same keys as before the delete")
    res = r.az("cognitiveservices", "account", "project", "list", *CS_ARGS, "--query", "[].name")
    r.check(res, res.json == [CS_PROJECT], "the project came back with it")


def cs_purge():
    if cs_account_exists():
        r.az("cognitiveservices", "account", "delete", *CS_ARGS)
    r.az("cognitiveservices", "account", "purge", "-l", LOC, *CS_ARGS)
    res = r.az("cognitiveservices", "account", "show-deleted", "-l", LOC, *CS_ARGS, ok=False)
    r.check(res, res.rc == 3, "purged: show-deleted exits 3")
    res = r.az("cognitiveservices", "account", "list-deleted", "--query", "[].name")
    r.check(res, CS_ACC not in res.json, "not listed as deleted any more")


def cs_group_delete():
    r.az("group", "delete", "-n", CS_RG, "--yes")
    res = r.az("group", "exists", "-n", CS_RG)
    r.check(res, res.json is False, "gone")


# --- delete -------------------------------------------------------------------------------


def resource_delete():
    r.az("resource", "delete", "--ids", PROJECT_ID)
    res = r.az("resource", "show", "--ids", PROJECT_ID, ok=False)
    r.check(res, res.rc == 3 and "ResourceNotFound" in res.stderr, "project gone: exit 3, ResourceNotFound")
    r.az("resource", "delete", "-g", RG, "-n", HUB, "--resource-type", WS_TYPE)
    res = r.az("resource", "list", "-g", RG, "--resource-type", WS_TYPE, "--query", "[].name")
    r.check(res, res.json == [], "no workspace left in the group")


def group_delete_main():
    r.az("group", "delete", "-n", RG, "--yes")
    res = r.az("group", "exists", "-n", RG)
    r.check(res, res.json is False, "gone")


SECTIONS = [
    ("setup", [("az config set core.instance_discovery=false", config),
               ("az cloud register (metadata endpoint)", cloud_register),
               ("az cloud set", cloud_set),
               ("az login --service-principal", login),
               ("az account show", account_show)]),
    ("group", [("group create", group_create), ("group show", group_show), ("group exists", group_exists),
               ("group list (+ --tag)", group_list), ("group update --set tags", group_update),
               ("group delete", group_delete)]),
    ("provider", [("provider show", provider_show), ("provider register", provider_register),
                  ("provider list", provider_list), ("provider operation list", provider_operation_list),
                  ("provider operation show --namespace", provider_operation_show)]),
    ("account", [("account list-locations", list_locations)]),
    ("resource", [("resource create (hub, --is-full-object)", resource_create_hub),
                  ("resource create (project)", resource_create_project),
                  ("resource show --ids", resource_show_ids),
                  ("resource show -g -n --resource-type", resource_show_names),
                  ("resource list -g", resource_list_group),
                  ("resource list --resource-type", resource_list_type),
                  ("resource list --tag", resource_list_tag),
                  ("resource tag --tags", resource_tag)]),
    ("tag", [("tag create --resource-id", tag_create), ("tag update --resource-id", tag_update),
             ("tag list --resource-id", tag_list)]),
    ("role", [("role definition list --name Contributor", role_definition_list),
              ("role assignment create (Reader at the group)", role_assignment_create),
              ("role assignment delete", role_assignment_delete)]),
    ("rest", [("rest --method get", rest_get), ("rest list with ?kind=", rest_list)]),
    ("cognitiveservices", [("cognitiveservices account create (AIServices, --custom-domain)", cs_account_create),
                           ("cognitiveservices account show", cs_account_show),
                           ("cognitiveservices account list (-g, subscription)", cs_account_list),
                           ("cognitiveservices account keys list", cs_keys_list),
                           ("cognitiveservices account keys regenerate --key-name Key1", cs_keys_regenerate),
                           ("cognitiveservices account list-skus --kind --location", cs_list_skus),
                           ("cognitiveservices account project create", cs_project_create),
                           ("cognitiveservices account project list", cs_project_list),
                           ("cognitiveservices account delete (soft delete)", cs_account_delete),
                           ("cognitiveservices account list-deleted", cs_list_deleted),
                           ("cognitiveservices account show-deleted", cs_show_deleted),
                           ("cognitiveservices account create of a soft-deleted name", cs_create_deleted_name),
                           ("cognitiveservices account recover", cs_recover),
                           ("cognitiveservices account purge", cs_purge),
                           ("group delete (cognitiveservices group)", cs_group_delete)]),
    ("delete", [("resource delete", resource_delete), ("group delete (main group)", group_delete_main)]),
]


# --- cognitive-deployments (model deployments, catalog and quota on a Foundry account) -----
# az 2.91.0's bundled azure-mgmt-cognitiveservices 15.0.0b4 calls every one of these at
# api-version 2026-05-15-preview. What az does that a server must live with:
#   * `deployment create` sends sku.capacity as a JSON string ("capacity": "10": --sku-capacity
#     has no type and the 15.0.0b4 models do not convert), drops --sku-capacity silently when
#     --sku-name is absent (no sku at all), and does not wait (custom.py passes polling=False):
#     it prints the PUT's own answer, so the steps below read the deployment back until terminal.
#     The PUT must still answer 200 or 201 (the generated code raises on anything else).
#   * `deployment delete` waits (begin_delete with the default ARM polling); 200, 202, 204.
#   * `account list-usage` prints the `value` of one UsageListResult (no paging); `usage list -l`
#     and `model list -l` and `account list-models` follow nextLink.
# A group of its own (KILN_AZ_ONLY=cognitive-deployments runs it alone).

CD_RG = "kiln-az-deploy-rg"
CD_ACC, CD_SUB, CD_DEP = "kiln-az-deploy", "kiln-az-deploy-sub", "kiln-az-gpt-4o-mini"
CD_REFUSED = "kiln-az-refused"
CD_RG_ID = f"/subscriptions/{SUB}/resourceGroups/{CD_RG}"
CD_ACC_ID = f"{CD_RG_ID}/providers/{CS}/accounts/{CD_ACC}"
CD_ARGS = ("-g", CD_RG, "-n", CD_ACC)
CD_MODEL, CD_SKU, CD_CAPACITY = "gpt-4o-mini", "Standard", 10


def cd_dep_id(name):
    return f"{CD_ACC_ID}/deployments/{name}"


def cd_account_create():
    ensure_group(CD_RG)
    body = {"location": LOC, "kind": "AIServices", "sku": {"name": "S0"}, "identity": {"type": "SystemAssigned"},
            "properties": {"customSubDomainName": CD_SUB, "allowProjectManagement": True}}
    try:
        res = r.az("cognitiveservices", "account", "create", *CD_ARGS, "-l", LOC, "--kind", "AIServices",
                   "--sku", "S0", "--custom-domain", CD_SUB, "--yes")
        r.check(res, res.json["properties"]["provisioningState"] == "Succeeded", "account Succeeded")
    finally:
        rest.ensure(CD_ACC_ID, CS_API, body)


def cd_list_models():
    res = r.az("cognitiveservices", "account", "list-models", *CD_ARGS)
    models = res.json
    mini = [m for m in models if m.get("format") == "OpenAI" and m.get("name") == CD_MODEL
            and any(s.get("name") == CD_SKU for s in m.get("skus") or [])]
    r.check(res, bool(mini), f"{CD_MODEL} with a {CD_SKU} sku in the account's catalog")
    chosen = next((m for m in mini if m.get("isDefaultVersion")), mini[0])
    sku = next(s for s in chosen["skus"] if s["name"] == CD_SKU)
    r.check(res, bool(chosen.get("version") and chosen.get("lifecycleStatus")), "version and lifecycleStatus")
    cap = sku.get("capacity") or {}
    r.check(res, bool(sku.get("usageName")) and cap.get("maximum", 0) >= CD_CAPACITY and "default" in cap,
            "the sku's usageName and capacity range")
    state["cd_version"], state["cd_usage"], state["cd_max"] = chosen["version"], sku["usageName"], cap["maximum"]


def cd_model_list():
    res = r.az("cognitiveservices", "model", "list", "-l", LOC)
    got = [m for m in res.json if (m.get("model") or {}).get("name") == CD_MODEL
           and m["model"].get("version") == state.get("cd_version")]
    r.check(res, bool(got), f"{CD_MODEL} {state.get('cd_version')} offered in {LOC}")
    r.check(res, all(m.get("kind") and m["model"].get("skus") for m in got), "kind and skus")


def cd_usage(res):
    want = (state.get("cd_usage") or "").lower()
    found = [u for u in res.json if ((u.get("name") or {}).get("value") or "").lower() == want]
    r.check(res, len(found) == 1, f"exactly one usage named {state.get('cd_usage')}")
    return found[0]


def cd_usage_before():
    res = r.az("cognitiveservices", "usage", "list", "-l", LOC)
    u = cd_usage(res)
    r.check(res, u.get("limit") is not None and u.get("currentValue") is not None, "limit and currentValue")
    r.check(res, bool((u.get("name") or {}).get("localizedValue")), "localizedValue (e.g. Tokens Per Minute ...)")
    state["cd_base"], state["cd_limit"] = int(u["currentValue"]), int(u["limit"])


def cd_wait(name):
    for _ in range(60):
        res = r.az("cognitiveservices", "account", "deployment", "show", *CD_ARGS, "--deployment-name", name)
        if res.json["properties"].get("provisioningState") in ("Succeeded", "Failed", "Canceled"):
            return res
        time.sleep(1)
    return res


def cd_deployment_args(name, capacity):
    return ("cognitiveservices", "account", "deployment", "create", *CD_ARGS, "--deployment-name", name,
            "--model-format", "OpenAI", "--model-name", CD_MODEL, "--model-version", state.get("cd_version", ""),
            "--sku-name", CD_SKU, "--sku-capacity", capacity)


def cd_deployment_create():
    body = {"sku": {"name": CD_SKU, "capacity": CD_CAPACITY},
            "properties": {"model": {"format": "OpenAI", "name": CD_MODEL, "version": state.get("cd_version")}}}
    try:
        res = r.az(*cd_deployment_args(CD_DEP, CD_CAPACITY))
        puts = [e for e in res.exchanges if e.get("method") == "PUT"]
        r.check(res, bool(puts) and puts[0].get("status") in (200, 201), "the PUT answered 200 or 201")
        r.check(res, same_id(res.json["id"], cd_dep_id(CD_DEP)), "deployment id")
        res = cd_wait(CD_DEP)
        d = res.json
        r.check(res, d["properties"]["provisioningState"] == "Succeeded", "provisioningState Succeeded")
        # az sent "capacity": "10"; the answer holds the number.
        r.check(res, d["sku"] == {**d["sku"], "name": CD_SKU, "capacity": CD_CAPACITY}, "sku Standard, capacity 10")
    finally:
        rest.ensure(cd_dep_id(CD_DEP), CS_API, body)


def cd_deployment_show():
    res = r.az("cognitiveservices", "account", "deployment", "show", *CD_ARGS, "--deployment-name", CD_DEP)
    d = res.json
    p = d["properties"]
    r.check(res, d["type"].lower() == f"{CS}/accounts/deployments".lower(), "type")
    r.check(res, p["model"] == {**p["model"], "format": "OpenAI", "name": CD_MODEL,
                                "version": state.get("cd_version")}, "model")
    r.check(res, (p.get("capabilities") or {}).get("chatCompletion") == "true", "capabilities of a chat model")
    rules = {x.get("key"): x for x in p.get("rateLimits") or []}
    tok = rules.get("token") or {}
    r.check(res, tok.get("renewalPeriod") and tok["count"] * 60 / tok["renewalPeriod"] == CD_CAPACITY * 1000,
            "rateLimits: capacity x 1000 tokens per minute")
    r.check(res, "request" in rules and p.get("callRateLimit") is not None, "a request rule and callRateLimit")
    r.check(res, p.get("deploymentState") in (None, "Running"), "deploymentState Running (when sent)")


def cd_deployment_list():
    res = r.az("cognitiveservices", "account", "deployment", "list", *CD_ARGS, "--query", "[].name")
    r.check(res, res.json == [CD_DEP], "the deployment is listed")


def cd_usage_after():
    res = r.az("cognitiveservices", "usage", "list", "-l", LOC)
    u = cd_usage(res)
    r.check(res, int(u["currentValue"]) == state.get("cd_base", 0) + CD_CAPACITY, "currentValue grew by 10")
    res = r.az("cognitiveservices", "account", "list-usage", *CD_ARGS)
    u = cd_usage(res)
    r.check(res, int(u["currentValue"]) in (CD_CAPACITY, state.get("cd_base", 0) + CD_CAPACITY),
            "the account's usage counts the deployment")


def cd_admin_quota(limit):
    url = f"{KILN_URL}/admin/subscriptions/{SUB}/quotas/{CS}/{LOC}/{state['cd_usage']}"
    got = rest.s.put(url, json={"limit": limit}, timeout=30)
    if got.status_code not in (200, 201, 204):
        raise AssertionError(f"PUT {url} -> {got.status_code} {got.text[:500]}")


def cd_over_quota():
    used = state.get("cd_base", 0) + CD_CAPACITY
    available = state.get("cd_limit", 0) - used
    if available + 1 > state.get("cd_max", 0):
        # Too much room to go over within the sku's range: the administrator lowers the limit.
        state["cd_limit_back"] = state.get("cd_limit")
        cd_admin_quota(used + 5)
        available = 5
    res = r.az(*cd_deployment_args(CD_REFUSED, available + 1), ok=False)
    r.check(res, res.rc != 0 and "InsufficientQuota" in res.stderr, "400 InsufficientQuota")
    r.check(res, f"require {available + 1} new capacity" in res.stderr, "Azure's message: the capacity required")
    r.check(res, rest.call("GET", cd_dep_id(CD_REFUSED), CS_API)[0] == 404, "nothing was made")


def cd_not_in_catalog():
    res = r.az("cognitiveservices", "account", "deployment", "create", *CD_ARGS, "--deployment-name", CD_REFUSED,
               "--model-format", "OpenAI", "--model-name", "gpt-no-such-model", "--model-version", "1",
               "--sku-name", CD_SKU, "--sku-capacity", 1, ok=False)
    r.check(res, res.rc != 0 and "DeploymentModelNotSupported" in res.stderr, "400 DeploymentModelNotSupported")


def cd_deployment_delete():
    r.az("cognitiveservices", "account", "deployment", "delete", *CD_ARGS, "--deployment-name", CD_DEP)
    res = r.az("cognitiveservices", "account", "deployment", "show", *CD_ARGS, "--deployment-name", CD_DEP, ok=False)
    r.check(res, res.rc == 3, "gone: exit 3 (404)")
    res = r.az("cognitiveservices", "account", "deployment", "list", *CD_ARGS)
    r.check(res, res.json == [], "no deployment left")
    res = r.az("cognitiveservices", "usage", "list", "-l", LOC)
    r.check(res, int(cd_usage(res)["currentValue"]) == state.get("cd_base", 0), "the capacity is back")


def cd_cleanup():
    if state.get("cd_limit_back") is not None:
        cd_admin_quota(state.pop("cd_limit_back"))
    if rest.call("GET", CD_ACC_ID, CS_API)[0] == 200:
        r.az("cognitiveservices", "account", "delete", *CD_ARGS)
    r.az("cognitiveservices", "account", "purge", "-l", LOC, *CD_ARGS)
    r.az("group", "delete", "-n", CD_RG, "--yes")
    res = r.az("group", "exists", "-n", CD_RG)
    r.check(res, res.json is False, "gone")


SECTIONS.append(
    ("cognitive-deployments", [
        ("cognitiveservices account create (for deployments)", cd_account_create),
        ("cognitiveservices account list-models", cd_list_models),
        ("cognitiveservices model list -l", cd_model_list),
        ("cognitiveservices usage list -l (before)", cd_usage_before),
        ("cognitiveservices account deployment create", cd_deployment_create),
        ("cognitiveservices account deployment show", cd_deployment_show),
        ("cognitiveservices account deployment list", cd_deployment_list),
        ("cognitiveservices usage list -l / account list-usage (after)", cd_usage_after),
        ("cognitiveservices account deployment create over quota: InsufficientQuota", cd_over_quota),
        ("cognitiveservices account deployment create, model not in the catalog", cd_not_in_catalog),
        ("cognitiveservices account deployment delete", cd_deployment_delete),
        ("account delete, purge, group delete (deployments group)", cd_cleanup),
    ]))


def main():
    for section, steps in SECTIONS:
        if ONLY and section != "setup" and section not in ONLY:
            continue
        for name, fn in steps:
            passed = r.step(section, name, fn)
            if section == "setup" and not passed and fn in (cloud_set, login):
                print("az: cannot go on without a signed-in az", file=sys.stderr)
                return r.summary()
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
