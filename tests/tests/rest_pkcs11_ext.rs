//! mhsm's extension API for the PKCS#11 module in remote mode (`docs/REMOTE.md`) over real
//! HTTPS: every `/x-mhsm/pkcs11/` route and its 404s, `x-mhsm` on key creation and import,
//! `innererror` in error bodies, RBAC and the access log on extension routes, and the `MHSM-`
//! algorithm names through the standard crypto routes, checked against the core.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestServer;
use hsm_core::crypto::{
    CipherAlgorithm, Curve, HashAlg, KeyMaterial, KeySpec, PublicKey, SignAlgorithm, WrapAlgorithm,
    jwa,
};
use hsm_core::key::{EphemeralKey, KeyOperation as Op, KeyOps};
use hsm_core::{Hsm, HsmConfig, SecretBytes, rbac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const V: &str = "api-version=7.5";
const X: &str = "/x-mhsm/pkcs11";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(v.as_str().unwrap_or_else(|| panic!("not a string: {v}")))
        .unwrap()
}

/// An unsigned JWT naming `oid` (mhsm does not check signatures).
fn token_for(oid: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        part(json!({"alg": "none"})),
        part(json!({"oid": oid, "upn": format!("{oid}@example.test")}))
    )
}

struct Api {
    server: TestServer,
    client: reqwest::Client,
}

impl Api {
    fn new() -> Api {
        Api::on(TestServer::start(&[]))
    }

    fn on(server: TestServer) -> Api {
        let client = server.client(&["strict.localhost"]);
        Api { server, client }
    }

    /// A request to `host` as `token`; the api-version is added. Answers status and JSON
    /// (Null for an empty body).
    fn send_as(
        &self,
        token: &str,
        host: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("https://{host}:{}{path}?{V}", self.server.port());
        let mut req = self.client.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.server.runtime.block_on(async {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap()
            };
            (status, body)
        })
    }

    /// A request to the default pool.
    fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send_as("any-token", "127.0.0.1", method, path, body)
    }

    /// A request that must answer 200 or 204; its body.
    fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, b) = self.call(method.clone(), path, body);
        assert!(s.is_success(), "{method} {path}: {s} {b}");
        b
    }
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

fn inner(b: &Value) -> &str {
    b["error"]["innererror"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

#[test]
fn state_keys_and_front_end_attributes() {
    let api = Api::new();
    let g0 = api.ok(Method::GET, &format!("{X}/state"), None)["generation"]
        .as_u64()
        .unwrap();

    let created = keys_made_with_x_mhsm(&api);
    let g1 = snapshot_and_one_key(&api, g0, &created);
    set_and_remove_one_attribute(&api, g1);
    extension_routes_not_found(&api);
}

/// `x-mhsm` on create and import; `newKeyOnly`; bad `x-mhsm`. Returns the created key `ec`.
fn keys_made_with_x_mhsm(api: &Api) -> Value {
    // x-mhsm on create: the attributes come with the key, and the answer is extended.
    let created = api.ok(
        Method::POST,
        "/keys/ec/create",
        Some(json!({"kty": "EC", "crv": "P-384", "x-mhsm": {"extra": {"ck.id": b64(b"id-1")}}})),
    );
    assert_eq!(created["x-mhsm"]["keySize"], 384);
    assert_eq!(created["x-mhsm"]["extra"]["ck.id"], b64(b"id-1"));
    assert_eq!(created["key"]["crv"], "P-384");
    let plain = api.ok(
        Method::POST,
        "/keys/plain/create",
        Some(json!({"kty": "RSA"})),
    );
    assert!(
        plain.get("x-mhsm").is_none(),
        "standard answer without x-mhsm"
    );

    // newKeyOnly: an existing name, and a deleted one, are refused.
    let again = json!({"kty": "EC", "x-mhsm": {"newKeyOnly": true}});
    let (s, b) = api.call(Method::POST, "/keys/ec/create", Some(again.clone()));
    assert_eq!(
        (s, code(&b), inner(&b)),
        (StatusCode::CONFLICT, "Conflict", "Conflict")
    );
    api.ok(Method::DELETE, "/keys/plain", None);
    let (s, _) = api.call(Method::POST, "/keys/plain/create", Some(again.clone()));
    assert_eq!(s, StatusCode::CONFLICT, "a deleted name is taken too");
    api.ok(Method::POST, "/keys/fresh/create", Some(again));
    let (s, b) = api.call(
        Method::POST,
        "/keys/bad/create",
        Some(json!({"kty": "EC", "x-mhsm": {"extra": {"no/slash": "AA"}}})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    let (s, _) = api.call(
        Method::POST,
        "/keys/bad/create",
        Some(json!({"kty": "EC", "x-mhsm": {"surprise": 1}})),
    );
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown x-mhsm fields are refused"
    );

    // x-mhsm on import.
    let imported = api.ok(
        Method::PUT,
        "/keys/aes",
        Some(json!({
            "key": {"kty": "oct", "k": b64(&[5; 16])},
            "x-mhsm": {"extra": {"ck.label": b64(b"L")}, "newKeyOnly": true},
        })),
    );
    assert_eq!(imported["x-mhsm"]["keySize"], 128);
    assert_eq!(imported["x-mhsm"]["extra"]["ck.label"], b64(b"L"));
    created
}

/// The generation moved; the snapshot holds the live keys, extended; one key. Returns the generation.
fn snapshot_and_one_key(api: &Api, g0: u64, created: &Value) -> u64 {
    let state = api.ok(Method::GET, &format!("{X}/state"), None);
    let g1 = state["generation"].as_u64().unwrap();
    assert_ne!(g1, g0, "the generation moves with the keys");

    let all = api.ok(Method::GET, &format!("{X}/keys"), None);
    assert_eq!(all["generation"].as_u64(), Some(g1));
    let mut names: Vec<&str> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"]["kid"].as_str().unwrap().split('/').nth(4).unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["aes", "ec", "fresh"], "live keys only");
    assert!(
        all["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["x-mhsm"]["keySize"].is_u64())
    );

    let one = api.ok(Method::GET, &format!("{X}/keys/ec"), None);
    assert_eq!(one["x-mhsm"]["extra"]["ck.id"], b64(b"id-1"));
    assert_eq!(one["key"]["kid"], created["key"]["kid"]);
    let (s, b) = api.call(Method::GET, &format!("{X}/keys/missing"), None);
    assert_eq!(
        (s, code(&b), inner(&b)),
        (StatusCode::NOT_FOUND, "KeyNotFound", "KeyNotFound")
    );
    g1
}

/// Setting and removing one front-end attribute moves the generation.
fn set_and_remove_one_attribute(api: &Api, g1: u64) {
    // Setting and removing one attribute.
    let set = api.ok(
        Method::PUT,
        &format!("{X}/keys/ec/extra/ck.subject"),
        Some(json!({"value": b64(b"CN=x")})),
    );
    assert_eq!(set["x-mhsm"]["extra"]["ck.subject"], b64(b"CN=x"));
    assert_eq!(set["x-mhsm"]["extra"]["ck.id"], b64(b"id-1"));
    let removed = api.ok(
        Method::PUT,
        &format!("{X}/keys/ec/extra/ck.id"),
        Some(json!({"value": null})),
    );
    assert!(removed["x-mhsm"]["extra"].get("ck.id").is_none());
    let (s, b) = api.call(
        Method::PUT,
        &format!("{X}/keys/missing/extra/ck.id"),
        Some(json!({"value": "AA"})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::NOT_FOUND, "KeyNotFound"));
    assert_ne!(
        api.ok(Method::GET, &format!("{X}/state"), None)["generation"].as_u64(),
        Some(g1)
    );
}

/// Routes that do not exist: a plain 404, no `innererror`.
fn extension_routes_not_found(api: &Api) {
    // Routes that do not exist.
    for (method, path) in [
        (Method::GET, format!("{X}/nothing")),
        (Method::POST, format!("{X}/state")),
        (Method::GET, format!("{X}/keys/ec/extra")),
        (Method::DELETE, format!("{X}/keys/ec")),
        (Method::PUT, format!("{X}/pins/admin")),
        (Method::GET, X.to_string()),
        (Method::GET, "/x-mhsm/other/state".to_string()),
    ] {
        let (s, b) = api.call(method.clone(), &path, None);
        assert_eq!(
            (s, code(&b)),
            (StatusCode::NOT_FOUND, "NotFound"),
            "{method} {path}"
        );
        assert!(b["error"].get("innererror").is_none(), "{b}");
    }
}

#[test]
fn derive_and_export() {
    let api = Api::new();
    let local = Hsm::open(HsmConfig::in_memory()).unwrap();
    let bundle = api.ok(
        Method::POST,
        "/keys/ecdh/create",
        Some(json!({
            "kty": "EC", "crv": "P-256", "key_ops": ["sign", "verify", "deriveKey", "export"],
            "attributes": {"exportable": true},
        })),
    );
    let mut server_point = vec![4];
    server_point.extend(unb64(&bundle["key"]["x"]));
    server_point.extend(unb64(&bundle["key"]["y"]));
    let peer = local
        .generate_ephemeral(
            KeySpec::Ec { curve: Curve::P256 },
            KeyOps::of(&[Op::Derive]),
            false,
        )
        .unwrap();
    let peer_point = peer.public_key().unwrap().ec_point_uncompressed().unwrap();
    let shared = api.ok(
        Method::POST,
        &format!("{X}/keys/ecdh//derive"),
        Some(json!({"value": b64(&peer_point)})),
    );
    assert_eq!(
        unb64(&shared["value"]),
        peer.derive_ecdh(&server_point).unwrap().expose_secret()
    );
    let version = bundle["key"]["kid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let again = api.ok(
        Method::POST,
        &format!("{X}/keys/ecdh/{version}/derive"),
        Some(json!({"value": b64(&peer_point)})),
    );
    assert_eq!(again["value"], shared["value"]);
    let (s, b) = api.call(
        Method::POST,
        &format!("{X}/keys/ecdh//derive"),
        Some(json!({"value": b64(&[4; 65])})),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = api.call(
        Method::POST,
        &format!("{X}/keys/ecdh/00000000000000000000000000000000/derive"),
        Some(json!({"value": b64(&peer_point)})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::NOT_FOUND, "KeyVersionNotFound")
    );

    // Export: PKCS#8 for EC, as the core reads it back.
    let exported = api.ok(Method::POST, &format!("{X}/keys/ecdh//export"), None);
    let material = KeyMaterial::from_pkcs8_der(&unb64(&exported["value"])).unwrap();
    assert_eq!(material.spec(), KeySpec::Ec { curve: Curve::P256 });
    let copy = local
        .import_ephemeral(material, KeyOps::of(&[Op::Sign]), false)
        .unwrap();
    assert_eq!(
        copy.public_key().unwrap().ec_point_uncompressed().unwrap(),
        server_point
    );

    // RSA as PKCS#8 too; AES raw.
    api.ok(
        Method::POST,
        "/keys/rsa-x/create",
        Some(json!({"kty": "RSA", "key_ops": ["sign", "export"], "attributes": {"exportable": true}})),
    );
    let exported = api.ok(Method::POST, &format!("{X}/keys/rsa-x//export"), None);
    let material = KeyMaterial::from_pkcs8_der(&unb64(&exported["value"])).unwrap();
    assert_eq!(material.spec(), KeySpec::Rsa { bits: 2048 });
    api.ok(
        Method::PUT,
        "/keys/aes-x",
        Some(json!({
            "key": {"kty": "oct", "k": b64(&[9; 32]), "key_ops": ["encrypt", "export"]},
            "attributes": {"exportable": true},
        })),
    );
    let exported = api.ok(Method::POST, &format!("{X}/keys/aes-x//export"), None);
    assert_eq!(unb64(&exported["value"]), [9; 32]);

    // Not exportable, not allowed, missing.
    api.ok(
        Method::POST,
        "/keys/kept/create",
        Some(json!({"kty": "EC", "key_ops": ["sign", "export"]})),
    );
    let (s, b) = api.call(Method::POST, &format!("{X}/keys/kept//export"), None);
    assert_eq!(
        (s, code(&b), inner(&b)),
        (StatusCode::FORBIDDEN, "Forbidden", "NotExportable")
    );
    api.ok(
        Method::POST,
        "/keys/signer/create",
        Some(json!({"kty": "EC"})),
    );
    let (s, b) = api.call(
        Method::POST,
        &format!("{X}/keys/signer//derive"),
        Some(json!({"value": b64(&peer_point)})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::FORBIDDEN, "OperationNotPermitted")
    );
    let (s, b) = api.call(Method::POST, &format!("{X}/keys/none//export"), None);
    assert_eq!((s, inner(&b)), (StatusCode::NOT_FOUND, "KeyNotFound"));
}

#[test]
fn documents() {
    let api = Api::new();
    let docs = format!("{X}/documents/p11-object");
    assert_eq!(api.ok(Method::GET, &docs, None), json!({"documents": []}));
    let (s, b) = api.call(Method::GET, &format!("{docs}/cert-1"), None);
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
    let g0 = api.ok(Method::GET, &format!("{X}/state"), None)["generation"].clone();
    let (s, b) = api.call(
        Method::PUT,
        &format!("{docs}/cert-1"),
        Some(json!({"value": b64(b"attributes")})),
    );
    assert_eq!((s, b), (StatusCode::NO_CONTENT, Value::Null));
    assert_ne!(
        api.ok(Method::GET, &format!("{X}/state"), None)["generation"],
        g0
    );
    api.ok(
        Method::PUT,
        &format!("{docs}/cert-2"),
        Some(json!({"value": b64(b"two")})),
    );
    assert_eq!(
        api.ok(Method::GET, &format!("{docs}/cert-1"), None),
        json!({"id": "cert-1", "value": b64(b"attributes")})
    );
    assert_eq!(
        api.ok(Method::GET, &docs, None),
        json!({"documents": [
            {"id": "cert-1", "value": b64(b"attributes")},
            {"id": "cert-2", "value": b64(b"two")},
        ]})
    );
    assert_eq!(
        api.ok(Method::GET, &format!("{X}/documents/other-kind"), None),
        json!({"documents": []})
    );
    let (s, _) = api.call(Method::DELETE, &format!("{docs}/cert-1"), None);
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = api.call(Method::DELETE, &format!("{docs}/cert-1"), None);
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
    let (s, _) = api.call(Method::GET, &format!("{docs}/cert-1"), None);
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The core's own kinds stay behind their APIs; bad names are refused.
    for path in [
        format!("{X}/documents/pin"),
        format!("{X}/documents/pin/user"),
        format!("{X}/documents/role-assignment"),
        format!("{X}/documents/Bad-Kind"),
        format!("{docs}/a%20b"),
    ] {
        let (s, b) = api.call(Method::GET, &path, None);
        assert_eq!(
            (s, inner(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{path}: {b}"
        );
    }
    let (s, _) = api.call(
        Method::PUT,
        &format!("{X}/documents/rbac/mode"),
        Some(json!({"value": b64(b"open")})),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = api.call(
        Method::PUT,
        &format!("{docs}/x"),
        Some(json!({"value": "!!"})),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[test]
fn pins_and_clear() {
    let api = Api::new();
    let pins = api.ok(Method::GET, &format!("{X}/pins"), None);
    assert_eq!(
        pins["policy"],
        json!({"minLen": 4, "maxLen": 255, "maxFailures": 10})
    );
    assert_eq!(pins["user"]["initialized"], false);
    let (s, _) = api.call(
        Method::PUT,
        &format!("{X}/pins/policy"),
        Some(json!({"minLen": 4, "maxLen": 8, "maxFailures": 3})),
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = api.call(
        Method::PUT,
        &format!("{X}/pins/policy"),
        Some(json!({"minLen": 0, "maxLen": 8, "maxFailures": 3})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));

    let verify = |pin: &[u8]| {
        api.call(
            Method::POST,
            &format!("{X}/pins/user/verify"),
            Some(json!({"pin": b64(pin)})),
        )
    };
    let (s, b) = verify(b"1234");
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::UNAUTHORIZED, "PinNotInitialized")
    );
    for who in ["user", "so"] {
        let (s, _) = api.call(
            Method::PUT,
            &format!("{X}/pins/{who}"),
            Some(json!({"pin": b64(format!("{who}-pin").as_bytes())})),
        );
        assert_eq!(s, StatusCode::NO_CONTENT, "{who}");
    }
    let (s, b) = api.call(
        Method::PUT,
        &format!("{X}/pins/user"),
        Some(json!({"pin": b64(b"far-too-long")})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "PinInvalid"));
    assert_eq!(verify(b"user-pin").0, StatusCode::NO_CONTENT);
    let (s, b) = verify(b"wrong");
    assert_eq!(
        (s, code(&b), inner(&b)),
        (StatusCode::UNAUTHORIZED, "Unauthorized", "PinIncorrect")
    );
    assert_eq!(b["error"]["innererror"]["remaining"], 2);
    assert!(
        !b.to_string().contains(&b64(b"wrong")),
        "no PIN in the answer"
    );
    let pins = api.ok(Method::GET, &format!("{X}/pins"), None);
    assert_eq!(
        pins["user"],
        json!({"initialized": true, "failures": 1, "locked": false, "remaining": 2})
    );
    assert_eq!(pins["so"]["initialized"], true);
    assert_eq!(verify(b"wrong").1["error"]["innererror"]["remaining"], 1);
    let (s, b) = verify(b"wrong");
    assert_eq!((s, inner(&b)), (StatusCode::UNAUTHORIZED, "PinLocked"));
    let (s, b) = api.call(
        Method::POST,
        &format!("{X}/pins/so/verify"),
        Some(json!({"pin": b64(b"so-pin")})),
    );
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");

    // Clear: every key goes for good; the SO PIN stays, the user PIN goes.
    for name in ["a", "b", "c"] {
        api.ok(
            Method::POST,
            &format!("/keys/{name}/create"),
            Some(json!({"kty": "EC"})),
        );
    }
    api.ok(Method::DELETE, "/keys/c", None);
    assert_eq!(
        api.ok(Method::POST, &format!("{X}/clear"), None),
        json!({"removed": 3})
    );
    assert_eq!(api.ok(Method::GET, "/keys", None)["value"], json!([]));
    assert_eq!(
        api.ok(Method::GET, "/deletedkeys", None)["value"],
        json!([])
    );
    let pins = api.ok(Method::GET, &format!("{X}/pins"), None);
    assert_eq!(
        (
            pins["user"]["initialized"].clone(),
            pins["so"]["initialized"].clone()
        ),
        (json!(false), json!(true))
    );
}

/// The strict pool's administrator.
const ADMIN: &str = "ad000000-0000-4000-8000-000000000001";
/// A Crypto User of the strict pool.
const USER: &str = "0e000000-0000-4000-8000-000000000001";
/// A principal with no role in the strict pool.
const STRANGER: &str = "5e000000-0000-4000-8000-000000000001";

#[test]
fn strict_pools_check_the_extension_routes_and_log_them() {
    let server = TestServer::start_with(&["strict"], |config| {
        let hsm = Hsm::open(HsmConfig::new(&config.data_dir)).unwrap();
        rbac::make_strict(&hsm.pool("strict").unwrap(), &[ADMIN]).unwrap();
    });
    let api = Api::on(server);
    let host = "strict.localhost";
    strict_pool_with_a_user(&api, host);
    extension_routes_refuse_a_stranger(&api, host);
    extension_routes_for_a_crypto_user(&api, host);
    access_log_of_extension_routes(&api);
}

/// The administrator turns the access log on and makes USER a Crypto User, who makes a key.
fn strict_pool_with_a_user(api: &Api, host: &str) {
    // The administrator turns the access log on and makes USER a Crypto User.
    let (s, b) = api.send_as(
        &token_for(ADMIN),
        host,
        Method::PATCH,
        "/settings/AccessLogEnabled",
        Some(json!({"value": "true"})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let grant = json!({"properties": {
        "roleDefinitionId": "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/21dbd100-6940-42c2-9190-5d6cb909625b",
        "principalId": USER,
    }});
    let (s, b) = api.send_as(
        &token_for(ADMIN),
        host,
        Method::PUT,
        "/providers/Microsoft.Authorization/roleAssignments/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        Some(grant),
    );
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::POST,
        "/keys/k/create",
        Some(json!({"kty": "EC"})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// Each extension route names its data action and scope when it refuses a stranger.
fn extension_routes_refuse_a_stranger(api: &Api, host: &str) {
    for (method, path, action) in [
        (
            Method::GET,
            format!("{X}/state"),
            "keys/read/action on /keys",
        ),
        (
            Method::GET,
            format!("{X}/keys/k"),
            "keys/read/action on /keys/k",
        ),
        (
            Method::PUT,
            format!("{X}/keys/k/extra/a"),
            "keys/write/action on /keys/k",
        ),
        (
            Method::POST,
            format!("{X}/keys/k//derive"),
            "keys/derive/action on /keys/k",
        ),
        (
            Method::POST,
            format!("{X}/keys/k//export"),
            "keys/export/action on /keys/k",
        ),
        (
            Method::DELETE,
            format!("{X}/documents/p11-object/x"),
            "keys/delete on /keys",
        ),
        (
            Method::POST,
            format!("{X}/pins/user/verify"),
            "keys/read/action on /keys",
        ),
        (
            Method::POST,
            format!("{X}/clear"),
            "keys/deletedKeys/delete on /keys",
        ),
    ] {
        let (s, b) = api.send_as(
            &token_for(STRANGER),
            host,
            method.clone(),
            &path,
            Some(json!({})),
        );
        assert_eq!(
            (s, code(&b), inner(&b)),
            (StatusCode::FORBIDDEN, "ForbiddenByRbac", "ForbiddenByRbac"),
            "{method} {path}"
        );
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.ends_with(action), "{message}");
    }
}

/// A Crypto User reads through the extension but may not clear the pool.
fn extension_routes_for_a_crypto_user(api: &Api, host: &str) {
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::GET,
        &format!("{X}/state"),
        None,
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::GET,
        &format!("{X}/keys/k"),
        None,
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::POST,
        &format!("{X}/clear"),
        None,
    );
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "ForbiddenByRbac"),
        "a crypto user may not clear"
    );
}

/// The access log names the extension routes' actions and principals, never bodies.
fn access_log_of_extension_routes(api: &Api) {
    let logs = api.server.dir.path().join("logs/strict");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let read = lines
        .iter()
        .find(|l| l["request"] == format!("GET {X}/keys/k") && l["objectId"] == USER)
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        read["operation"],
        "Microsoft.KeyVault/managedHsm/keys/read/action"
    );
    assert_eq!(read["key"], "k");
    assert_eq!(read["status"], 200);
    assert_eq!(read["upn"], format!("{USER}@example.test"));
    let refused = lines
        .iter()
        .find(|l| l["request"] == format!("POST {X}/keys/k//derive"))
        .unwrap();
    assert_eq!(refused["objectId"], STRANGER);
    assert_eq!(
        refused["operation"],
        "Microsoft.KeyVault/managedHsm/keys/derive/action"
    );
    assert_eq!(refused["status"], 403);
    assert!(!text.contains("\"pin\""), "no request bodies in the log");
}

/// A key imported over REST, with a local copy of it for comparison.
struct Twin {
    name: &'static str,
    local: hsm_core::key::EphemeralKey,
}

fn aes_twin(api: &Api, local: &Hsm, name: &'static str, key: &[u8]) -> Twin {
    api.ok(
        Method::PUT,
        &format!("/keys/{name}"),
        Some(json!({"key": {
            "kty": "oct", "k": b64(key),
            "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"],
        }})),
    );
    let ops = KeyOps::of(&[
        Op::Encrypt,
        Op::Decrypt,
        Op::Sign,
        Op::Verify,
        Op::WrapKey,
        Op::UnwrapKey,
    ]);
    let local = local
        .import_ephemeral(KeyMaterial::Aes(SecretBytes::new(key.to_vec())), ops, false)
        .unwrap();
    Twin { name, local }
}

fn crypt_body(req: &jwa::JwaRequest, value: &[u8]) -> Value {
    let mut body = json!({"alg": req.alg, "value": b64(value)});
    if let Some(iv) = &req.iv {
        body["iv"] = json!(b64(iv));
    }
    if let Some(aad) = &req.aad {
        body["aad"] = json!(b64(aad));
    }
    body
}

#[test]
fn vendor_algorithm_names_through_the_standard_routes() {
    let api = Api::new();
    let local = Hsm::open(HsmConfig::in_memory()).unwrap();
    let aes = aes_twin(&api, &local, "aes", &[0x42; 32]);
    vendor_aes_ciphers(&api, &aes);
    vendor_macs_and_key_wrap(&api, &aes);
    let verifier = vendor_rsa_signatures(&api, &local);
    vendor_rsa_ciphers(&api, &verifier);
    vendor_ecdsa(&api, &local);
    vendor_names_refused(&api);
}

/// The input of the AES cases.
const PLAIN: [u8; 48] = [0x11; 48];

/// AES ECB, CTR, CBC and GCM by vendor names: the server's output is the core's.
fn vendor_aes_ciphers(api: &Api, aes: &Twin) {
    let spec = KeySpec::Aes { bits: 256 };
    let plain = PLAIN;
    // Deterministic modes.
    let ecb = CipherAlgorithm::AesEcb;
    let ctr = CipherAlgorithm::AesCtr {
        counter_block: [0xfe; 16],
        counter_bits: 64,
    };
    let cbc = CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [3; 16],
        padding: true,
    };
    let gcm12 = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: Some(vec![8; 12]),
        aad: b"head".to_vec(),
        tag_len: 12,
    };
    for alg in [ecb, ctr, cbc, gcm12] {
        let req = jwa::cipher_request(&alg, &spec);
        assert!(
            req.alg.starts_with("MHSM-") || req.alg == "A256CBCPAD",
            "{}",
            req.alg
        );
        let out = api.ok(
            Method::POST,
            &format!("/keys/{}//encrypt", aes.name),
            Some(crypt_body(&req, &plain)),
        );
        let want = aes.local.encrypt(&alg, &plain).unwrap();
        assert_eq!(unb64(&out["value"]), want.data, "{}", req.alg);
        if let Some(tag) = &want.tag {
            assert_eq!(tag.len(), 12);
            assert_eq!(unb64(&out["tag"]), *tag, "{}", req.alg);
        }
        // Decrypt: GCM's tag comes separately, as Azure sends it.
        let mut body = crypt_body(&req, &want.data);
        if let Some(tag) = &want.tag {
            body["tag"] = json!(b64(tag));
        }
        let back = api.ok(
            Method::POST,
            &format!("/keys/{}//decrypt", aes.name),
            Some(body.clone()),
        );
        assert_eq!(unb64(&back["value"]), plain, "{}", req.alg);
        if want.tag.is_some() {
            body["aad"] = json!(b64(b"tampered"));
            let (s, b) = api.call(
                Method::POST,
                &format!("/keys/{}//decrypt", aes.name),
                Some(body),
            );
            assert_eq!(
                (s, code(&b), inner(&b)),
                (StatusCode::BAD_REQUEST, "BadParameter", "DecryptionFailed")
            );
        }
    }
    // GCM with a generated IV and a 13-byte tag, then Azure's A256GCM.
    for tag_len in [13, 16] {
        let alg = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: Vec::new(),
            tag_len,
        };
        let req = jwa::cipher_request(&alg, &spec);
        let out = api.ok(
            Method::POST,
            "/keys/aes//encrypt",
            Some(crypt_body(&req, &plain)),
        );
        let iv = unb64(&out["iv"]);
        let tag = unb64(&out["tag"]);
        assert_eq!(tag.len(), tag_len);
        let mut ct = unb64(&out["value"]);
        ct.extend(&tag);
        let local_alg = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: Some(iv),
            aad: Vec::new(),
            tag_len,
        };
        assert_eq!(
            aes.local.decrypt(&local_alg, &ct).unwrap().expose_secret(),
            plain
        );
    }
}

/// CMAC and HMAC-SHA-1; AES key wrap with padding under a size the name demands.
fn vendor_macs_and_key_wrap(api: &Api, aes: &Twin) {
    let spec = KeySpec::Aes { bits: 256 };
    for alg in [
        SignAlgorithm::Cmac,
        SignAlgorithm::Hmac {
            hash: HashAlg::Sha1,
        },
    ] {
        let name = jwa::sign_name(&alg, &spec);
        let out = api.ok(
            Method::POST,
            "/keys/aes//sign",
            Some(json!({"alg": name, "value": b64(b"message")})),
        );
        assert_eq!(
            unb64(&out["value"]),
            aes.local.sign(&alg, b"message").unwrap(),
            "{name}"
        );
        let ok = api.ok(
            Method::POST,
            "/keys/aes//verify",
            Some(json!({"alg": name, "digest": b64(b"message"), "value": out["value"]})),
        );
        assert_eq!(ok["value"], true);
    }
    // AES key wrap with padding under a size the name demands.
    let kwp = WrapAlgorithm::AesKwp {
        key_bits: Some(256),
    };
    let req = jwa::wrap_request(&kwp, &spec);
    assert_eq!(req.alg, "MHSM-AES-KWP-K256");
    let wrapped = api.ok(
        Method::POST,
        "/keys/aes//wrapkey",
        Some(crypt_body(&req, &[1; 20])),
    );
    assert_eq!(
        unb64(&wrapped["value"]),
        aes.local.wrap_key(&kwp, &[1; 20]).unwrap()
    );
    let (s, b) = api.call(
        Method::POST,
        "/keys/aes//wrapkey",
        Some(json!({"alg": "MHSM-AES-KWP-K128", "value": b64(&[1; 20])})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "KeyTypeMismatch"));
}

/// RSA signatures: PSS with a salt of 0 and MGF1 like the hash, verified locally. Returns
/// the RSA key's public half, for the cipher cases.
fn vendor_rsa_signatures(api: &Api, local: &Hsm) -> EphemeralKey {
    let rsa = api.ok(
        Method::POST,
        "/keys/rsa/create",
        Some(json!({"kty": "RSA", "key_size": 2048})),
    );
    let public = PublicKey::Rsa {
        n: unb64(&rsa["key"]["n"]),
        e: unb64(&rsa["key"]["e"]),
    };
    let rsa_spec = KeySpec::Rsa { bits: 2048 };
    let verifier = local
        .public_ephemeral(&public, KeyOps::of(&[Op::Verify, Op::Encrypt, Op::WrapKey]))
        .unwrap();
    let digest = [0x5a; 48];
    for alg in [
        SignAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            mgf1: HashAlg::Sha384,
            salt_len: 0,
        },
        SignAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            mgf1: HashAlg::Sha384,
            salt_len: 20,
        },
        SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha384),
        },
    ] {
        let name = jwa::sign_name(&alg, &rsa_spec);
        let sig = api.ok(
            Method::POST,
            "/keys/rsa//sign",
            Some(json!({"alg": name, "value": b64(&digest)})),
        );
        assert!(
            verifier
                .verify(&alg, &digest, &unb64(&sig["value"]))
                .unwrap(),
            "{name}"
        );
        let other = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            mgf1: HashAlg::Sha384,
            salt_len: 48,
        };
        if alg != other {
            assert!(
                !verifier
                    .verify(&other, &digest, &unb64(&sig["value"]))
                    .unwrap_or(false)
            );
        }
    }
    verifier
}

/// Raw RSA (sign, decrypt); OAEP with SHA-384 and a label, through decrypt and unwrapKey.
fn vendor_rsa_ciphers(api: &Api, verifier: &EphemeralKey) {
    let rsa_spec = KeySpec::Rsa { bits: 2048 };
    let mut raw = vec![0u8; 256];
    raw[1..].fill(0x37);
    let sig = api.ok(
        Method::POST,
        "/keys/rsa//sign",
        Some(json!({"alg": "MHSM-RSA-RAW", "value": b64(&raw)})),
    );
    let sig = unb64(&sig["value"]);
    assert_eq!(sig.len(), 256);
    assert!(verifier.verify(&SignAlgorithm::RsaRaw, &raw, &sig).unwrap());
    let raw_ct = verifier.encrypt(&CipherAlgorithm::RsaRaw, &raw).unwrap();
    let back = api.ok(
        Method::POST,
        "/keys/rsa//decrypt",
        Some(json!({"alg": "MHSM-RSA-RAW", "value": b64(&raw_ct.data)})),
    );
    assert_eq!(unb64(&back["value"]), raw);

    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha384,
        mgf1: HashAlg::Sha384,
        label: b"the label".to_vec(),
    };
    let req = jwa::cipher_request(&oaep, &rsa_spec);
    assert_eq!(req.alg, "MHSM-RSA-OAEP-SHA384-MGF1-SHA384");
    let ct = verifier.encrypt(&oaep, b"secret").unwrap();
    let back = api.ok(
        Method::POST,
        "/keys/rsa//decrypt",
        Some(crypt_body(&req, &ct.data)),
    );
    assert_eq!(unb64(&back["value"]), b"secret");
    let mut wrong = crypt_body(&req, &ct.data);
    wrong["aad"] = json!(b64(b"another label"));
    let (s, b) = api.call(Method::POST, "/keys/rsa//decrypt", Some(wrong));
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "DecryptionFailed")
    );
    // The same through wrapKey / unwrapKey.
    let wrap = WrapAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha1,
        label: b"L".to_vec(),
    };
    let req = jwa::wrap_request(&wrap, &rsa_spec);
    let wrapped = api.ok(
        Method::POST,
        "/keys/rsa//wrapkey",
        Some(crypt_body(&req, &[6; 32])),
    );
    let back = api.ok(
        Method::POST,
        "/keys/rsa//unwrapkey",
        Some(crypt_body(&req, &unb64(&wrapped["value"]))),
    );
    assert_eq!(unb64(&back["value"]), [6; 32]);
    let (s, b) = api.call(
        Method::POST,
        "/keys/rsa//unwrapkey",
        Some(json!({"alg": req.alg, "value": wrapped["value"]})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "DecryptionFailed"),
        "no label"
    );
}

/// ECDSA without a hash on P-256, and with SHA-384 on P-256.
fn vendor_ecdsa(api: &Api, local: &Hsm) {
    let digest = [0x5a; 48];
    let ec = api.ok(
        Method::POST,
        "/keys/ec/create",
        Some(json!({"kty": "EC", "crv": "P-256"})),
    );
    let ec_public = PublicKey::Ec {
        curve: Curve::P256,
        x: unb64(&ec["key"]["x"]),
        y: unb64(&ec["key"]["y"]),
    };
    let ec_verifier = local
        .public_ephemeral(&ec_public, KeyOps::of(&[Op::Verify]))
        .unwrap();
    let ec_spec = KeySpec::Ec { curve: Curve::P256 };
    for (alg, input) in [
        (
            SignAlgorithm::Ecdsa {
                hash: None,
                curve: None,
            },
            &b"twenty bytes of data"[..],
        ),
        (
            SignAlgorithm::Ecdsa {
                hash: Some(HashAlg::Sha384),
                curve: None,
            },
            &digest[..],
        ),
    ] {
        let name = jwa::sign_name(&alg, &ec_spec);
        assert!(name.starts_with("MHSM-ES-"), "{name}");
        let sig = api.ok(
            Method::POST,
            "/keys/ec//sign",
            Some(json!({"alg": name, "value": b64(input)})),
        );
        assert!(
            ec_verifier
                .verify(&alg, input, &unb64(&sig["value"]))
                .unwrap(),
            "{name}"
        );
    }
}

/// Unknown and garbled vendor names.
fn vendor_names_refused(api: &Api) {
    let plain = PLAIN;
    for (path, alg) in [
        ("/keys/aes//encrypt", "MHSM-AES-XTS"),
        ("/keys/rsa//sign", "MHSM-PS-SHA256"),
        ("/keys/aes//wrapkey", "MHSM-AES-KW"),
    ] {
        let (s, b) = api.call(
            Method::POST,
            path,
            Some(json!({"alg": alg, "value": b64(&[0; 32])})),
        );
        assert_eq!(
            (s, code(&b), inner(&b)),
            (
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "UnsupportedAlgorithm"
            ),
            "{alg}"
        );
    }
    let (s, b) = api.call(
        Method::POST,
        "/keys/aes//encrypt",
        Some(json!({"alg": "MHSM-AES-CTR-C64", "value": b64(&plain), "iv": b64(&[0; 12])})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "InvalidAlgorithmParameter")
    );
    let (s, b) = api.call(
        Method::POST,
        "/keys/aes//encrypt",
        Some(json!({"alg": "MHSM-AES-CTR-C48", "value": b64(&plain), "iv": b64(&[0; 16])})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "InvalidAlgorithmParameter")
    );
}

#[test]
fn x_mhsm_attributes_are_stored_with_the_key() {
    // Read back by the core itself once the server is gone.
    let mut server = TestServer::start(&[]);
    let api_client = server.client(&[]);
    let port = server.port();
    let status = server.runtime.block_on(async {
        api_client
            .post(format!("https://127.0.0.1:{port}/keys/k/create?{V}"))
            .bearer_auth("t")
            .json(&json!({"kty": "EC", "x-mhsm": {"extra": {"ck.id": b64(b"7")}}}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::OK);
    let dir = server.dir.path().to_path_buf();
    server.stop();
    let hsm = Hsm::open(HsmConfig::new(&dir)).unwrap();
    let pool = hsm.pool("default").unwrap();
    let info = pool.get_key("k", None).unwrap();
    assert_eq!(info.extra.get("ck.id").map(Vec::as_slice), Some(&b"7"[..]));
}

/// A generic secret made through the core (as the PKCS#11 module makes one) shows over REST
/// as `oct-HSM` with its operations, MACs with HS256, and refuses encryption as a key without
/// that operation (403 Forbidden); only the extension tells it from an AES key.
#[test]
fn generic_secrets_show_as_oct_and_only_mac() {
    let server = TestServer::start_with(&["secrets"], |config| {
        let hsm = Hsm::open(HsmConfig::new(&config.data_dir)).unwrap();
        let pool = hsm.pool("secrets").unwrap();
        pool.import_key(
            "hmac",
            KeyMaterial::Secret(SecretBytes::from_slice(b"Jefe")),
            &hsm_core::key::KeyOptions::default(),
        )
        .unwrap();
        pool.create_key(
            "aes",
            KeySpec::Aes { bits: 256 },
            &hsm_core::key::KeyOptions::default(),
        )
        .unwrap();
    });
    let client = server.client(&["secrets.localhost"]);
    let api = Api { server, client };
    let call = |method: Method, path: &str, body: Option<Value>| {
        api.send_as("t", "secrets.localhost", method, path, body)
    };

    let (s, b) = call(Method::GET, "/keys/hmac", None);
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["key"]["kty"], "oct-HSM");
    assert_eq!(b["key"]["key_ops"], json!(["sign", "verify"]));
    assert!(b["key"].get("k").is_none(), "no material");
    let (_, ext) = call(Method::GET, &format!("{X}/keys/hmac"), None);
    assert_eq!(ext["x-mhsm"]["keySize"], 32);
    assert_eq!(ext["x-mhsm"]["genericSecret"], true);
    let (_, aes) = call(Method::GET, &format!("{X}/keys/aes"), None);
    assert_eq!(aes["key"]["kty"], "oct-HSM");
    assert!(aes["x-mhsm"].get("genericSecret").is_none(), "{aes}");

    // RFC 4231 test case 2.
    let (s, b) = call(
        Method::POST,
        "/keys/hmac//sign",
        Some(json!({"alg": "HS256", "value": b64(b"what do ya want for nothing?")})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        hex::encode(unb64(&b["value"])),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let (s, b) = call(
        Method::POST,
        "/keys/hmac//verify",
        Some(
            json!({"alg": "HS256", "digest": b64(b"what do ya want for nothing?"), "value": b["value"]}),
        ),
    );
    assert_eq!((s, &b["value"]), (StatusCode::OK, &json!(true)), "{b}");

    for (op, alg) in [("encrypt", "A256GCM"), ("wrapkey", "A256KW")] {
        let (s, b) = call(
            Method::POST,
            &format!("/keys/hmac//{op}"),
            Some(json!({"alg": alg, "value": b64(&[1; 32])})),
        );
        assert_eq!(
            (s, code(&b), inner(&b)),
            (StatusCode::FORBIDDEN, "Forbidden", "OperationNotPermitted"),
            "{op}"
        );
    }
    // Nor can it be given operations its type cannot do.
    let (s, b) = call(
        Method::PATCH,
        "/keys/hmac/",
        Some(json!({"key_ops": ["sign", "encrypt"]})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));

    // Through the extension, a create asks for a generic secret; the standard API cannot.
    let (s, b) = call(
        Method::POST,
        "/keys/made/create",
        Some(json!({"kty": "oct-HSM", "key_size": 160, "x-mhsm": {"genericSecret": true}})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["x-mhsm"]["genericSecret"], true);
    assert_eq!(b["key"]["key_ops"], json!(["sign", "verify"]));
    let (s, b) = call(
        Method::POST,
        "/keys/plain/create",
        Some(json!({"kty": "oct-HSM", "key_size": 128})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["key"]["key_ops"],
        json!(["encrypt", "decrypt", "wrapKey", "unwrapKey"])
    );
}
