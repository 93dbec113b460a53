//! The REST server over real HTTPS: routing, pools by host, the bearer challenge, status
//! codes and Azure error bodies, response shapes.

mod common;

use std::path::Path;

use common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const V: &str = "api-version=2025-07-01";

struct Api {
    server: TestServer,
    client: reqwest::Client,
}

impl Api {
    fn new() -> Api {
        let server = TestServer::start(&["team-a"]);
        let client = server.client(&[
            "team-a.localhost",
            "team-b.localhost",
            "team-a.hsm.test",
            "hsm.test",
        ]);
        Api { server, client }
    }

    fn url(&self, host: &str, path_and_query: &str) -> String {
        format!("https://{host}:{}{path_and_query}", self.server.port())
    }

    /// Sends a request with a bearer token; returns status, headers and JSON body (Null if none).
    fn send(
        &self,
        method: Method,
        host: &str,
        pq: &str,
        body: Option<Value>,
        token: bool,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.request(method, self.url(host, pq));
        if token {
            req = req.bearer_auth("any-token");
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.server.runtime.block_on(async {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
            };
            (status, headers, body)
        })
    }

    fn call(&self, method: Method, pq: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, b) = self.send(method, "127.0.0.1", pq, body, true);
        (s, b)
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

#[test]
fn challenge_api_version_and_bad_requests() {
    let api = Api::new();
    // No token: Azure's challenge, in the form the SDK parses.
    let (s, h, b) = api.send(Method::GET, "127.0.0.1", &format!("/keys?{V}"), None, false);
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&b), "Unauthorized");
    let challenge = h["www-authenticate"].to_str().unwrap();
    let want = format!(
        "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://localhost:{}\"",
        api.server.port()
    );
    assert_eq!(challenge, want);

    let (s, b) = api.call(Method::GET, "/keys", None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "BadParameter"),
        "missing api-version"
    );
    // Unknown: older than the newest known, not a version, or not dated.
    for v in [
        "2016-10-01",
        "2025-06-01-preview",
        "banana",
        "2026-4-01",
        "7.7",
        "2027-01-01x",
    ] {
        let (s, b) = api.call(Method::GET, &format!("/keys?api-version={v}"), None);
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{v}"
        );
    }
    // Known, and dated versions later than the newest known (answered as the newest).
    for v in [
        "7.2",
        "7.3",
        "7.4",
        "7.5",
        "7.6",
        "2025-07-01",
        "2026-04-01",
        "2026-09-01-preview",
        "2027-01-01",
    ] {
        assert_eq!(
            api.call(Method::GET, &format!("/keys?api-version={v}"), None)
                .0,
            StatusCode::OK,
            "{v}"
        );
    }
    let (s, b) = api.call(Method::GET, &format!("/nothing/here?{V}"), None);
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/k/create?{V}"),
        Some(json!("not an object")),
    );
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, _, b) = api.server.runtime.block_on(async {
        let r = api
            .client
            .post(api.url("127.0.0.1", &format!("/keys/k/create?{V}")))
            .bearer_auth("t")
            .body("{oops")
            .send()
            .await
            .unwrap();
        (r.status(), (), r.json::<Value>().await.unwrap())
    });
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "BadParameter"),
        "malformed JSON"
    );
    let big = json!({"kty": "EC", "tags": {"x": "y".repeat(2 << 20)}});
    let (s, b) = api.call(Method::POST, &format!("/keys/k/create?{V}"), Some(big));
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(code(&b), "BadParameter");
    let (s, b) = api.call(
        Method::POST,
        &format!("/rng?{V}"),
        Some(json!({"count": 0})),
    );
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, b) = api.call(
        Method::POST,
        &format!("/rng?{V}"),
        Some(json!({"count": 128})),
    );
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["value"].as_str().unwrap().len(),
        171,
        "128 bytes in base64url"
    );
}

/// An oversized body is 413 with Azure's error body over HTTP/1.1 (with a length, and
/// chunked) and over HTTP/2, as curl sends them (a real client of both).
#[test]
fn oversized_bodies_are_413_over_http1_and_http2() {
    let api = Api::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &api.server.ca_pem).unwrap();
    let big = dir.path().join("big.json");
    let body = json!({"kty": "EC", "tags": {"x": "y".repeat(2 << 20)}});
    std::fs::write(&big, body.to_string()).unwrap();
    let small = dir.path().join("small.json");
    std::fs::write(&small, json!({"kty": "EC"}).to_string()).unwrap();
    let url = api.url("127.0.0.1", &format!("/keys/curl-k/create?{V}"));
    let curl = |version: &str, file: &Path, extra: &[&str]| {
        let answer = dir.path().join("answer.json");
        let out = std::process::Command::new("curl")
            .args([version, "-sS", "-X", "POST", "--cacert"])
            .arg(&ca)
            .args([
                "-H",
                "Authorization: Bearer t",
                "-H",
                "Content-Type: application/json",
            ])
            .args(extra)
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .arg("-o")
            .arg(&answer)
            .args(["-w", "%{http_code} %{http_version}", &url])
            .output()
            .expect("curl (scripts/test-all installs it)");
        let status = String::from_utf8_lossy(&out.stdout).to_string();
        let body: Value = serde_json::from_slice(&std::fs::read(&answer).unwrap_or_default())
            .unwrap_or(Value::Null);
        (status, body)
    };
    for (version, extra, want) in [
        ("--http1.1", &[][..], "413 1.1"),
        (
            "--http1.1",
            &["-H", "Transfer-Encoding: chunked"][..],
            "413 1.1",
        ),
        ("--http2", &[][..], "413 2"),
    ] {
        let (status, body) = curl(version, &big, extra);
        assert_eq!(status, want, "{version} {extra:?}: {body}");
        assert_eq!(code(&body), "BadParameter", "{version} {extra:?}: {body}");
    }
    // The same request with a small body goes through on both.
    for version in ["--http1.1", "--http2"] {
        let (status, body) = curl(version, &small, &[]);
        assert!(status.starts_with("200 "), "{version}: {status} {body}");
    }
}

#[test]
fn pools_are_chosen_by_host_and_ids_follow_it() {
    let api = Api::new();
    let create = json!({"kty": "EC-HSM", "crv": "P-256"});
    let (s, _, b) = api.send(
        Method::POST,
        "team-a.localhost",
        &format!("/keys/shared-name/create?{V}"),
        Some(create.clone()),
        true,
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let kid = b["key"]["kid"].as_str().unwrap();
    assert!(
        kid.starts_with(&format!(
            "https://team-a.localhost:{}/keys/shared-name/",
            api.server.port()
        )),
        "{kid}"
    );
    // Another host name for the same pool gives ids with that name.
    let (_, _, b) = api.send(
        Method::GET,
        "team-a.hsm.test",
        &format!("/keys/shared-name/?{V}"),
        None,
        true,
    );
    assert!(
        b["key"]["kid"]
            .as_str()
            .unwrap()
            .starts_with("https://team-a.hsm.test:"),
        "{b}"
    );
    // The default pool does not see team-a's key.
    let (s, b) = api.call(Method::GET, &format!("/keys/shared-name/?{V}"), None);
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "KeyNotFound"));
    let (s, _, b) = api.send(
        Method::GET,
        "hsm.test",
        &format!("/keys/shared-name/?{V}"),
        None,
        true,
    );
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "KeyNotFound"),
        "the bare domain is the default pool"
    );
    // A pool that does not exist.
    let (s, _, b) = api.send(
        Method::GET,
        "team-b.localhost",
        &format!("/keys?{V}"),
        None,
        true,
    );
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
}

#[test]
fn key_lifecycle_shapes_and_errors() {
    let api = Api::new();
    let p = api.server.port();
    let (s, b) = api.call(Method::POST, &format!("/keys/rsa1/create?{V}"), Some(json!({"kty": "RSA", "key_size": 2048, "tags": {"t": "1"}, "attributes": {"exportable": false}})));
    assert_eq!(s, StatusCode::OK, "{b}");
    let key = &b["key"];
    assert_eq!(key["kty"], "RSA-HSM");
    assert_eq!(key["e"], "AQAB");
    assert!(
        key.get("d").is_none() && key.get("p").is_none(),
        "no private parts: {key}"
    );
    assert_eq!(
        key["key_ops"],
        json!([
            "sign",
            "verify",
            "encrypt",
            "decrypt",
            "wrapKey",
            "unwrapKey"
        ])
    );
    assert_eq!(b["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(b["attributes"]["recoverableDays"], 90);
    assert!(b["attributes"]["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(b["tags"], json!({"t": "1"}));
    let version = key["kid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(version.len(), 32);

    latest_and_explicit_versions(&api, &version);
    sign_by_the_latest_path(&api, &version);
    delete_recover_and_purge(&api, p);
}

/// The latest version by trailing slash, by empty version, and by explicit version; bad versions.
fn latest_and_explicit_versions(api: &Api, version: &str) {
    // Latest by trailing slash, by empty version, and by explicit version; bad versions.
    for path in [
        "/keys/rsa1/",
        "/keys/rsa1",
        &format!("/keys/rsa1/{version}"),
    ] {
        let (s, b) = api.call(Method::GET, &format!("{path}?{V}"), None);
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(b["key"]["kid"].as_str().unwrap().ends_with(&version));
    }
    let (s, b) = api.call(
        Method::GET,
        &format!("/keys/rsa1/00000000000000000000000000000000?{V}"),
        None,
    );
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "KeyNotFound"));
}

/// Crypto through the double-slash (latest) path; bad algorithms and digests; a disabled key.
fn sign_by_the_latest_path(api: &Api, version: &str) {
    // Crypto through the double-slash (latest) path.
    let digest = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1//sign?{V}"),
        Some(json!({"alg": "PS256", "value": digest})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["kid"].as_str().unwrap().ends_with(&version));
    let sig = b["value"].as_str().unwrap().to_string();
    assert!(
        !sig.contains('=') && !sig.contains('+') && !sig.contains('/'),
        "base64url without padding"
    );
    let (_, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1/{version}/verify?{V}"),
        Some(json!({"alg": "PS256", "digest": digest, "value": sig})),
    );
    assert_eq!(b["value"], true);
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1//sign?{V}"),
        Some(json!({"alg": "XS256", "value": digest})),
    );
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1//sign?{V}"),
        Some(json!({"alg": "RS256", "value": "AAAA"})),
    );
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "BadParameter"),
        "wrong digest length"
    );
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1//sign?{V}"),
        Some(json!({"alg": "RS256", "value": "!!!"})),
    );
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "BadParameter"),
        "bad base64"
    );

    // Disabled: 403.
    let (s, _) = api.call(
        Method::PATCH,
        &format!("/keys/rsa1/?{V}"),
        Some(json!({"attributes": {"enabled": false}})),
    );
    assert_eq!(s, StatusCode::OK);
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1//sign?{V}"),
        Some(json!({"alg": "PS256", "value": digest})),
    );
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "Forbidden"));
}

/// Delete, conflict on the name, get deleted, recover, delete, purge (204).
fn delete_recover_and_purge(api: &Api, p: u16) {
    // Delete, conflict on the name, get deleted, recover, delete, purge (204).
    let (s, b) = api.call(Method::DELETE, &format!("/keys/rsa1?{V}"), None);
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["recoveryId"],
        format!("https://127.0.0.1:{p}/deletedkeys/rsa1")
    );
    assert!(b["scheduledPurgeDate"].as_i64().unwrap() > b["deletedDate"].as_i64().unwrap());
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/rsa1/create?{V}"),
        Some(json!({"kty": "RSA"})),
    );
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "Conflict"));
    let (s, b) = api.call(Method::GET, &format!("/deletedkeys?{V}"), None);
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["value"][0]["recoveryId"],
        format!("https://127.0.0.1:{p}/deletedkeys/rsa1")
    );
    let (s, _) = api.call(
        Method::POST,
        &format!("/deletedkeys/rsa1/recover?{V}"),
        None,
    );
    assert_eq!(s, StatusCode::OK);
    api.call(Method::DELETE, &format!("/keys/rsa1?{V}"), None);
    let (s, b) = api.call(Method::DELETE, &format!("/deletedkeys/rsa1?{V}"), None);
    assert_eq!((s, b), (StatusCode::NO_CONTENT, Value::Null));
    let (s, b) = api.call(Method::GET, &format!("/deletedkeys/rsa1?{V}"), None);
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "KeyNotFound"));
}

#[test]
fn lists_page_with_next_links() {
    let api = Api::new();
    for i in 0..12 {
        let (s, b) = api.call(
            Method::POST,
            &format!("/keys/k{i:02}/create?{V}"),
            Some(json!({"kty": "oct-HSM", "key_size": 128})),
        );
        assert_eq!(s, StatusCode::OK);
        // 2026-04-01's read-only attribute: a symmetric key's size.
        assert_eq!(b["attributes"]["key_size"], 128, "{b}");
    }
    let mut names = Vec::new();
    let mut next = Some(format!(
        "https://127.0.0.1:{}/keys?{V}&maxresults=5",
        api.server.port()
    ));
    let mut pages = 0;
    while let Some(link) = next {
        let pq = link
            .split_once(&format!(":{}", api.server.port()))
            .unwrap()
            .1
            .to_string();
        let (s, b) = api.call(Method::GET, &pq, None);
        assert_eq!(s, StatusCode::OK, "{b}");
        for item in b["value"].as_array().unwrap() {
            let kid = item["kid"].as_str().unwrap();
            names.push(kid.rsplit('/').next().unwrap().to_string());
        }
        next = b["nextLink"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        (0..12).map(|i| format!("k{i:02}")).collect::<Vec<_>>()
    );
    let (s, b) = api.call(Method::GET, &format!("/keys?{V}&maxresults=26"), None);
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, b) = api.call(Method::GET, &format!("/keys?{V}&$skiptoken=garbage"), None);
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
}

#[test]
fn graceful_stop_and_restart_keep_keys_and_certificates() {
    let mut api = Api::new();
    let (s, b) = api.call(
        Method::POST,
        &format!("/keys/kept/create?{V}"),
        Some(json!({"kty": "EC"})),
    );
    assert_eq!(s, StatusCode::OK);
    // `key_size` is a symmetric key's only.
    assert!(b["attributes"].get("key_size").is_none(), "{b}");
    let ca_before = api.server.ca_pem.clone();
    api.server.stop();
    // Restart over the same directory: same CA, same keys.
    let dir = api.server.dir.path().to_path_buf();
    let mut config = server::ServeConfig::new(&dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    let running = common::start_when_free(&api.server.runtime, &config);
    assert_eq!(
        std::fs::read(running.ca_path.as_ref().unwrap()).unwrap(),
        ca_before
    );
    let client = api.server.client(&[]);
    let url = format!("https://127.0.0.1:{}/keys/kept/?{V}", running.addr.port());
    let status = api.server.runtime.block_on(async {
        client
            .get(url)
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::OK);
    api.server.runtime.block_on(running.shutdown()).unwrap();
    api.client = client;
}

#[test]
fn backups_restores_settings_and_rotation_policies() {
    let api = Api::new();
    let (s, _) = api.call(
        Method::POST,
        &format!("/keys/lro/create?{V}"),
        Some(json!({"kty": "EC"})),
    );
    assert_eq!(s, StatusCode::OK);
    let folder = full_backup(&api);
    selective_restore(&api, &folder);
    bad_backup_requests(&api);
    settings_and_rotation_policies(&api);
}

/// A full backup: 202, a status URL carrying the api-version, Retry-After, polled until done. Returns the folder.
fn full_backup(api: &Api) -> String {
    // Full backup: 202, a status URL carrying the api-version, Retry-After.
    let storage = "https://acct.blob.core.windows.net/c1";
    let (s, h, b) = api.send(
        Method::POST,
        "127.0.0.1",
        &format!("/backup?{V}"),
        Some(json!({"storageResourceUri": storage, "token": "sas"})),
        true,
    );
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["status"], "InProgress");
    let status_url = h["azure-asyncoperation"].to_str().unwrap().to_string();
    let port = api.server.port();
    assert!(
        status_url.starts_with(&format!("https://127.0.0.1:{port}/backup/")),
        "{status_url}"
    );
    assert!(status_url.ends_with(V), "{status_url}");
    assert_eq!(h["retry-after"], "1");
    // Polled without the api-version, as the SDK does, until it is done.
    let pending = status_url
        .split_once(&format!(":{port}"))
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let mut done = Value::Null;
    for _ in 0..100 {
        let (s, b) = api.call(Method::GET, &pending, None);
        assert_eq!(s, StatusCode::OK, "{b}");
        if b["status"] != "InProgress" {
            done = b;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(done["status"], "Succeeded", "{done}");
    let folder_uri = done["azureStorageBlobContainerUri"]
        .as_str()
        .unwrap()
        .to_string();
    let folder = folder_uri.rsplit('/').next().unwrap().to_string();
    assert!(folder.starts_with("mhsm-default-"), "{folder}");
    assert!(
        api.server
            .dir
            .path()
            .join("backups/acct.blob.core.windows.net/c1")
            .join(&folder)
            .join("mhsm-backup.json")
            .exists()
    );
    folder
}

/// Selective restore of a purged key.
fn selective_restore(api: &Api, folder: &str) {
    let storage = "https://acct.blob.core.windows.net/c1";
    let port = api.server.port();
    // Selective restore of a purged key.
    api.call(Method::DELETE, &format!("/keys/lro?{V}"), None);
    api.call(Method::DELETE, &format!("/deletedkeys/lro?{V}"), None);
    let (s, h, _) = api.send(Method::PUT, "127.0.0.1", &format!("/keys/lro/restore?{V}"), Some(json!({"sasTokenParameters": {"storageResourceUri": storage, "token": "t"}, "folder": folder})), true);
    assert_eq!(s, StatusCode::ACCEPTED);
    let url = h["azure-asyncoperation"].to_str().unwrap().to_string();
    assert!(url.contains("/restore/"), "{url}");
    let pq = url.split_once(&format!(":{port}")).unwrap().1.to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        status = api.call(Method::GET, &pq, None).1;
        if status["status"] != "InProgress" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert_eq!(
        api.call(Method::GET, &format!("/keys/lro/?{V}"), None).0,
        StatusCode::OK
    );
}

/// Bad backup requests.
fn bad_backup_requests(api: &Api) {
    // Bad input.
    let (s, b) = api.call(
        Method::POST,
        &format!("/backup?{V}"),
        Some(json!({"storageResourceUri": "https://acct/../etc"})),
    );
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, b) = api.call(
        Method::GET,
        &format!("/backup/{}/pending", "0".repeat(32)),
        None,
    );
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
    let (s, b) = api.call(Method::GET, "/backup", None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "BadParameter"),
        "other routes need the api-version"
    );
}

/// Settings; rotation policies: the default, a set one, a refused one.
fn settings_and_rotation_policies(api: &Api) {
    let port = api.server.port();
    // Settings.
    let (s, b) = api.call(Method::GET, &format!("/settings?{V}"), None);
    assert_eq!(s, StatusCode::OK);
    assert!(
        b["settings"].as_array().unwrap().iter().any(|s| s["name"]
            == "AllowKeyManagementOperationsThroughARM"
            && s["type"] == "boolean")
    );
    let (s, b) = api.call(
        Method::PATCH,
        &format!("/settings/AccessLogEnabled?{V}"),
        Some(json!({"value": "nope"})),
    );
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, b) = api.call(
        Method::PATCH,
        &format!("/settings/AccessLogRetentionDays?{V}"),
        Some(json!({"value": "14"})),
    );
    assert_eq!((s, b["value"].as_str()), (StatusCode::OK, Some("14")));

    // Rotation policy: the default, a set one, a refused one.
    let (_, b) = api.call(Method::GET, &format!("/keys/lro/rotationpolicy?{V}"), None);
    assert_eq!(b["lifetimeActions"][0]["action"]["type"], "Notify");
    assert_eq!(
        b["id"],
        format!("https://127.0.0.1:{port}/keys/lro/rotationpolicy")
    );
    let policy = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P30D"}, "action": {"type": "Rotate"}}], "attributes": {"expiryTime": "P90D"}});
    let (s, b) = api.call(
        Method::PUT,
        &format!("/keys/lro/rotationpolicy?{V}"),
        Some(policy),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["attributes"]["expiryTime"], "P90D");
    assert!(b["attributes"]["created"].as_i64().unwrap() > 0);
    let bad = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "soon"}, "action": {"type": "Rotate"}}]});
    let (s, b) = api.call(
        Method::PUT,
        &format!("/keys/lro/rotationpolicy?{V}"),
        Some(bad),
    );
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, b) = api.call(Method::GET, &format!("/keys/lro//attestation?{V}"), None);
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["attestation"].is_object());
}

#[test]
fn access_log_on_and_off() {
    use base64::Engine;
    let api = Api::new();
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.c2ln",
        part(json!({"alg": "none"})),
        part(
            json!({"oid": "0b1f5c3e-0000-4000-8000-00000000a11c", "upn": "alice@contoso.example"})
        )
    );
    let call = |method: Method, pq: &str, body: Option<Value>| {
        api.server.runtime.block_on(async {
            let mut r = api
                .client
                .request(method, api.url("127.0.0.1", pq))
                .bearer_auth(&token);
            if let Some(b) = body {
                r = r.json(&b);
            }
            r.send().await.unwrap().status()
        })
    };
    let logs = api.server.dir.path().join("logs/default");
    assert_eq!(
        call(
            Method::POST,
            &format!("/keys/logged/create?{V}"),
            Some(json!({"kty": "EC"}))
        ),
        StatusCode::OK
    );
    assert!(!logs.exists(), "off by default");
    assert_eq!(
        call(
            Method::PATCH,
            &format!("/settings/AccessLogEnabled?{V}"),
            Some(json!({"value": "true"}))
        ),
        StatusCode::OK
    );
    let digest = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(
        call(
            Method::POST,
            &format!("/keys/logged//sign?{V}"),
            Some(json!({"alg": "ES256", "value": digest}))
        ),
        StatusCode::OK
    );
    assert_eq!(
        call(Method::GET, &format!("/keys/missing/?{V}"), None),
        StatusCode::NOT_FOUND
    );
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        !text.contains(&token) && !text.contains(digest),
        "no tokens or bodies in the log"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sign = lines
        .iter()
        .find(|l| l["operation"] == "Microsoft.KeyVault/managedHsm/keys/sign/action")
        .unwrap();
    assert_eq!(sign["objectId"], "0b1f5c3e-0000-4000-8000-00000000a11c");
    assert_eq!(sign["upn"], "alice@contoso.example");
    assert_eq!(sign["clientIp"], "127.0.0.1");
    assert_eq!(sign["key"], "logged");
    assert_eq!(sign["status"], 200);
    assert!(sign["latencyMs"].as_f64().unwrap() >= 0.0);
    let missing = lines.iter().find(|l| l["key"] == "missing").unwrap();
    assert_eq!(missing["status"], 404);
    let n = lines.len();
    assert_eq!(
        call(
            Method::PATCH,
            &format!("/settings/AccessLogEnabled?{V}"),
            Some(json!({"value": "false"}))
        ),
        StatusCode::OK
    );
    call(Method::GET, &format!("/keys?{V}"), None);
    let after = std::fs::read_to_string(&files[0]).unwrap().lines().count();
    assert_eq!(after, n, "nothing is logged once the setting is off");
}
