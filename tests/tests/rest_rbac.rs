//! Local RBAC over real HTTPS: per built-in role, what it may and may not do in a strict
//! pool; scopes; JWT principals against anonymous ones; the open default pool; role
//! definitions and assignments (shapes, status codes, filters, bad input).

mod common;

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
    let running = runtime.block_on(server::start(config)).unwrap();
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

/// One operation of the role matrix: its label, and the request for role index `i`.
type Op = (&'static str, MakeRequest);

fn operations(p: &Prepared) -> Vec<Op> {
    let mut ops = key_operations(p);
    ops.extend(lifecycle_operations(p));
    ops.extend(rbac_operations());
    ops
}

/// The request of an operation for role index `i`.
type MakeRequest = Box<dyn Fn(usize) -> (Method, String, Option<Value>)>;

fn get_op(path: &'static str) -> MakeRequest {
    Box::new(move |_| (Method::GET, path.to_string(), None))
}

fn post_op(path: &'static str, body: Value) -> MakeRequest {
    Box::new(move |_| (Method::POST, path.to_string(), Some(body.clone())))
}

/// Reading keys, the key operations, updating a key.
fn key_operations(p: &Prepared) -> Vec<Op> {
    let digest = b64(&[1; 32]);
    let sig = b64(&[2; 64]);
    let decrypt = p.decrypt.clone();
    let unwrap = p.unwrap.clone();
    vec![
        ("list keys", get_op("/keys")),
        ("get key", get_op("/keys/k-ec/")),
        (
            "sign",
            post_op("/keys/k-ec//sign", json!({"alg": "ES256", "value": digest})),
        ),
        (
            "verify",
            post_op(
                "/keys/k-ec//verify",
                json!({"alg": "ES256", "digest": digest, "value": sig}),
            ),
        ),
        (
            "encrypt",
            post_op(
                "/keys/k-oct//encrypt",
                json!({"alg": "A256GCM", "value": b64(b"data")}),
            ),
        ),
        ("decrypt", post_op("/keys/k-oct//decrypt", decrypt)),
        (
            "wrap",
            post_op(
                "/keys/k-oct//wrapkey",
                json!({"alg": "A256KW", "value": b64(&[9; 32])}),
            ),
        ),
        ("unwrap", post_op("/keys/k-oct//unwrapkey", unwrap)),
        (
            "update",
            Box::new(|_| {
                (
                    Method::PATCH,
                    "/keys/k-ec/".into(),
                    Some(json!({"tags": {"t": "1"}})),
                )
            }),
        ),
    ]
}

/// Backing up, rotating, creating, importing, deleting, restoring, recovering and purging
/// keys; random bytes.
fn lifecycle_operations(p: &Prepared) -> Vec<Op> {
    let backups = p.backups.clone();
    vec![
        ("backup", post_op("/keys/k-ec/backup", json!({}))),
        ("rotate", post_op("/keys/other/rotate", json!({}))),
        (
            "create",
            Box::new(|i| {
                (
                    Method::POST,
                    format!("/keys/new-{i}/create"),
                    Some(json!({"kty": "EC"})),
                )
            }),
        ),
        (
            "import",
            Box::new(|i| {
                (
                    Method::PUT,
                    format!("/keys/imp-{i}"),
                    Some(json!({"key": {"kty": "oct-HSM", "k": b64(&[3; 32])}})),
                )
            }),
        ),
        (
            "delete",
            Box::new(|i| (Method::DELETE, format!("/keys/del-{i}"), None)),
        ),
        (
            "restore",
            Box::new(move |i| {
                (
                    Method::POST,
                    "/keys/restore".into(),
                    Some(json!({"value": backups[i]})),
                )
            }),
        ),
        ("list deleted", get_op("/deletedkeys")),
        (
            "get deleted",
            Box::new(|i| (Method::GET, format!("/deletedkeys/gone-{i}"), None)),
        ),
        (
            "recover",
            Box::new(|i| (Method::POST, format!("/deletedkeys/gone-{i}/recover"), None)),
        ),
        (
            "purge",
            Box::new(|i| (Method::DELETE, format!("/deletedkeys/purge-{i}"), None)),
        ),
        ("rng", post_op("/rng", json!({"count": 8}))),
    ]
}

/// Role definitions and assignments.
fn rbac_operations() -> Vec<Op> {
    vec![
        ("list definitions", get_op(DEFS)),
        (
            "get definition",
            Box::new(|_| (Method::GET, format!("{DEFS}/{CRYPTO_USER}"), None)),
        ),
        (
            "define",
            Box::new(|_| {
                (
                    Method::PUT,
                    format!("{DEFS}/{}", new_guid()),
                    Some(json!({"properties": {"roleName": "r"}})),
                )
            }),
        ),
        ("list assignments", get_op(ASSIGNS)),
        (
            "assign",
            Box::new(|_| {
                (
                    Method::PUT,
                    format!("{ASSIGNS}/{}", new_guid()),
                    Some(assignment_body(ARM_USER, STRANGER)),
                )
            }),
        ),
    ]
}

/// What each built-in role may do, from the role definitions Azure returns (by index in
/// [`BUILTINS`]). Everything else must be refused.
fn allowed(i: usize) -> &'static [&'static str] {
    const ROLES: &[&str] = &[
        "list definitions",
        "get definition",
        "define",
        "list assignments",
        "assign",
    ];
    match BUILTINS[i].1 {
        "Managed HSM Backup User" => &["backup"],
        "Managed HSM Restore" => &["restore"],
        "Managed HSM Crypto Service Encryption User" => &["list keys", "get key", "wrap", "unwrap"],
        "Managed HSM Crypto Service Release User" | "Managed HSM ARM User" => &[],
        "Managed HSM Crypto Auditor" => &[
            "list keys",
            "get key",
            "list deleted",
            "get deleted",
            "list definitions",
            "get definition",
            "list assignments",
        ],
        "Managed HSM Policy Administrator" | "Managed HSM Administrator" => ROLES,
        "Managed HSM Crypto User" => &[
            "list keys",
            "get key",
            "sign",
            "verify",
            "encrypt",
            "decrypt",
            "wrap",
            "unwrap",
            "update",
            "backup",
            "rotate",
            "create",
            "import",
            "delete",
            "restore",
            "rng",
            "list definitions",
            "get definition",
            "list assignments",
        ],
        "Managed HSM Crypto Officer" => &[
            "list deleted",
            "get deleted",
            "recover",
            "purge",
            "list definitions",
            "get definition",
            "define",
            "list assignments",
            "assign",
        ],
        other => panic!("no expectations for {other}"),
    }
}

#[test]
fn each_builtin_role_may_do_what_azure_grants_and_nothing_else() {
    let (server, prepared) = start();
    let api = Api::new(server);
    for (i, (role, _)) in BUILTINS.iter().enumerate() {
        api.assign("/", role, &principal(i));
    }
    let ops = operations(&prepared);
    let mut checked = 0;
    for (i, (_, role_name)) in BUILTINS.iter().enumerate() {
        let token = token_for(&principal(i));
        for (label, op) in &ops {
            let (method, path, body) = op(i);
            let (s, b) = api.send(&token, method, &path, body.as_ref());
            if allowed(i).contains(label) {
                assert!(s.is_success(), "{role_name} may {label}: {s} {b}");
            } else {
                assert_forbidden((s, b), &format!("{role_name} may not {label}"));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, BUILTINS.len() * ops.len());
    // The denied mutations changed nothing; the allowed ones did.
    let (s, _) = api.send(&token_for(&principal(7)), Method::GET, "/keys/del-0", None);
    assert_eq!(
        s,
        StatusCode::OK,
        "del-0 was only attempted by a role without keys/delete"
    );
    let (s, _) = api.send(&token_for(&principal(7)), Method::GET, "/keys/del-7", None);
    assert_eq!(s, StatusCode::NOT_FOUND, "the Crypto User deleted del-7");
    let (s, _) = api.send(&token_for(&principal(7)), Method::GET, "/keys/gone-8", None);
    assert_eq!(s, StatusCode::OK, "the Crypto Officer recovered gone-8");
}

#[test]
fn scopes_reach_one_key_all_keys_or_everything() {
    let (server, _) = start();
    let api = Api::new(server);
    let (one, all_keys) = (principal(1), principal(2));
    let a = api.assign("/keys/k-ec", CRYPTO_USER, &one);
    assert_eq!(a["properties"]["scope"], "/keys/k-ec");
    assert_eq!(
        a["id"],
        format!("/keys/k-ec{ASSIGNS}/{}", a["name"].as_str().unwrap())
    );
    let b = api.assign("/keys", CRYPTO_USER, &all_keys);
    assert_eq!(b["properties"]["scope"], "/keys");
    assert_eq!(
        b["id"],
        format!("/keys{ASSIGNS}/{}", b["name"].as_str().unwrap())
    );

    let sign = |who: &str, key: &str| {
        api.send(
            &token_for(who),
            Method::POST,
            &format!("/keys/{key}//sign"),
            Some(&json!({"alg": "ES256", "value": b64(&[1; 32])})),
        )
    };
    assert_eq!(sign(&one, "k-ec").0, StatusCode::OK);
    assert_forbidden(sign(&one, "other"), "/keys/k-ec does not reach other keys");
    assert_forbidden(
        api.send(&token_for(&one), Method::GET, "/keys", None),
        "nor the key list",
    );
    assert_eq!(sign(&all_keys, "k-ec").0, StatusCode::OK);
    assert_eq!(sign(&all_keys, "other").0, StatusCode::OK);
    assert_eq!(
        api.send(&token_for(&all_keys), Method::GET, "/keys", None)
            .0,
        StatusCode::OK
    );
    for who in [&one, &all_keys] {
        assert_forbidden(
            api.send(
                &token_for(who),
                Method::POST,
                "/rng",
                Some(&json!({"count": 4})),
            ),
            "/rng is at scope /",
        );
    }
    // Listed at the key's scope: at, above and below it; `atScope()`: at or above.
    let names = |path: &str| -> Vec<String> {
        let (s, b) = api.admin(Method::GET, path, None);
        assert_eq!(s, StatusCode::OK, "{b}");
        let mut v: Vec<String> = b["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["properties"]["principalId"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut expected = vec![ADMIN.to_string(), one.clone(), all_keys.clone()];
    expected.sort();
    assert_eq!(names(&format!("/keys/k-ec{ASSIGNS}")), expected);
    assert_eq!(names(&format!("/keys/other{ASSIGNS}")), {
        let mut v = vec![ADMIN.to_string(), all_keys.clone()];
        v.sort();
        v
    });
    assert_eq!(names(&format!("/keys{ASSIGNS}?%24filter=atScope%28%29")), {
        let mut v = vec![ADMIN.to_string(), all_keys.clone()];
        v.sort();
        v
    });
    assert_eq!(
        names(&format!("{ASSIGNS}?%24filter=atScope()")),
        vec![ADMIN.to_string()]
    );
    assert_eq!(
        names(&format!(
            "{ASSIGNS}?%24filter=principalId%20eq%20'{}'",
            one.to_uppercase()
        )),
        vec![one.clone()]
    );
}

#[test]
fn principals_come_from_jwt_claims_and_anything_else_is_anonymous() {
    let (server, _) = start();
    let api = Api::new(server);
    // The administrator, by `oid`, whatever the case of the GUID.
    for token in [token_for(ADMIN), jwt(json!({"oid": ADMIN.to_uppercase()}))] {
        let (s, b) = api.send(&token, Method::GET, DEFS, None);
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    for token in [
        "static-test-token".to_string(),
        "a.b.c".to_string(),
        jwt(json!({"upn": "admin@example.test", "appid": ADMIN})),
        jwt(json!({"oid": "not-a-guid"})),
        jwt(json!({"oid": STRANGER})),
        format!("{}.{}", token_for(ADMIN), "extra"),
    ] {
        assert_forbidden(api.send(&token, Method::GET, DEFS, None), &token);
        assert_forbidden(api.send(&token, Method::GET, "/keys", None), &token);
    }
    // No token at all is still the challenge, before any role check.
    let (s, b) = api.send_to(HOST, None, Method::GET, "/keys", None);
    assert_eq!((s, code(&b)), (StatusCode::UNAUTHORIZED, "Unauthorized"));
    // The denial names the action and the scope, in Azure's error body.
    let (s, b) = api.send(&token_for(ADMIN), Method::GET, "/keys/k-ec", None);
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        b["error"]["message"],
        "Not authorized to access Microsoft.KeyVault/managedHsm/keys/read/action on /keys/k-ec"
    );
    // A principal given a role is let in at once.
    api.assign("/", CRYPTO_USER, STRANGER);
    let (s, b) = api.send(&jwt(json!({"oid": STRANGER})), Method::GET, "/keys", None);
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[test]
fn the_default_pool_is_open_to_anyone() {
    let (server, _) = start();
    let api = Api::new(server);
    let anyone = |method: Method, path: &str, body: Option<Value>| {
        api.send_to("127.0.0.1", Some("any-token"), method, path, body.as_ref())
    };
    let (s, b) = anyone(
        Method::POST,
        "/keys/mine/create",
        Some(json!({"kty": "EC"})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = anyone(
        Method::POST,
        "/keys/mine//sign",
        Some(json!({"alg": "ES256", "value": b64(&[1; 32])})),
    );
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        anyone(Method::POST, "/rng", Some(json!({"count": 4}))).0,
        StatusCode::OK
    );
    assert_eq!(anyone(Method::GET, DEFS, None).0, StatusCode::OK);
    // Assignments may be made there, and do not close the pool.
    let (s, b) = anyone(
        Method::PUT,
        &format!("{ASSIGNS}/{}", new_guid()),
        Some(assignment_body(ARM_USER, STRANGER)),
    );
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(anyone(Method::DELETE, "/keys/mine", None).0, StatusCode::OK);
    // Other pools keep their own mode.
    let (s, b) = api.send_to(HOST, Some("any-token"), Method::GET, "/keys", None);
    assert_eq!(s, StatusCode::FORBIDDEN, "the strict pool is not open: {b}");
}

#[test]
fn role_definitions_list_get_and_custom_roles() {
    let (server, _) = start();
    let api = Api::new(server);
    builtin_role_definitions(&api);
    bad_role_definition_paths(&api);
    let role = custom_role_lifecycle(&api);
    role_definition_changes_refused(&api, &role);
}

/// The built-in roles: listed, one by name, by role name, at /keys, at `///`.
fn builtin_role_definitions(api: &Api) {
    let (s, b) = api.admin(Method::GET, DEFS, None);
    assert_eq!(s, StatusCode::OK, "{b}");
    let list = b["value"].as_array().unwrap();
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["properties"]["roleName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, BUILTINS);
    for d in list {
        assert_eq!(d["id"], role_id(d["name"].as_str().unwrap()));
        assert_eq!(d["type"], "Microsoft.Authorization/roleDefinitions");
        assert_eq!(d["properties"]["type"], "AKVBuiltInRole");
        assert_eq!(d["properties"]["assignableScopes"], json!(["/"]));
        assert!(d["properties"]["description"].is_string());
        let p = &d["properties"]["permissions"][0];
        for field in ["actions", "notActions", "dataActions", "notDataActions"] {
            assert!(p[field].is_array(), "{field} in {d}");
        }
    }
    // One by name, the same as listed; by role name; at /keys; the old SDKs' `///` path.
    let (s, user) = api.admin(Method::GET, &format!("{DEFS}/{CRYPTO_USER}"), None);
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        &user,
        list.iter().find(|d| d["name"] == CRYPTO_USER).unwrap()
    );
    let actions = user["properties"]["permissions"][0]["dataActions"]
        .as_array()
        .unwrap();
    assert_eq!(actions.len(), 19);
    assert!(actions.contains(&json!("Microsoft.KeyVault/managedHsm/keys/sign/action")));
    let (s, b) = api.admin(
        Method::GET,
        &format!("{DEFS}?%24filter=roleName%20eq%20'Managed%20HSM%20Crypto%20User'"),
        None,
    );
    assert_eq!(
        (s, b["value"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    assert_eq!(b["value"][0]["name"], CRYPTO_USER);
    let (s, b) = api.admin(Method::GET, &format!("/keys{DEFS}"), None);
    assert_eq!(
        (s, b["value"].as_array().unwrap().len()),
        (StatusCode::OK, 10)
    );
    assert_eq!(
        api.admin(Method::GET, &format!("//{DEFS}"), None).0,
        StatusCode::OK
    );
}

/// Bad names, unknown names, the wrong scope, bad filters.
fn bad_role_definition_paths(api: &Api) {
    // Bad names, unknown names, the wrong scope, bad filters.
    for (path, status, want) in [
        (
            format!("{DEFS}/not-a-guid"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("{DEFS}/{STRANGER}"),
            StatusCode::NOT_FOUND,
            "RoleDefinitionNotFound",
        ),
        (
            format!("/keys{DEFS}/{CRYPTO_USER}"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("/secrets{DEFS}"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("{DEFS}?%24filter=type%20eq%20'x'"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("{DEFS}/{CRYPTO_USER}/extra"),
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
    ] {
        let (s, b) = api.admin(Method::GET, &path, None);
        assert_eq!((s, code(&b)), (status, want), "{path}: {b}");
    }
}

/// A custom role: created, read, listed, updated, at work, refused while assigned, deleted.
fn custom_role_lifecycle(api: &Api) -> Value {
    // A custom role: PUT 201, GET, listed, updated, refused while assigned, deleted.
    let name = "c0570000-0000-4000-8000-00000000c001";
    let role = json!({"properties": {
        "roleName": "Key reader",
        "description": "reads keys",
        "type": "CustomRole",
        "permissions": [{"dataActions": ["Microsoft.KeyVault/managedHsm/keys/*"],
                         "notDataActions": ["Microsoft.KeyVault/managedHsm/keys/sign/action"]}],
        "assignableScopes": ["/"],
    }});
    let (s, created) = api.admin(Method::PUT, &format!("{DEFS}/{name}"), Some(&role));
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id": role_id(name),
            "name": name,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "assignableScopes": ["/"],
                "description": "reads keys",
                "permissions": [{
                    "actions": [], "notActions": [],
                    "dataActions": ["Microsoft.KeyVault/managedHsm/keys/*"],
                    "notDataActions": ["Microsoft.KeyVault/managedHsm/keys/sign/action"],
                }],
                "roleName": "Key reader",
                "type": "CustomRole",
            }
        })
    );
    assert_eq!(
        api.admin(Method::GET, &format!("{DEFS}/{name}"), None).1,
        created
    );
    assert_eq!(api.admin(Method::GET, DEFS, None).1["value"][10], created);
    let (s, b) = api.admin(
        Method::PUT,
        &format!("{DEFS}/{name}"),
        Some(&json!({"properties": {"roleName": "Key reader", "permissions": role["properties"]["permissions"]}})),
    );
    assert_eq!(
        (s, &b["properties"]["description"]),
        (StatusCode::CREATED, &json!(""))
    );

    // The custom role at work: keys/* but not sign.
    let who = principal(5);
    let assignment = api.assign("/keys", name, &who);
    let (s, _) = api.send(&token_for(&who), Method::GET, "/keys/k-ec", None);
    assert_eq!(s, StatusCode::OK);
    assert_forbidden(
        api.send(
            &token_for(&who),
            Method::POST,
            "/keys/k-ec//sign",
            Some(&json!({"alg": "ES256", "value": b64(&[1; 32])})),
        ),
        "notDataActions subtracts sign",
    );

    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{name}"), None);
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "Conflict"), "{b}");
    let a_name = assignment["name"].as_str().unwrap();
    assert_eq!(
        api.admin(Method::DELETE, &format!("/keys{ASSIGNS}/{a_name}"), None)
            .0,
        StatusCode::OK
    );
    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{name}"), None);
    assert_eq!((s, &b["name"]), (StatusCode::OK, &json!(name)));
    let (s, b) = api.admin(Method::GET, &format!("{DEFS}/{name}"), None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "RoleDefinitionNotFound")
    );
    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{name}"), None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "RoleDefinitionNotFound")
    );
    role
}

/// Built-ins cannot be changed or deleted; bad definitions are refused.
fn role_definition_changes_refused(api: &Api, role: &Value) {
    // Built-ins cannot be changed or deleted; bad definitions are refused.
    let (s, b) = api.admin(Method::PUT, &format!("{DEFS}/{CRYPTO_USER}"), Some(role));
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("built-in role")
    );
    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{CRYPTO_USER}"), None);
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    for body in [
        json!({"properties": {"permissions": [{"dataActions": ["Microsoft.KeyVault/managedHsm/keys/fly/action"]}]}}),
        json!({"properties": {"type": "AKVBuiltInRole"}}),
        json!({"properties": {"assignableScopes": ["/keys/k-ec"]}}),
        json!({"properties": {"permissions": {"dataActions": []}}}),
        json!({"roleName": "no properties"}),
        json!("not an object"),
    ] {
        let (s, b) = api.admin(Method::PUT, &format!("{DEFS}/{}", new_guid()), Some(&body));
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{body}: {b}"
        );
    }
    let (s, b) = api.admin(Method::PUT, &format!("{DEFS}/bad-guid"), Some(role));
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    assert_eq!(
        api.admin(Method::GET, DEFS, None).1["value"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn role_assignments_create_get_list_delete_and_bad_input() {
    let (server, _) = start();
    let api = Api::new(server);
    let name = "a5500000-0000-4000-8000-000000000001";
    let who = principal(3);
    let path = format!("/keys{ASSIGNS}/{name}");
    let (s, created) = api.admin(
        Method::PUT,
        &path,
        Some(&assignment_body(CRYPTO_USER, &who)),
    );
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id": format!("/keys{ASSIGNS}/{name}"),
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"principalId": who, "roleDefinitionId": role_id(CRYPTO_USER), "scope": "/keys"},
        })
    );
    assert_eq!(
        api.admin(Method::GET, &path, None),
        (StatusCode::OK, created.clone())
    );
    // The same PUT again is answered alike; the name with other values is a conflict.
    assert_eq!(
        api.admin(
            Method::PUT,
            &path,
            Some(&assignment_body(CRYPTO_USER, &who))
        ),
        (StatusCode::CREATED, created.clone())
    );
    let (s, b) = api.admin(Method::PUT, &path, Some(&assignment_body(ARM_USER, &who)));
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "Conflict"));
    // At another scope the name is not found.
    let (s, b) = api.admin(Method::GET, &format!("{ASSIGNS}/{name}"), None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "RoleAssignmentNotFound")
    );

    // Lists and filters.
    let count = |path: &str| {
        let (s, b) = api.admin(Method::GET, path, None);
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        b["value"].as_array().unwrap().len()
    };
    assert_eq!(count(ASSIGNS), 2, "the administrator's and this one");
    assert_eq!(count(&format!("{ASSIGNS}?%24filter=atScope()")), 1);
    assert_eq!(count(&format!("/keys{ASSIGNS}?%24filter=atScope()")), 2);
    assert_eq!(
        count(&format!("{ASSIGNS}?%24filter=principalId%20eq%20'{who}'")),
        1
    );
    assert_eq!(
        count(&format!(
            "{ASSIGNS}?%24filter=principalId%20eq%20'{STRANGER}'"
        )),
        0
    );
    assert_eq!(
        count(&format!("//{ASSIGNS}")),
        2,
        "the old SDKs' `///` path"
    );

    // Delete: 200 with the assignment, then not found.
    assert_eq!(
        api.admin(Method::DELETE, &path, None),
        (StatusCode::OK, created)
    );
    for method in [Method::GET, Method::DELETE] {
        let (s, b) = api.admin(method, &path, None);
        assert_eq!(
            (s, code(&b)),
            (StatusCode::NOT_FOUND, "RoleAssignmentNotFound")
        );
    }

    // Bad input: 400 in Azure's body, nothing stored.
    bad_role_assignments(&api, &who);
    assert_eq!(count(ASSIGNS), 1, "only the administrator's is left");
}

/// Bad assignments and filters: 400 in Azure's body, nothing stored; POST is not a route.
fn bad_role_assignments(api: &Api, who: &str) {
    let good = assignment_body(CRYPTO_USER, who);
    for (path, body) in [
        (format!("{ASSIGNS}/not-a-guid"), good.clone()),
        (format!("/secrets{ASSIGNS}/{}", new_guid()), good.clone()),
        (
            format!("/keys/bad_name{ASSIGNS}/{}", new_guid()),
            good.clone(),
        ),
        (format!("/keys/a/b{ASSIGNS}/{}", new_guid()), good.clone()),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            assignment_body(STRANGER, who),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            json!({"properties": {"roleDefinitionId": "Managed HSM Crypto User", "principalId": who}}),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            assignment_body(CRYPTO_USER, "someone@example.test"),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            json!({"properties": {"principalId": who}}),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            json!({"properties": {"roleDefinitionId": role_id(CRYPTO_USER)}}),
        ),
        (format!("{ASSIGNS}/{}", new_guid()), json!([])),
    ] {
        let (s, b) = api.admin(Method::PUT, &path, Some(&body));
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{path} {body}: {b}"
        );
    }
    for filter in ["roleName%20eq%20'x'", "principalId%20eq%20'x'", "atScope"] {
        let (s, b) = api.admin(Method::GET, &format!("{ASSIGNS}?%24filter={filter}"), None);
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{filter}"
        );
    }
    let (s, b) = api.admin(Method::POST, ASSIGNS, Some(&good));
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
}
