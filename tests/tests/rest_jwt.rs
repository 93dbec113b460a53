//! Bearer tokens checked: HS256 with a shared secret, RS256 against a public key; bad,
//! expired and unsigned tokens get 401.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestServer;
use hsm_core::SecretBytes;
use hsm_core::crypto::{HashAlg, KeyMaterial, KeySpec, SignAlgorithm, default_provider};
use serde_json::{Value, json};
use server::auth::TokenPolicy;

const V: &str = "api-version=7.4";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signing_input(alg: &str, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}",
        part(&json!({"alg": alg, "typ": "JWT"})),
        part(claims)
    )
}

fn hs256(secret: &[u8; 32], claims: &Value) -> String {
    let input = signing_input("HS256", claims);
    let key = default_provider()
        .load(&KeyMaterial::Aes(SecretBytes::from_slice(secret)))
        .unwrap();
    let tag = key
        .sign(
            &SignAlgorithm::Hmac {
                hash: HashAlg::Sha256,
            },
            input.as_bytes(),
        )
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

fn status(server: &TestServer, token: &str) -> (u16, Value) {
    let client = server.client(&[]);
    let url = format!("https://127.0.0.1:{}/keys?{V}", server.port());
    server.runtime.block_on(async {
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn hs256_tokens_are_checked() {
    let secret = *b"0123456789abcdef0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, secret).unwrap();
    let policy = TokenPolicy::from_files(Some(&path), None).unwrap();
    let server = TestServer::start_with(&[], |c| c.tokens = policy);
    let good = json!({"oid": "abc", "exp": now() + 3600});
    assert_eq!(status(&server, &hs256(&secret, &good)).0, 200);
    let expired = json!({"oid": "abc", "exp": now() - 3600});
    let (s, b) = status(&server, &hs256(&secret, &expired));
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("Unauthorized"))
    );
    assert_eq!(
        status(&server, &hs256(b"another secret, thirty-two bytes", &good)).0,
        401
    );
    assert_eq!(
        status(&server, &hs256(&secret, &json!({"oid": "abc"}))).0,
        401,
        "no exp"
    );
    assert_eq!(status(&server, "not-a-jwt").0, 401);
    let unsigned = format!("{}.", signing_input("none", &good));
    assert_eq!(status(&server, &unsigned).0, 401);
    let tampered = {
        let t = hs256(&secret, &good);
        let (head, rest) = t.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        format!(
            "{head}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(json!({"oid": "root", "exp": now() + 3600}).to_string())
        )
    };
    assert_eq!(status(&server, &tampered).0, 401);
}

#[test]
fn rs256_tokens_are_checked_against_the_key() {
    let provider = default_provider();
    let material = provider.generate(KeySpec::Rsa { bits: 2048 }).unwrap();
    let key = provider.load(&material).unwrap();
    let spki = key.public_key().unwrap().to_spki_der().unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&spki)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuer.pem");
    std::fs::write(&path, pem).unwrap();
    let policy = TokenPolicy::from_files(None, Some(&path)).unwrap();
    let server = TestServer::start_with(&[], |c| c.tokens = policy);
    let sign = |claims: &Value| {
        let input = signing_input("RS256", claims);
        let digest = hsm_core::Hsm::open(hsm_core::HsmConfig::in_memory())
            .unwrap()
            .digest(HashAlg::Sha256, input.as_bytes());
        let sig = key
            .sign(
                &SignAlgorithm::RsaPkcs1v15 {
                    hash: Some(HashAlg::Sha256),
                },
                &digest,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    assert_eq!(
        status(&server, &sign(&json!({"oid": "x", "exp": now() + 600}))).0,
        200
    );
    assert_eq!(
        status(&server, &sign(&json!({"oid": "x", "exp": now() - 600}))).0,
        401
    );
    assert_eq!(
        status(
            &server,
            &sign(&json!({"oid": "x", "exp": now() + 600, "nbf": now() + 600}))
        )
        .0,
        401
    );
    // An HS256 token is refused by an RS256 server.
    assert_eq!(
        status(&server, &hs256(&[7; 32], &json!({"exp": now() + 600}))).0,
        401
    );
    assert!(TokenPolicy::from_files(Some(&path), Some(&path)).is_err());
}
