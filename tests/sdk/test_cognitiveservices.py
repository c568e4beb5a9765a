"""Drive a running kiln with the real azure-mgmt-cognitiveservices (14.1.0, api-version 2025-09-01).

Started by tests/sdk/run.sh, which provides:
  KILN_URL    https base URL of the server (used as the SDK's base_url)
  KILN_TOKEN  bearer token from `kiln token`
  KILN_CA     the server's self-signed certificate (trusted via connection_verify)
Optional: KILN_SDK_DEBUG=1 logs every HTTP request and response.

What is exercised is what a user of the SDK does with an Azure AI Foundry resource
(`Microsoft.CognitiveServices/accounts`, kind AIServices): check_domain_availability,
accounts begin_create / get / list_by_resource_group / list / list_keys / regenerate_key /
begin_delete, projects begin_create / get / list (the first project is the account's
defaultProject), the errors Azure gives for a taken subdomain (CustomDomainInUse), for a
soft-deleted name (FlagMustBeSetForRestore) and for listKeys with disableLocalAuth, a project
refused on an account without allowProjectManagement, then soft delete: deleted_accounts
get / list, a restore (PUT with properties.restore = true) that brings the account back
with its keys and projects, and begin_purge, after which the subdomain is free again.
Plain asserts rather than pytest: steps depend on each other, so the run stops at the
first failure. The last line is "N passed, M failed".
"""

import json
import os
import sys
import uuid

from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import (
    Account,
    AccountProperties,
    Identity,
    Project,
    ProjectProperties,
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
ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
RG = "sdk-cs-rg"
LOCATION = "eastus"
ACCOUNT = "sdk-foundry"
SUBDOMAIN = "sdk-foundry-sub"
# Another AIServices account: allowProjectManagement false and disableLocalAuth true.
PLAIN = "sdk-foundry-plain"
# A name that never gets created: the CustomDomainInUse attempts use it.
OTHER = "sdk-foundry-other"
PROJECT, PROJECT2 = "sdk-cs-project", "sdk-cs-project2"


ctx = Ctx()
ctx.cred = StaticTokenCredential(KILN_TOKEN)
ctx.client_kwargs = client_kwargs(KILN_URL, KILN_CA)


def account_id(name):
    return f"/subscriptions/{ctx.sub}/resourceGroups/{RG}/providers/{ACCOUNT_TYPE}/{name}"


@step("discover the subscription, create the resource group")
def setup():
    open_group(ctx, RG, LOCATION)
    ctx.cs = CognitiveServicesManagementClient(ctx.cred, ctx.sub, **ctx.client_kwargs)
    assert ctx.cs._config.api_version == CS_API_VERSION, ctx.cs._config.api_version
    print(f"    subscription {ctx.sub}, CognitiveServicesManagementClient api-version {ctx.cs._config.api_version}")


def domain_available(name):
    got = ctx.cs.check_domain_availability(subdomain_name=name, type=ACCOUNT_TYPE, kind="AIServices")
    assert got.subdomain_name == name, got.as_dict()
    return got


@step("check_domain_availability: a free subdomain")
def domain_free():
    got = domain_available(SUBDOMAIN)
    assert got.is_subdomain_available is True, got.as_dict()


def foundry_body(subdomain=SUBDOMAIN, **props):
    return Account(
        kind="AIServices",
        sku=Sku(name="S0"),
        location=LOCATION,
        identity=Identity(type="SystemAssigned"),
        tags={"env": "sdk"},
        properties=AccountProperties(
            custom_sub_domain_name=subdomain, allow_project_management=True, public_network_access="Enabled", **props
        ),
    )


def check_foundry(a):
    assert a.name == ACCOUNT and same_id(a.id, account_id(ACCOUNT)), a.id
    assert (a.type or "").lower() == ACCOUNT_TYPE.lower(), a.type
    assert a.kind == "AIServices" and a.sku.name == "S0" and a.location == LOCATION, a.as_dict()
    assert a.tags == {"env": "sdk"}, a.tags
    p = a.properties
    assert p.provisioning_state == "Succeeded", p.provisioning_state
    assert p.custom_sub_domain_name == SUBDOMAIN, p.custom_sub_domain_name
    assert p.allow_project_management is True, p.as_dict()
    # Azure's endpoint for a custom subdomain: https://{sub}.cognitiveservices.azure.com/
    # (or the same name under KILN_DATA_PLANE_DOMAIN).
    assert (p.endpoint or "").startswith(f"https://{SUBDOMAIN}."), p.endpoint
    assert p.endpoints and all(v.startswith("https://") for v in p.endpoints.values()), p.endpoints
    assert p.date_created, p.as_dict()
    assert a.identity is not None and a.identity.type == "SystemAssigned", a.identity
    uuid.UUID(a.identity.principal_id)
    uuid.UUID(a.identity.tenant_id)


@step("accounts.begin_create: kind AIServices, sku S0, customSubDomainName, allowProjectManagement")
def create_account():
    a = timed_lro("account create", ctx.cs.accounts.begin_create(RG, ACCOUNT, foundry_body()))
    assert a is not None, "LRO returned no body"
    check_foundry(a)
    ctx.principal = a.identity.principal_id


@step("check_domain_availability: the subdomain is now taken")
def domain_taken():
    got = domain_available(SUBDOMAIN)
    assert got.is_subdomain_available is False, got.as_dict()
    assert got.reason, got.as_dict()


@step("another account with the same customSubDomainName: 409 CustomDomainInUse")
def domain_in_use():
    body = foundry_body()
    expect_error("second account, same subdomain",
                 lambda: ctx.cs.accounts.begin_create(RG, OTHER, body).result(), 409, "CustomDomainInUse")
    assert gone(lambda: ctx.cs.accounts.get(RG, OTHER)), f"{OTHER} was created anyway"


@step("accounts.get")
def get_account():
    a = ctx.cs.accounts.get(RG, ACCOUNT)
    check_foundry(a)
    assert a.identity.principal_id == ctx.principal, a.identity


@step("accounts.list_by_resource_group and accounts.list")
def list_accounts():
    by_group = [a.id.lower() for a in ctx.cs.accounts.list_by_resource_group(RG)]
    assert by_group == [account_id(ACCOUNT).lower()], by_group
    by_sub = [a.id.lower() for a in ctx.cs.accounts.list()]
    assert account_id(ACCOUNT).lower() in by_sub, by_sub


@step("accounts.list_keys: two keys, never in a GET")
def list_keys():
    keys = ctx.cs.accounts.list_keys(RG, ACCOUNT)
    assert keys.key1 and keys.key2 and keys.key1 != keys.key2, keys.as_dict()
    ctx.keys = (keys.key1, keys.key2)
    raw = ctx.cs.accounts.get(RG, ACCOUNT, cls=lambda resp, *_: resp.http_response.text())
    listed = json.dumps([a.as_dict() for a in ctx.cs.accounts.list_by_resource_group(RG)])
    for k in ctx.keys:
        assert k not in raw and k not in listed, "a key shows in GET / list"


@step("accounts.regenerate_key(Key2): key2 changes, key1 stays")
def regenerate_key():
    old1, old2 = ctx.keys
    keys = ctx.cs.accounts.regenerate_key(RG, ACCOUNT, key_name="Key2")
    assert keys.key1 == old1, "key1 changed"
    assert keys.key2 and keys.key2 != old2, "key2 did not change"
    again = ctx.cs.accounts.list_keys(RG, ACCOUNT)
    assert (again.key1, again.key2) == (keys.key1, keys.key2), again.as_dict()
    ctx.keys = (keys.key1, keys.key2)


def project_body(display):
    return Project(
        location=LOCATION,
        identity=Identity(type="SystemAssigned"),
        properties=ProjectProperties(display_name=display, description=f"{display} made by the SDK test"),
    )


@step("projects.begin_create: the first project is the account's defaultProject")
def create_project():
    p = timed_lro("project create", ctx.cs.projects.begin_create(RG, ACCOUNT, PROJECT, project_body("SDK project")))
    assert p is not None, "LRO returned no body"
    assert p.name == PROJECT and same_id(p.id, f"{account_id(ACCOUNT)}/projects/{PROJECT}"), p.id
    assert (p.type or "").lower() == f"{ACCOUNT_TYPE}/projects".lower(), p.type
    assert p.properties.provisioning_state == "Succeeded", p.as_dict()
    assert p.properties.display_name == "SDK project", p.as_dict()
    assert p.properties.is_default is True, p.as_dict()
    assert p.properties.endpoints, p.as_dict()
    assert p.identity is not None and p.identity.type == "SystemAssigned", p.identity
    uuid.UUID(p.identity.principal_id)
    a = ctx.cs.accounts.get(RG, ACCOUNT)
    # defaultProject and associatedProjects hold project names.
    assert a.properties.default_project == PROJECT, a.properties.as_dict()
    assert PROJECT in (a.properties.associated_projects or []), a.properties.as_dict()


@step("projects.begin_create: a second project is not the default")
def create_project2():
    p = timed_lro("project 2 create", ctx.cs.projects.begin_create(RG, ACCOUNT, PROJECT2, project_body("second")))
    assert p.properties.provisioning_state == "Succeeded", p.as_dict()
    assert p.properties.is_default is False, p.as_dict()
    a = ctx.cs.accounts.get(RG, ACCOUNT)
    assert a.properties.default_project == PROJECT, a.properties.as_dict()
    assert {PROJECT, PROJECT2} <= set(a.properties.associated_projects or []), a.properties.as_dict()


@step("projects.get and projects.list")
def get_list_projects():
    p = ctx.cs.projects.get(RG, ACCOUNT, PROJECT)
    assert p.name == PROJECT and p.properties.is_default is True, p.as_dict()
    assert p.properties.description == "SDK project made by the SDK test", p.as_dict()
    names = sorted(x.name for x in ctx.cs.projects.list(RG, ACCOUNT))
    assert names == sorted([PROJECT, PROJECT2]), names


@step("an account without allowProjectManagement: no projects; disableLocalAuth: no keys")
def plain_account():
    body = Account(kind="AIServices", sku=Sku(name="S0"), location=LOCATION,
                   properties=AccountProperties(allow_project_management=False, disable_local_auth=True))
    a = timed_lro("plain account create", ctx.cs.accounts.begin_create(RG, PLAIN, body))
    assert a.properties.provisioning_state == "Succeeded", a.as_dict()
    assert a.properties.allow_project_management is not True, a.properties.as_dict()
    assert a.properties.disable_local_auth is True, a.properties.as_dict()
    # Azure does not document this code; any 4xx ARM error with a message will do.
    expect_error("project on an account without allowProjectManagement",
                 lambda: ctx.cs.projects.begin_create(RG, PLAIN, PROJECT, project_body("x")).result(), (400, 409))
    assert gone(lambda: ctx.cs.projects.get(RG, PLAIN, PROJECT)), "the project was created anyway"
    # Azure: 400 {"code": "BadRequest", "message": "Failed to list key. disableLocalAuth is set to be true"}
    expect_error("listKeys with disableLocalAuth", lambda: ctx.cs.accounts.list_keys(RG, PLAIN), 400, "BadRequest")


@step("accounts.begin_delete: soft delete; the account and its projects are gone")
def delete_account():
    timed_lro("account delete", ctx.cs.accounts.begin_delete(RG, ACCOUNT))
    assert gone(lambda: ctx.cs.accounts.get(RG, ACCOUNT)), "the account is still there"
    assert gone(lambda: ctx.cs.projects.get(RG, ACCOUNT, PROJECT)), "its project is still there"
    by_group = [a.name for a in ctx.cs.accounts.list_by_resource_group(RG)]
    assert by_group == [PLAIN], by_group


@step("deleted_accounts.get and deleted_accounts.list")
def deleted_accounts():
    d = ctx.cs.deleted_accounts.get(LOCATION, RG, ACCOUNT)
    assert d.name == ACCOUNT and d.kind == "AIServices", d.as_dict()
    assert d.id.lower().endswith(f"/deletedaccounts/{ACCOUNT}".lower()), d.id
    assert d.properties.custom_sub_domain_name == SUBDOMAIN, d.properties.as_dict()
    # Only set on a deleted account (AccountProperties docs): when it went and when it goes for good.
    assert d.properties.deletion_date and d.properties.scheduled_purge_date, d.properties.as_dict()
    names = [x.name for x in ctx.cs.deleted_accounts.list()]
    assert ACCOUNT in names and PLAIN not in names, names


@step("a soft-deleted account keeps its subdomain: CustomDomainInUse, and the check says taken")
def deleted_keeps_domain():
    assert domain_available(SUBDOMAIN).is_subdomain_available is False
    body = foundry_body()
    expect_error("new name, subdomain of the deleted account",
                 lambda: ctx.cs.accounts.begin_create(RG, OTHER, body).result(), 409, "CustomDomainInUse")


@step("PUT of the soft-deleted name without restore: 409 FlagMustBeSetForRestore")
def flag_must_be_set():
    body = foundry_body()
    expect_error("same name, no restore",
                 lambda: ctx.cs.accounts.begin_create(RG, ACCOUNT, body).result(), 409, "FlagMustBeSetForRestore")
    assert gone(lambda: ctx.cs.accounts.get(RG, ACCOUNT)), "the account came back without restore"


@step("accounts.begin_create with properties.restore = true: back with its keys and projects")
def restore():
    # What `az cognitiveservices account recover` sends: location and restore, nothing else.
    body = Account(location=LOCATION, properties=AccountProperties(restore=True))
    a = timed_lro("account restore", ctx.cs.accounts.begin_create(RG, ACCOUNT, body))
    assert a is not None, "LRO returned no body"
    check_foundry(a)
    got = ctx.cs.accounts.list_keys(RG, ACCOUNT)
    assert (got.key1, got.key2) == ctx.keys, "the keys changed across delete / restore"
    names = sorted(x.name for x in ctx.cs.projects.list(RG, ACCOUNT))
    assert names == sorted([PROJECT, PROJECT2]), names
    assert ctx.cs.accounts.get(RG, ACCOUNT).properties.default_project == PROJECT
    assert gone(lambda: ctx.cs.deleted_accounts.get(LOCATION, RG, ACCOUNT)), "still listed as deleted"


@step("deleted_accounts.begin_purge: gone for good, the subdomain is free again")
def purge():
    for name in (ACCOUNT, PLAIN):
        timed_lro(f"{name} delete", ctx.cs.accounts.begin_delete(RG, name))
        timed_lro(f"{name} purge", ctx.cs.deleted_accounts.begin_purge(LOCATION, RG, name))
        assert gone(lambda: ctx.cs.deleted_accounts.get(LOCATION, RG, name)), f"{name} still soft-deleted"
    names = [x.name for x in ctx.cs.deleted_accounts.list()]
    assert ACCOUNT not in names and PLAIN not in names, names
    assert domain_available(SUBDOMAIN).is_subdomain_available is True


@step("delete the resource group")
def delete_rg():
    timed_lro("resource group delete", ctx.rm.resource_groups.begin_delete(RG))
    assert ctx.rm.resource_groups.check_existence(RG) is False


def main():
    return run(f"azure-mgmt-cognitiveservices test against {KILN_URL}")


if __name__ == "__main__":
    sys.exit(main())
