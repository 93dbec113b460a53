//! Who is calling: the principal named by a request's bearer token.
//!
//! A JWT (three base64url parts) names its principal with Entra ID's claims: `oid` (the
//! object id role assignments name), `upn` (or `unique_name`, `preferred_username`) and
//! `appid` (or `azp`). Any other token is an anonymous principal, which a strict pool
//! refuses and an open pool lets in.
//!
//! Signatures are not checked yet: [`TokenPolicy`] is the seam where checking goes (HS256
//! with a shared secret, RS256 against a configured key), turning a bad or expired token
//! into a 401 instead of a principal. Tokens are never logged, nor kept.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenPolicy {
    /// Any token is accepted; a JWT's claims are read without checking its signature.
    #[default]
    Unchecked,
}

impl TokenPolicy {
    /// The principal of a bearer token, or a 401 for a token the policy refuses (none
    /// today).
    pub fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        match self {
            TokenPolicy::Unchecked => Ok(unverified_claims(token)
                .map(|claims| from_claims(&claims))
                .unwrap_or_else(Principal::anonymous)),
        }
    }
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
        TokenPolicy::Unchecked.principal(token).unwrap()
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
