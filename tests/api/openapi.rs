//! The committed OpenAPI document matches the code. `UPDATE_OPENAPI=1` rewrites it.

use serde_json::Value;

#[test]
fn committed_openapi_matches_the_code() {
    let generated =
        serde_json::to_value(kiln::startup::openapi(&kiln::resources::registry())).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&generated).unwrap() + "\n",
        )
        .unwrap();
    }
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("api-spec/openapi.json exists"),
    )
    .expect("api-spec/openapi.json is JSON");
    assert!(
        committed == generated,
        "api-spec/openapi.json is stale: run `cargo run -- openapi` (or UPDATE_OPENAPI=1 cargo test) and commit it"
    );
    // Every ARM route is documented.
    let paths = generated["paths"].as_object().unwrap();
    for path in [
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}",
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}",
        "/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/operationStatuses/{operationId}",
        "/subscriptions/{subscriptionId}/operationResults/{operationId}",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
}
