//! A type declared in the tests (`declaration.rs`) is served with the whole ARM contract.

mod declaration;

use std::sync::Arc;
use std::time::Duration;

use kiln::arm::registry::{Plain, Registry};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::roles;
use crate::helpers::{Backend, Options, RG_API, TestApp, WS_API, error_code};
use crate::type_contract::{self, Subject, finish};
use declaration::{GEAR, Widgets};

const API: &str = "2025-06-01-preview";

both_backends!(
    widgets_keep_the_contract_workspaces_keep,
    widget_statuses_come_from_the_declaration,
    widgets_have_actions_children_events_and_go_with_their_group,
);

/// Kiln's types and the widget types, and the widget hooks (to see what was removed).
fn registry() -> (Registry, Widgets) {
    let widgets = Widgets::default();
    let mut registry = kiln::resources::registry();
    registry
        .register(Arc::new(widgets.clone()))
        .register(Arc::new(Plain(&GEAR)));
    (registry, widgets)
}

async fn spawn(backend: Backend) -> (TestApp, Widgets) {
    let (registry, widgets) = registry();
    let options = Options {
        registry: Some(registry),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.create_group("rg").await;
    (app, widgets)
}

fn widgets(app: &TestApp, group: &str) -> String {
    format!(
        "{}/providers/Contoso.Widgets/widgets",
        app.group_path(group)
    )
}

async fn widgets_keep_the_contract_workspaces_keep(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let by_subscription = format!(
        "/subscriptions/{}/providers/Contoso.Widgets/widgets",
        app.subscription
    );
    let widget = Subject {
        collection: widgets(&app, "rg"),
        api: API,
        name: "sprocket",
        bad_name: "Bad_Name",
        body: json!({"location": "eastus", "properties": {"color": "red", "teeth": 3}}),
        tracked: true,
        created: StatusCode::CREATED,
        deleted: StatusCode::ACCEPTED,
        head: true,
        by_subscription: Some(by_subscription),
    };
    type_contract::check(&app, &widget).await;
    app.put(
        &format!("{}/holder?api-version={API}", widgets(&app, "rg")),
        &widget.body,
    )
    .await;
    let gear = Subject {
        collection: format!("{}/holder/gears", widgets(&app, "rg")),
        api: API,
        name: "g1",
        bad_name: "g-1",
        body: json!({"properties": {"teeth": 12}}),
        tracked: false,
        created: StatusCode::CREATED,
        deleted: StatusCode::OK,
        head: false,
        by_subscription: None,
    };
    type_contract::check(&app, &gear).await;
    // Kiln's own types pass the same checks.
    let hub = Subject {
        collection: format!(
            "{}/providers/Microsoft.MachineLearningServices/workspaces",
            app.group_path("rg")
        ),
        api: WS_API,
        name: "hub1",
        bad_name: "x",
        body: json!({"location": "eastus", "kind": "Hub", "properties": {}}),
        tracked: true,
        created: StatusCode::ACCEPTED,
        deleted: StatusCode::ACCEPTED,
        head: false,
        by_subscription: Some(format!(
            "/subscriptions/{}/providers/Microsoft.MachineLearningServices/workspaces",
            app.subscription
        )),
    };
    type_contract::check(&app, &hub).await;
}

async fn widget_statuses_come_from_the_declaration(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let item = format!("{}/gizmo?api-version={API}", widgets(&app, "rg"));
    // 201 with Azure-AsyncOperation and the running state; never 202, no Location.
    let res = app
        .put(
            &item,
            &json!({"location": "eastus", "properties": {"color": "red"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(!res.headers().contains_key("location"));
    assert!(res.headers().contains_key("etag"));
    let status = finish(&app, &res).await;
    let body: Value = res.json().await.unwrap();
    assert_ne!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(status, "Succeeded");
    let body: Value = app.get_ok(&item).await;
    assert_eq!(
        body["properties"]["serialNumber"], "W-gizmo",
        "set by the provisioner"
    );
    let res = app
        .put(
            &item,
            &json!({"location": "eastus", "properties": {"color": "blue"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "replaced");
    assert!(res.headers().contains_key("azure-asyncoperation"));
    finish(&app, &res).await;
    // 2024-01-01 answers 202 with Location instead.
    let old = format!("{}/gadget?api-version=2024-01-01", widgets(&app, "rg"));
    let res = app.put(&old, &json!({"location": "eastus"})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(res.headers().contains_key("location"));
    finish(&app, &res).await;
    // Properties are checked against the published types, with the path of what is wrong.
    let res = app
        .put(
            &item,
            &json!({"location": "eastus", "properties": {"teeth": "many"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidRequestContent");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("properties.teeth"),
        "{body}"
    );
    let gear = format!("{}/gizmo/gears/g1?api-version={API}", widgets(&app, "rg"));
    let res = app.put(&gear, &json!({"properties": {}})).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    // What the provisioner refuses fails the operation and the resource.
    let res = app
        .put(
            &format!("{}/tartan?api-version={API}", widgets(&app, "rg")),
            &json!({"location": "eastus", "properties": {"color": "plaid"}}),
        )
        .await;
    assert_eq!(finish(&app, &res).await, "Failed");
    let url = res.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let op: Value = app.get_absolute(&url).await;
    assert_eq!(op["error"]["code"], "PaintUnavailable");
    let body: Value = app
        .get_ok(&format!("{}/tartan?api-version={API}", widgets(&app, "rg")))
        .await;
    assert_eq!(body["properties"]["provisioningState"], "Failed");
    // Unknown api-versions and verbs the declaration does not serve.
    let res = app
        .get(&format!(
            "{}/gizmo?api-version={WS_API}",
            widgets(&app, "rg")
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "NoRegisteredProviderFound"
    );
    let res = app
        .send(
            Method::POST,
            &format!("{}/gizmo/scrub?api-version={API}", widgets(&app, "rg")),
            None,
        )
        .await;
    assert!(
        res.status().is_client_error(),
        "an undeclared action: {}",
        res.status()
    );
}

async fn widgets_have_actions_children_events_and_go_with_their_group(backend: Backend) {
    let (app, removed) = spawn(backend).await;
    let mut events = app.broker.subscribe();
    let item = format!("{}/gizmo?api-version={API}", widgets(&app, "rg"));
    let res = app
        .put(
            &item,
            &json!({"location": "eastus", "properties": {"teeth": 4}}),
        )
        .await;
    finish(&app, &res).await;
    // The action: authorized as Contoso.Widgets/widgets/polish/action, which Readers lack.
    let polish = format!("{}/gizmo/polish?api-version={API}", widgets(&app, "rg"));
    let res = app.send(Method::POST, &polish, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"widget": "gizmo", "shine": 40})
    );
    let reader = uuid::Uuid::new_v4().to_string();
    app.grant(&reader, roles::READER).await;
    let token = app.token_for(&reader, &app.tenant);
    let res = app.send_as(&token, Method::POST, &polish, None).await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
    let res = app
        .send(
            Method::POST,
            &format!("{}/absent/polish?api-version={API}", widgets(&app, "rg")),
            None,
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "ResourceNotFound"
    );
    // Children: synchronous, filtered, and refused under an absent parent.
    let gears = format!("{}/gizmo/gears", widgets(&app, "rg"));
    for (name, teeth) in [("a", 8), ("b", 12)] {
        let res = app
            .put(
                &format!("{gears}/{name}?api-version={API}"),
                &json!({"properties": {"teeth": teeth}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let list: Value = app
        .get_ok(&format!("{gears}?api-version={API}&teeth=12"))
        .await;
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b"]);
    assert!(list.get("nextLink").is_none_or(Value::is_null), "one page");
    let res = app
        .put(
            &format!("{}/absent/gears/a?api-version={API}", widgets(&app, "rg")),
            &json!({"properties": {"teeth": 1}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Events carry the type's routing keys.
    let mut keys = Vec::new();
    while let Ok(Ok(published)) = tokio::time::timeout(Duration::from_secs(2), events.recv()).await
    {
        keys.push(published.routing_key.clone());
    }
    for key in [
        "contoso.widgets.widgets.provisioningrequested",
        "contoso.widgets.widgets.resourcewritesuccess",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
    // The group's delete takes the widget (through its provisioner) and its gears.
    let res = app
        .delete(&format!("{}?api-version={RG_API}", app.group_path("rg")))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    finish(&app, &res).await;
    assert_eq!(*removed.0.lock().unwrap(), ["gizmo"]);
    app.create_group("rg").await;
    assert_eq!(app.get(&item).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("{gears}/a?api-version={API}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // The activity log names every step of the group's delete with one action.
    let log = format!(
        "/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01",
        app.subscription
    );
    let body: Value = app.get_ok(&log).await;
    let steps = |action: &str| -> Vec<String> {
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["operationName"]["value"] == action)
            .map(|e| e["status"]["value"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        steps("Microsoft.Resources/subscriptions/resourceGroups/delete"),
        ["Accepted", "Succeeded"]
    );
    assert!(steps("Microsoft.Resources/resourceGroups/delete").is_empty());
    assert_eq!(
        steps("Contoso.Widgets/widgets/write"),
        ["Accepted", "Succeeded"]
    );
}

/// The OpenAPI document describes the widget types from their declarations alone.
#[test]
fn the_openapi_document_describes_widgets() {
    let document = serde_json::to_value(kiln::startup::openapi(&registry().0)).unwrap();
    let widget = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Contoso.Widgets/widgets/{widgetName}";
    let paths = &document["paths"];
    let put = &paths[widget]["put"];
    assert_eq!(put["operationId"], "Widgets_CreateOrUpdate");
    let statuses: Vec<&String> = put["responses"].as_object().unwrap().keys().collect();
    assert!(
        statuses.iter().any(|s| *s == "201") && statuses.iter().any(|s| *s == "202"),
        "{statuses:?}"
    );
    assert!(paths[&format!("{widget}/polish")]["post"].is_object());
    assert!(paths[&format!("{widget}/gears/{{gearName}}")]["put"].is_object());
    assert!(paths[widget]["head"].is_object());
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["WidgetProperties"]["properties"]["teeth"]["type"],
        json!(["integer", "null"])
    );
    assert!(schemas["Shine"].is_object());
}
