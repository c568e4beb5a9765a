//! The built-in Cognitive Services and Foundry roles: what each lets a principal do on
//! accounts, and the condition that lets a Foundry Account Owner assign only some roles.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, roles};

both_backends!(
    cognitive_services_roles_grant_what_azure_says,
    a_foundry_account_owner_assigns_only_the_roles_its_condition_lists,
);

fn assignment_url(scope: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    )
}

fn assignment_body(app: &TestApp, role: &str, principal: &str) -> serde_json::Value {
    json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", app.subscription),
        "principalId": principal,
    }})
}

async fn cognitive_services_roles_grant_what_azure_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    app.foundry_account("rg", "ai1", "kiln-roles").await;
    let list_keys = app.cs_url(&format!("{}/listKeys", app.account_path("rg", "ai1")));
    let account = app.account_url("rg", "ai1");
    let patch = json!({"tags": {"x": "y"}});
    let cases = [
        // (role, may listKeys, may PATCH the account)
        (roles::READER, false, false),
        (roles::COGNITIVE_SERVICES_USER, true, false),
        (roles::COGNITIVE_SERVICES_CONTRIBUTOR, true, true),
    ];
    for (role, keys, write) in cases {
        let principal = uuid::Uuid::new_v4().to_string();
        app.grant(&principal, role).await;
        let token = app.token_for(&principal, &app.tenant);
        let res = app.send_as(&token, Method::GET, &account, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{role} reads");
        let res = app
            .send_as(&token, Method::POST, &list_keys, Some(&json!({})))
            .await;
        let expected = if keys {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(res.status(), expected, "{role} listKeys");
        let res = app
            .send_as(&token, Method::PATCH, &account, Some(&patch))
            .await;
        if write {
            assert_eq!(res.status(), StatusCode::ACCEPTED, "{role} patches");
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            app.poll_location(&location).await;
        } else {
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{role} patches");
        }
    }
}

async fn a_foundry_account_owner_assigns_only_the_roles_its_condition_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let group = app.group_path("rg");
    let owner = uuid::Uuid::new_v4().to_string();
    let res = app
        .put(
            &assignment_url(&group),
            &assignment_body(&app, roles::FOUNDRY_ACCOUNT_OWNER, &owner),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let token = app.token_for(&owner, &app.tenant);
    let colleague = uuid::Uuid::new_v4().to_string();

    // Foundry User: allowed by the condition; Owner and Contributor: not.
    let allowed = assignment_url(&group);
    let res = app
        .send_as(
            &token,
            Method::PUT,
            &allowed,
            Some(&assignment_body(&app, roles::FOUNDRY_USER, &colleague)),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    for role in [
        roles::OWNER,
        roles::CONTRIBUTOR,
        roles::USER_ACCESS_ADMINISTRATOR,
    ] {
        let res = app
            .send_as(
                &token,
                Method::PUT,
                &assignment_url(&group),
                Some(&assignment_body(&app, role, &colleague)),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "assigning {role}");
    }

    // It may remove the Foundry User assignment, not an Owner one the administrator made.
    let admin_made = assignment_url(&group);
    let res = app
        .put(
            &admin_made,
            &assignment_body(&app, roles::OWNER, &colleague),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.send_as(&token, Method::DELETE, &admin_made, None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.send_as(&token, Method::DELETE, &allowed, None).await;
    assert_eq!(res.status(), StatusCode::OK);

    // The condition is served with the role.
    let definition = app
        .get_ok(&format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}?api-version=2022-04-01",
            app.subscription,
            roles::FOUNDRY_ACCOUNT_OWNER
        ))
        .await;
    let permission = &definition["properties"]["permissions"][0];
    assert_eq!(permission["conditionVersion"], "2.0");
    assert!(
        permission["condition"]
            .as_str()
            .unwrap()
            .contains(roles::FOUNDRY_USER)
    );
}
