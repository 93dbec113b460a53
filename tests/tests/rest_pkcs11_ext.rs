//! mhsm's extension API for the PKCS#11 module in remote mode (`docs/REMOTE.md`) over real
//! HTTPS: every `/x-mhsm/pkcs11/` route and its 404s, `x-mhsm` on key creation and import,
//! `innererror` in error bodies, RBAC and the access log on extension routes, and the `MHSM-`
//! algorithm names through the standard crypto routes, checked against the core.

mod common;

// The suite's sections, one file each under `rest_pkcs11_ext/` (a test crate's root would look for its
// modules beside it, hence the paths).
#[path = "rest_pkcs11_ext/extension_routes.rs"]
mod extension_routes;
#[path = "rest_pkcs11_ext/standard_routes.rs"]
mod standard_routes;
#[path = "rest_pkcs11_ext/strict_pools.rs"]
mod strict_pools;

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
