//! Microsoft.CognitiveServices: accounts (rules, keys, subdomains), Foundry projects, and the
//! soft delete with its restore, purge and sweeper purge.

mod accounts;
mod connections;
mod deployments;
mod projects;
mod roles;
mod soft_delete;

use crate::both_backends;
use crate::helpers::Backend;
use crate::type_contract::{self, Subject};

both_backends!(accounts_and_projects_keep_the_arm_contract);

/// The ARM contract suite, on both types.
async fn accounts_and_projects_keep_the_arm_contract(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_group("rg").await;
    let accounts = Subject {
        collection: format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts",
            app.subscription
        ),
        api: CS_API,
        name: "contract1",
        bad_name: "-x",
        body: json!({"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"},
                     "properties": {"allowProjectManagement": true}}),
        tracked: true,
        created: StatusCode::ACCEPTED,
        deleted: StatusCode::ACCEPTED,
        head: false,
        by_subscription: Some(format!(
            "/subscriptions/{}/providers/Microsoft.CognitiveServices/accounts",
            app.subscription
        )),
    };
    type_contract::check(&app, &accounts).await;
    app.foundry_account("rg", "parent", "kiln-contract").await;
    let projects = Subject {
        collection: format!("{}/projects", app.account_path("rg", "parent")),
        api: CS_API,
        name: "project1",
        bad_name: "-x",
        body: json!({"location": "eastus", "properties": {"displayName": "P"}}),
        tracked: true,
        created: StatusCode::ACCEPTED,
        deleted: StatusCode::ACCEPTED,
        head: false,
        by_subscription: None,
    };
    type_contract::check(&app, &projects).await;
}

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The api-version `azure-mgmt-cognitiveservices` 14.1.0 sends.
pub const CS_API: &str = "2025-09-01";

impl TestApp {
    pub fn account_path(&self, group: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}",
            self.subscription
        )
    }

    pub fn account_url(&self, group: &str, name: &str) -> String {
        format!("{}?api-version={CS_API}", self.account_path(group, name))
    }

    pub fn cs_url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}api-version={CS_API}")
    }

    /// PUTs `body` at `url` (an account or a project), expecting 202, and waits for it.
    pub async fn put_and_wait(&self, url: &str, body: &Value) -> Value {
        let res = self.put(url, body).await;
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let text = res.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::ACCEPTED, "PUT {url}: {text}");
        self.poll_location(&location.expect("a Location")).await;
        self.get_ok(url).await
    }

    /// An AIServices account with `subdomain`, allowing projects.
    pub async fn foundry_account(&self, group: &str, name: &str, subdomain: &str) -> Value {
        self.put_and_wait(
            &self.account_url(group, name),
            &json!({
                "location": "eastus",
                "kind": "AIServices",
                "sku": {"name": "S0"},
                "identity": {"type": "SystemAssigned"},
                "properties": {"customSubDomainName": subdomain, "allowProjectManagement": true},
            }),
        )
        .await
    }

    /// DELETEs `url`, expecting 202, and waits for it.
    pub async fn delete_and_wait(&self, url: &str) {
        let res = self.delete(url).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED, "DELETE {url}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        self.poll_location(&location).await;
    }

    pub async fn post_json(&self, url: &str, body: &Value) -> (StatusCode, Value) {
        crate::helpers::json_of(self.send(reqwest::Method::POST, url, Some(body)).await).await
    }
}
