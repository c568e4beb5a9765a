"""azure-mgmt-cognitiveservices 15.0.0b6 (api-version 2026-09-15-preview) against kiln:
an account, a model deployment, the SDK's own deployments.pause / resume, the
catalog and usages, and the delete.

  KILN_URL=https://127.0.0.1:8443 KILN_TOKEN=... KILN_CA=.../cert.pem python test_cognitive_preview.py
"""

import os
import sys

from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices import models as m

from sdk_common import Ctx, StaticTokenCredential, client_kwargs, gone, open_group, run, step, timed_lro

KILN_URL = os.environ["KILN_URL"].rstrip("/")
RG, ACCOUNT, DEPLOYMENT = "sdk-preview-rg", "sdkpreview", "chat"
PREVIEW_API = "2026-09-15-preview"

ctx = Ctx()
ctx.cred = StaticTokenCredential(os.environ["KILN_TOKEN"])
ctx.client_kwargs = client_kwargs(KILN_URL, os.environ["KILN_CA"])


@step(f"the client sends {PREVIEW_API}; an account is created with it")
def create_account():
    open_group(ctx, RG, "eastus")
    ctx.cs = CognitiveServicesManagementClient(ctx.cred, ctx.sub, **ctx.client_kwargs)
    assert ctx.cs._config.api_version == PREVIEW_API, ctx.cs._config.api_version
    acct = timed_lro("account create", ctx.cs.accounts.begin_create(RG, ACCOUNT, m.Account(
        location="eastus", kind="AIServices", sku=m.Sku(name="S0"),
        properties=m.AccountProperties(custom_sub_domain_name="kiln-sdk-preview"))))
    assert acct.properties.provisioning_state == "Succeeded", acct.as_dict()


@step("deployments.begin_create_or_update / list: gpt-4o-mini Standard, Running")
def create_deployment():
    d = timed_lro("deployment create", ctx.cs.deployments.begin_create_or_update(RG, ACCOUNT, DEPLOYMENT, m.Deployment(
        sku=m.Sku(name="Standard", capacity=5),
        properties=m.DeploymentProperties(model=m.DeploymentModel(
            format="OpenAI", name="gpt-4o-mini", version="2024-07-18")))))
    assert d.properties.provisioning_state == "Succeeded", d.as_dict()
    assert d.properties.deployment_state == "Running", d.as_dict()
    assert [x.name for x in ctx.cs.deployments.list(RG, ACCOUNT)] == [DEPLOYMENT]


@step("deployments.pause / resume: deploymentState Paused, then Running")
def pause_and_resume():
    paused = ctx.cs.deployments.pause(RG, ACCOUNT, DEPLOYMENT)
    assert paused.properties.deployment_state == "Paused", paused.as_dict()
    assert ctx.cs.deployments.get(RG, ACCOUNT, DEPLOYMENT).properties.deployment_state == "Paused"
    resumed = ctx.cs.deployments.resume(RG, ACCOUNT, DEPLOYMENT)
    assert resumed.properties.deployment_state == "Running", resumed.as_dict()


@step("accounts.list_models and usages.list at the preview version")
def catalog_and_usages():
    models = [x.name for x in ctx.cs.accounts.list_models(RG, ACCOUNT)]
    assert "gpt-4o-mini" in models, models
    usage = [u for u in ctx.cs.usages.list("eastus") if u.name.value.lower() == "openai.standard.gpt-4o-mini"]
    assert len(usage) == 1 and int(usage[0].current_value) == 5, [u.as_dict() for u in usage]


@step("deployments.begin_delete, delete the resource group")
def cleanup():
    timed_lro("deployment delete", ctx.cs.deployments.begin_delete(RG, ACCOUNT, DEPLOYMENT))
    assert gone(lambda: ctx.cs.deployments.get(RG, ACCOUNT, DEPLOYMENT))
    timed_lro("resource group delete", ctx.rm.resource_groups.begin_delete(RG))


if __name__ == "__main__":
    sys.exit(run(f"azure-mgmt-cognitiveservices 15.0.0b6 test against {KILN_URL}"))
