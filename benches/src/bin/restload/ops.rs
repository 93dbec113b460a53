//! The operations under load, the keys they use, and the one check of each operation's
//! result (a signature verifies with the returned public key, a ciphertext decrypts), so a
//! broken server cannot look fast.

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The api-version sent (the PKCS#11 module's remote mode uses it too).
pub const API_VERSION: &str = "7.5";
/// Any bearer token is accepted by a server without JWT checks.
pub const TOKEN: &str = "Bearer mhsm-restload";

/// An operation of the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// ES256 sign of a 32-byte digest with an EC P-256 key.
    Es256,
    /// RS256 sign of a 32-byte digest with an RSA-2048 key.
    Rs256,
    /// A256GCM encrypt of 4 KiB with an AES-256 key.
    A256gcm,
    /// GET of the EC key's latest version.
    GetKey,
}

impl Op {
    /// All operations, in the order they run.
    pub const ALL: [Op; 4] = [Op::Es256, Op::Rs256, Op::A256gcm, Op::GetKey];

    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Op::Es256 => "ES256 sign (P-256)",
            Op::Rs256 => "RS256 sign (RSA-2048)",
            Op::A256gcm => "A256GCM encrypt 4 KiB",
            Op::GetKey => "get key",
        }
    }

    /// Issue 6's throughput target, ops/s.
    pub fn target(self) -> Option<u64> {
        match self {
            Op::Es256 => Some(25_000),
            Op::Rs256 => Some(7_000),
            Op::A256gcm => Some(20_000),
            Op::GetKey => None,
        }
    }
}

/// One request, built once and sent many times.
#[derive(Clone)]
pub struct Request {
    /// GET or POST.
    pub method: Method,
    /// The full URL, query included.
    pub url: String,
    /// The JSON body (empty for GET).
    pub body: Vec<u8>,
}

/// The three keys of a run and their public halves, as the server returned them.
pub struct Keys {
    base: String,
    suffix: String,
    ec: Value,
    rsa: Value,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(v: &Value, field: &str) -> Result<Vec<u8>> {
    let text = v[field]
        .as_str()
        .with_context(|| format!("the answer has no '{field}': {v}"))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .with_context(|| format!("'{field}' is not base64url"))
}

/// The digest every sign request carries.
fn digest() -> [u8; 32] {
    Sha256::digest(b"mhsm restload: the message to sign").into()
}

/// The 4 KiB every encrypt request carries.
fn plaintext() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 31 % 251) as u8).collect()
}

/// Sends one request and returns its JSON answer; any status but 2xx is an error.
pub async fn call(client: &reqwest::Client, req: &Request) -> Result<Value> {
    let resp = client
        .request(req.method.clone(), &req.url)
        .header(reqwest::header::AUTHORIZATION, TOKEN)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(req.body.clone())
        .send()
        .await
        .with_context(|| format!("{} {}", req.method, req.url))?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if !status.is_success() {
        bail!(
            "{} {}: {status}: {}",
            req.method,
            req.url,
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(serde_json::from_slice(&bytes)?)
}

impl Keys {
    /// Creates an EC P-256, an RSA-2048 and an AES-256 key (named for this run, so a shared
    /// server is not disturbed).
    pub async fn create(client: &reqwest::Client, base: &str) -> Result<Keys> {
        let suffix = format!("{:x}", std::process::id() as u64 ^ now_nanos());
        let keys = Keys {
            base: base.trim_end_matches('/').to_string(),
            suffix,
            ec: Value::Null,
            rsa: Value::Null,
        };
        let create = |kind: &str, spec: Value| Request {
            method: Method::POST,
            url: keys.url(&format!("/keys/{}/create", keys.name(kind))),
            body: spec.to_string().into_bytes(),
        };
        let ec = call(
            client,
            &create("ec", json!({"kty": "EC-HSM", "crv": "P-256"})),
        )
        .await
        .context("creating the EC key")?;
        let rsa = call(
            client,
            &create("rsa", json!({"kty": "RSA-HSM", "key_size": 2048})),
        )
        .await
        .context("creating the RSA key")?;
        call(
            client,
            &create("aes", json!({"kty": "oct-HSM", "key_size": 256})),
        )
        .await
        .context("creating the AES key")?;
        Ok(Keys {
            ec: ec["key"].clone(),
            rsa: rsa["key"].clone(),
            ..keys
        })
    }

    fn name(&self, kind: &str) -> String {
        format!("restload-{kind}-{}", self.suffix)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}?api-version={API_VERSION}", self.base)
    }

    /// The request an operation repeats.
    pub fn request(&self, op: Op) -> Request {
        let post = |kind: &str, what: &str, body: Value| Request {
            method: Method::POST,
            // `/keys/{name}//sign`: the latest version, as the SDK and the module send it.
            url: self.url(&format!("/keys/{}//{what}", self.name(kind))),
            body: body.to_string().into_bytes(),
        };
        match op {
            Op::Es256 => post(
                "ec",
                "sign",
                json!({"alg": "ES256", "value": b64(&digest())}),
            ),
            Op::Rs256 => post(
                "rsa",
                "sign",
                json!({"alg": "RS256", "value": b64(&digest())}),
            ),
            Op::A256gcm => post(
                "aes",
                "encrypt",
                json!({"alg": "A256GCM", "value": b64(&plaintext())}),
            ),
            Op::GetKey => Request {
                method: Method::GET,
                url: self.url(&format!("/keys/{}/", self.name("ec"))),
                body: Vec::new(),
            },
        }
    }

    /// Runs `op` once and checks its result independently of the server.
    pub async fn validate(&self, client: &reqwest::Client, op: Op) -> Result<()> {
        let answer = call(client, &self.request(op)).await?;
        match op {
            Op::Es256 => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                let mut point = vec![4u8];
                point.extend(unb64(&self.ec, "x")?);
                point.extend(unb64(&self.ec, "y")?);
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .context("the EC public key")?;
                let sig = p256::ecdsa::Signature::from_slice(&unb64(&answer, "value")?)
                    .context("the ES256 signature is not r || s")?;
                key.verify_prehash(&digest(), &sig)
                    .context("the ES256 signature does not verify")?;
            }
            Op::Rs256 => {
                let n = unb64(&self.rsa, "n")?;
                let e = unb64(&self.rsa, "e")?;
                let bits = (n.len() * 8) as u32;
                let key = rsa::PublicKey::new(
                    rsa::BoxedUint::from_be_slice(&n, bits)?,
                    rsa::BoxedUint::from_be_slice(&e, 64)?,
                )
                .context("the RSA public key")?;
                key.verify(
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &digest(),
                    &unb64(&answer, "value")?,
                )
                .context("the RS256 signature does not verify")?;
            }
            Op::A256gcm => {
                let mut body = json!({"alg": "A256GCM", "value": answer["value"]});
                for field in ["iv", "tag"] {
                    ensure!(
                        answer[field].is_string(),
                        "the A256GCM answer has no {field}"
                    );
                    body[field] = answer[field].clone();
                }
                ensure!(
                    unb64(&answer, "value")? != plaintext(),
                    "the ciphertext is the plaintext"
                );
                let decrypted = call(
                    client,
                    &Request {
                        method: Method::POST,
                        url: self.url(&format!("/keys/{}//decrypt", self.name("aes"))),
                        body: body.to_string().into_bytes(),
                    },
                )
                .await?;
                ensure!(
                    unb64(&decrypted, "value")? == plaintext(),
                    "the A256GCM ciphertext does not decrypt to the plaintext"
                );
            }
            Op::GetKey => {
                ensure!(
                    answer["key"]["kid"] == self.ec["kid"] && answer["key"]["x"] == self.ec["x"],
                    "get key answered another key: {answer}"
                );
            }
        }
        Ok(())
    }

    /// Deletes the run's keys (soft delete; a running server keeps them recoverable).
    pub async fn delete(&self, client: &reqwest::Client) {
        for kind in ["ec", "rsa", "aes"] {
            let req = Request {
                method: Method::DELETE,
                url: self.url(&format!("/keys/{}", self.name(kind))),
                body: Vec::new(),
            };
            if let Err(e) = call(client, &req).await {
                eprintln!("restload: cannot delete {}: {e:#}", self.name(kind));
            }
        }
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
