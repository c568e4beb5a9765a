"""Drive a running kiln with the real azure-mgmt-cognitiveservices (14.1.0, api-version 2025-09-01):
model deployments on a Foundry resource, the model catalog, quota and account connections.

Started by tests/sdk/run.sh, which provides:
  KILN_URL    https base URL of the server (used as the SDK's base_url)
  KILN_TOKEN  bearer token from `kiln token` (the platform administrator: also sets a quota limit)
  KILN_CA     the server's self-signed certificate (trusted via connection_verify)
Optional: KILN_SDK_DEBUG=1 logs every HTTP request and response.

What is exercised is what a user of the SDK does to put a model behind a Foundry resource
(`Microsoft.CognitiveServices/accounts`, kind AIServices): accounts.list_models and
models.list(location) (the catalog: gpt-4o-mini, its versions and per-sku capacity range and
quota name), usages.list(location) before and after, deployments.begin_create_or_update
(sku Standard, capacity 10) -> Succeeded with capabilities, rateLimits and callRateLimit
derived from the capacity, get / list, begin_update (PatchResourceTagsAndSku: capacity and
tags), accounts.list_usages, the refusals Azure gives (DeploymentModelNotSupported for a
model or version not in the catalog, InvalidResourceProperties for a sku the model is not
offered in, InvalidCapacity out of the sku's range, InsufficientQuota over the quota, on
PUT and on PATCH), account connections create / get / list / delete (azure-mgmt-
cognitiveservices 14.1.0 has `account_connections`; it has no listsecrets for them), then
begin_delete, and a soft delete / restore / purge of the account with a deployment on it
(a soft-deleted account's deployments still count against the quota).

Wire contract of the generated 14.1.0 client (operations/_deployments_operations.py):
  PUT    deployments/{d}  accepts 200, 201 only (a 202 is an HttpResponseError);
         LRO with final-state-via azure-async-operation: polls Azure-AsyncOperation, then GETs the
         deployment URL for the result
  PATCH  deployments/{d}  body PatchResourceTagsAndSku {sku, tags}; accepts 200, 202;
         final-state-via location (a 202's Location must end in the Deployment body)
  DELETE deployments/{d}  accepts 200, 202, 204 (default ARM polling)
  account connections PUT accepts 200 only (not 201); DELETE 200, 204

Plain asserts rather than pytest: steps depend on each other, so the run stops at the first
failure. The last line is "N passed, M failed".
"""

import json
import os
import sys

import requests
from azure.core.rest import HttpRequest
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import (
    Account,
    AccountProperties,
    ApiKeyAuthConnectionProperties,
    ConnectionApiKey,
    ConnectionPropertiesV2BasicResource,
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    Identity,
    PatchResourceTagsAndSku,
    Sku,
)

from sdk_common import (
    Ctx,
    StaticTokenCredential,
    client_kwargs,
    expect_error,
    gone,
    open_group,
    run,
    same_id,
    step,
    timed_lro,
)

KILN_URL = os.environ["KILN_URL"].rstrip("/")
KILN_TOKEN = os.environ["KILN_TOKEN"]
KILN_CA = os.environ["KILN_CA"]

# The client's own default (azure/mgmt/cognitiveservices/_configuration.py); not overridden.
CS_API_VERSION = "2025-09-01"
CS = "Microsoft.CognitiveServices"
ACCOUNT_TYPE = f"{CS}/accounts"
RG = "sdk-deploy-rg"
LOCATION = "eastus"
ACCOUNT = "sdk-deploy-foundry"
SUBDOMAIN = "sdk-deploy-foundry-sub"
MODEL_FORMAT, MODEL_NAME = "OpenAI", "gpt-4o-mini"
SKU = "Standard"
CAPACITY, CAPACITY2 = 10, 20
DEPLOYMENT = "sdk-gpt-4o-mini"
# Never created: the refused PUTs use it.
REFUSED = "sdk-refused"
# Made after the first deployment is deleted, kept through the account's soft delete.
KEEP, KEEP_CAPACITY = "sdk-keep", 1
CONNECTION = "sdk-apikey-conn"
CONNECTION_SECRET = "sdk-connection-secret-value-3f9a"
# Every sku name the issue lists; the first the model is not offered in is the refused one.
SKU_NAMES = ["Standard", "GlobalStandard", "DataZoneStandard", "ProvisionedManaged", "GlobalProvisionedManaged",
             "DataZoneProvisionedManaged", "GlobalBatch", "DataZoneBatch"]
# Azure's codes, as its users met them (see /tmp/deploy-wire-notes.md for the sources).
MODEL_NOT_SUPPORTED = "DeploymentModelNotSupported"
SKU_NOT_SUPPORTED = "InvalidResourceProperties"
INVALID_CAPACITY = "InvalidCapacity"
INSUFFICIENT_QUOTA = "InsufficientQuota"


ctx = Ctx()
ctx.cred = StaticTokenCredential(KILN_TOKEN)
ctx.client_kwargs = client_kwargs(KILN_URL, KILN_CA)
ctx.quota_override = None  # the limit to put back at the end, when this test set one


def account_id(name=ACCOUNT):
    return f"/subscriptions/{ctx.sub}/resourceGroups/{RG}/providers/{ACCOUNT_TYPE}/{name}"


def deployment_id(name):
    return f"{account_id()}/deployments/{name}"


class StatusLog:
    """A raw_response_hook: the (method, status) of every response of one client call, LRO polls included."""

    def __init__(self):
        self.seen = []

    def __call__(self, pipeline_response):
        self.seen.append((pipeline_response.http_request.method, pipeline_response.http_response.status_code))

    def first(self, method):
        return next((s for m, s in self.seen if m == method), None)


def raw_get(op, *args):
    """The JSON body of a GET made by the client (for fields 14.1.0's models do not have)."""
    return op(*args, cls=lambda resp, *_: resp.http_response.json())


@step("discover the subscription, create the resource group")
def setup():
    open_group(ctx, RG, LOCATION)
    ctx.cs = CognitiveServicesManagementClient(ctx.cred, ctx.sub, **ctx.client_kwargs)
    assert ctx.cs._config.api_version == CS_API_VERSION, ctx.cs._config.api_version
    print(f"    subscription {ctx.sub}, CognitiveServicesManagementClient api-version {ctx.cs._config.api_version}")


@step("accounts.begin_create: kind AIServices, sku S0, customSubDomainName")
def create_account():
    body = Account(kind="AIServices", sku=Sku(name="S0"), location=LOCATION, identity=Identity(type="SystemAssigned"),
                   properties=AccountProperties(custom_sub_domain_name=SUBDOMAIN, allow_project_management=True,
                                                public_network_access="Enabled"))
    a = timed_lro("account create", ctx.cs.accounts.begin_create(RG, ACCOUNT, body))
    assert a is not None and same_id(a.id, account_id()), a
    assert a.kind == "AIServices" and a.properties.provisioning_state == "Succeeded", a.as_dict()
    assert a.properties.custom_sub_domain_name == SUBDOMAIN, a.properties.as_dict()


def check_catalog_model(m, where):
    """An AccountModel of the catalog: identity, lifecycle, and per sku a capacity range and a quota name."""
    assert m.format and m.name and m.version, f"{where}: {m.as_dict()}"
    assert m.lifecycle_status, f"{where}: no lifecycleStatus: {m.as_dict()}"
    assert m.skus, f"{where}: no skus: {m.as_dict()}"
    for s in m.skus:
        assert s.name and s.usage_name, f"{where}: sku without name or usageName: {s.as_dict()}"
        c = s.capacity
        assert c is not None and c.maximum and c.default is not None, f"{where}: sku capacity: {s.as_dict()}"
        assert (c.minimum or 0) <= c.default <= c.maximum, f"{where}: default out of range: {s.as_dict()}"


@step("accounts.list_models: the account's catalog has gpt-4o-mini with a Standard sku")
def list_account_models():
    models = list(ctx.cs.accounts.list_models(RG, ACCOUNT))
    assert models, "the account can deploy no model"
    mini = [m for m in models if m.format == MODEL_FORMAT and m.name == MODEL_NAME]
    assert mini, sorted({(m.format, m.name) for m in models})
    for m in mini:
        check_catalog_model(m, f"{m.name} {m.version}")
    # The version to deploy: the default one when the catalog marks one, offered in Standard.
    standard = [m for m in mini if any(s.name == SKU for s in m.skus)]
    assert standard, [m.as_dict() for m in mini]
    chosen = next((m for m in standard if m.is_default_version), standard[0])
    ctx.version = chosen.version
    ctx.sku = next(s for s in chosen.skus if s.name == SKU)
    ctx.usage_name = ctx.sku.usage_name
    ctx.offered_skus = {s.name for s in chosen.skus}
    ctx.capabilities = dict(chosen.capabilities or {})
    c = ctx.sku.capacity
    print(f"    {MODEL_NAME} {ctx.version}: skus {sorted(ctx.offered_skus)}; {SKU} capacity "
          f"{c.minimum}..{c.maximum} (default {c.default}), quota {ctx.usage_name}")
    assert (c.minimum or 1) <= CAPACITY <= c.maximum, f"capacity {CAPACITY} out of the catalog's range"
    assert (c.minimum or 1) <= CAPACITY2 <= c.maximum, f"capacity {CAPACITY2} out of the catalog's range"
    # Other publishers' direct-from-Azure models are in the same catalog (issue: Meta, Mistral AI, ...).
    formats = {m.format for m in models}
    print(f"    {len(models)} models, formats {sorted(formats)}")
    assert len(formats) > 1, formats


@step("models.list(location): the region's catalog, with kind and skuName")
def list_location_models():
    got = list(ctx.cs.models.list(LOCATION))
    assert got, f"no model in {LOCATION}"
    mini = [x for x in got if x.model and x.model.format == MODEL_FORMAT and x.model.name == MODEL_NAME
            and x.model.version == ctx.version]
    assert mini, sorted({(x.model.name, x.model.version) for x in got if x.model})
    for x in mini:
        assert x.kind, x.as_dict()
        check_catalog_model(x.model, f"location {x.model.name} {x.model.version}")
    assert any(x.kind in ("OpenAI", "AIServices") for x in mini), [x.kind for x in mini]


def quota_usage(usages):
    """The usage entry of the deployed model's quota name (compared case-insensitively)."""
    found = [u for u in usages if u.name and (u.name.value or "").lower() == ctx.usage_name.lower()]
    assert len(found) == 1, (ctx.usage_name, [u.name.value for u in usages if u.name])
    return found[0]


def location_usage():
    u = quota_usage(list(ctx.cs.usages.list(LOCATION)))
    assert u.limit is not None and u.current_value is not None, u.as_dict()
    assert u.name.localized_value, u.as_dict()
    return u


@step("usages.list(location): the model's quota before any deployment")
def usages_before():
    u = location_usage()
    ctx.baseline = int(u.current_value)
    ctx.limit = int(u.limit)
    print(f"    {u.name.value} ({u.name.localized_value}): {ctx.baseline} of {ctx.limit} {u.unit}")
    assert ctx.limit >= ctx.baseline + CAPACITY2, f"quota limit {ctx.limit} leaves no room for this test"


def deployment_body(name=MODEL_NAME, version=None, sku=SKU, capacity=CAPACITY):
    return Deployment(
        sku=Sku(name=sku, capacity=capacity),
        tags={"env": "sdk"},
        properties=DeploymentProperties(
            model=DeploymentModel(format=MODEL_FORMAT, name=name, version=version or ctx.version),
            version_upgrade_option="OnceNewDefaultVersionAvailable",
            rai_policy_name="Microsoft.DefaultV2",
        ),
    )


def check_rate_limits(p, capacity):
    """rateLimits derived from the capacity: the token rule is capacity x 1000 per minute."""
    rules = {r.key: r for r in (p.rate_limits or [])}
    assert {"request", "token"} <= set(rules), [r.as_dict() for r in p.rate_limits or []]
    token = rules["token"]
    assert token.renewal_period and token.count, token.as_dict()
    assert token.count * 60 / token.renewal_period == capacity * 1000, token.as_dict()
    assert rules["request"].count and rules["request"].count > 0, rules["request"].as_dict()
    assert p.call_rate_limit is not None, p.as_dict()
    return rules


def check_deployment(d, name=DEPLOYMENT, capacity=CAPACITY):
    assert d is not None, "no Deployment"
    assert d.name == name and same_id(d.id, deployment_id(name)), d.id
    assert (d.type or "").lower() == f"{ACCOUNT_TYPE}/deployments".lower(), d.type
    assert d.sku.name == SKU and d.sku.capacity == capacity, d.sku.as_dict()
    p = d.properties
    assert p.provisioning_state == "Succeeded", p.as_dict()
    m = p.model
    assert (m.format, m.name, m.version) == (MODEL_FORMAT, MODEL_NAME, ctx.version), m.as_dict()
    assert p.rai_policy_name == "Microsoft.DefaultV2", p.as_dict()
    assert p.version_upgrade_option == "OnceNewDefaultVersionAvailable", p.as_dict()
    # The model's capabilities (a chat model) come with the deployment.
    assert p.capabilities and p.capabilities.get("chatCompletion") == "true", p.capabilities
    return check_rate_limits(p, capacity)


@step("deployments.begin_create_or_update: sku Standard capacity 10 -> Succeeded (initial 200/201, never 202)")
def create_deployment():
    log = StatusLog()
    d = timed_lro("deployment create", ctx.cs.deployments.begin_create_or_update(
        RG, ACCOUNT, DEPLOYMENT, deployment_body(), raw_response_hook=log))
    print(f"    responses: {log.seen}")
    # A 202 would already have raised (the client accepts 200 and 201 only; ARM's answer to a create is 201).
    assert log.first("PUT") in (200, 201), log.seen
    rules = check_deployment(d)
    print(f"    rateLimits: {[(r.key, r.count, r.renewal_period) for r in rules.values()]}")
    ctx.request_rule = rules["request"]


@step("deployments.get: capabilities, rateLimits, callRateLimit, provisioningState, deploymentState")
def get_deployment():
    d = ctx.cs.deployments.get(RG, ACCOUNT, DEPLOYMENT)
    check_deployment(d)
    assert d.tags == {"env": "sdk"}, d.tags
    raw = raw_get(ctx.cs.deployments.get, RG, ACCOUNT, DEPLOYMENT)
    # 14.1.0's model has no deploymentState (it came with a later api-version); when sent, Running.
    state = raw["properties"].get("deploymentState")
    print(f"    deploymentState: {state!r}, callRateLimit: {d.properties.call_rate_limit.as_dict()}")
    assert state in (None, "Running"), raw["properties"]


@step("deployments.list: the deployment")
def list_deployments():
    got = list(ctx.cs.deployments.list(RG, ACCOUNT))
    assert [d.name for d in got] == [DEPLOYMENT], [d.name for d in got]
    check_deployment(got[0])


@step("usages.list(location) and accounts.list_usages: currentValue grows by the deployed capacity")
def usages_after_create():
    u = location_usage()
    assert int(u.current_value) == ctx.baseline + CAPACITY, (u.as_dict(), ctx.baseline)
    assert int(u.limit) == ctx.limit, u.as_dict()
    # usages.list takes $filter=name.value eq '...' (the spec's only supported filter).
    filtered = list(ctx.cs.usages.list(LOCATION, filter=f"name.value eq '{ctx.usage_name}'"))
    assert [x.name.value.lower() for x in filtered] == [ctx.usage_name.lower()], [x.as_dict() for x in filtered]
    acc = quota_usage(ctx.cs.accounts.list_usages(RG, ACCOUNT).value or [])
    print(f"    account usage {acc.name.value}: {acc.current_value} of {acc.limit}")
    # Per account (this account's deployments) or the subscription's sum in the region: equal here.
    assert int(acc.current_value) in (CAPACITY, ctx.baseline + CAPACITY), acc.as_dict()


@step("deployments.begin_update (PatchResourceTagsAndSku): capacity 10 -> 20, tags; rate limits follow")
def patch_deployment():
    log = StatusLog()
    patch = PatchResourceTagsAndSku(sku=Sku(name=SKU, capacity=CAPACITY2), tags={"env": "sdk", "step": "patch"})
    d = timed_lro("deployment patch", ctx.cs.deployments.begin_update(RG, ACCOUNT, DEPLOYMENT, patch,
                                                                    raw_response_hook=log))
    print(f"    responses: {log.seen}")
    assert log.first("PATCH") in (200, 202), log.seen
    check_deployment(d, capacity=CAPACITY2)
    got = ctx.cs.deployments.get(RG, ACCOUNT, DEPLOYMENT)
    check_deployment(got, capacity=CAPACITY2)
    assert got.tags == {"env": "sdk", "step": "patch"}, got.tags
    assert int(location_usage().current_value) == ctx.baseline + CAPACITY2


# 14.1.0 has no pause/resume; 15.0.0b4 (the one az bundles) sends them with this version.
PAUSE_API = "2026-05-15-preview"


def deployment_action(name, api_version):
    """POST …/deployments/{d}/{name} through the client's own pipeline (auth, policies)."""
    url = f"{KILN_URL}{deployment_id(DEPLOYMENT)}/{name}?api-version={api_version}"
    return ctx.cs._client.send_request(HttpRequest("POST", url))


@step("deployments pause / resume (2026-05-15-preview): deploymentState Paused, then Running; 2025-09-01 has neither")
def pause_and_resume():
    old = deployment_action("pause", "2025-09-01")
    assert old.status_code == 400 and old.json()["error"]["code"] == "NoRegisteredProviderFound", old.text()
    paused = deployment_action("pause", PAUSE_API)
    assert paused.status_code == 200, paused.text()
    assert paused.json()["properties"]["deploymentState"] == "Paused", paused.json()
    assert raw_get(ctx.cs.deployments.get, RG, ACCOUNT, DEPLOYMENT)["properties"]["deploymentState"] == "Paused"
    resumed = deployment_action("resume", PAUSE_API)
    assert resumed.status_code == 200, resumed.text()
    assert resumed.json()["properties"]["deploymentState"] == "Running", resumed.json()


def admin_quota(limit):
    """The platform administrator's quota limit for this subscription, region and quota name."""
    url = f"{KILN_URL}/admin/subscriptions/{ctx.sub}/quotas/{CS}/{LOCATION}/{ctx.usage_name}"
    r = requests.put(url, json={"limit": limit}, headers={"Authorization": f"Bearer {KILN_TOKEN}"},
                     verify=KILN_CA, timeout=30)
    assert r.status_code in (200, 201, 204), (r.status_code, r.text)


def make_room_small():
    """Available capacity, small enough that asking one more, on top of the deployment's, stays in
    the sku's capacity range (so the refusal is the quota's, not the range's)."""
    used = ctx.baseline + CAPACITY2
    available = ctx.limit - used
    if CAPACITY2 + available + 1 > ctx.sku.capacity.maximum:
        ctx.quota_override = ctx.limit
        admin_quota(used + 5)
        u = location_usage()
        assert int(u.limit) == used + 5, f"the administrator's limit is not what usages shows: {u.as_dict()}"
        available = 5
    return available


@step("a deployment over the quota: 400 InsufficientQuota with Azure's message; nothing made")
def over_quota_put():
    available = make_room_small()
    need = available + 1
    err = expect_error("PUT over quota", lambda: ctx.cs.deployments.begin_create_or_update(
        RG, ACCOUNT, REFUSED, deployment_body(capacity=need)).result(), 400, INSUFFICIENT_QUOTA)
    msg = err.error.message
    # "This operation require N new capacity in quota <q>, which is bigger than the current available
    #  capacity M. The current quota usage is U and the quota limit is L for quota <q>."
    assert f"require {need} new capacity" in msg and f"available capacity {available}" in msg, msg
    assert gone(lambda: ctx.cs.deployments.get(RG, ACCOUNT, REFUSED)), "the refused deployment exists"
    ctx.available = available


@step("a PATCH over the quota: 400 InsufficientQuota; the capacity stays")
def over_quota_patch():
    patch = PatchResourceTagsAndSku(sku=Sku(name=SKU, capacity=CAPACITY2 + ctx.available + 1))
    expect_error("PATCH over quota", lambda: ctx.cs.deployments.begin_update(
        RG, ACCOUNT, DEPLOYMENT, patch).result(), 400, INSUFFICIENT_QUOTA)
    d = ctx.cs.deployments.get(RG, ACCOUNT, DEPLOYMENT)
    assert d.sku.capacity == CAPACITY2 and d.properties.provisioning_state == "Succeeded", d.as_dict()
    assert int(location_usage().current_value) == ctx.baseline + CAPACITY2


@step("a model, version or sku not in the catalog, a capacity out of range: 400 with Azure's codes")
def refused_by_catalog():
    def put(body):
        return lambda: ctx.cs.deployments.begin_create_or_update(RG, ACCOUNT, REFUSED, body).result()

    # "The model 'Format: OpenAI, Name: x, Version: y' of account deployment is not supported."
    expect_error("unknown model", put(deployment_body(name="gpt-no-such-model")), 400, MODEL_NOT_SUPPORTED)
    expect_error("unknown version", put(deployment_body(version="1999-01-01")), 400, MODEL_NOT_SUPPORTED)
    # "The specified SKU 'X' of account deployment is not supported by the model 'm' version: 'v'."
    other = next((s for s in SKU_NAMES if s not in ctx.offered_skus), None)
    if other is not None:
        expect_error(f"sku {other}", put(deployment_body(sku=other, capacity=1)), 400, SKU_NOT_SUPPORTED)
    else:
        print("    every sku name is offered for the model: no sku refusal to try")
    # "The specified capacity '0' of account deployment should be at least 1 and no more than N."
    expect_error("capacity 0", put(deployment_body(capacity=0)), 400, INVALID_CAPACITY)
    assert gone(lambda: ctx.cs.deployments.get(RG, ACCOUNT, REFUSED)), "a refused deployment exists"
    assert [d.name for d in ctx.cs.deployments.list(RG, ACCOUNT)] == [DEPLOYMENT]


def connection_body():
    return ConnectionPropertiesV2BasicResource(properties=ApiKeyAuthConnectionProperties(
        category="ApiKey", target="https://api.example.com/v1", metadata={"purpose": "sdk"},
        credentials=ConnectionApiKey(key=CONNECTION_SECRET)))


def check_connection(c):
    assert c.name == CONNECTION and same_id(c.id, f"{account_id()}/connections/{CONNECTION}"), c.id
    assert (c.type or "").lower() == f"{ACCOUNT_TYPE}/connections".lower(), c.type
    p = c.properties
    assert p.auth_type == "ApiKey" and p.category == "ApiKey", p.as_dict()
    assert p.target == "https://api.example.com/v1" and (p.metadata or {}).get("purpose") == "sdk", p.as_dict()


@step("account_connections.create / get / list: an ApiKey connection, its secret never shown")
def connections():
    c = ctx.cs.account_connections.create(RG, ACCOUNT, CONNECTION, connection_body())  # the client accepts 200 only
    check_connection(c)
    got = ctx.cs.account_connections.get(RG, ACCOUNT, CONNECTION)
    check_connection(got)
    listed = list(ctx.cs.account_connections.list(RG, ACCOUNT))
    assert CONNECTION in [x.name for x in listed], [x.name for x in listed]
    by_category = list(ctx.cs.account_connections.list(RG, ACCOUNT, category="ApiKey"))
    assert [x.name for x in by_category] == [CONNECTION], [x.name for x in by_category]
    raw = json.dumps(raw_get(ctx.cs.account_connections.get, RG, ACCOUNT, CONNECTION))
    assert CONNECTION_SECRET not in raw, "the connection's key shows in a GET"
    assert CONNECTION_SECRET not in json.dumps([x.as_dict() for x in listed]), "the key shows in list"


@step("account_connections.delete: gone")
def delete_connection():
    ctx.cs.account_connections.delete(RG, ACCOUNT, CONNECTION)
    assert gone(lambda: ctx.cs.account_connections.get(RG, ACCOUNT, CONNECTION)), "still there"
    assert CONNECTION not in [x.name for x in ctx.cs.account_connections.list(RG, ACCOUNT)]


@step("deployments.begin_delete: gone, its capacity back in the quota")
def delete_deployment():
    log = StatusLog()
    timed_lro("deployment delete", ctx.cs.deployments.begin_delete(RG, ACCOUNT, DEPLOYMENT, raw_response_hook=log))
    print(f"    responses: {log.seen}")
    assert log.first("DELETE") in (200, 202, 204), log.seen
    assert gone(lambda: ctx.cs.deployments.get(RG, ACCOUNT, DEPLOYMENT)), "still there"
    assert list(ctx.cs.deployments.list(RG, ACCOUNT)) == []
    assert int(location_usage().current_value) == ctx.baseline


@step("a soft-deleted account's deployments still count; restore brings them back; purge frees them")
def soft_delete_keeps_quota():
    timed_lro("keep create", ctx.cs.deployments.begin_create_or_update(
        RG, ACCOUNT, KEEP, deployment_body(capacity=KEEP_CAPACITY)))
    assert int(location_usage().current_value) == ctx.baseline + KEEP_CAPACITY
    timed_lro("account delete", ctx.cs.accounts.begin_delete(RG, ACCOUNT))
    assert gone(lambda: ctx.cs.deployments.get(RG, ACCOUNT, KEEP)), "the deployment outlived its account"
    assert int(location_usage().current_value) == ctx.baseline + KEEP_CAPACITY, "soft delete freed the quota"
    restored = timed_lro("account restore", ctx.cs.accounts.begin_create(
        RG, ACCOUNT, Account(location=LOCATION, properties=AccountProperties(restore=True))))
    assert restored.properties.provisioning_state == "Succeeded", restored.as_dict()
    d = ctx.cs.deployments.get(RG, ACCOUNT, KEEP)
    assert d.sku.capacity == KEEP_CAPACITY and d.properties.provisioning_state == "Succeeded", d.as_dict()
    timed_lro("account delete", ctx.cs.accounts.begin_delete(RG, ACCOUNT))
    timed_lro("account purge", ctx.cs.deleted_accounts.begin_purge(LOCATION, RG, ACCOUNT))
    assert gone(lambda: ctx.cs.deleted_accounts.get(LOCATION, RG, ACCOUNT)), "still soft-deleted"
    assert int(location_usage().current_value) == ctx.baseline, "purge did not free the quota"


@step("put the quota limit back, delete the resource group")
def cleanup():
    if ctx.quota_override is not None:
        admin_quota(ctx.quota_override)
        assert int(location_usage().limit) == ctx.quota_override
    timed_lro("resource group delete", ctx.rm.resource_groups.begin_delete(RG))
    assert ctx.rm.resource_groups.check_existence(RG) is False


if __name__ == "__main__":
    sys.exit(run(f"azure-mgmt-cognitiveservices deployments test against {KILN_URL}"))
