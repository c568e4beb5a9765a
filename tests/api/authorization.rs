//! Role-based access: the enforcement matrix, the role assignment and definition APIs, list
//! filtering, conditions with checkAccess, and propagation across replicas.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{RG_API, TestApp, WS_API, error_code, eventually, roles};
use kiln::authz::roles::{RoleDefinition, built_in_named};

pub const AUTHZ_API: &str = "2022-04-01";

pub fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn role_id(app: &TestApp, role: &str) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        app.subscription
    )
}

pub fn assignment_path(scope: &str, name: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={AUTHZ_API}"
    )
}

/// Assigns a role as the bootstrap administrator (the subscription's Owner).
pub async fn assign(
    app: &TestApp,
    principal: &str,
    role: &str,
    scope: &str,
    condition: Option<&str>,
) -> Value {
    let mut properties = json!({"roleDefinitionId": role_id(app, role), "principalId": principal, "principalType": "User"});
    if let Some(condition) = condition {
        properties["condition"] = json!(condition);
        properties["conditionVersion"] = json!("2.0");
    }
    let res = app
        .put(
            &assignment_path(scope, &guid()),
            &json!({"properties": properties}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "assign: {body}");
    body
}

/// A resource group with a hub and a project of that hub.
struct Tree {
    sub: String,
    rg: String,
    hub: String,
    project: String,
    account: String,
}

async fn tree(app: &TestApp, group: &str) -> Tree {
    app.create_group(group).await;
    let hub = app.hub(group, &format!("{group}-hub")).await;
    let project = app
        .create_workspace(
            group,
            &format!("{group}-proj"),
            json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub["id"]}}),
        )
        .await;
    Tree {
        sub: format!("/subscriptions/{}", app.subscription),
        rg: app.group_path(group),
        hub: hub["id"].as_str().unwrap().to_owned(),
        project: project["id"].as_str().unwrap().to_owned(),
        account: hub["properties"]["storageAccount"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// One request of the matrix: what it asks, where, and what it answers when allowed (it is
/// built to change nothing: stale If-Match, invalid bodies, absent names).
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
    if_match: bool,
    action: &'static str,
    /// The scopes whose assignments reach the target, nearest first.
    walk: Vec<String>,
    allowed: StatusCode,
}

fn probes(app: &TestApp, t: &Tree) -> Vec<Probe> {
    let ws = |id: &str| format!("{id}?api-version={WS_API}");
    let hub_walk = vec![t.hub.clone(), t.rg.clone(), t.sub.clone()];
    let project_walk = vec![
        t.project.clone(),
        t.hub.clone(),
        t.rg.clone(),
        t.sub.clone(),
    ];
    let rg_walk = vec![t.rg.clone(), t.sub.clone()];
    let hub_body = json!({"location": "eastus", "kind": "Hub", "properties": {}});
    let project_body =
        json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": t.hub}});
    let probe = |method: Method,
                 path: String,
                 body: Option<Value>,
                 if_match: bool,
                 action: &'static str,
                 walk: &Vec<String>,
                 allowed: StatusCode| Probe {
        method,
        path,
        body,
        if_match,
        action,
        walk: walk.clone(),
        allowed,
    };
    const WS_READ: &str = "Microsoft.MachineLearningServices/workspaces/read";
    const WS_WRITE: &str = "Microsoft.MachineLearningServices/workspaces/write";
    const WS_DELETE: &str = "Microsoft.MachineLearningServices/workspaces/delete";
    vec![
        probe(
            Method::GET,
            ws(&t.hub),
            None,
            false,
            WS_READ,
            &hub_walk,
            StatusCode::OK,
        ),
        probe(
            Method::GET,
            ws(&t.project),
            None,
            false,
            WS_READ,
            &project_walk,
            StatusCode::OK,
        ),
        probe(
            Method::PUT,
            ws(&t.hub),
            Some(hub_body.clone()),
            true,
            WS_WRITE,
            &hub_walk,
            StatusCode::PRECONDITION_FAILED,
        ),
        probe(
            Method::PUT,
            ws(&t.project),
            Some(project_body),
            true,
            WS_WRITE,
            &project_walk,
            StatusCode::PRECONDITION_FAILED,
        ),
        probe(
            Method::PATCH,
            ws(&t.hub),
            Some(json!({"tags": {"a": "b"}})),
            true,
            WS_WRITE,
            &hub_walk,
            StatusCode::PRECONDITION_FAILED,
        ),
        probe(
            Method::DELETE,
            ws(&t.hub),
            None,
            true,
            WS_DELETE,
            &hub_walk,
            StatusCode::PRECONDITION_FAILED,
        ),
        probe(
            Method::DELETE,
            ws(&t.project),
            None,
            true,
            WS_DELETE,
            &project_walk,
            StatusCode::PRECONDITION_FAILED,
        ),
        probe(
            Method::GET,
            format!(
                "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
                t.rg
            ),
            None,
            false,
            WS_READ,
            &rg_walk,
            StatusCode::OK,
        ),
        probe(
            Method::GET,
            format!("{}?api-version={RG_API}", t.rg),
            None,
            false,
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            &rg_walk,
            StatusCode::OK,
        ),
        probe(
            Method::PUT,
            format!("{}?api-version={RG_API}", t.rg),
            Some(json!({"location": "eastus"})),
            true,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            &rg_walk,
            StatusCode::PRECONDITION_FAILED,
        ),
        probe(
            Method::GET,
            format!("{}?api-version=2022-12-01", t.sub),
            None,
            false,
            "Microsoft.Resources/subscriptions/read",
            &vec![t.sub.clone()],
            StatusCode::OK,
        ),
        probe(
            Method::POST,
            format!(
                "{}/providers/Microsoft.MachineLearningServices/register?api-version=2021-04-01",
                t.sub
            ),
            None,
            false,
            "Microsoft.MachineLearningServices/register/action",
            &vec![t.sub.clone()],
            StatusCode::OK,
        ),
        probe(
            Method::GET,
            format!("{}?api-version=2023-05-01", t.account),
            None,
            false,
            "Microsoft.Storage/storageAccounts/read",
            &vec![t.account.clone(), t.rg.clone(), t.sub.clone()],
            StatusCode::OK,
        ),
        probe(
            Method::GET,
            format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ_API}",
                t.hub
            ),
            None,
            false,
            "Microsoft.Authorization/roleAssignments/read",
            &hub_walk,
            StatusCode::OK,
        ),
        probe(
            Method::PUT,
            assignment_path(&t.hub, &guid()),
            Some(
                json!({"properties": {"roleDefinitionId": role_id(app, roles::READER), "principalId": "not-a-guid"}}),
            ),
            false,
            "Microsoft.Authorization/roleAssignments/write",
            &hub_walk,
            StatusCode::BAD_REQUEST,
        ),
        probe(
            Method::DELETE,
            assignment_path(&t.project, &guid()),
            None,
            false,
            "Microsoft.Authorization/roleAssignments/delete",
            &project_walk,
            StatusCode::NO_CONTENT,
        ),
        probe(
            Method::GET,
            format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions?api-version={AUTHZ_API}",
                t.rg
            ),
            None,
            false,
            "Microsoft.Authorization/roleDefinitions/read",
            &rg_walk,
            StatusCode::OK,
        ),
    ]
}

const BUILT_INS: [&str; 9] = [
    "Owner",
    "Contributor",
    "Reader",
    "User Access Administrator",
    "Azure AI Administrator",
    "Azure AI Developer",
    "Azure AI Inference Deployment Operator",
    "Storage Blob Data Contributor",
    "Storage Blob Data Reader",
];

/// Whether the list probe answers 200: read at the group or above, or read on something in
/// it (the list is then filtered).
fn expected(role: Option<&RoleDefinition>, level: Option<&str>, probe: &Probe, t: &Tree) -> bool {
    let (Some(role), Some(level)) = (role, level) else {
        return false;
    };
    if !role.grants(probe.action, false) {
        return false;
    }
    let reaches = probe.walk.iter().any(|s| s.eq_ignore_ascii_case(level));
    // A list, and a subscription, are readable with a reading role on something in them.
    let target = probe.walk[0].to_lowercase();
    let below_target = level.to_lowercase().starts_with(&format!("{target}/"));
    let reads_inside = (probe.path.contains("/workspaces?")
        || (probe.method == Method::GET && probe.walk.len() == 1))
        && below_target;
    let _ = t;
    reaches || reads_inside
}

async fn matrix(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rgm").await;
    let probes = probes(&app, &t);
    let levels: Vec<(&str, Option<String>)> = vec![
        ("subscription", Some(t.sub.clone())),
        ("resource group", Some(t.rg.clone())),
        ("hub", Some(t.hub.clone())),
        ("project", Some(t.project.clone())),
        ("none", None),
    ];
    let mut checked = 0;
    let mut allowed_cells = 0;
    for role_name in BUILT_INS {
        let role = built_in_named(role_name).unwrap_or_else(|| panic!("{role_name} ships"));
        for (level_name, level) in &levels {
            let principal = guid();
            if let Some(scope) = level {
                assign(&app, &principal, &role.name, scope, None).await;
            }
            let token = app.token_for(&principal, &app.tenant);
            for probe in &probes {
                let mut req = app
                    .client
                    .request(probe.method.clone(), app.url(&probe.path))
                    .bearer_auth(&token);
                if probe.if_match {
                    req = req.header("if-match", "\"stale\"");
                }
                if let Some(body) = &probe.body {
                    req = req.json(body);
                }
                let res = req.send().await.unwrap();
                let allow = expected(Some(role), level.as_deref(), probe, &t);
                let want = if allow {
                    probe.allowed
                } else {
                    StatusCode::FORBIDDEN
                };
                let status = res.status();
                let body = res.text().await.unwrap_or_default();
                assert_eq!(
                    status, want,
                    "{role_name} at {level_name}: {} {} ({}) → {body}",
                    probe.method, probe.path, probe.action
                );
                if !allow {
                    let error: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(error["error"]["code"], "AuthorizationFailed", "{body}");
                    let message = error["error"]["message"].as_str().unwrap();
                    assert!(
                        message.contains(&principal) && message.contains(probe.action),
                        "{message}"
                    );
                }
                checked += 1;
                allowed_cells += usize::from(allow);
            }
        }
    }
    assert_eq!(checked, BUILT_INS.len() * 5 * probes.len());
    // The matrix is not trivially one-sided.
    assert!(
        allowed_cells > checked / 5 && allowed_cells < checked * 4 / 5,
        "{allowed_cells} of {checked}"
    );
}

async fn reader_reads_and_cannot_write_or_delete(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rgr").await;
    let reader = guid();
    assign(&app, &reader, roles::READER, &t.sub, None).await;
    let token = app.token_for(&reader, &app.tenant);
    let url = format!("{}?api-version={WS_API}", t.hub);
    let get = app.send_as(&token, Method::GET, &url, None).await;
    assert_eq!(get.status(), StatusCode::OK);
    let put = app
        .send_as(
            &token,
            Method::PUT,
            &url,
            Some(&json!({"location": "eastus", "kind": "Hub", "properties": {}})),
        )
        .await;
    assert_eq!(
        error_code(put, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let delete = app.send_as(&token, Method::DELETE, &url, None).await;
    assert_eq!(
        error_code(delete, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    // Still there.
    assert_eq!(app.get(&url).await.status(), StatusCode::OK);
}

async fn role_assignment_api(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rga").await;
    let principal = guid();
    let name = guid();
    let reader = role_id(&app, roles::READER);
    let body = json!({"properties": {"roleDefinitionId": reader, "principalId": principal, "principalType": "Group", "description": "first"}});
    let res = app.put(&assignment_path(&t.hub, &name), &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["name"], name);
    assert_eq!(created["type"], "Microsoft.Authorization/roleAssignments");
    assert_eq!(
        created["id"],
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
            t.hub
        )
    );
    assert_eq!(created["properties"]["scope"], t.hub);
    assert_eq!(created["properties"]["principalType"], "Group");
    assert_eq!(created["properties"]["createdBy"], app.admin);
    // Replace: 200.
    let mut replaced = body.clone();
    replaced["properties"]["description"] = json!("second");
    let res = app.put(&assignment_path(&t.hub, &name), &replaced).await;
    assert_eq!(res.status(), StatusCode::OK);
    let got: Value = app.get_ok(&assignment_path(&t.hub, &name)).await;
    assert_eq!(got["properties"]["description"], "second");
    // The same triple under another name.
    let res = app.put(&assignment_path(&t.hub, &guid()), &body).await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "RoleAssignmentExists"
    );
    // Changing the principal or the scope of an existing one.
    let mut other = body.clone();
    other["properties"]["principalId"] = json!(guid());
    let res = app.put(&assignment_path(&t.hub, &name), &other).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "RoleAssignmentUpdateNotPermitted"
    );
    let res = app.put(&assignment_path(&t.rg, &name), &body).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "RoleAssignmentUpdateNotPermitted"
    );
    // Validation.
    for (bad, code) in [
        (
            json!({"properties": {"roleDefinitionId": role_id(&app, &guid()), "principalId": guid()}}),
            "RoleDefinitionDoesNotExist",
        ),
        (
            json!({"properties": {"roleDefinitionId": reader, "principalId": "nope"}}),
            "InvalidPrincipalId",
        ),
        (
            json!({"properties": {"roleDefinitionId": reader, "principalId": guid(), "principalType": "Robot"}}),
            "InvalidPrincipalType",
        ),
        (
            json!({"properties": {"roleDefinitionId": reader, "principalId": guid(), "condition": "@Resource[x] StringEquals 'a'", "conditionVersion": "1.0"}}),
            "InvalidConditionVersion",
        ),
        (
            json!({"properties": {"roleDefinitionId": reader, "principalId": guid(), "condition": "(@Resource[x] StringEqualz 'a')", "conditionVersion": "2.0"}}),
            "InvalidCondition",
        ),
        (json!({"nope": 1}), "InvalidRequestContent"),
    ] {
        let res = app.put(&assignment_path(&t.hub, &guid()), &bad).await;
        assert_eq!(
            error_code(res, StatusCode::BAD_REQUEST).await,
            code,
            "{bad}"
        );
    }
    let res = app
        .put(
            &assignment_path(&t.hub, &guid()),
            &json!({"properties": {"roleDefinitionId": reader, "principalId": guid(), "condition": "(@Resource[x] StringEqualz 'a')"}}),
        )
        .await;
    let error: Value = res.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("position 14"),
        "{error}"
    );
    let res = app.put(&assignment_path(&t.hub, "not-a-guid"), &body).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRoleAssignmentId"
    );
    let res = app
        .put(
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2021-01-01",
                t.hub,
                guid()
            ),
            &body,
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidApiVersionParameter"
    );
    let res = app
        .put(
            &assignment_path(&format!("{}/resourceGroups/absent", t.sub), &guid()),
            &body,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Lists: at the project, atScope() shows what applies there (the hub's, the creator's at
    // the subscription), not what sits below.
    let project_assignment = assign(&app, &principal, roles::CONTRIBUTOR, &t.project, None).await;
    let list = |scope: String, filter: String| {
        let app = &app;
        async move {
            let url = format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ_API}{filter}"
            );
            let body = app.get_ok(&url).await;
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let at_project = list(t.project.clone(), "&$filter=atScope()".into()).await;
    assert!(
        at_project.contains(&name)
            && at_project.contains(&project_assignment["name"].as_str().unwrap().to_owned())
    );
    assert!(
        at_project.contains(&app.subscription.to_lowercase()),
        "the creator's Owner: {at_project:?}"
    );
    let at_rg = list(t.rg.clone(), "&$filter=atScope()".into()).await;
    assert!(
        !at_rg.contains(&name),
        "the hub's assignment is below the group"
    );
    let below_rg = list(t.rg.clone(), String::new()).await;
    assert!(below_rg.contains(&name));
    let of_principal = list(
        t.sub.clone(),
        format!("&$filter=principalId eq '{principal}'"),
    )
    .await;
    assert_eq!(of_principal.len(), 2, "{of_principal:?}");
    let res = app
        .get(&format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ_API}&$filter=bogus", t.sub))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidFilter"
    );

    // Delete: 200 with the body, then 204; the access is gone at once.
    let res = app.delete(&assignment_path(&t.hub, &name)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let gone: Value = res.json().await.unwrap();
    assert_eq!(gone["name"], name);
    assert_eq!(
        app.delete(&assignment_path(&t.hub, &name)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&assignment_path(&t.hub, &name)).await.status(),
        StatusCode::NOT_FOUND
    );

    // A Reader may read assignments but not write them; a User Access Administrator may.
    let reader_principal = guid();
    assign(&app, &reader_principal, roles::READER, &t.rg, None).await;
    let token = app.token_for(&reader_principal, &app.tenant);
    let res = app
        .send_as(
            &token,
            Method::PUT,
            &assignment_path(&t.hub, &guid()),
            Some(&json!({"properties": {"roleDefinitionId": reader, "principalId": guid()}})),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let uaa = guid();
    assign(&app, &uaa, roles::USER_ACCESS_ADMINISTRATOR, &t.rg, None).await;
    let token = app.token_for(&uaa, &app.tenant);
    let res = app
        .send_as(
            &token,
            Method::PUT,
            &assignment_path(&t.hub, &guid()),
            Some(&json!({"properties": {"roleDefinitionId": reader, "principalId": guid()}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn lists_show_only_what_the_caller_may_read(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let a = tree(&app, "rgl").await;
    let other_hub = app.hub("rgl", "rgl-hub2").await;
    let principal = guid();
    assign(&app, &principal, roles::READER, &a.hub, None).await;
    let token = app.token_for(&principal, &app.tenant);
    let names = |res: Value| {
        let mut n: Vec<String> = res["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let url = format!(
        "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
        a.rg
    );
    let res = app.send_as(&token, Method::GET, &url, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The hub, and its project through the hub; not the other hub.
    assert_eq!(
        names(res.json().await.unwrap()),
        vec!["rgl-hub", "rgl-proj"]
    );
    let admin_view: Value = app.get_ok(&url).await;
    assert_eq!(names(admin_view).len(), 3);
    assert!(other_hub["name"] == "rgl-hub2");
    // A project of the hub in another group is listed there too (reached through its hub),
    // beside a hub of that group the caller may not read.
    app.create_group("rgl-far").await;
    app.create_workspace(
        "rgl-far",
        "far-proj",
        json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": a.hub}}),
    )
    .await;
    app.hub("rgl-far", "far-hub").await;
    let far = format!(
        "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
        app.group_path("rgl-far")
    );
    let res = app.send_as(&token, Method::GET, &far, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(names(res.json().await.unwrap()), vec!["far-proj"]);
    // The generic resources list filters the same way (storage accounts and vaults are not
    // reached from the hub).
    let res = app
        .send_as(
            &token,
            Method::GET,
            &format!("{}/resources?api-version={RG_API}", a.rg),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let listed = names(res.json().await.unwrap());
    assert!(
        listed.contains(&"rgl-hub".to_owned()) && !listed.contains(&"rgl-hub2".to_owned()),
        "{listed:?}"
    );
    // Subscriptions: the caller sees the one it has an assignment in; a stranger sees none
    // and may list nothing in the group.
    let subs: Value = app
        .send_as(
            &token,
            Method::GET,
            "/subscriptions?api-version=2022-12-01",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subs["value"].as_array().unwrap().len(), 1);
    let stranger = app.token_for(&guid(), &app.tenant);
    let subs: Value = app
        .send_as(
            &stranger,
            Method::GET,
            "/subscriptions?api-version=2022-12-01",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subs["value"].as_array().unwrap().len(), 0);
    let res = app.send_as(&stranger, Method::GET, &url, None).await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
}

async fn custom_roles_with_wildcards(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rgc").await;
    let role = guid();
    let path = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions/{role}?api-version={AUTHZ_API}",
        t.sub
    );
    let definition = json!({"properties": {
        "roleName": "Workspace child reader",
        "description": "reads what is under workspaces",
        "permissions": [{"actions": ["microsoft.machinelearningservices/workspaces/*/READ"], "notActions": [], "dataActions": [], "notDataActions": []}],
        "assignableScopes": [t.sub]
    }});
    let res = app.put(&path, &definition).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["properties"]["type"], "CustomRole");
    // Filter by name; built-ins are read-only.
    let list: Value = app.get_ok(&format!("{}/providers/Microsoft.Authorization/roleDefinitions?api-version={AUTHZ_API}&$filter=roleName eq 'Workspace child reader'", t.rg)).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let list: Value = app.get_ok(&format!("{}/providers/Microsoft.Authorization/roleDefinitions?api-version={AUTHZ_API}&$filter=roleName eq 'Reader'", t.sub)).await;
    assert_eq!(list["value"][0]["name"], roles::READER);
    assert_eq!(
        list["value"][0]["properties"]["permissions"][0]["actions"],
        json!(["*/read"])
    );
    let res = app
        .put(
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions/{}?api-version={AUTHZ_API}",
                t.sub,
                roles::READER
            ),
            &definition,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let mut same_name = definition.clone();
    same_name["properties"]["roleName"] = json!("workspace CHILD reader");
    let res = app
        .put(
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions/{}?api-version={AUTHZ_API}",
                t.sub,
                guid()
            ),
            &same_name,
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "RoleDefinitionWithSameNameExists"
    );
    // `workspaces/*/read` matches reads of child types, not of the workspace itself.
    let principal = guid();
    let assignment = assign(&app, &principal, &role, &t.rg, None).await;
    let token = app.token_for(&principal, &app.tenant);
    let res = app
        .send_as(
            &token,
            Method::GET,
            &format!("{}?api-version={WS_API}", t.hub),
            None,
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let res = app
        .send_as(
            &token,
            Method::POST,
            "/providers/Microsoft.Authorization/checkAccess?api-version=2022-04-01",
            Some(&json!({
                "subject": {"attributes": {"objectId": principal}},
                "actions": [
                    {"id": "Microsoft.MachineLearningServices/workspaces/connections/read"},
                    {"id": "Microsoft.MachineLearningServices/workspaces/read"},
                    {"id": "Microsoft.MachineLearningServices/workspaces/connections/write"}
                ],
                "resource": {"id": format!("{}/connections/c1", t.hub)}
            })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let decisions: Value = res.json().await.unwrap();
    let verdicts: Vec<&str> = decisions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["accessDecision"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, vec!["Allowed", "NotAllowed", "NotAllowed"]);
    // A role still assigned cannot go; then it can, and the access with it.
    let res = app.delete(&path).await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "RoleDefinitionHasAssignments"
    );
    let scope = assignment["properties"]["scope"].as_str().unwrap();
    assert_eq!(
        app.delete(&assignment_path(
            scope,
            assignment["name"].as_str().unwrap()
        ))
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(app.delete(&path).await.status(), StatusCode::OK);
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
}

/// checkAccess for a storage container on behalf of a principal.
async fn container_access(
    app: &TestApp,
    token: &str,
    principal: &str,
    container: &str,
) -> (StatusCode, Value) {
    let res = app
        .send_as(token, Method::POST, "/providers/Microsoft.Authorization/checkAccess?api-version=2022-04-01", Some(&json!({
            "Subject": {"Attributes": {"ObjectId": principal}},
            "Actions": [
                {"Id": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", "IsDataAction": true},
                {"Id": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", "IsDataAction": true}
            ],
            "Resource": {"Id": container}
        })))
        .await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn projects_reach_only_their_own_containers(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rgp").await;
    let sibling = app
        .create_workspace("rgp", "rgp-proj2", json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": t.hub}}))
        .await;
    let project: Value = app
        .get_ok(&format!("{}?api-version={WS_API}", t.project))
        .await;
    let identity = project["identity"]["principalId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = project["properties"]["workspaceId"].as_str().unwrap();
    let theirs = sibling["properties"]["workspaceId"].as_str().unwrap();
    let container = |ws: &str| {
        format!(
            "{}/blobServices/default/containers/{ws}-blobstore",
            t.account
        )
    };
    // The provisioner wrote the conditioned assignment: visible in the account's list.
    let list: Value = app.get_ok(&format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ_API}&$filter=principalId eq '{identity}'", t.account)).await;
    let assignment = &list["value"][0];
    assert_eq!(
        assignment["properties"]["conditionVersion"], "2.0",
        "{list}"
    );
    assert!(
        assignment["properties"]["condition"]
            .as_str()
            .unwrap()
            .contains(mine)
    );
    assert!(
        assignment["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with(roles::STORAGE_BLOB_DATA_CONTRIBUTOR)
    );
    // The admin (Owner: may ask about anyone) asks; the replica may need one poll to see
    // the worker's write.
    let own = eventually(
        "the project's identity to be allowed its own container",
        Duration::from_secs(3),
        || async {
            let (status, body) =
                container_access(&app, &app.token, &identity, &container(mine)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["value"][0]["accessDecision"] == "Allowed" {
                Ok(body)
            } else {
                Err(body)
            }
        },
    )
    .await;
    assert_eq!(own["value"][1]["accessDecision"], "Allowed", "{own}");
    let (_, other) = container_access(&app, &app.token, &identity, &container(theirs)).await;
    assert_eq!(other["value"][0]["accessDecision"], "NotAllowed", "{other}");
    assert_eq!(other["value"][1]["accessDecision"], "NotAllowed", "{other}");
    // Asking about oneself needs nothing; asking about another needs checkAccess/action.
    let own_token = app.token_for(&identity, &app.tenant);
    let (status, body) = container_access(&app, &own_token, &identity, &container(mine)).await;
    assert_eq!(
        (status, body["value"][0]["accessDecision"].clone()),
        (StatusCode::OK, json!("Allowed"))
    );
    let nosy = guid();
    assign(&app, &nosy, roles::READER, &t.sub, None).await;
    let (status, body) = container_access(
        &app,
        &app.token_for(&nosy, &app.tenant),
        &identity,
        &container(mine),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Control-plane roles never grant data actions: the Owner itself is not allowed.
    let (_, body) = container_access(&app, &app.token, &app.admin, &container(mine)).await;
    assert_eq!(body["value"][0]["accessDecision"], "NotAllowed", "{body}");
}

/// A condition on an assignment the API wrote, evaluated with request attributes.
async fn conditions_see_request_attributes(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rgx").await;
    let principal = guid();
    assign(
        &app,
        &principal,
        roles::STORAGE_BLOB_DATA_READER,
        &t.account,
        Some("((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags:Project<$key_case_sensitive$>] StringEquals 'alpha'))"),
    )
    .await;
    let ask = |tags: Value| {
        let app = &app;
        let principal = principal.clone();
        let container = format!("{}/blobServices/default/containers/c1", t.account);
        async move {
            let res = app
                .send_as(&app.token, Method::POST, "/providers/Microsoft.Authorization/checkAccess?api-version=2022-04-01", Some(&json!({
                    "subject": {"attributes": {"objectId": principal}},
                    "actions": [{"id": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", "isDataAction": true}],
                    "resource": {"id": container, "attributes": tags}
                })))
                .await;
            let body: Value = res.json().await.unwrap();
            body["value"][0]["accessDecision"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(ask(json!({"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags:Project<$key_case_sensitive$>": "alpha"})).await, "Allowed");
    assert_eq!(ask(json!({"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/tags:Project<$key_case_sensitive$>": "beta"})).await, "NotAllowed");
    assert_eq!(ask(json!({})).await, "NotAllowed");
}

async fn two_replicas_share_one_policy() {
    let database = crate::helpers::postgres_database().await;
    let a = TestApp::spawn_with_database(&database).await;
    let b = TestApp::spawn_with_database(&database).await;
    let t = tree(&a, "rgrep").await;
    let principal = guid();
    let token = b.token_for(&principal, &b.tenant);
    let url = format!("{}?api-version={WS_API}", t.hub);
    assert_eq!(
        b.send_as(&token, Method::GET, &url, None).await.status(),
        StatusCode::FORBIDDEN
    );
    let assignment = assign(&a, &principal, roles::READER, &t.rg, None).await;
    let b_answers = |wanted: StatusCode| {
        let (b, token, url) = (&b, &token, &url);
        move || async move { b.send_as(token, Method::GET, url, None).await.status() == wanted }
    };
    let started = Instant::now();
    eventually(
        "replica B to enforce the new assignment",
        Duration::from_secs(1),
        b_answers(StatusCode::OK),
    )
    .await;
    let granted_after = started.elapsed();
    let path = assignment_path(&t.rg, assignment["name"].as_str().unwrap());
    assert_eq!(a.delete(&path).await.status(), StatusCode::OK);
    let started = Instant::now();
    eventually(
        "replica B to drop the deleted assignment",
        Duration::from_secs(1),
        b_answers(StatusCode::FORBIDDEN),
    )
    .await;
    eprintln!(
        "replica B: granted after {granted_after:?}, revoked after {:?}",
        started.elapsed()
    );
}

/// What an independent review found: escalations through roles of other scopes, delegation
/// conditions, assignments outliving their resources, hubs joined without rights, and
/// checkAccess trusting the body about oneself.
async fn escalations_are_refused(backend: crate::helpers::Backend) {
    let app = TestApp::spawn(backend).await;
    let t = tree(&app, "rge").await;
    // Mallory owns another subscription.
    let res = app
        .send(
            Method::POST,
            "/admin/subscriptions",
            Some(&json!({"displayName": "mallory's"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let other: Value = res.json().await.unwrap();
    let other_sub = format!(
        "/subscriptions/{}",
        other["subscriptionId"].as_str().unwrap()
    );
    let mallory = guid();
    assign(&app, &mallory, roles::OWNER, &other_sub, None).await;
    let as_mallory = app.token_for(&mallory, &app.tenant);
    // A custom role of the victim's subscription, assigned to Mallory there with nothing much.
    let role = guid();
    let narrow = json!({"properties": {"roleName": "narrow", "permissions": [{"actions": ["Microsoft.Resources/subscriptions/read"]}], "assignableScopes": [t.sub]}});
    let victim_role = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions/{role}?api-version={AUTHZ_API}",
        t.sub
    );
    assert_eq!(
        app.put(&victim_role, &narrow).await.status(),
        StatusCode::CREATED
    );
    assign(&app, &mallory, &role, &t.sub, None).await;
    // Rewriting or deleting it through her own subscription does not work.
    let widened = json!({"properties": {"roleName": "narrow", "permissions": [{"actions": ["*"]}], "assignableScopes": [other_sub]}});
    let through_own = format!(
        "{other_sub}/providers/Microsoft.Authorization/roleDefinitions/{role}?api-version={AUTHZ_API}"
    );
    let res = app
        .send_as(&as_mallory, Method::PUT, &through_own, Some(&widened))
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "RoleDefinitionWithSameIdExists"
    );
    let res = app
        .send_as(&as_mallory, Method::DELETE, &through_own, None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let still: Value = app.get_ok(&victim_role).await;
    assert_eq!(
        still["properties"]["permissions"][0]["actions"],
        json!(["Microsoft.Resources/subscriptions/read"])
    );
    // Offering a new role at the victim's subscription needs rights there.
    let offered = json!({"properties": {"roleName": "offered", "permissions": [{"actions": ["*/read"]}], "assignableScopes": [other_sub, t.sub]}});
    let res = app
        .send_as(&as_mallory, Method::PUT, &format!("{other_sub}/providers/Microsoft.Authorization/roleDefinitions/{}?api-version={AUTHZ_API}", guid()), Some(&offered))
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    // A custom role is assignable only within its assignable scopes.
    let res = app
        .send_as(&as_mallory, Method::PUT, &assignment_path(&other_sub, &guid()), Some(&json!({"properties": {"roleDefinitionId": role_id(&app, &role), "principalId": guid()}})))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "RoleDefinitionDoesNotExist"
    );

    // Delegation: a User Access Administrator who may assign any role but Owner.
    let delegate = guid();
    assign(
        &app,
        &delegate,
        roles::USER_ACCESS_ADMINISTRATOR,
        &t.rg,
        Some(&format!("((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {{{}}}))", roles::OWNER)),
    )
    .await;
    let as_delegate = app.token_for(&delegate, &app.tenant);
    let give = |role: &str| json!({"properties": {"roleDefinitionId": role_id(&app, role), "principalId": delegate}});
    let res = app
        .send_as(
            &as_delegate,
            Method::PUT,
            &assignment_path(&t.rg, &guid()),
            Some(&give(roles::OWNER)),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let res = app
        .send_as(
            &as_delegate,
            Method::PUT,
            &assignment_path(&t.rg, &guid()),
            Some(&give(roles::READER)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Assignments go with their resource: a group re-created under the same name has none.
    let tenant_reader = guid();
    app.create_group("rg-gone").await;
    assign(
        &app,
        &tenant_reader,
        roles::READER,
        &app.group_path("rg-gone"),
        None,
    )
    .await;
    let res = app
        .delete(&format!(
            "{}?api-version={RG_API}",
            app.group_path("rg-gone")
        ))
        .await;
    assert!(res.status().is_success());
    if let Some(location) = res.headers().get("location") {
        app.poll_location(location.to_str().unwrap()).await;
    }
    app.create_group("rg-gone").await;
    // The worker removed the assignment with the group; replicas see the new policy version
    // within their poll interval, as for any change made elsewhere.
    let as_reader = app.token_for(&tenant_reader, &app.tenant);
    let refused = eventually(
        "the deleted group's assignment to stop granting access",
        Duration::from_secs(1),
        || async {
            let res = app
                .send_as(
                    &as_reader,
                    Method::GET,
                    &format!("{}?api-version={RG_API}", app.group_path("rg-gone")),
                    None,
                )
                .await;
            (res.status() == StatusCode::FORBIDDEN).then_some(res)
        },
    )
    .await;
    assert_eq!(
        error_code(refused, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );

    // A project may join only a hub its creator has rights on: a Contributor of one group
    // cannot bind a project to (or learn about) a hub in another.
    app.create_group("rge-b").await;
    let contributor = guid();
    assign(
        &app,
        &contributor,
        roles::CONTRIBUTOR,
        &app.group_path("rge-b"),
        None,
    )
    .await;
    let as_contributor = app.token_for(&contributor, &app.tenant);
    let project =
        json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": t.hub}});
    let res = app
        .send_as(
            &as_contributor,
            Method::PUT,
            &app.workspace_url("rge-b", "squatter"),
            Some(&project),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let absent_hub = json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": format!("{}/providers/Microsoft.MachineLearningServices/workspaces/nohub", t.rg)}});
    let res = app
        .send_as(
            &as_contributor,
            Method::PUT,
            &app.workspace_url("rge-b", "squatter"),
            Some(&absent_hub),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed",
        "no existence leak"
    );

    // checkAccess about oneself takes the groups from the token, not from the body.
    let group = guid();
    assign(
        &app,
        &group,
        roles::STORAGE_BLOB_DATA_CONTRIBUTOR,
        &t.account,
        None,
    )
    .await;
    let loner = guid();
    let res = app
        .send_as(&app.token_for(&loner, &app.tenant), Method::POST, "/providers/Microsoft.Authorization/checkAccess?api-version=2022-04-01", Some(&json!({
            "subject": {"attributes": {"objectId": loner, "groups": [group]}},
            "actions": [{"id": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", "isDataAction": true}],
            "resource": {"id": format!("{}/blobServices/default/containers/c", t.account)}
        })))
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["value"][0]["accessDecision"], "NotAllowed", "{body}");
}

both_backends!(
    matrix,
    reader_reads_and_cannot_write_or_delete,
    role_assignment_api,
    lists_show_only_what_the_caller_may_read,
    custom_roles_with_wildcards,
    projects_reach_only_their_own_containers,
    conditions_see_request_attributes,
    escalations_are_refused,
    a_subscription_holds_at_most_4000_assignments,
);

/// Azure's fixed limit: 4,000 assignments in a subscription, counting its groups and
/// resources. The 4,000th is made; the next is `400 RoleAssignmentLimitExceeded`.
async fn a_subscription_holds_at_most_4000_assignments(backend: crate::helpers::Backend) {
    use kiln::store::role_assignment;
    use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
    let app = TestApp::spawn(backend).await;
    let held = role_assignment::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    let sub_key = format!("/subscriptions/{}", app.subscription).to_lowercase();
    // Written straight to the table: 4,000 PUTs would make this test about speed.
    let filler: Vec<role_assignment::ActiveModel> = (held..3999)
        .map(|i| {
            let name = uuid::Uuid::new_v4().to_string();
            let scope = format!("{sub_key}/resourcegroups/rg-{}", i % 7);
            role_assignment::ActiveModel {
                name_key: Set(name.clone()),
                id: Set(format!(
                    "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
                )),
                scope_key: Set(scope.clone()),
                scope: Set(scope),
                role_definition_key: Set(roles::READER.to_owned()),
                role_definition_id: Set(format!(
                    "{sub_key}/providers/Microsoft.Authorization/roleDefinitions/{}",
                    roles::READER
                )),
                principal_id: Set(uuid::Uuid::new_v4().to_string()),
                principal_type: Set("User".to_owned()),
                condition_version: Set(None),
                condition: Set(None),
                description: Set(None),
                created_on: Set(0),
                updated_on: Set(0),
                created_by: Set("test".to_owned()),
                updated_by: Set("test".to_owned()),
            }
        })
        .collect();
    for chunk in filler.chunks(500) {
        role_assignment::Entity::insert_many(chunk.to_vec())
            .exec(&app.db)
            .await
            .unwrap();
    }
    let app = &app;
    let put = |principal: String| {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
            app.subscription,
            uuid::Uuid::new_v4()
        );
        let body = json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}", app.subscription, roles::READER),
            "principalId": principal,
        }});
        async move { app.put(&path, &body).await }
    };
    let last = put(uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(last.status(), StatusCode::CREATED, "the 4,000th");
    let over = put(uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(
        error_code(over, StatusCode::BAD_REQUEST).await,
        "RoleAssignmentLimitExceeded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_is_enforced_by_another_within_a_second() {
    two_replicas_share_one_policy().await;
}
