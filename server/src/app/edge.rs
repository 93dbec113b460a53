//! What the edge reads of a request: the host and the pool it addresses, the query, the
//! bearer token and the principal.

use axum::http::{HeaderMap, StatusCode, header};

use super::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

/// Long-running-operation status URLs, which the SDK polls without an api-version.
pub(super) fn is_status_url(path: &str) -> bool {
    let s: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    matches!(s.as_slice(), ["backup" | "restore", _, "pending"])
}

/// The pool a `Host` addresses: `{pool}.localhost`, `{pool}.{domain}`, or the default pool
/// for loopback addresses, `localhost` and the bare domains. Hosts are compared without case
/// (clients lowercase them), so the name is the pool's as created when one matches.
fn pool_for_host(state: &AppState, host: &str) -> Option<String> {
    let name = host_pool(state, host)?;
    Some(
        state
            .hsm
            .name_in_use(name)
            .unwrap_or_else(|| name.to_string()),
    )
}

/// The pool name a `Host` carries, as written.
fn host_pool<'a>(state: &'a AppState, host: &'a str) -> Option<&'a str> {
    let name = match host.rsplit_once(':') {
        // An IPv6 literal is bracketed; a port follows the last colon otherwise.
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    let name = name.trim_end_matches('.');
    if matches!(name, "127.0.0.1" | "localhost" | "[::1]")
        || state.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
    {
        return Some(&state.default_pool);
    }
    if let Some(pool) = name.strip_suffix(".localhost") {
        return Some(pool);
    }
    state.domains.iter().find_map(|d| {
        name.len()
            .checked_sub(d.len() + 1)
            .filter(|&cut| name[cut..].eq_ignore_ascii_case(&format!(".{d}")))
            .map(|cut| &name[..cut])
    })
}

pub(super) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// What the edge reads of a request once, for routing and for the access log.
pub(super) struct Edge {
    /// `Host`, else the URI's authority.
    pub host: Option<String>,
    /// The pool the host addresses ([`pool_for_host`]).
    pub pool: Option<String>,
    /// The caller: `None` without a bearer token, an error for a token the policy refuses.
    pub principal: Option<Result<Principal, ApiError>>,
}

impl Edge {
    pub fn read(state: &AppState, parts: &axum::http::request::Parts) -> Edge {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()));
        let pool = host.as_deref().and_then(|h| pool_for_host(state, h));
        let principal = bearer(&parts.headers).map(|t| state.tokens.principal(&state.hsm, t));
        Edge {
            host,
            pool,
            principal,
        }
    }

    /// The caller, or the 401 (with the challenge when there is no token).
    pub fn principal(&self, state: &AppState) -> Result<&Principal, ApiError> {
        match &self.principal {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(e.clone()),
            None => {
                let mut e = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "AKV10000: Request is missing a Bearer or PoP token.",
                );
                e.challenge = Some(state.challenge.clone());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use hsm_core::PoolSettings;
    use hsm_core::names::Tags;

    use super::*;

    fn state(domains: &[&str]) -> AppState {
        AppState::for_tests(domains)
    }

    #[test]
    fn status_urls_need_no_api_version() {
        assert!(is_status_url("/backup/0123/pending"));
        assert!(is_status_url("/restore/x/pending"));
        assert!(!is_status_url("/backup"));
        assert!(!is_status_url("/keys/k/pending"));
    }

    #[test]
    fn hosts_select_pools() {
        let s = state(&["hsm.example"]);
        for (host, pool) in [
            ("127.0.0.1:8443", Some("default")),
            ("localhost:8443", Some("default")),
            ("localhost", Some("default")),
            ("[::1]:8443", Some("default")),
            ("team-a.localhost:8443", Some("team-a")),
            ("Team-B.localhost", Some("Team-B")),
            ("hsm.example", Some("default")),
            ("team-c.hsm.example:443", Some("team-c")),
            ("TEAM-D.HSM.EXAMPLE", Some("TEAM-D")),
            ("other.example", None),
            ("example", None),
        ] {
            assert_eq!(host_pool(&s, host), pool, "{host}");
        }
    }

    #[test]
    fn hosts_name_pools_without_case() {
        let s = state(&["hsm.example"]);
        s.hsm
            .create_pool("Team-B", PoolSettings::default(), Tags::new())
            .unwrap();
        for host in [
            "team-b.localhost:8443",
            "TEAM-B.localhost",
            "team-b.hsm.example",
        ] {
            assert_eq!(pool_for_host(&s, host).as_deref(), Some("Team-B"), "{host}");
        }
        assert_eq!(pool_for_host(&s, "nope.localhost").as_deref(), Some("nope"));
    }

    #[test]
    fn queries_decode() {
        let q = query_pairs(Some("api-version=7.4&%24skiptoken=a%3Db&maxresults=5&flag"));
        assert_eq!(
            q,
            vec![
                ("api-version".into(), "7.4".into()),
                ("$skiptoken".into(), "a=b".into()),
                ("maxresults".into(), "5".into()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
