//! Subscriptions, providers, and the administrator's subscription endpoint.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, RG_API, SUB_API, TestApp, error_code};

both_backends!(
    subscriptions_answer_as_arm_does,
    providers_are_always_registered,
    administrators_create_subscriptions
);

async fn subscriptions_answer_as_arm_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body: Value = app
        .get_ok(&format!("/subscriptions?api-version={SUB_API}"))
        .await;
    let subs = body["value"].as_array().unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["subscriptionId"], app.subscription);
    assert_eq!(subs[0]["tenantId"], app.tenant);
    assert_eq!(subs[0]["state"], "Enabled");
    assert_eq!(
        subs[0]["id"],
        format!("/subscriptions/{}", app.subscription)
    );
    let one: Value = app
        .get_ok(&format!(
            "/subscriptions/{}?api-version={SUB_API}",
            app.subscription
        ))
        .await;
    assert_eq!(one["displayName"], "Bootstrap subscription");
    let res = app
        .get(&format!(
            "/subscriptions/{}?api-version={SUB_API}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "SubscriptionNotFound"
    );
}

async fn providers_are_always_registered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/providers?api-version={RG_API}",
            app.subscription
        ))
        .await;
    let namespaces: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["namespace"].as_str().unwrap())
        .collect();
    assert!(
        namespaces.contains(&"Microsoft.MachineLearningServices")
            && namespaces.contains(&"Microsoft.Resources"),
        "{namespaces:?}"
    );
    assert!(
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["registrationState"] == "Registered")
    );
    let one: Value = app
        .get_ok(&format!(
            "/subscriptions/{}/providers/microsoft.machinelearningservices?api-version={RG_API}",
            app.subscription
        ))
        .await;
    assert_eq!(one["namespace"], "Microsoft.MachineLearningServices");
    assert_eq!(one["resourceTypes"][0]["resourceType"], "workspaces");
    let res = app.send(Method::POST, &format!("/subscriptions/{}/providers/Microsoft.MachineLearningServices/register?api-version=2021-04-01", app.subscription), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["registrationState"], "Registered");
    let res = app
        .get(&format!(
            "/subscriptions/{}/providers/Contoso.Nothing?api-version={RG_API}",
            app.subscription
        ))
        .await;
    assert_eq!(
        error_code(res, StatusCode::NOT_FOUND).await,
        "InvalidResourceNamespace"
    );
}

async fn administrators_create_subscriptions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let wanted = uuid::Uuid::new_v4();
    let res = app
        .send(
            Method::POST,
            "/admin/subscriptions",
            Some(&json!({"displayName": "Team A", "subscriptionId": wanted})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["subscriptionId"], wanted.to_string());
    assert_eq!(created["tenantId"], app.tenant);
    let body: Value = app
        .get_ok(&format!("/subscriptions?api-version={SUB_API}"))
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    // The new subscription is usable at once.
    let rg = format!("/subscriptions/{wanted}/resourceGroups/rg?api-version=2024-03-01");
    assert_eq!(
        app.put(&rg, &json!({"location": "eastus"})).await.status(),
        StatusCode::CREATED
    );

    let res = app
        .send(
            Method::POST,
            "/admin/subscriptions",
            Some(&json!({"displayName": "Again", "subscriptionId": wanted})),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::CONFLICT).await,
        "SubscriptionAlreadyExists"
    );
    let res = app
        .send(
            Method::POST,
            "/admin/subscriptions",
            Some(&json!({"displayName": ""})),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidDisplayName"
    );
    let res = app
        .send(
            Method::POST,
            "/admin/subscriptions",
            Some(&json!({"name": 1})),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let someone = app.token_for(&uuid::Uuid::new_v4().to_string(), &app.tenant);
    let res = app
        .send_as(
            &someone,
            Method::POST,
            "/admin/subscriptions",
            Some(&json!({"displayName": "Mine"})),
        )
        .await;
    assert_eq!(
        error_code(res, StatusCode::FORBIDDEN).await,
        "AuthorizationFailed"
    );
}
