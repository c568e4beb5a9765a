//! The ARM contract every resource type must keep, as one suite any type's test runs with its
//! own paths and statuses: api-version checks, names, bodies, PUT/GET/PATCH/DELETE with their
//! monitors, ETags and preconditions, lists, HEAD, and what a Reader may do.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{OPERATION_WAIT, TestApp, error_code, eventually, roles};

/// One resource of the type under test and what its declaration says it answers.
pub struct Subject<'a> {
    /// The list path under the parent, without a query.
    pub collection: String,
    pub api: &'a str,
    pub name: &'a str,
    /// A name the type's rule refuses.
    pub bad_name: &'a str,
    /// A body that creates it.
    pub body: Value,
    pub tracked: bool,
    /// PUT's status when it creates the resource.
    pub created: StatusCode,
    /// DELETE's status when the resource exists.
    pub deleted: StatusCode,
    pub head: bool,
    /// `GET /subscriptions/{s}/providers/{namespace}/{type}`, when the type has one.
    pub by_subscription: Option<String>,
}

impl Subject<'_> {
    fn item(&self, name: &str) -> String {
        format!("{}/{name}?api-version={}", self.collection, self.api)
    }
}

/// Follows a write's monitor (`Azure-AsyncOperation`, else `Location`) to the end and returns
/// the operation's final status; a write that finished at once is `Succeeded`.
pub async fn finish(app: &TestApp, res: &Response) -> String {
    if let Some(url) = res.headers().get("azure-asyncoperation") {
        let url = url.to_str().unwrap().to_owned();
        assert!(res.headers().contains_key("retry-after"), "Retry-After");
        let what = format!("the operation at {url} to finish");
        return eventually(what, OPERATION_WAIT, || async {
            let body: Value = app.get_absolute(&url).await;
            let status = body["status"].as_str().unwrap().to_owned();
            if ["Succeeded", "Failed", "Canceled"].contains(&status.as_str()) {
                return Some(status);
            }
            app.worker.run_once().await.unwrap();
            None
        })
        .await;
    }
    if let Some(location) = res.headers().get("location") {
        let done = app.poll_location(location.to_str().unwrap()).await;
        return if done.status().is_success() {
            "Succeeded"
        } else {
            "Failed"
        }
        .to_owned();
    }
    assert!(res.status().is_success(), "a finished write succeeded");
    "Succeeded".to_owned()
}

fn with_header(
    app: &TestApp,
    method: Method,
    url: &str,
    header: (&'static str, String),
    body: &Value,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(url))
        .bearer_auth(&app.token)
        .header(header.0, header.1)
        .json(body)
}

async fn precondition_fails(
    app: &TestApp,
    method: Method,
    url: &str,
    header: (&'static str, String),
    body: &Value,
) {
    let res = with_header(app, method, url, header, body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(res, StatusCode::PRECONDITION_FAILED).await,
        "PreconditionFailed"
    );
}

pub async fn check(app: &TestApp, s: &Subject<'_>) {
    let item = s.item(s.name);
    let bare = format!("{}/{}", s.collection, s.name);
    // api-version, absent resources, names and bodies.
    assert_eq!(
        error_code(app.get(&bare).await, StatusCode::BAD_REQUEST).await,
        "MissingApiVersionParameter"
    );
    // ARM's own types answer InvalidApiVersionParameter, a provider's NoRegisteredProviderFound.
    let res = app.get(&format!("{bare}?api-version=2099-01-01")).await;
    let code = error_code(res, StatusCode::BAD_REQUEST).await;
    assert!(
        ["InvalidApiVersionParameter", "NoRegisteredProviderFound"].contains(&code.as_str()),
        "{code}"
    );
    assert_eq!(
        error_code(app.get(&item).await, StatusCode::NOT_FOUND).await,
        "ResourceNotFound"
    );
    if s.head {
        assert_eq!(
            app.send(Method::HEAD, &item, None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let res = app.put(&s.item(s.bad_name), &s.body).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidResourceName"
    );
    let res = app.put(&item, &json!([1])).await;
    assert_eq!(
        error_code(res, StatusCode::BAD_REQUEST).await,
        "InvalidRequestContent"
    );
    let res = app
        .put(&item, &json!({"properties": "not an object"}))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Create, with the declared status and monitors, then read it back.
    let res = app.put(&item, &s.body).await;
    assert_eq!(res.status(), s.created, "PUT creating {item}");
    assert!(res.headers().contains_key("x-ms-request-id"));
    assert_eq!(finish(app, &res).await, "Succeeded");
    let res = app.get(&item).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["etag"], etag);
    assert_eq!(body["name"], s.name);
    assert!(
        body["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{}", s.name))
    );
    assert!(body["type"].as_str().unwrap().contains('/'));
    assert_eq!(body["systemData"]["createdByType"], "User");
    assert!(body["systemData"]["createdAt"].is_string());
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        body["location"].is_string(),
        s.tracked,
        "location only on tracked types"
    );

    // Preconditions; ETags change on every write.
    let (put, patch) = (Method::PUT, Method::PATCH);
    precondition_fails(
        app,
        put.clone(),
        &item,
        ("if-none-match", "*".into()),
        &s.body,
    )
    .await;
    precondition_fails(
        app,
        put.clone(),
        &item,
        ("if-match", "\"stale\"".into()),
        &s.body,
    )
    .await;
    let res = with_header(app, put, &item, ("if-match", etag.clone()), &s.body);
    let res = res.send().await.unwrap();
    assert!(
        res.status().is_success(),
        "If-Match, current ETag: {}",
        res.status()
    );
    assert_eq!(finish(app, &res).await, "Succeeded");
    precondition_fails(app, patch, &item, ("if-match", etag), &json!({})).await;
    if s.tracked {
        let res = app.patch(&item, &json!({"tags": {"team": "blue"}})).await;
        assert!(res.status().is_success(), "PATCH: {}", res.status());
        assert_eq!(finish(app, &res).await, "Succeeded");
        let body: Value = app.get_ok(&item).await;
        assert_eq!(body["tags"]["team"], "blue");
    }

    // Lists and HEAD.
    let id = body["id"].as_str().unwrap().to_owned();
    let mut lists = vec![format!("{}?api-version={}", s.collection, s.api)];
    lists.extend(
        s.by_subscription
            .iter()
            .map(|p| format!("{p}?api-version={}", s.api)),
    );
    for list in lists {
        let list: Value = app.get_ok(&list).await;
        let items = list["value"].as_array().unwrap();
        assert!(items.iter().any(|r| r["id"] == id.as_str()), "{list}");
    }
    if s.head {
        assert_eq!(
            app.send(Method::HEAD, &item, None).await.status(),
            StatusCode::NO_CONTENT
        );
    }

    // A Reader reads and cannot write or delete.
    let reader = uuid::Uuid::new_v4().to_string();
    app.grant(&reader, roles::READER).await;
    let token = app.token_for(&reader, &app.tenant);
    assert_eq!(
        app.send_as(&token, Method::GET, &item, None).await.status(),
        StatusCode::OK
    );
    for (method, body) in [(Method::PUT, Some(&s.body)), (Method::DELETE, None)] {
        let res = app.send_as(&token, method, &item, body).await;
        assert_eq!(
            error_code(res, StatusCode::FORBIDDEN).await,
            "AuthorizationFailed"
        );
    }

    // Delete, with the declared status, then it is gone.
    let res = app.delete(&item).await;
    assert_eq!(res.status(), s.deleted, "DELETE {item}");
    assert_eq!(finish(app, &res).await, "Succeeded");
    assert_eq!(
        error_code(app.get(&item).await, StatusCode::NOT_FOUND).await,
        "ResourceNotFound"
    );
    assert_eq!(app.delete(&item).await.status(), StatusCode::NO_CONTENT);
}
