//! Accounts: the lifecycle, derived endpoints, keys, the rules a write must pass, and
//! subdomains unique across Kiln, also under a race.

use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, Options, TestApp, assert_refused};
use kiln::store::{outbox, resource_secret};

both_backends!(
    an_account_is_provisioned_with_endpoints_and_sealed_keys,
    bad_account_writes_are_refused_and_change_nothing,
    a_subdomain_belongs_to_one_account_even_under_a_race,
    the_data_plane_domain_setting_names_the_endpoints,
);

async fn an_account_is_provisioned_with_endpoints_and_sealed_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let account = app.foundry_account("rg", "ai1", "kiln-ai1").await;
    let properties = &account["properties"];
    assert_eq!(properties["provisioningState"], "Succeeded", "{account}");
    assert_eq!(
        properties["endpoint"],
        "https://kiln-ai1.cognitiveservices.azure.com/"
    );
    assert_eq!(
        properties["endpoints"]["AI Foundry API"],
        "https://kiln-ai1.services.ai.azure.com/"
    );
    assert_eq!(
        properties["endpoints"]["OpenAI Language Model Instance API"],
        "https://kiln-ai1.openai.azure.com/"
    );
    assert_eq!(properties["internalId"].as_str().unwrap().len(), 32);
    assert!(properties["dateCreated"].is_string());
    assert!(properties["capabilities"].is_array());
    assert!(account["identity"]["principalId"].is_string(), "{account}");
    assert_eq!(account["kind"], "AIServices");

    // Lists by group and by subscription.
    let by_group = app
        .get_ok(&app.cs_url(&format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts",
            app.subscription
        )))
        .await;
    assert_eq!(by_group["value"].as_array().unwrap().len(), 1);
    let by_subscription = app
        .get_ok(&app.cs_url(&format!(
            "/subscriptions/{}/providers/Microsoft.CognitiveServices/accounts",
            app.subscription
        )))
        .await;
    assert_eq!(by_subscription["value"][0]["name"], "ai1");

    // Keys: two, 84 characters, not in the GET nor in plain text in the database.
    let list_keys = app.cs_url(&format!("{}/listKeys", app.account_path("rg", "ai1")));
    let (status, keys) = app.post_json(&list_keys, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let (key1, key2) = (
        keys["key1"].as_str().unwrap().to_owned(),
        keys["key2"].as_str().unwrap().to_owned(),
    );
    assert_eq!((key1.len(), key2.len()), (84, 84));
    assert_ne!(key1, key2);
    assert!(!account.to_string().contains(&key1));
    let sealed = resource_secret::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(sealed.len(), 1);
    assert!(!format!("{sealed:?}").contains(&key1));

    // regenerateKey replaces one key and answers both.
    let regenerate = app.cs_url(&format!("{}/regenerateKey", app.account_path("rg", "ai1")));
    let (status, after) = app
        .post_json(&regenerate, &json!({"keyName": "Key2"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["key1"], key1.as_str());
    assert_ne!(after["key2"], key2.as_str());
    let (_, listed) = app.post_json(&list_keys, &json!({})).await;
    assert_eq!(listed, after);

    // An update keeps the keys and the server-set identifiers.
    let updated = app
        .put_and_wait(
            &app.account_url("rg", "ai1"),
            &json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"},
                    "tags": {"team": "ml"}, "properties": {"allowProjectManagement": true}}),
        )
        .await;
    assert_eq!(
        updated["properties"]["internalId"],
        properties["internalId"]
    );
    assert_eq!(updated["properties"]["customSubDomainName"], "kiln-ai1");
    assert_eq!(updated["tags"]["team"], "ml");
    let (_, kept) = app.post_json(&list_keys, &json!({})).await;
    assert_eq!(kept, after);

    // Lifecycle events are the type's, and no event carries a key.
    let events = outbox::Entity::find().all(&app.db).await.unwrap();
    let routes: Vec<&str> = events.iter().map(|e| e.routing_key.as_str()).collect();
    assert!(
        routes.contains(&"microsoft.cognitiveservices.accounts.resourcewritesuccess"),
        "{routes:?}"
    );
    for event in &events {
        let payload = event.payload.to_string();
        assert!(!payload.contains(&key1) && !payload.contains(after["key2"].as_str().unwrap()));
    }
}

async fn bad_account_writes_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-rules").await;
    let url = app.account_url("rg", "new1");
    let base = |properties: serde_json::Value| json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"}, "properties": properties});
    let cases = [
        (
            "no kind",
            json!({"location": "eastus", "sku": {"name": "S0"}, "properties": {}}),
            StatusCode::BAD_REQUEST,
            "KindRequired",
        ),
        (
            "no sku",
            json!({"location": "eastus", "kind": "OpenAI", "properties": {}}),
            StatusCode::BAD_REQUEST,
            "InvalidSkuName",
        ),
        (
            "a sku the kind lacks",
            json!({"location": "eastus", "kind": "OpenAI", "sku": {"name": "F9"}}),
            StatusCode::BAD_REQUEST,
            "InvalidSkuName",
        ),
        (
            "a subdomain with a dot",
            base(json!({"customSubDomainName": "a.b"})),
            StatusCode::BAD_REQUEST,
            "InvalidSubdomainName",
        ),
        (
            "a subdomain not a string",
            base(json!({"customSubDomainName": 7})),
            StatusCode::BAD_REQUEST,
            "InvalidSubdomainName",
        ),
        (
            "a default project that is not there",
            base(json!({"defaultProject": "nope"})),
            StatusCode::BAD_REQUEST,
            "InvalidProperty",
        ),
        (
            "restore with nothing deleted",
            base(json!({"restore": true})),
            StatusCode::NOT_FOUND,
            "DeletedAccountNotFound",
        ),
        (
            "an unoffered region",
            json!({"location": "moon", "kind": "AIServices", "sku": {"name": "S0"}}),
            StatusCode::BAD_REQUEST,
            "LocationNotAvailableForResourceType",
        ),
    ];
    for (case, body, status, code) in cases {
        assert_refused(case, app.put(&url, &body).await, status, code).await;
    }
    assert_eq!(app.get(&url).await.status(), StatusCode::NOT_FOUND);

    let existing = app.account_url("rg", "ai1");
    let changes = [
        (
            "a kind change",
            json!({"location": "eastus", "kind": "OpenAI", "sku": {"name": "S0"}}),
            "PropertyChangeNotAllowed",
        ),
        (
            "a subdomain change",
            json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"}, "properties": {"customSubDomainName": "other"}}),
            "PropertyChangeNotAllowed",
        ),
    ];
    for (case, body, code) in changes {
        assert_refused(
            case,
            app.put(&existing, &body).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    let account = app.get_ok(&existing).await;
    assert_eq!(account["kind"], "AIServices");
    assert_eq!(account["properties"]["customSubDomainName"], "kiln-rules");

    let regenerate = app.cs_url(&format!("{}/regenerateKey", app.account_path("rg", "ai1")));
    let res = app
        .send(
            reqwest::Method::POST,
            &regenerate,
            Some(&json!({"keyName": "Key3"})),
        )
        .await;
    assert_refused(
        "keyName Key3",
        res,
        StatusCode::BAD_REQUEST,
        "InvalidKeyName",
    )
    .await;

    // With local auth disabled, keys are not served (Azure's code and message).
    app.put_and_wait(
        &app.account_url("rg", "entra"),
        &json!({"location": "eastus", "kind": "OpenAI", "sku": {"name": "S0"},
                "properties": {"disableLocalAuth": true}}),
    )
    .await;
    let list_keys = app.cs_url(&format!("{}/listKeys", app.account_path("rg", "entra")));
    let (status, body) = app.post_json(&list_keys, &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(
        body["error"]["message"],
        "Failed to list key. disableLocalAuth is set to be true"
    );
}

async fn a_subdomain_belongs_to_one_account_even_under_a_race(backend: Backend) {
    let app = TestApp::spawn_with(backend, Options::without_worker()).await;
    app.create_group("rg").await;
    let body = json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"},
                      "properties": {"customSubDomainName": "Shared-Name"}});
    let puts = (0..6).map(|i| {
        let url = app.account_url("rg", &format!("racer{i}"));
        let app = &app;
        let body = body.clone();
        async move { app.put(&url, &body).await.status() }
    });
    let statuses = futures_util::future::join_all(puts).await;
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, lost), (1, 5), "{statuses:?}");
    // The same name in another casing is the same subdomain.
    let other = json!({"location": "eastus", "kind": "OpenAI", "sku": {"name": "S0"},
                       "properties": {"customSubDomainName": "shared-name"}});
    let res = app.put(&app.account_url("rg", "late"), &other).await;
    assert_refused(
        "a taken subdomain",
        res,
        StatusCode::CONFLICT,
        "CustomDomainInUse",
    )
    .await;

    let check = app.cs_url(&format!(
        "/subscriptions/{}/providers/Microsoft.CognitiveServices/checkDomainAvailability",
        app.subscription
    ));
    let ask =
        |name: &str| json!({"subdomainName": name, "type": "Microsoft.CognitiveServices/accounts"});
    let (status, taken) = app.post_json(&check, &ask("SHARED-name")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(taken["isSubdomainAvailable"], false, "{taken}");
    assert!(taken["reason"].as_str().unwrap().contains("already used"));
    let (_, free) = app.post_json(&check, &ask("free-name")).await;
    assert_eq!(free["isSubdomainAvailable"], true, "{free}");
    assert!(free["reason"].is_null());
    while app.worker.run_once().await.unwrap() > 0 {}
}

async fn the_data_plane_domain_setting_names_the_endpoints(backend: Backend) {
    let settings = kiln::config::TypeSettings {
        data_plane_domain: Some("ai.kiln.test".into()),
        ..Default::default()
    };
    let options = Options {
        registry: Some(kiln::resources::registry_with(&settings)),
        ..Options::default()
    };
    let app = TestApp::spawn_with(backend, options).await;
    app.create_group("rg").await;
    let account = app.foundry_account("rg", "ai1", "self-hosted").await;
    assert_eq!(
        account["properties"]["endpoint"],
        "https://self-hosted.cognitiveservices.ai.kiln.test/"
    );
    assert_eq!(
        account["properties"]["endpoints"]["AI Foundry API"],
        "https://self-hosted.services.ai.ai.kiln.test/"
    );
    // The skus list every kind × sku in every offered region, as az filters them.
    let skus = app
        .get_ok(&app.cs_url(&format!(
            "/subscriptions/{}/providers/Microsoft.CognitiveServices/skus",
            app.subscription
        )))
        .await;
    let eastus_s0 =
        skus["value"].as_array().unwrap().iter().any(|s| {
            s["kind"] == "AIServices" && s["name"] == "S0" && s["locations"][0] == "EASTUS"
        });
    assert!(eastus_s0, "{skus}");
}
