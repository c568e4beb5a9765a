//! The security review's findings (issue 11), each reproduced: races as bounded hammers, limits
//! as the requests that used to cost seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::authorization::{AUTHZ_API, assign, assignment_path, guid};
use crate::both_backends;
use crate::helpers::roles;
use crate::helpers::{Backend, RG_API, TestApp, WS_API, assert_refused, error_code};
use crate::type_contract::finish;

both_backends!(
    a_project_cannot_join_a_hub_its_creator_may_not_touch_even_racing_a_delete,
    assignments_written_while_their_group_is_deleted_do_not_survive_it,
    resource_ids_are_bounded_before_anything_is_looked_up,
    what_conditions_are_evaluated_against_is_bounded,
);

const CHECK_ACCESS: &str = "/providers/Microsoft.Authorization/checkAccess?api-version=2022-04-01";

/// A checkAccess for `subject` on `resource` with `actions` actions, as `token`.
async fn check_access(
    app: &TestApp,
    token: &str,
    subject: &str,
    resource: &str,
    actions: usize,
) -> reqwest::Response {
    let body = check_access_body(subject, resource, actions);
    app.send_as(token, Method::POST, CHECK_ACCESS, Some(&body))
        .await
}

fn check_access_body(subject: &str, resource: &str, actions: usize) -> Value {
    let actions: Vec<Value> = (0..actions)
        .map(|i| json!({"Id": format!("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read{i}"), "IsDataAction": true}))
        .collect();
    json!({"Subject": {"Attributes": {"ObjectId": subject}}, "Actions": actions, "Resource": {"Id": resource}})
}

fn project_body(hub: &str) -> Value {
    json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub}})
}

/// Finding 1: the join check was decided from a read before the write's transaction, so a
/// create racing the delete of the same name skipped it.
async fn a_project_cannot_join_a_hub_its_creator_may_not_touch_even_racing_a_delete(
    backend: Backend,
) {
    let app = Arc::new(TestApp::spawn(backend).await);
    app.create_group("rg1").await;
    let foreign_hub = app.hub("rg1", "hub1").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_group("rg2").await;
    let owner = guid();
    assign(&app, &owner, roles::OWNER, &app.group_path("rg2"), None).await;
    let token = Arc::new(app.token_for(&owner, &app.tenant));
    let hub2 = format!("{}?api-version={WS_API}", app.workspace_path("rg2", "hub2"));
    let res = app
        .send_as(
            &token,
            Method::PUT,
            &hub2,
            Some(&json!({"location": "eastus", "kind": "Hub"})),
        )
        .await;
    assert_eq!(finish(&app, &res).await, "Succeeded");
    let own_hub = app.workspace_path("rg2", "hub2");
    let project = format!("{}?api-version={WS_API}", app.workspace_path("rg2", "proj"));
    for cycle in 0..6 {
        let res = app
            .send_as(&token, Method::PUT, &project, Some(&project_body(&own_hub)))
            .await;
        assert!(res.status().is_success(), "cycle {cycle}: {}", res.status());
        assert_eq!(finish(&app, &res).await, "Succeeded");
        let deleted = app.send_as(&token, Method::DELETE, &project, None).await;
        assert_eq!(deleted.status(), StatusCode::ACCEPTED);
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let (app, token, project) = (app.clone(), token.clone(), project.clone());
                let body = project_body(&foreign_hub);
                tokio::spawn(async move {
                    let res = app
                        .send_as(&token, Method::PUT, &project, Some(&body))
                        .await;
                    let status = res.status();
                    if status.is_success() {
                        finish(&app, &res).await;
                    }
                    status
                })
            })
            .collect();
        for racer in racers {
            let status = racer.await.unwrap();
            assert!(
                !status.is_success(),
                "cycle {cycle}: a PUT naming a hub the caller may not join answered {status}"
            );
            assert!(status.is_client_error(), "{status}");
        }
        finish(&app, &deleted).await;
        let (status, body) = app.get_json(&project).await;
        if status == StatusCode::OK {
            assert_ne!(body["properties"]["hubResourceId"], foreign_hub.as_str());
        }
    }
    // The foreign hub never gained a project.
    let list: Value = app
        .get_ok(&format!(
            "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
            app.group_path("rg2")
        ))
        .await;
    for workspace in list["value"].as_array().unwrap() {
        assert_ne!(
            workspace["properties"]["hubResourceId"],
            foreign_hub.as_str()
        );
    }
}

/// Finding 2: a role assignment PUT checked its scope before its transaction, so one written
/// while the group's delete cascaded survived into a group created later under that name.
async fn assignments_written_while_their_group_is_deleted_do_not_survive_it(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let group = app.group_path("doomed");
    let group_url = format!("{group}?api-version={RG_API}");
    for cycle in 0..5 {
        app.create_group("doomed").await;
        // A few resources make the cascade take a moment.
        for i in 0..3 {
            app.hub("doomed", &format!("hub{i}")).await;
        }
        let owner = guid();
        assign(&app, &owner, roles::OWNER, &group, None).await;
        let token = app.token_for(&owner, &app.tenant);
        let done = Arc::new(AtomicBool::new(false));
        // The group's Owner and the subscription's write at once; the Owner loses its right
        // with the cascade, the subscription's Owner keeps it to the end.
        let tokens = [
            token,
            app.token.clone(),
            app.token.clone(),
            app.token.clone(),
        ];
        let writers: Vec<_> = tokens.into_iter().map(|token| {
            let (app, done, group) = (app.clone(), done.clone(), group.clone());
            tokio::spawn(async move {
                let mut created = 0;
                while !done.load(Ordering::SeqCst) {
                    let body = json!({"properties": {
                        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}", app.subscription, roles::OWNER),
                        "principalId": guid(),
                    }});
                    let res = app
                        .send_as(
                            &token,
                            Method::PUT,
                            &assignment_path(&group, &guid()),
                            Some(&body),
                        )
                        .await;
                    let status = res.status();
                    assert!(
                        status == StatusCode::CREATED || status.is_client_error(),
                        "an assignment PUT answered {status}"
                    );
                    if status == StatusCode::CONFLICT {
                        let body: Value = res.json().await.unwrap();
                        assert_eq!(body["error"]["code"], "ResourceGroupBeingDeleted", "{body}");
                    }
                    created += u32::from(status == StatusCode::CREATED);
                }
                created
            })
        }).collect();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let res = app.delete(&group_url).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(finish(&app, &res).await, "Succeeded");
        done.store(true, Ordering::SeqCst);
        let mut created = 0;
        for writer in writers {
            created += writer.await.unwrap();
        }
        assert!(
            created > 0,
            "cycle {cycle}: the hammer wrote nothing before the delete"
        );
        // Created again under the same name, the group inherits nothing.
        app.create_group("doomed").await;
        let list: Value = app.get_ok(&format!("{group}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ_API}&$filter=atScope()")).await;
        let at_group: Vec<&str> = list["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| {
                a["properties"]["scope"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&group))
            })
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert!(
            at_group.is_empty(),
            "cycle {cycle}: assignments survived their group: {at_group:?}"
        );
        let res = app.delete(&group_url).await;
        finish(&app, &res).await;
    }
}

/// Finding 3: a checkAccess on an id 2,000 levels deep with 50 actions took 43 s of CPU (one
/// query per level, per action), from a principal with no role at all.
async fn resource_ids_are_bounded_before_anything_is_looked_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let nobody = guid();
    let token = app.token_for(&nobody, &app.tenant);
    let account = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/st1",
        app.group_path("rg")
    );
    let deep = format!("{account}{}", "/blobServices/default".repeat(2000));
    let res = check_access(&app, &token, &nobody, &deep, 50).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidResourceId"
    );
    // Twelve levels is the most; ids of any depth up to it are decided, once per request.
    let twelve = format!("{account}{}", "/blobServices/default".repeat(11));
    let res = check_access(&app, &token, &nobody, &twelve, 50).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 50);
    assert!(
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["accessDecision"] == "NotAllowed")
    );
    // Types of namespaces Kiln does not serve are refused before any lookup.
    let foreign = format!("{}/providers/Contoso.Nope/things/a", app.group_path("rg"));
    for (case, id, code) in [
        (
            "thirteen levels",
            format!("{twelve}/blobServices/default"),
            "InvalidResourceId",
        ),
        (
            "a 2,100-character name",
            format!("{account}/blobServices/{}", "x".repeat(2100)),
            "InvalidResourceId",
        ),
        (
            "a namespace Kiln does not serve",
            foreign.clone(),
            "InvalidResourceNamespace",
        ),
    ] {
        let res = check_access(&app, &token, &nobody, &id, 1).await;
        assert_refused(case, res, StatusCode::BAD_REQUEST, code).await;
    }
    // Role-assignment routes at such scopes answer at once, before authorization: a scope
    // too deep is not one, and a 42 KB path is refused at the edge.
    let thirteen = format!("{twelve}/blobServices/default");
    for method in [Method::GET, Method::PUT] {
        let body = json!({"properties": {}});
        let res = app
            .send_as(
                &token,
                method.clone(),
                &assignment_path(&thirteen, &guid()),
                Some(&body),
            )
            .await;
        assert_eq!(
            error_code(res, StatusCode::BAD_REQUEST).await,
            "InvalidScope",
            "{method}"
        );
        let res = app
            .send_as(
                &token,
                method.clone(),
                &assignment_path(&deep, &guid()),
                Some(&body),
            )
            .await;
        assert_eq!(
            error_code(res, StatusCode::URI_TOO_LONG).await,
            "RequestUriTooLong",
            "{method}"
        );
        let res = app
            .send_as(
                &token,
                method.clone(),
                &assignment_path(&foreign, &guid()),
                Some(&body),
            )
            .await;
        assert_eq!(
            error_code(res, StatusCode::NOT_FOUND).await,
            "InvalidResourceNamespace"
        );
    }
}

/// Finding 4: an 8 KB StringLike pattern in a condition met a 200 KB attribute from checkAccess:
/// 15 s a call. Attributes are capped, and the evaluator has a budget that fails closed.
async fn what_conditions_are_evaluated_against_is_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let reader = guid();
    let pattern = "*a".repeat(4000) + "b";
    let condition =
        format!("@Resource[Microsoft.Storage/storageAccounts:tag] StringLike '{pattern}'");
    assign(
        &app,
        &reader,
        roles::STORAGE_BLOB_DATA_READER,
        &app.group_path("rg"),
        Some(&condition),
    )
    .await;
    let container = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/st1/blobServices/default/containers/c1",
        app.group_path("rg")
    );
    let mut body = check_access_body(&reader, &container, 1);
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (case, action, resource) in [
        (
            "a 200 KB resource attribute",
            json!({}),
            json!({"Microsoft.Storage/storageAccounts:tag": "a".repeat(200_000)}),
        ),
        ("65 resource attributes", json!({}), Value::Object(many)),
        (
            "an action attribute of 65 values",
            json!({"x": vec!["v"; 65]}),
            json!({}),
        ),
    ] {
        body["Actions"][0]["Attributes"] = action;
        body["Resource"]["Attributes"] = resource;
        let res = app.send(Method::POST, CHECK_ACCESS, Some(&body)).await;
        assert_refused(case, res, StatusCode::BAD_REQUEST, "InvalidRequestContent").await;
    }
    // Within the caps the worst case of this pattern is cut off by the budget: not allowed.
    body["Actions"][0]["Attributes"] = json!({});
    body["Resource"]["Attributes"] =
        json!({"Microsoft.Storage/storageAccounts:tag": "a".repeat(1024)});
    let res = app.send(Method::POST, CHECK_ACCESS, Some(&body)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let decision: Value = res.json().await.unwrap();
    assert_eq!(decision["value"][0]["accessDecision"], "NotAllowed");
}
