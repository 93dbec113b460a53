//! Who is calling: the principal named by a request's bearer token.
//!
//! A JWT (three base64url parts) names its principal with Entra ID's claims: `oid` (the
//! object id role assignments name), `upn` (or `unique_name`, `preferred_username`) and
//! `appid` (or `azp`). Any other token is an anonymous principal, which a strict pool
//! refuses and an open pool lets in.
//!
//! By default signatures are not checked. With `--jwt-hs256-secret FILE` or
//! `--jwt-rs256-key FILE` ([`TokenPolicy`]) only JWTs signed with that secret or key, not
//! expired (60 s leeway), are accepted; anything else gets a 401. The signature is checked
//! by the core. Tokens are never logged, nor kept.

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hsm_core::crypto::{HashAlg, PublicKey, SignAlgorithm};
use hsm_core::{Hsm, SecretBytes};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The caller of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// The object id (`oid`): what role assignments name. `None` for an anonymous caller.
    pub object_id: Option<String>,
    /// The user principal name (`upn`, `unique_name` or `preferred_username`).
    pub upn: Option<String>,
    /// The application id (`appid` or `azp`).
    pub app_id: Option<String>,
}

impl Principal {
    /// A caller whose token names nobody.
    pub fn anonymous() -> Principal {
        Principal::default()
    }
}

/// How bearer tokens are turned into principals.
#[derive(Debug, Clone, Default)]
pub enum TokenPolicy {
    /// Any token is accepted; a JWT's claims are read without checking its signature.
    #[default]
    Unchecked,
    /// Only JWTs signed HS256 with this shared secret, not expired.
    Hs256(Arc<SecretBytes>),
    /// Only JWTs signed RS256 by this key, not expired.
    Rs256(PublicKey),
}

/// Clock skew allowed around `exp` and `nbf`.
const LEEWAY: i64 = 60;

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
}

impl TokenPolicy {
    /// The policy of the server's flags: an HS256 secret file, or an RS256 public key file
    /// (SPKI, PEM or DER); neither: tokens are not checked.
    pub fn from_files(
        hs256_secret: Option<&Path>,
        rs256_key: Option<&Path>,
    ) -> anyhow::Result<TokenPolicy> {
        use anyhow::Context;
        match (hs256_secret, rs256_key) {
            (Some(_), Some(_)) => anyhow::bail!("choose an HS256 secret or an RS256 key, not both"),
            (Some(path), None) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let secret = SecretBytes::new(bytes.trim_ascii_end().to_vec());
                if secret.len() < 16 {
                    anyhow::bail!("the HS256 secret must be at least 16 bytes");
                }
                Ok(TokenPolicy::Hs256(Arc::new(secret)))
            }
            (None, Some(path)) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let der = pem_body(&bytes).unwrap_or(bytes);
                let key = PublicKey::from_spki_der(&der)
                    .with_context(|| format!("parsing {}", path.display()))?;
                Ok(TokenPolicy::Rs256(key))
            }
            (None, None) => Ok(TokenPolicy::Unchecked),
        }
    }

    /// The principal of a bearer token, or a 401 for a token the policy refuses.
    pub fn principal(&self, hsm: &Hsm, token: &str) -> Result<Principal, ApiError> {
        if let TokenPolicy::Unchecked = self {
            return Ok(unverified_claims(token)
                .map(|claims| from_claims(&claims))
                .unwrap_or_else(Principal::anonymous));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthorized("the bearer token is not a JWT"));
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| unauthorized("the JWT header is malformed"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| unauthorized("the JWT signature is malformed"))?;
        let signed = format!(
            "{}.{}",
            token.split('.').next().unwrap_or_default(),
            payload
        );
        let valid = match (self, header["alg"].as_str()) {
            (TokenPolicy::Hs256(secret), Some("HS256")) => {
                hsm.verify_hmac(HashAlg::Sha256, secret, signed.as_bytes(), &signature)?
            }
            (TokenPolicy::Rs256(key), Some("RS256")) => {
                let digest = hsm.digest(HashAlg::Sha256, signed.as_bytes());
                let alg = SignAlgorithm::RsaPkcs1v15 {
                    hash: Some(HashAlg::Sha256),
                };
                hsm.verify_with_public_key(key, &alg, &digest, &signature)?
            }
            _ => {
                return Err(unauthorized(
                    "the JWT's alg is not the one this server checks",
                ));
            }
        };
        if !valid {
            return Err(unauthorized("the JWT signature does not verify"));
        }
        let claims =
            unverified_claims(token).ok_or_else(|| unauthorized("the JWT payload is malformed"))?;
        let now = hsm.now().0;
        let time = |name: &str| claims.get(name).and_then(Value::as_i64);
        match time("exp") {
            Some(exp) if now > exp + LEEWAY => return Err(unauthorized("the JWT has expired")),
            Some(_) => {}
            None => return Err(unauthorized("the JWT has no exp claim")),
        }
        if time("nbf").is_some_and(|nbf| now + LEEWAY < nbf) {
            return Err(unauthorized("the JWT is not valid yet"));
        }
        Ok(from_claims(&claims))
    }
}

/// The DER inside a PEM file, if `bytes` is PEM.
fn pem_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.contains("-----BEGIN") {
        return None;
    }
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The claims of a JWT, read without checking its signature; `None` if the token is not a
/// JWT whose payload is a JSON object.
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn from_claims(claims: &Map<String, Value>) -> Principal {
    let first = |names: &[&str]| {
        names.iter().find_map(|n| {
            claims
                .get(*n)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
    };
    Principal {
        object_id: first(&["oid"]),
        upn: first(&["upn", "unique_name", "preferred_username"]),
        app_id: first(&["appid", "azp"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.{}",
            part(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            part(&claims),
            URL_SAFE_NO_PAD.encode(b"not a real signature")
        )
    }

    fn principal(token: &str) -> Principal {
        let hsm = Hsm::open(hsm_core::HsmConfig::in_memory()).unwrap();
        TokenPolicy::Unchecked.principal(&hsm, token).unwrap()
    }

    #[test]
    fn jwt_claims_name_the_principal() {
        let p = principal(&jwt(serde_json::json!({
            "oid": "0b1f5c3e-0000-4000-8000-00000000a11c",
            "upn": "alice@contoso.example",
            "appid": "11111111-2222-3333-4444-555555555555",
            "exp": 1,
        })));
        assert_eq!(
            p,
            Principal {
                object_id: Some("0b1f5c3e-0000-4000-8000-00000000a11c".into()),
                upn: Some("alice@contoso.example".into()),
                app_id: Some("11111111-2222-3333-4444-555555555555".into()),
            }
        );
        // The fallbacks, as v1 and v2 tokens carry them.
        let p = principal(&jwt(
            serde_json::json!({"unique_name": "bob@x", "azp": "app"}),
        ));
        assert_eq!(p.object_id, None);
        assert_eq!(p.upn.as_deref(), Some("bob@x"));
        assert_eq!(p.app_id.as_deref(), Some("app"));
        let p = principal(&jwt(serde_json::json!({"preferred_username": "carol@x"})));
        assert_eq!(p.upn.as_deref(), Some("carol@x"));
        // Padding is tolerated.
        let padded = jwt(serde_json::json!({"oid": "x"})).replacen('.', "==.", 2);
        assert_eq!(principal(&padded).object_id.as_deref(), Some("x"));
    }

    #[test]
    fn anything_else_is_anonymous() {
        for token in [
            "static-test-token",
            "",
            "a.b",
            "a.b.c.d",
            "e30.!!!.sig",
            &format!("e30.{}.sig", URL_SAFE_NO_PAD.encode("[1,2]")),
            &format!("e30.{}.sig", URL_SAFE_NO_PAD.encode("not json")),
            &jwt(serde_json::json!({"oid": 42, "upn": ""})),
        ] {
            assert_eq!(principal(token), Principal::anonymous(), "{token}");
        }
    }
}
