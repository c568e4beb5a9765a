//! Workspaces: the async lifecycle, PATCH, lists, and the hub/project rules.

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    Backend, OPERATION_WAIT, Options, TestApp, WS_API, assert_refused, error_code, eventually,
};
use kiln::store::{operation, outbox, resource};

both_backends!(
    put_answers_202_with_monitors_then_the_workspace,
    patch_merges_properties_and_replaces_tags,
    delete_is_async_then_404,
    lists_filter_by_kind_and_page,
    projects_belong_to_hubs,
    project_rules_are_enforced,
    writes_go_through_generation_operation_and_outbox,
    a_project_never_outlives_its_hub_under_races,
);

async fn put_answers_202_with_monitors_then_the_workspace(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("rg").await;
    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &json!({"location": "eastus", "kind": "hub"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.headers()["retry-after"], "1");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let status_url = res.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["properties"]["provisioningState"], "Creating");
    let prefix = format!(
        "{}/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/eastus/",
        app.base, app.subscription
    );
    assert!(
        location.starts_with(&format!("{prefix}operationResults/"))
            && location.ends_with(&format!("?api-version={WS_API}")),
        "{location}"
    );
    assert!(
        status_url.starts_with(&format!("{prefix}operationStatuses/")),
        "{status_url}"
    );

    // Running: the Location answers 202, the status monitor InProgress.
    assert_eq!(
        app.client
            .get(&location)
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let status: Value = app.get_absolute(&status_url).await;
    for member in ["id", "name", "status", "startTime", "percentComplete"] {
        assert!(!status[member].is_null(), "{member} in {status}");
    }
    assert_eq!(status["status"], "InProgress");
    // While running, every monitor answer says when to poll again (clients wait 30 s without).
    let res = app
        .client
        .get(&status_url)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert!(
        status["id"]
            .as_str()
            .unwrap()
            .ends_with(status["name"].as_str().unwrap())
    );

    // Only a caller who may read the subscription may read its operations.
    let stranger = app.token_for("stranger", &uuid::Uuid::new_v4().to_string());
    let res = app
        .client
        .get(&status_url)
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let res = app
        .client
        .get(status_url.replace("operationStatuses/", "operationStatuses/0"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "OperationNotFound"
    );

    // Done: the Location answers 200 with the workspace; re-PUT of the same answers 202 again.
    let done = app.poll_location(&location).await;
    assert_eq!(done.status(), StatusCode::OK);
    let body: Value = done.json().await.unwrap();
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(body["kind"], "hub");
    let status: Value = app.get_absolute(&status_url).await;
    assert_eq!(status["status"], "Succeeded");
    assert!(status["endTime"].is_string());
}

async fn patch_merges_properties_and_replaces_tags(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let url = app.workspace_url("rg", "hub1");
    app.create_workspace("rg", "hub1", json!({"location": "eastus", "kind": "Hub", "tags": {"a": "1"},
        "properties": {"friendlyName": "one", "description": "d", "managedNetwork": {"isolationMode": "Disabled", "outboundRules": {"r1": {"type": "FQDN"}}}}})).await;
    let res = app
        .patch(
            &url,
            &json!({"tags": {"b": "2"}, "properties": {"description": null, "friendlyName": "two",
        "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"}}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.poll_location(res.headers()["location"].to_str().unwrap())
        .await;
    let body: Value = app.get_ok(&url).await;
    assert_eq!(body["tags"], json!({"b": "2"}));
    let props = &body["properties"];
    assert_eq!(props["friendlyName"], "two");
    assert!(props.get("description").is_none());
    assert_eq!(
        props["managedNetwork"],
        json!({"isolationMode": "AllowOnlyApprovedOutbound", "outboundRules": {"r1": {"type": "FQDN"}}})
    );
    assert_eq!(props["provisioningState"], "Succeeded");

    // 2020-08-01's client does not poll a PATCH: it answers 200, done.
    let old = format!(
        "{}?api-version=2020-08-01",
        app.workspace_path("rg", "hub1")
    );
    let res = app
        .patch(&old, &json!({"properties": {"friendlyName": "three"}}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["properties"]["friendlyName"], "three");
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    let res = app.patch(&url, &json!({"kind": "Project"})).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "PropertyChangeNotAllowed"
    );
}

async fn delete_is_async_then_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.hub("rg", "hub1").await;
    let url = app.workspace_url("rg", "hub1");
    let res = app.delete(&url).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        app.poll_location(&location).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        error_code(app.get(&url).await, StatusCode::NOT_FOUND).await,
        "ResourceNotFound"
    );
    assert_eq!(app.delete(&url).await.status(), StatusCode::NO_CONTENT);
}

async fn lists_filter_by_kind_and_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.create_group("other").await;
    let hub = app.hub("rg", "hub-a").await;
    app.hub("other", "hub-b").await;
    for i in 0..4 {
        app.create_workspace("rg", &format!("proj-{i}"), json!({"location": "eastus", "kind": "project", "properties": {"hubResourceId": hub["id"]}})).await;
    }
    let by_group = format!(
        "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
        app.group_path("rg")
    );
    let body: Value = app.get_ok(&by_group).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 5);
    assert!(body.get("nextLink").is_none());
    let body: Value = app.get_ok(&format!("{by_group}&kind=HUB")).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);

    // Pages of 2 over the projects: nextLinks are absolute, URL-safe and keep the filter.
    let mut url = Some(app.url(&format!("{by_group}&kind=Project&$top=2")));
    let mut seen = Vec::new();
    while let Some(next) = url {
        let body: Value = app.get_absolute(&next).await;
        seen.extend(
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_owned()),
        );
        url = body["nextLink"].as_str().map(str::to_owned);
        if let Some(link) = &url {
            let token = link.split("$skipToken=").nth(1).unwrap();
            assert!(
                token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "URL-safe token {token}"
            );
            assert!(link.contains("kind=Project"));
        }
    }
    assert_eq!(seen, ["proj-0", "proj-1", "proj-2", "proj-3"]);

    let by_sub = format!(
        "/subscriptions/{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
        app.subscription
    );
    let body: Value = app.get_ok(&by_sub).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 6);
    let body: Value = app.get_ok(&format!("{by_sub}&kind=hub")).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    let res = app
        .get(&format!(
            "{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}",
            app.group_path("nope")
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );
}

async fn projects_belong_to_hubs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let storage = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/st1",
        app.group_path("rg")
    );
    let vault = format!(
        "{}/providers/Microsoft.KeyVault/vaults/kv1",
        app.group_path("rg")
    );
    let hub = app
        .create_workspace("rg", "hub1", json!({"location": "eastus", "kind": "Hub", "properties": {
            "storageAccount": storage, "keyVault": vault, "managedNetwork": {"isolationMode": "AllowInternetOutbound"}}}))
        .await;
    let hub_id = hub["id"].as_str().unwrap().to_owned();
    // The hub id may come in any casing.
    let project = app
        .create_workspace("rg", "proj1", json!({"location": "eastus", "kind": "Project", "properties": {
            "hubResourceId": hub_id.to_lowercase(), "storageAccount": "ignored", "workspaceId": "ignored-too"}}))
        .await;
    let props = &project["properties"];
    let workspace_id = props["workspaceId"].as_str().unwrap().to_owned();
    assert!(
        uuid::Uuid::parse_str(&workspace_id).is_ok(),
        "workspaceId is a GUID: {workspace_id}"
    );
    assert_eq!(props["hubResourceId"], hub_id);
    assert_eq!(props["storageAccount"], storage);
    assert_eq!(props["keyVault"], vault);
    assert_eq!(
        props["managedNetwork"]["isolationMode"],
        "AllowInternetOutbound"
    );

    let hub: Value = app.get_ok(&app.workspace_url("rg", "hub1")).await;
    assert_eq!(
        hub["properties"]["associatedWorkspaces"],
        json!([project["id"]])
    );

    // Replacing the project keeps its workspaceId, whatever the client sends.
    let res = app.put(&app.workspace_url("rg", "proj1"), &json!({"location": "eastus", "kind": "Project", "properties": {
        "hubResourceId": hub_id, "workspaceId": uuid::Uuid::new_v4().to_string(), "friendlyName": "renamed"}})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.poll_location(res.headers()["location"].to_str().unwrap())
        .await;
    let again: Value = app.get_ok(&app.workspace_url("rg", "proj1")).await;
    assert_eq!(again["properties"]["workspaceId"], workspace_id);
    assert_eq!(again["properties"]["friendlyName"], "renamed");

    // A hub with projects cannot go; without them it can.
    let res = app.delete(&app.workspace_url("rg", "hub1")).await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "HubHasProjects"
    );
    let res = app.delete(&app.workspace_url("rg", "proj1")).await;
    app.poll_location(res.headers()["location"].to_str().unwrap())
        .await;
    let hub: Value = app.get_ok(&app.workspace_url("rg", "hub1")).await;
    assert_eq!(hub["properties"]["associatedWorkspaces"], json!([]));
    assert_eq!(
        app.delete(&app.workspace_url("rg", "hub1")).await.status(),
        StatusCode::ACCEPTED
    );
}

async fn project_rules_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let hub = app.hub("rg", "hub1").await;
    let plain = app
        .create_workspace(
            "rg",
            "plain1",
            json!({"location": "eastus", "properties": {}}),
        )
        .await;
    assert_eq!(plain["kind"], "Default");
    let project =
        |props: Value| json!({"location": "eastus", "kind": "Project", "properties": props});
    let url = app.workspace_url("rg", "proj1");
    let cases = [
        (json!({}), "HubResourceIdRequired"),
        (json!({"hubResourceId": 42}), "InvalidHubResourceId"),
        (
            json!({"hubResourceId": "not-an-id"}),
            "InvalidHubResourceId",
        ),
        (
            json!({"hubResourceId": format!("{}/providers/Microsoft.Storage/storageAccounts/x", app.group_path("rg"))}),
            "InvalidHubResourceId",
        ),
        (
            json!({"hubResourceId": app.workspace_path("rg", "nohub")}),
            "HubNotFound",
        ),
        (json!({"hubResourceId": plain["id"]}), "NotAHub"),
        (
            json!({"hubResourceId": format!("/subscriptions/{}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/hub1", uuid::Uuid::new_v4())}),
            "HubInDifferentSubscription",
        ),
    ];
    for (props, code) in cases {
        let res = app.put(&url, &project(props.clone())).await;
        let case = format!("a project with {props}");
        assert_refused(&case, res, StatusCode::BAD_REQUEST, code).await;
    }
    let res = app
        .put(
            &app.workspace_url("rg", "odd1"),
            &json!({"location": "eastus", "kind": "Spaceship"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidWorkspaceKind"
    );

    // Immutable: a project's hub, a hub's kind, location and storage account once set.
    app.create_workspace("rg", "proj1", project(json!({"hubResourceId": hub["id"]})))
        .await;
    let hub2 = app.hub("rg", "hub2").await;
    let st = |n: &str| {
        format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{n}",
            app.group_path("rg")
        )
    };
    app.create_workspace(
        "rg",
        "hub3",
        json!({"location": "eastus", "kind": "Hub", "properties": {"storageAccount": st("a")}}),
    )
    .await;
    for (case, name, body, code) in [
        (
            "a project moved to another hub",
            "proj1",
            project(json!({"hubResourceId": hub2["id"]})),
            "PropertyChangeNotAllowed",
        ),
        (
            "a hub turned into a project",
            "hub1",
            json!({"location": "eastus", "kind": "Project"}),
            "PropertyChangeNotAllowed",
        ),
        (
            "a hub moved to another location",
            "hub1",
            json!({"location": "westus", "kind": "Hub"}),
            "InvalidResourceLocation",
        ),
        (
            "a hub given another storage account",
            "hub3",
            json!({"location": "eastus", "kind": "Hub", "properties": {"storageAccount": st("b")}}),
            "PropertyChangeNotAllowed",
        ),
    ] {
        let res = app.put(&app.workspace_url("rg", name), &body).await;
        assert_refused(case, res, StatusCode::BAD_REQUEST, code).await;
    }
    // Omitting it keeps it.
    let res = app
        .put(
            &app.workspace_url("rg", "hub3"),
            &json!({"location": "eastus", "kind": "Hub", "properties": {}}),
        )
        .await;
    app.poll_location(res.headers()["location"].to_str().unwrap())
        .await;
    let body: Value = app.get_ok(&app.workspace_url("rg", "hub3")).await;
    assert_eq!(body["properties"]["storageAccount"], st("a"));
}

async fn writes_go_through_generation_operation_and_outbox(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("rg").await;
    let res = app
        .put(
            &app.workspace_url("rg", "hub1"),
            &json!({"location": "eastus", "kind": "Hub"}),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let key = app.workspace_path("rg", "hub1").to_lowercase();
    let db = &app.db;
    let row = resource::Entity::find_by_id(key.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.generation,
            row.observed_generation,
            row.provisioning_state.as_str()
        ),
        (1, 0, "Creating")
    );
    let ops = operation::Entity::find()
        .filter(operation::Column::ResourceKey.eq(key.clone()))
        .all(db)
        .await
        .unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].status.as_str(), ops[0].target_generation),
        ("InProgress", 1)
    );
    let events = outbox::Entity::find()
        .filter(outbox::Column::ResourceKey.eq(key.clone()))
        .order_by_asc(outbox::Column::Seq)
        .all(db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].routing_key,
        "microsoft.machinelearningservices.workspaces.provisioningrequested"
    );
    let event = &events[0].payload;
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "Kiln.Resource.ProvisioningRequested");
    assert_eq!(event["subject"], app.workspace_path("rg", "hub1"));
    assert_eq!(event["id"], events[0].event_id);
    assert_eq!(event["data"]["operationId"], ops[0].id);
    assert_eq!(event["data"]["generation"], 1);

    app.poll_location(&location).await;
    let row = resource::Entity::find_by_id(key.clone())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.generation,
            row.observed_generation,
            row.provisioning_state.as_str()
        ),
        (1, 1, "Succeeded")
    );
    let events = outbox::Entity::find()
        .filter(outbox::Column::ResourceKey.eq(key))
        .order_by_asc(outbox::Column::Seq)
        .all(db)
        .await
        .unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "Kiln.Resource.ProvisioningRequested",
            "Microsoft.Resources.ResourceWriteSuccess"
        ]
    );
    // A second pass finds nothing to do: a duplicate wake-up is harmless.
    assert_eq!(app.worker.run_once().await.unwrap(), 0);
}

async fn a_project_never_outlives_its_hub_under_races(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    for i in 0..12 {
        let hub = app.hub("rg", &format!("hub-{i}")).await;
        let project = json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub["id"]}});
        let project_url = app.workspace_url("rg", &format!("proj-{i}"));
        let hub_url = app.workspace_url("rg", &format!("hub-{i}"));
        // The project's PUT and the hub's DELETE race; exactly one of them may win.
        let (put, delete) = tokio::join!(app.put(&project_url, &project), app.delete(&hub_url));
        let (put, delete) = (put.status(), delete.status());
        assert!(
            (put == StatusCode::ACCEPTED) != (delete == StatusCode::ACCEPTED),
            "round {i}: PUT {put} and DELETE {delete} cannot both win (or both lose)"
        );
        for url in [&project_url, &hub_url] {
            // Wait for whatever was accepted to finish (or be gone).
            let what = format!("round {i}: {url} to settle");
            eventually(what, OPERATION_WAIT, || async {
                let (_, body) = app.get_json(url).await;
                let state = body["properties"]["provisioningState"].as_str();
                if state.is_none_or(kiln::lifecycle::is_terminal) {
                    Ok(())
                } else {
                    Err(body)
                }
            })
            .await;
        }
        let project_exists = app.get(&project_url).await.status() == StatusCode::OK;
        let hub_exists = app.get(&hub_url).await.status() == StatusCode::OK;
        assert!(
            !project_exists || hub_exists,
            "round {i}: a project outlived its hub"
        );
        if project_exists {
            let res = app.delete(&project_url).await;
            app.poll_location(res.headers()["location"].to_str().unwrap())
                .await;
        }
    }
}
