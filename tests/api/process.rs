//! The `kiln` binary as users run it: CLI commands, settings from the environment, and a
//! graceful SIGTERM that finishes the request in flight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{KillOnDrop as Server, eventually, eventually_blocking, kiln_serve};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kiln(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(KILN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KILN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kiln {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn serve(data_dir: &std::path::Path, port: u16, envs: &[(&str, &str)]) -> Server {
    let child = kiln_serve(data_dir, port)
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    eventually_blocking(
        format!("kiln to listen on port {port}"),
        Duration::from_secs(30),
        || TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    server
}

fn get(port: u16, path: &str, token: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    // The body may be chunked; take the JSON object inside.
    let start = body
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {response}"));
    let end = body.rfind('}').unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

#[test]
fn cli_commands_and_bootstrap_settings_persist() {
    let dir = tempfile::tempdir().unwrap();
    let wanted = uuid::Uuid::new_v4().to_string();
    let out = Command::new(KILN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["subscription", "create", "--display-name", "Team B"])
        .env("KILN_BOOTSTRAP_SUBSCRIPTION", &wanted)
        .env_remove("KILN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    // `kiln quota set` overrides a limit for one subscription; a bad limit is refused.
    let quota = [
        "quota",
        "set",
        "--subscription",
        &wanted,
        "--location",
        "East US",
        "--name",
        "OpenAI.Standard.gpt-4o-mini",
    ];
    kiln(dir.path(), &[&quota[..], &["--limit", "7"]].concat());
    let refused = Command::new(KILN)
        .arg("--data-dir")
        .arg(dir.path())
        .args([&quota[..], &["--limit", "lots"]].concat())
        .env_remove("KILN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--limit must be a whole number"));

    let port = free_port();
    let _server = serve(dir.path(), port, &[]);
    let token = kiln(dir.path(), &["token"]).trim().to_owned();
    let subs = get(port, "/subscriptions?api-version=2022-12-01", &token);
    let mut ids: Vec<&str> = subs["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscriptionId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![wanted.as_str(), created["subscriptionId"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "the bootstrap subscription took KILN_BOOTSTRAP_SUBSCRIPTION and the CLI's survived"
    );

    let usages = get(
        port,
        &format!(
            "/subscriptions/{wanted}/providers/Microsoft.CognitiveServices/locations/eastus/usages?api-version=2025-09-01&$filter=name.value%20eq%20'OpenAI.Standard.gpt-4o-mini'"
        ),
        &token,
    );
    assert_eq!(usages["value"][0]["limit"], 7, "{usages}");

    // `kiln openapi` writes the document.
    let out = dir.path().join("spec.json");
    kiln(dir.path(), &["openapi", "--out", out.to_str().unwrap()]);
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(spec["info"]["title"], "Kiln");
    kiln(dir.path(), &["migrate"]);
}

#[test]
fn sigterm_finishes_the_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = serve(
        dir.path(),
        port,
        &[("KILN_PUBLIC_URL", "https://kiln.example.com")],
    );
    let token = kiln(
        dir.path(),
        &["--public-url", "https://kiln.example.com", "token"],
    )
    .trim()
    .to_owned();
    let subs = get(port, "/subscriptions?api-version=2022-12-01", &token);
    let sub = subs["value"][0]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Start a PUT, send half its body, then SIGTERM the server.
    let body = br#"{"location": "eastus", "tags": {"drain": "yes"}}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT /subscriptions/{sub}/resourceGroups/drain?api-version=2024-03-01 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..10]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the in-flight request completes: {response}"
    );

    // Then the process exits cleanly.
    let status = eventually_blocking(
        "kiln to exit after SIGTERM",
        Duration::from_secs(20),
        || server.0.try_wait().unwrap(),
    );
    assert!(status.success(), "kiln exited with {status}");
}

fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.trim().split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn cli_creates_service_principals_and_mints_tokens_for_any_principal() {
    let dir = tempfile::tempdir().unwrap();
    let created: Value =
        serde_json::from_str(&kiln(dir.path(), &["sp", "create", "--name", "terraform"])).unwrap();
    for field in ["appId", "displayName", "password", "tenant", "objectId"] {
        assert!(created[field].is_string(), "{field} in {created}");
    }
    assert_eq!(created["displayName"], "terraform");

    let principal = uuid::Uuid::new_v4().to_string();
    let token = kiln(
        dir.path(),
        &[
            "token",
            "--principal",
            &principal,
            "--groups",
            "g1,g2",
            "--service-principal",
        ],
    );
    let claims = claims_of(&token);
    assert_eq!(claims["oid"], principal.as_str());
    assert_eq!(claims["groups"], serde_json::json!(["g1", "g2"]));
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["tid"], created["tenant"], "the bootstrap tenant");

    // The token works against the server, which sees the same database.
    let port = free_port();
    let _server = serve(dir.path(), port, &[]);
    // A new principal holds no role yet, so it sees no subscription; the default token is
    // the bootstrap administrator's, the subscription's Owner.
    let token = kiln(dir.path(), &["token", "--principal", &principal]);
    let subs = get(port, "/subscriptions?api-version=2022-12-01", token.trim());
    assert_eq!(subs["value"].as_array().unwrap().len(), 0, "{subs}");
    let token = kiln(dir.path(), &["token"]);
    let subs = get(port, "/subscriptions?api-version=2022-12-01", token.trim());
    assert_eq!(subs["value"].as_array().unwrap().len(), 1, "{subs}");
}

#[test]
fn a_jwks_without_issuers_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(KILN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--http", "127.0.0.1:0", "--https", "off"])
        .env("KILN_JWKS", "https://login.example/keys")
        .env_remove("KILN_JWT_ISSUER")
        .env_remove("KILN_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KILN_JWT_ISSUER"), "{stderr}");
}

/// Two `kiln serve` processes on one PostgreSQL database: a role assignment made through one
/// is enforced by the other within a second, and so is its deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_share_the_policy() {
    let database = crate::helpers::postgres_database().await;
    // Replicas share the public URL (the issuer of the tokens either one accepts) and the
    // master key (which seals the signing keys they share).
    let master = kiln::secrets::keyring::generate_base64();
    let env = [
        ("KILN_DATABASE_URL", database.as_str()),
        ("KILN_PUBLIC_URL", "http://kiln.test"),
        ("KILN_MASTER_KEY", master.as_str()),
        // The test calls with dev tokens, off by default on PostgreSQL.
        ("KILN_DEV_TOKENS", "true"),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let _a = serve(dir_a.path(), port_a, &env);
    let _b = serve(dir_b.path(), port_b, &env);
    let admin = Command::new(KILN)
        .args([
            "--data-dir",
            &dir_a.path().display().to_string(),
            "--database-url",
            &database,
            "token",
        ])
        .env("KILN_PUBLIC_URL", "http://kiln.test")
        .env("KILN_MASTER_KEY", &master)
        .output()
        .unwrap();
    let admin = String::from_utf8(admin.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::new();
    let subs: Value = client
        .get(format!(
            "http://127.0.0.1:{port_a}/subscriptions?api-version=2022-12-01"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sub = subs["value"][0]["subscriptionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let principal = uuid::Uuid::new_v4().to_string();
    let as_principal = String::from_utf8(
        Command::new(KILN)
            .args([
                "--data-dir",
                &dir_b.path().display().to_string(),
                "--database-url",
                &database,
                "token",
                "--principal",
                &principal,
            ])
            .env("KILN_PUBLIC_URL", "http://kiln.test")
            .env("KILN_MASTER_KEY", &master)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let on_b = format!("http://127.0.0.1:{port_b}/subscriptions/{sub}?api-version=2022-12-01");
    let status_on_b = || {
        let (client, on_b, token) = (client.clone(), on_b.clone(), as_principal.clone());
        async move {
            client
                .get(on_b)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status_on_b().await, reqwest::StatusCode::FORBIDDEN);
    let assignment = format!(
        "http://127.0.0.1:{port_a}/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    );
    let body = serde_json::json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{}", crate::helpers::roles::READER),
        "principalId": principal,
    }});
    let res = client
        .put(&assignment)
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let started = Instant::now();
    eventually(
        "process B to enforce A's assignment",
        Duration::from_secs(1),
        || async { status_on_b().await == reqwest::StatusCode::OK },
    )
    .await;
    let granted = started.elapsed();
    let res = client
        .delete(&assignment)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let started = Instant::now();
    eventually(
        "process B to drop the deleted assignment",
        Duration::from_secs(1),
        || async { status_on_b().await == reqwest::StatusCode::FORBIDDEN },
    )
    .await;
    eprintln!(
        "process B: granted after {granted:?}, revoked after {:?}",
        started.elapsed()
    );
}
