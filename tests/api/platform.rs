//! What the Azure CLI reads and writes around the types: provider metadata at
//! Microsoft.Resources' versions, provider operations, locations, the tags API, the generic
//! `…/resources` lists with their filters, and ids with empty segments.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, RG_API, SUB_API, TestApp, assert_refused, roles};

both_backends!(
    providers_list_their_types_with_published_versions,
    provider_operations_list_every_action,
    locations_are_the_offered_regions,
    tracked_resources_live_in_offered_regions,
    the_tags_api_reads_and_writes_tags,
    generic_lists_filter_by_tag_and_expand,
    empty_path_segments_collapse
);

/// The resources api-version az sends.
const AZ_RESOURCES: &str = "2024-11-01";

async fn providers_list_their_types_with_published_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ml: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/providers/Microsoft.MachineLearningServices?api-version={AZ_RESOURCES}",
            app.subscription
        ))
        .await;
    let types = ml["resourceTypes"].as_array().unwrap();
    let workspaces = types
        .iter()
        .find(|t| t["resourceType"] == "workspaces")
        .expect("workspaces are listed");
    let versions: Vec<&str> = workspaces["apiVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Newest first, every published version, preview ones included.
    assert!(versions.contains(&"2024-10-01-preview"), "{versions:?}");
    assert!(versions.contains(&"2020-08-01"), "{versions:?}");
    assert!(versions.len() > 40, "{versions:?}");
    assert!(versions[0] > versions[versions.len() - 1]);
    assert!(
        workspaces["locations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "East US"),
        "{workspaces}"
    );
    assert!(
        types
            .iter()
            .any(|t| t["resourceType"] == "workspaces/connections")
    );
    // The tenant sees the providers too, and Microsoft.Resources lists its own types.
    let tenant: Value = app
        .get_ok(&format!("/providers?api-version={AZ_RESOURCES}"))
        .await;
    let namespaces: Vec<&str> = tenant["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["namespace"].as_str().unwrap())
        .collect();
    for ns in [
        "Microsoft.Authorization",
        "Microsoft.MachineLearningServices",
        "Microsoft.Resources",
    ] {
        assert!(namespaces.contains(&ns), "{namespaces:?}");
    }
    let resources: Value = app
        .get_ok(&format!(
            "/providers/Microsoft.Resources?api-version={AZ_RESOURCES}"
        ))
        .await;
    for wanted in ["resourceGroups", "tags", "locations", "subscriptions"] {
        assert!(
            resources["resourceTypes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["resourceType"] == wanted),
            "{wanted}: {resources}"
        );
    }
    // Provider endpoints take Microsoft.Resources versions, not the subscriptions ones.
    let res = app
        .get(&format!(
            "/subscriptions/{}/providers?api-version={SUB_API}",
            app.subscription
        ))
        .await;
    assert_refused(
        "providers at a subscriptions version",
        res,
        StatusCode::BAD_REQUEST,
        "InvalidApiVersionParameter",
    )
    .await;
    let res = app
        .send(
            Method::POST,
            &format!(
                "/subscriptions/{}/providers/Microsoft.MachineLearningServices/unregister?api-version={AZ_RESOURCES}",
                app.subscription
            ),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn provider_operations_list_every_action(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ops: Value = app
        .get_ok("/providers/Microsoft.MachineLearningServices/operations?api-version=2024-10-01-preview")
        .await;
    let names: Vec<&str> = ops["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for action in [
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.MachineLearningServices/workspaces/write",
        "Microsoft.MachineLearningServices/workspaces/delete",
        "Microsoft.MachineLearningServices/workspaces/connections/listsecrets/action",
        "Microsoft.MachineLearningServices/workspaces/hubs/join/action",
    ] {
        assert!(names.contains(&action), "{action}: {names:?}");
    }
    assert_eq!(ops["value"][0]["origin"], "user,system");
    let res = app
        .get("/providers/Microsoft.MachineLearningServices/operations?api-version=1999-01-01")
        .await;
    assert_refused(
        "operations at an unknown version",
        res,
        StatusCode::BAD_REQUEST,
        "NoRegisteredProviderFound",
    )
    .await;

    // What `az provider operation list/show` reads.
    let all: Value = app
        .get_ok("/providers/Microsoft.Authorization/providerOperations?api-version=2018-01-01-preview&$expand=resourceTypes")
        .await;
    let auth = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Microsoft.Authorization")
        .expect("Microsoft.Authorization is listed");
    let role_assignments = auth["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "roleAssignments")
        .expect("roleAssignments");
    assert!(
        role_assignments["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(
                |o| o["name"] == "Microsoft.Authorization/roleAssignments/write"
                    && o["isDataAction"] == false
            )
    );
    let one: Value = app
        .get_ok("/providers/Microsoft.Authorization/providerOperations/microsoft.machinelearningservices?api-version=2022-04-01&$expand=resourceTypes")
        .await;
    assert_eq!(one["name"], "Microsoft.MachineLearningServices");
    assert_eq!(one["type"], "Microsoft.Authorization/providerOperations");
    assert!(
        one["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "Microsoft.MachineLearningServices/register/action")
    );
    let res = app
        .get("/providers/Microsoft.Authorization/providerOperations/Contoso.Nothing?api-version=2022-04-01")
        .await;
    assert_refused(
        "an unserved namespace",
        res,
        StatusCode::NOT_FOUND,
        "InvalidResourceNamespace",
    )
    .await;
}

async fn locations_are_the_offered_regions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/locations?api-version={SUB_API}",
            app.subscription
        ))
        .await;
    let regions = body["value"].as_array().unwrap();
    assert!(regions.len() >= 30, "{}", regions.len());
    let east = regions
        .iter()
        .find(|r| r["name"] == "eastus")
        .expect("eastus");
    assert_eq!(east["displayName"], "East US");
    assert_eq!(east["regionalDisplayName"], "(US) East US");
    assert_eq!(
        east["id"],
        format!("/subscriptions/{}/locations/eastus", app.subscription)
    );
    assert_eq!(east["metadata"]["geographyGroup"], "US");
    assert_eq!(east["metadata"]["pairedRegion"][0]["name"], "westus");
    assert!(east["metadata"]["latitude"].as_str().is_some());
    let tenant: Value = app
        .get_ok(&format!("/locations?api-version={SUB_API}"))
        .await;
    assert_eq!(tenant["value"].as_array().unwrap().len(), regions.len());
    let res = app
        .get(&format!(
            "/subscriptions/{}/locations?api-version={RG_API}",
            app.subscription
        ))
        .await;
    assert_refused(
        "locations at a resources version",
        res,
        StatusCode::BAD_REQUEST,
        "InvalidApiVersionParameter",
    )
    .await;
}

async fn tracked_resources_live_in_offered_regions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .put(
            &format!("{}?api-version={RG_API}", app.group_path("moon-rg")),
            &json!({"location": "moonbase"}),
        )
        .await;
    let body = res.text().await.unwrap();
    assert!(
        body.contains("LocationNotAvailableForResourceGroup"),
        "{body}"
    );
    assert!(
        body.contains("eastus,"),
        "the allowed regions are named: {body}"
    );
    // A display name is a location too, stored by its name.
    let res = app
        .put(
            &format!("{}?api-version={RG_API}", app.group_path("rg")),
            &json!({"location": "West Europe"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["location"], "westeurope");
    let res = app
        .put(
            &app.workspace_url("rg", "moonhub"),
            &json!({"location": "moonbase", "kind": "Hub", "properties": {}}),
        )
        .await;
    assert_refused(
        "a hub on the moon",
        res,
        StatusCode::BAD_REQUEST,
        "LocationNotAvailableForResourceType",
    )
    .await;
}

fn tags_path(scope: &str) -> String {
    format!("{scope}/providers/Microsoft.Resources/tags/default?api-version={AZ_RESOURCES}")
}

async fn the_tags_api_reads_and_writes_tags(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let hub = app.hub("rg", "hub").await;
    let hub_id = hub["id"].as_str().unwrap().to_owned();
    let group_id = app.group_path("rg");
    let subscription_id = format!("/subscriptions/{}", app.subscription);
    for scope in [&subscription_id, &group_id, &hub_id] {
        let res = app
            .put(
                &tags_path(scope),
                &json!({"properties": {"tags": {"env": "dev", "team": "ml"}}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{scope}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["name"], "default");
        assert_eq!(body["type"], "Microsoft.Resources/tags");
        assert_eq!(
            body["properties"]["tags"],
            json!({"env": "dev", "team": "ml"})
        );
        let res = app
            .patch(
                &tags_path(scope),
                &json!({"operation": "Merge", "properties": {"tags": {"ENV": "prod", "cost": "1"}}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let merged: Value = res.json().await.unwrap();
        assert_eq!(
            merged["properties"]["tags"],
            json!({"team": "ml", "ENV": "prod", "cost": "1"}),
            "tag names compare ignoring case"
        );
        let res = app
            .patch(
                &tags_path(scope),
                &json!({"operation": "Delete", "properties": {"tags": {"cost": ""}}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        // The resource itself shows the tags the API wrote.
        let resource = app.get_ok(&tags_path(scope)).await;
        assert_eq!(
            resource["properties"]["tags"],
            json!({"team": "ml", "ENV": "prod"})
        );
        let res = app
            .patch(
                &tags_path(scope),
                &json!({"operation": "Sideways", "properties": {"tags": {}}}),
            )
            .await;
        assert_refused(
            "an unknown tags operation",
            res,
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
        )
        .await;
    }
    let subscription = app
        .get_ok(&format!("{subscription_id}?api-version={SUB_API}"))
        .await;
    assert_eq!(subscription["tags"], json!({"team": "ml", "ENV": "prod"}));
    let res = app
        .put(
            &tags_path(&subscription_id),
            &json!({"properties": {"tags": {"bad<name": "x"}}}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "tag names are checked"
    );
    let res = app
        .get(&tags_path(&format!(
            "/subscriptions/{}",
            uuid::Uuid::new_v4()
        )))
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let shown = app
        .get_ok(&format!("{hub_id}?api-version=2025-12-01"))
        .await;
    assert_eq!(shown["tags"], json!({"team": "ml", "ENV": "prod"}));
    let res = app.delete(&tags_path(&group_id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let group = app
        .get_ok(&format!("{group_id}?api-version={RG_API}"))
        .await;
    assert!(
        group["tags"].as_object().is_none_or(|t| t.is_empty()),
        "{group}"
    );
    // A Reader may read tags but not write them.
    let reader = uuid::Uuid::new_v4().to_string();
    app.grant(&reader, roles::READER).await;
    let token = app.token_for(&reader, &app.tenant);
    let res = app
        .send_as(&token, Method::GET, &tags_path(&hub_id), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .send_as(
            &token,
            Method::PUT,
            &tags_path(&hub_id),
            Some(&json!({"properties": {"tags": {}}})),
        )
        .await;
    assert_refused(
        "a Reader writing tags",
        res,
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
    )
    .await;
    let res = app.get(&tags_path(&app.group_path("absent"))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn generic_lists_filter_by_tag_and_expand(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    for (name, env) in [("hub-a", "dev"), ("hub-b", "prod"), ("hub-c", "dev")] {
        app.create_workspace(
            "rg",
            name,
            json!({"location": "eastus", "kind": "Hub", "tags": {"env": env}, "properties": {}}),
        )
        .await;
    }
    let list = |filter: &str| {
        format!(
            "/subscriptions/{}/resources?api-version={AZ_RESOURCES}&$filter={filter}&$top=1",
            app.subscription
        )
    };
    // Pages of one, followed to the end, hold exactly the matching resources.
    let mut url = app.url(&list("tagName eq 'ENV' and tagValue eq 'dev'"));
    let mut names = Vec::new();
    loop {
        let page = app.get_absolute(&url).await;
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned()),
        );
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(names, ["hub-a", "hub-c"]);
    let tagged: Value = app
        .get_ok(&list("tagName eq 'env'").replace("&$top=1", ""))
        .await;
    assert_eq!(tagged["value"].as_array().unwrap().len(), 3);
    let expanded: Value = app
        .get_ok(&format!(
            "{}/resources?api-version={AZ_RESOURCES}&$expand=createdTime,changedTime,provisioningState",
            app.group_path("rg")
        ))
        .await;
    let first = &expanded["value"][0];
    assert_eq!(first["provisioningState"], "Succeeded", "{first}");
    assert!(first["createdTime"].as_str().is_some(), "{first}");
    assert!(first["changedTime"].as_str().is_some(), "{first}");
    // What `az resource list -g` sends.
    app.create_group("other").await;
    app.hub("other", "hub-d").await;
    let in_group: Value = app
        .get_ok(&list("resourceGroup eq 'rg'").replace("&$top=1", ""))
        .await;
    // Three hubs, with the key vault and storage account of each.
    let names_in_group: Vec<&str> = in_group["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names_in_group.len(), 9, "{names_in_group:?}");
    assert!(!names_in_group.contains(&"hub-d"), "{names_in_group:?}");
    let everywhere: Value = app
        .get_ok(
            &list("resourceType eq 'Microsoft.MachineLearningServices/workspaces'")
                .replace("&$top=1", ""),
        )
        .await;
    assert_eq!(
        everywhere["value"].as_array().unwrap().len(),
        4,
        "{everywhere}"
    );
    let res = app.get(&list("tagValue eq 'dev'")).await;
    assert_refused(
        "a tagValue without a tagName",
        res,
        StatusCode::BAD_REQUEST,
        "InvalidFilterInQueryString",
    )
    .await;
}

async fn empty_path_segments_collapse(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    // What `az resource create --resource-type Microsoft.MachineLearningServices/workspaces`
    // sends: an empty parent path.
    let url = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.MachineLearningServices//workspaces/hub?api-version=2025-12-01",
        app.subscription
    );
    let res = app
        .put(
            &url,
            &json!({"location": "eastus", "kind": "Hub", "properties": {}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    app.poll_location(&location).await;
    let hub = app.get_ok(&url).await;
    assert_eq!(hub["name"], "hub");
}
