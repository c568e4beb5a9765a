//! Resource groups and the generic resource lists.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Options, RG_API, TestApp, WS_API, error_code};

both_backends!(
    group_lifecycle,
    group_lists_page_with_next_links,
    deleting_a_group_deletes_everything_in_it,
    a_group_with_outside_dependents_is_kept,
    a_group_delete_completes_pending_child_deletes,
);

async fn group_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}?api-version={RG_API}", app.group_path("rg1"));
    let res = app
        .put(
            &url,
            &json!({"location": "eastus", "tags": {"a": "1", "b": "2"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "Microsoft.Resources/resourceGroups");
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        app.put(&url, &json!({"location": "East US", "tags": {"a": "1"}}))
            .await
            .status(),
        StatusCode::OK
    );

    assert_eq!(
        app.send(Method::HEAD, &url, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let absent = format!("{}?api-version={RG_API}", app.group_path("absent"));
    assert_eq!(
        app.send(Method::HEAD, &absent, None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        error_code(app.get(&absent).await, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );

    // PATCH replaces tags wholesale.
    let res = app.patch(&url, &json!({"tags": {"c": "3"}})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tags"], json!({"c": "3"}));
    let res = app.patch(&url, &json!({"location": "westus"})).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "PropertyChangeNotAllowed"
    );

    let res = app.delete(&url).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(!res.headers().contains_key("azure-asyncoperation"));
    assert!(location.starts_with(&app.base), "absolute: {location}");
    assert!(
        location.contains(&format!(
            "/subscriptions/{}/operationresults/",
            app.subscription
        )),
        "{location}"
    );
    assert!(location.contains(&format!("api-version={RG_API}")));
    assert_eq!(app.poll_location(&location).await.status(), StatusCode::OK);
    assert_eq!(
        error_code(app.get(&url).await, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );
    assert_eq!(
        error_code(app.delete(&url).await, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );
}

async fn collect_pages(app: &TestApp, first: &str) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut pages = 0;
    let mut next = Some(app.url(first));
    while let Some(url) = next {
        let body: Value = app.get_absolute(&url).await;
        pages += 1;
        names.extend(
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_owned()),
        );
        assert_ne!(body["nextLink"], json!(""), "nextLink is never empty");
        next = body["nextLink"].as_str().map(|link| {
            assert!(link.starts_with(&app.base), "absolute nextLink: {link}");
            assert!(
                link.contains("api-version="),
                "nextLink keeps api-version: {link}"
            );
            link.to_owned()
        });
    }
    (names, pages)
}

async fn group_lists_page_with_next_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for i in 0..7 {
        app.create_group(&format!("rg-{i}")).await;
    }
    let (names, pages) = collect_pages(
        &app,
        &format!(
            "/subscriptions/{}/resourcegroups?api-version={RG_API}&$top=3",
            app.subscription
        ),
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("rg-{i}")).collect::<Vec<_>>());
}

async fn deleting_a_group_deletes_everything_in_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("rg").await;
    app.create_group("keep").await;
    let hub = app.hub("rg", "hub1").await;
    app.create_workspace("rg", "proj1", json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub["id"]}})).await;
    app.hub("keep", "hub2").await;

    let in_group: Value = app
        .get_ok(&format!(
            "{}/resources?api-version={RG_API}",
            app.group_path("rg")
        ))
        .await;
    let mut names: Vec<&str> = in_group["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    // The hub's provisioner put its key vault and storage account in its group.
    let (storage, vault) = (names[3].to_owned(), names[1].to_owned());
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!((names[0], names[2]), ("hub1", "proj1"));
    assert!(vault.starts_with("kv-hub1-") && storage.starts_with("sthub1"));
    let project_id = app
        .get(&app.workspace_url("rg", "proj1"))
        .await
        .json::<Value>()
        .await
        .unwrap()["properties"]["workspaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        app.objects()
            .join(&storage)
            .join(format!("{project_id}-code"))
            .is_dir()
    );
    let all: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/resources?api-version={RG_API}",
            app.subscription
        ))
        .await;
    assert_eq!(all["value"].as_array().unwrap().len(), 7);
    let filtered: Value = app.get_ok(&format!("/subscriptions/{}/resources?api-version={RG_API}&$filter=resourceType eq 'Microsoft.Resources/resourceGroups'", app.subscription)).await;
    assert_eq!(filtered["value"].as_array().unwrap().len(), 0);
    let res = app
        .get(&format!(
            "/subscriptions/{}/resources?api-version={RG_API}&$filter=name eq 'x'",
            app.subscription
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidFilterInQueryString"
    );
    let res = app
        .get(&format!(
            "{}/resources?api-version={RG_API}",
            app.group_path("absent")
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceGroupNotFound"
    );

    let res = app
        .delete(&format!("{}?api-version={RG_API}", app.group_path("rg")))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    // While deleting, nothing new may be created in the group.
    let res = app
        .put(
            &app.workspace_url("rg", "late"),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "ResourceGroupBeingDeleted"
    );
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
    assert_eq!(app.poll_location(&location).await.status(), StatusCode::OK);
    for name in ["hub1", "proj1"] {
        assert_eq!(
            error_code(
                app.get(&app.workspace_url("rg", name)).await,
                StatusCode::NOT_FOUND
            )
            .await,
            "ResourceGroupNotFound"
        );
    }
    assert_eq!(
        app.get(&app.workspace_url("keep", "hub2")).await.status(),
        StatusCode::OK
    );
    let all: Value = app.get_ok(&format!("/subscriptions/{}/providers/Microsoft.MachineLearningServices/workspaces?api-version={WS_API}", app.subscription)).await;
    assert_eq!(all["value"].as_array().unwrap().len(), 1);
    // The group's delete went through the provisioners: its storage account is gone from the
    // object store; the other group's hub keeps its own.
    assert!(!app.objects().join(&storage).exists());
    let kept: Vec<String> = std::fs::read_dir(app.objects())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].starts_with("sthub2"), "{kept:?}");
}

async fn a_group_with_outside_dependents_is_kept(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("hubs").await;
    app.create_group("projects").await;
    let hub = app.hub("hubs", "hub1").await;
    app.create_workspace("projects", "proj1", json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub["id"]}})).await;
    let res = app
        .delete(&format!("{}?api-version={RG_API}", app.group_path("hubs")))
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "ResourceGroupHasDependents"
    );
    assert_eq!(
        app.get(&app.workspace_url("hubs", "hub1")).await.status(),
        StatusCode::OK
    );

    // While a hub's group is being deleted, no project may attach to the hub.
    app.create_group("lonely").await;
    app.hub("lonely", "hub2").await;
    let res = app
        .delete(&format!(
            "{}?api-version={RG_API}",
            app.group_path("lonely")
        ))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let hub2 = format!(
        "{}/providers/Microsoft.MachineLearningServices/workspaces/hub2",
        app.group_path("lonely")
    );
    let res = app.put(&app.workspace_url("projects", "proj2"), &json!({"location": "eastus", "kind": "Project", "properties": {"hubResourceId": hub2}})).await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "HubBeingDeleted"
    );
}

async fn a_group_delete_completes_pending_child_deletes(backend: Backend) {
    use kiln::store::operation;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("rg").await;
    app.hub("rg", "hub1").await;
    let res = app.delete(&app.workspace_url("rg", "hub1")).await;
    let hub_location = res.headers()["location"].to_str().unwrap().to_owned();
    // Hold the hub's own delete back (another worker's live lease), so the group's runs first.
    let key = app.workspace_path("rg", "hub1").to_lowercase();
    operation::Entity::update_many()
        .col_expr(operation::Column::LeaseOwner, Expr::value("elsewhere"))
        .col_expr(operation::Column::LeaseUntil, Expr::value(i64::MAX / 2))
        .filter(operation::Column::ResourceKey.eq(key))
        .exec(&app.db)
        .await
        .unwrap();
    let res = app
        .delete(&format!("{}?api-version={RG_API}", app.group_path("rg")))
        .await;
    assert_eq!(
        app.poll_location(res.headers()["location"].to_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    // The hub's delete is over, and over well: the client polling it sees 204, not a failure.
    let res = app
        .client
        .get(&hub_location)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}
