//! Local RBAC over real HTTPS: per built-in role, what it may and may not do in a strict
//! pool; scopes; JWT principals against anonymous ones; the open default pool; role
//! definitions and assignments (shapes, status codes, filters, bad input).

mod common;

// The suite's sections, one file each under `rest_rbac/` (a test crate's root would look for its
// modules beside it, hence the paths).
#[path = "rest_rbac/access.rs"]
mod access;
#[path = "rest_rbac/role_api.rs"]
mod role_api;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestServer;
use hsm_core::crypto::{Curve, KeySpec, jwa};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings, rbac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::ServeConfig;

const V: &str = "api-version=2025-07-01";
const POOL: &str = "strict";
const HOST: &str = "strict.localhost";
const DEFS: &str = "/providers/Microsoft.Authorization/roleDefinitions";
const ASSIGNS: &str = "/providers/Microsoft.Authorization/roleAssignments";

const ADMIN: &str = "ad000000-0000-4000-8000-000000000001";
const STRANGER: &str = "5e000000-0000-4000-8000-000000000001";

/// The built-in roles as a live Managed HSM lists them: id and name.
const BUILTINS: &[(&str, &str)] = &[
    (
        "7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8",
        "Managed HSM Backup User",
    ),
    (
        "6efe6056-5259-49d2-8b3d-d3d73544b20b",
        "Managed HSM Restore",
    ),
    (
        "33413926-3206-4cdd-b39a-83574fe37a17",
        "Managed HSM Crypto Service Encryption User",
    ),
    (
        "21dbd100-6940-42c2-9190-5d6cb909625c",
        "Managed HSM Crypto Service Release User",
    ),
    (
        "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3",
        "Managed HSM Crypto Auditor",
    ),
    (
        "4bd23610-cdcf-4971-bdee-bdc562cc28e4",
        "Managed HSM Policy Administrator",
    ),
    (
        "770fd66c-6266-4643-9d4e-b616870898d5",
        "Managed HSM ARM User",
    ),
    (
        "21dbd100-6940-42c2-9190-5d6cb909625b",
        "Managed HSM Crypto User",
    ),
    (
        "515eb02d-2335-4d2d-92f2-b1cbdf9c3778",
        "Managed HSM Crypto Officer",
    ),
    (
        "a290e904-7015-4bba-90c8-60543313cdb4",
        "Managed HSM Administrator",
    ),
];
const CRYPTO_USER: &str = "21dbd100-6940-42c2-9190-5d6cb909625b";
const ARM_USER: &str = "770fd66c-6266-4643-9d4e-b616870898d5";

fn role_id(guid: &str) -> String {
    format!("Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/{guid}")
}

/// An unsigned JWT with these claims (mhsm does not check signatures yet).
fn jwt(claims: Value) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(json!({"alg": "RS256", "typ": "JWT"})),
        part(claims),
        URL_SAFE_NO_PAD.encode(b"unchecked")
    )
}

fn token_for(oid: &str) -> String {
    jwt(json!({"oid": oid, "upn": format!("{oid}@example.test"), "appid": "app"}))
}

/// The principal of the role at `i` of [`BUILTINS`].
fn principal(i: usize) -> String {
    format!("0e000000-0000-4000-8000-{i:012}")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the tests need from the core, made before the server starts.
struct Prepared {
    decrypt: Value,
    unwrap: Value,
    backups: Vec<String>,
}

/// Starts a server whose data directory holds the pool `strict`, strict with [`ADMIN`] as
/// its administrator, with keys: `k-ec` (P-256), `k-oct` (AES-256), `other` (P-256), and
/// per role index `i`: `del-i`, deleted `gone-i` and `purge-i`, and a backup of a purged
/// `r-i`.
fn start() -> (TestServer, Prepared) {
    let dir = tempfile::tempdir().unwrap();
    let prepared = {
        let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
        hsm.create_pool(POOL, PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool(POOL).unwrap();
        let ec = KeySpec::Ec { curve: Curve::P256 };
        let opts = KeyOptions::default();
        for name in ["k-ec", "other"] {
            pool.create_key(name, ec, &opts).unwrap();
        }
        pool.create_key("k-oct", KeySpec::Aes { bits: 256 }, &opts)
            .unwrap();
        let gcm = jwa::cipher_algorithm("A256GCM", None, None).unwrap();
        let ct = pool.encrypt("k-oct", None, &gcm, b"secret").unwrap();
        let wrapped = pool
            .wrap_key(
                "k-oct",
                None,
                &jwa::wrap_algorithm("A256KW").unwrap(),
                &[7; 32],
            )
            .unwrap();
        let mut backups = Vec::new();
        for i in 0..BUILTINS.len() {
            for name in ["del", "gone", "purge", "r"] {
                pool.create_key(&format!("{name}-{i}"), ec, &opts).unwrap();
            }
            pool.delete_key(&format!("gone-{i}")).unwrap();
            pool.delete_key(&format!("purge-{i}")).unwrap();
            backups.push(b64(&pool.backup_key(&format!("r-{i}")).unwrap()));
            pool.delete_key(&format!("r-{i}")).unwrap();
            pool.purge_deleted_key(&format!("r-{i}")).unwrap();
        }
        rbac::make_strict(&pool, &[ADMIN]).unwrap();
        Prepared {
            decrypt: json!({
                "alg": "A256GCM",
                "value": b64(&ct.data),
                "iv": b64(ct.iv.as_deref().unwrap()),
                "tag": b64(ct.tag.as_deref().unwrap()),
            }),
            unwrap: json!({"alg": "A256KW", "value": b64(&wrapped)}),
            backups,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let running = common::start_when_free(&runtime, &config);
    let ca_pem = std::fs::read(running.ca_path.as_ref().unwrap()).unwrap();
    let server = TestServer {
        addr: running.addr,
        runtime,
        running: Some(running),
        dir,
        ca_pem,
    };
    (server, prepared)
}

struct Api {
    server: TestServer,
    client: reqwest::Client,
}

impl Api {
    fn new(server: TestServer) -> Api {
        let client = server.client(&[HOST]);
        Api { server, client }
    }

    /// Sends a request to `host` with `token` (no Authorization header if `None`); returns
    /// the status and the JSON body (Null if none).
    fn send_to(
        &self,
        host: &str,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("https://{host}:{}{path}{sep}{V}", self.server.port());
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.server.runtime.block_on(async {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
            };
            (status, body)
        })
    }

    /// A request to the strict pool as `token`.
    fn send(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.send_to(HOST, Some(token), method, path, body)
    }

    /// A request to the strict pool as its administrator.
    fn admin(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.send(&token_for(ADMIN), method, path, body)
    }

    /// Assigns a role through the REST API as the administrator.
    fn assign(&self, scope: &str, role: &str, who: &str) -> Value {
        let name = new_guid();
        let (s, b) = self.admin(
            Method::PUT,
            &format!("{}{ASSIGNS}/{name}", scope_prefix(scope)),
            Some(&assignment_body(role, who)),
        );
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }
}

/// The path prefix of a scope: `` for `/`, `/keys` for `/keys`.
fn scope_prefix(scope: &str) -> &str {
    scope.trim_end_matches('/')
}

fn assignment_body(role: &str, who: &str) -> Value {
    json!({"properties": {"roleDefinitionId": role_id(role), "principalId": who}})
}

fn new_guid() -> String {
    rbac::new_guid().unwrap()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

fn assert_forbidden((s, b): (StatusCode, Value), what: &str) {
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "ForbiddenByRbac"),
        "{what}: {b}"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.KeyVault/managedHsm/")
    );
}
