//! The sharing matrix: what a hub's connections look like from its projects, what a project's
//! own connections look like from its sibling, and which roles may read secrets.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{connection_path, hub_and_project, list_secrets_as, put_connection, with_api};
use crate::both_backends;
use crate::helpers::{Backend, TestApp, error_code, roles};

async fn names(app: &TestApp, token: &str, workspace: &str) -> Vec<(String, String)> {
    let path = with_api(&format!(
        "{}/connections",
        app.workspace_path("rg", workspace)
    ));
    let res = app.send_as(token, Method::GET, &path, None).await;
    assert_eq!(res.status(), StatusCode::OK, "list of {workspace}");
    let body: Value = res.json().await.unwrap();
    let mut out: Vec<(String, String)> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let owner = c["properties"]["createdByWorkspaceArmId"].as_str().unwrap();
            assert!(
                c["id"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .starts_with(&owner.to_lowercase()),
                "the id is under its owner: {c}"
            );
            let owner_name = owner.rsplit('/').next().unwrap().to_owned();
            (c["name"].as_str().unwrap().to_owned(), owner_name)
        })
        .collect();
    out.sort();
    out
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    out.sort();
    out
}

async fn assign_at(app: &TestApp, principal: &str, role: &str, scope: &str) {
    let path = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    );
    let body = json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", app.subscription),
        "principalId": principal, "principalType": "User"}});
    assert_eq!(app.put(&path, &body).await.status(), StatusCode::CREATED);
}

/// A new principal with Contributor on one project of "rg"; its token.
async fn project_contributor(app: &TestApp, project: &str) -> String {
    let user = uuid::Uuid::new_v4().to_string();
    let scope = app.workspace_path("rg", project);
    assign_at(app, &user, roles::CONTRIBUTOR, &scope).await;
    app.token_for(&user, &app.tenant)
}

/// `properties` with the members of `more` added.
fn merged(mut properties: Value, more: Value) -> Value {
    if let (Some(map), Value::Object(more)) = (properties.as_object_mut(), more) {
        map.extend(more);
    }
    properties
}

async fn sharing_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (hub_id, p1_id) = hub_and_project(&app, "rg", "hub", "prj1").await;
    let p2 = app
        .create_workspace("rg", "prj2", json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub_id}}))
        .await;
    let p2_workspace_id = p2["properties"]["workspaceId"].as_str().unwrap().to_owned();
    let friend = uuid::Uuid::new_v4().to_string();
    let key = |name: &str| json!({"key": format!("secret-{name}")});
    let hub_conn = |name: &str| connection_path(&app, "rg", "hub", name);
    for (name, sharing) in [
        ("all", json!({"isSharedToAll": true})),
        ("only-p1", json!({"sharedUserList": [p1_id.to_uppercase()]})),
        ("p2-by-guid", json!({"sharedUserList": [p2_workspace_id]})),
        ("for-friend", json!({"sharedUserList": [friend]})),
        ("private", json!({})),
    ] {
        let properties =
            json!({"authType": "ApiKey", "category": "AzureOpenAI", "credentials": key(name)});
        put_connection(&app, &hub_conn(name), merged(properties, sharing)).await;
    }
    for project in ["prj1", "prj2"] {
        let name = format!("{project}-own");
        put_connection(
            &app,
            &connection_path(&app, "rg", project, &name),
            json!({"authType": "ApiKey", "category": "CognitiveSearch", "credentials": key(&name), "isSharedToAll": true}),
        )
        .await;
    }

    // Lists: own connections plus the hub's shared with the project, each with its owner.
    let admin = app.token.clone();
    assert_eq!(
        names(&app, &admin, "prj1").await,
        pairs(&[("prj1-own", "prj1"), ("all", "hub"), ("only-p1", "hub")])
    );
    assert_eq!(
        names(&app, &admin, "prj2").await,
        pairs(&[("prj2-own", "prj2"), ("all", "hub"), ("p2-by-guid", "hub")])
    );
    assert_eq!(
        names(&app, &admin, "hub").await,
        pairs(&[
            ("all", "hub"),
            ("only-p1", "hub"),
            ("p2-by-guid", "hub"),
            ("for-friend", "hub"),
            ("private", "hub")
        ])
    );
    let filtered: Value = app
        .get_ok(&format!(
            "{}&category=CognitiveSearch",
            with_api(&format!("{}/connections", app.workspace_path("rg", "prj1")))
        ))
        .await;
    assert_eq!(filtered["value"].as_array().unwrap().len(), 1);

    // GET through a project falls back to the hub's shared connection, with its real id.
    let through_p1 = |name: &str| connection_path(&app, "rg", "prj1", name);
    let got: Value = app.get_ok(&with_api(&through_p1("all"))).await;
    assert_eq!(
        got["id"].as_str().unwrap().to_lowercase(),
        hub_conn("all").to_lowercase()
    );
    let res = list_secrets_as(&app, &admin, &through_p1("only-p1")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let revealed: Value = res.json().await.unwrap();
    assert_eq!(
        revealed["properties"]["credentials"]["key"],
        "secret-only-p1"
    );
    for hidden in ["private", "p2-by-guid", "for-friend", "prj2-own"] {
        let res = app.get(&with_api(&through_p1(hidden))).await;
        assert_eq!(
            error_code(res, StatusCode::NOT_FOUND).await,
            "ResourceNotFound",
            "{hidden} from p1"
        );
        let res = list_secrets_as(&app, &admin, &through_p1(hidden)).await;
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "secrets of {hidden} from p1"
        );
    }

    // Shared connections are read-only from the project.
    let res = app
        .put(
            &with_api(&through_p1("all")),
            &json!({"properties": {"authType": "None"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "SharedConnectionReadOnly"
    );
    let res = app
        .patch(
            &with_api(&through_p1("all")),
            &json!({"properties": {"target": "https://x"}}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "SharedConnectionReadOnly"
    );
    let res = app.delete(&with_api(&through_p1("all"))).await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "SharedConnectionReadOnly"
    );
    let res = list_secrets_as(&app, &admin, &hub_conn("all")).await;
    let still: Value = res.json().await.unwrap();
    assert_eq!(still["properties"]["authType"], "ApiKey");
    assert_eq!(still["properties"]["credentials"]["key"], "secret-all");
    // A project may name its own connection after a hub connection it does not see.
    put_connection(&app, &through_p1("private"), json!({"authType": "None"})).await;

    // Roles: a Reader sees connections but not their keys; a Contributor gets the keys.
    let reader = uuid::Uuid::new_v4().to_string();
    app.grant(&reader, roles::READER).await;
    let as_reader = app.token_for(&reader, &app.tenant);
    let res = app
        .send_as(&as_reader, Method::GET, &with_api(&through_p1("all")), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = list_secrets_as(&app, &as_reader, &through_p1("all")).await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let contributor = uuid::Uuid::new_v4().to_string();
    app.grant(&contributor, roles::CONTRIBUTOR).await;
    let as_contributor = app.token_for(&contributor, &app.tenant);
    let res = list_secrets_as(&app, &as_contributor, &hub_conn("private")).await;
    assert_eq!(res.status(), StatusCode::OK);

    // A principal named in sharedUserList reaches the connection from any project.
    app.grant(&friend, roles::READER).await;
    let as_friend = app.token_for(&friend, &app.tenant);
    assert_eq!(
        names(&app, &as_friend, "prj2").await,
        pairs(&[
            ("prj2-own", "prj2"),
            ("all", "hub"),
            ("p2-by-guid", "hub"),
            ("for-friend", "hub")
        ])
    );

    // A project's Contributor: its project's secrets and the shared ones, nobody else's.
    let as_p1 = project_contributor(&app, "prj1").await;
    for (path, status) in [
        (through_p1("prj1-own"), StatusCode::OK),
        (through_p1("all"), StatusCode::OK),
        (through_p1("prj2-own"), StatusCode::NOT_FOUND),
        (
            connection_path(&app, "rg", "prj2", "prj2-own"),
            StatusCode::FORBIDDEN,
        ),
        (hub_conn("all"), StatusCode::FORBIDDEN),
        (hub_conn("private"), StatusCode::FORBIDDEN),
    ] {
        let res = list_secrets_as(&app, &as_p1, &path).await;
        assert_eq!(
            res.status(),
            status,
            "listsecrets {path} as p1's contributor"
        );
    }
    let res = app
        .send_as(
            &as_p1,
            Method::GET,
            &with_api(&format!("{}/connections", app.workspace_path("rg", "prj2"))),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// `sharedUserList` names a project by its full id or workspaceId: a bare name would reach
/// every project of that name under the hub, in any group. Read through a project, a hub
/// connection does not show whom else it is shared with.
async fn sharing_names_one_project(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (hub_id, p1_id) = hub_and_project(&app, "rg", "hub", "prj1").await;
    app.create_group("rg2").await;
    app.create_workspace(
        "rg2",
        "prj1",
        json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub_id}}),
    )
    .await;
    let hub_conn = |name: &str| connection_path(&app, "rg", "hub", name);
    let shared_list = json!([p1_id.to_uppercase(), "someone-else"]);
    for (name, list) in [("by-name", json!(["prj1"])), ("by-id", shared_list.clone())] {
        put_connection(
            &app,
            &hub_conn(name),
            json!({"authType": "ApiKey", "credentials": {"key": "k"}, "sharedUserList": list}),
        )
        .await;
    }
    let in_rg = |name: &str| connection_path(&app, "rg", "prj1", name);
    let in_rg2 = |name: &str| connection_path(&app, "rg2", "prj1", name);
    for (path, status) in [
        (in_rg("by-name"), StatusCode::NOT_FOUND),
        (in_rg2("by-name"), StatusCode::NOT_FOUND),
        (in_rg2("by-id"), StatusCode::NOT_FOUND),
        (in_rg("by-id"), StatusCode::OK),
    ] {
        let res = app.get(&with_api(&path)).await;
        assert_eq!(res.status(), status, "GET {path}");
        let res = list_secrets_as(&app, &app.token, &path).await;
        assert_eq!(res.status(), status, "listsecrets {path}");
    }
    let list = with_api(&format!(
        "{}/connections",
        app.workspace_path("rg2", "prj1")
    ));
    let body: Value = app.get_ok(&list).await;
    assert_eq!(body["value"], json!([]), "nothing reaches the other prj1");

    // Through the project: no sharedUserList (other projects' ids, principals).
    let through: Value = app.get_ok(&with_api(&in_rg("by-id"))).await;
    assert!(
        through["properties"].get("sharedUserList").is_none(),
        "{through}"
    );
    let revealed: Value = list_secrets_as(&app, &app.token, &in_rg("by-id"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        revealed["properties"].get("sharedUserList").is_none(),
        "{revealed}"
    );
    assert_eq!(revealed["properties"]["credentials"]["key"], "k");
    let list = with_api(&format!("{}/connections", app.workspace_path("rg", "prj1")));
    let body: Value = app.get_ok(&list).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    assert!(
        body["value"][0]["properties"]
            .get("sharedUserList")
            .is_none(),
        "{body}"
    );
    // Where it belongs, it does.
    let own: Value = app.get_ok(&with_api(&hub_conn("by-id"))).await;
    assert_eq!(own["properties"]["sharedUserList"], shared_list);
}

/// A project connection may not take the name of a hub connection shared with anyone: the
/// project's own would hide the hub's from whoever it is shared with, whoever writes it.
async fn shared_hub_names_cannot_be_shadowed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    hub_and_project(&app, "rg", "hub", "prj1").await;
    let friend = uuid::Uuid::new_v4().to_string();
    for (name, sharing) in [
        ("for-friend", json!({"sharedUserList": [friend]})),
        ("for-all", json!({"isSharedToAll": true})),
        ("empty-list", json!({"sharedUserList": []})),
        ("private", json!({"isSharedToAll": false})),
    ] {
        let properties = json!({"authType": "ApiKey", "credentials": {"key": "k"}});
        let path = connection_path(&app, "rg", "hub", name);
        put_connection(&app, &path, merged(properties, sharing)).await;
    }
    let as_p1 = project_contributor(&app, "prj1").await;
    let body = json!({"properties": {"authType": "ApiKey", "target": "https://attacker.example", "credentials": {"key": "x"}}});
    for token in [&as_p1, &app.token] {
        let path = with_api(&connection_path(&app, "rg", "prj1", "For-Friend"));
        let res = app.send_as(token, Method::PUT, &path, Some(&body)).await;
        assert_eq!(
            error_code(res, StatusCode::CONFLICT).await,
            "ConnectionNameSharedByHub"
        );
    }
    // One the caller sees is read-only, as before.
    let path = with_api(&connection_path(&app, "rg", "prj1", "for-all"));
    let res = app.send_as(&as_p1, Method::PUT, &path, Some(&body)).await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "SharedConnectionReadOnly"
    );
    for name in ["empty-list", "private"] {
        let path = with_api(&connection_path(&app, "rg", "prj1", name));
        let res = app.send_as(&as_p1, Method::PUT, &path, Some(&body)).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
    }
}

both_backends!(
    sharing_matrix,
    sharing_names_one_project,
    shared_hub_names_cannot_be_shadowed
);
