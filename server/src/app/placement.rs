//! Where a route's work runs: inline on the async worker, on the compute threads, or on
//! the blocking pool.

use axum::http::Method;
use hsm_core::crypto::{CipherAlgorithm, Curve, SignAlgorithm, jwa};

use crate::routes::key_ops::OpBody;

/// Where a route's work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// On the async worker that read the request: reads of memory (every GET) and the key
    /// operations, which compute for microseconds. Handing such work to another thread
    /// costs more than the work (a thread wake-up each way).
    Inline,
    /// On the compute threads ([`crate::compute::ComputePool`], one per core): operations of 100 us or more,
    /// which would stall every other connection on the worker (inline) or crowd out the
    /// workers (the blocking pool). Measured through the core (aws-lc), one thread: RSA-2048
    /// sign 0.86 ms (3072: 2.8 ms), ES384 sign/verify 0.13/0.29 ms, ES512 0.28/0.57 ms;
    /// inline stay ES256 (0.03/0.09 ms), ES256K (0.05/0.09 ms), RSA public-key operations
    /// (0.03-0.05 ms) and AES.
    Compute,
    /// On the blocking pool: everything else, which may write durably (fsync).
    Blocking,
}

/// Where a request's route runs (see [`Placement`]): every GET inline; a key operation by
/// its `alg`, read from its body as the edge parsed it once for the route (`op`). A body
/// that does not parse is refused by the route, which runs inline; so does a vendor ECDSA
/// name that leaves the curve to the key. Anything else, which may write, on the blocking
/// pool: a route placed inline calls only the core's reads and crypto.
pub(super) fn placement(
    method: &Method,
    op: Option<&Result<OpBody, crate::error::ApiError>>,
) -> Placement {
    if *method == Method::GET {
        return Placement::Inline;
    }
    let Some(op) = op else {
        return Placement::Blocking;
    };
    let Ok(op) = op else {
        return Placement::Inline;
    };
    let long_signature = |alg: &str, private: bool| match jwa::sign_algorithm(alg) {
        Ok(
            SignAlgorithm::RsaPkcs1v15 { .. }
            | SignAlgorithm::RsaPss { .. }
            | SignAlgorithm::RsaRaw,
        ) => private,
        Ok(SignAlgorithm::Ecdsa {
            curve: Some(Curve::P384 | Curve::P521),
            ..
        }) => true,
        _ => false,
    };
    let long = match op {
        OpBody::Encrypt(_) | OpBody::Wrap(_) => false,
        OpBody::Sign(req) => long_signature(&req.alg, true),
        OpBody::Verify(req) => long_signature(&req.alg, false),
        OpBody::Decrypt(req) => matches!(
            jwa::cipher_algorithm(&req.alg, None, None),
            Ok(CipherAlgorithm::RsaPkcs1v15
                | CipherAlgorithm::RsaRaw
                | CipherAlgorithm::RsaOaep { .. })
        ),
        OpBody::Unwrap(req) => {
            jwa::wrap_algorithm(&req.alg).is_ok_and(|w| w.as_rsa_cipher().is_some())
        }
    };
    if long {
        Placement::Compute
    } else {
        Placement::Inline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Placement of a request as the edge sees it: the body parsed once, for the route.
    fn placement(method: &Method, path: &str, body: &[u8]) -> Placement {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let op = OpBody::parse(method, &segments, body);
        super::placement(method, op.as_ref())
    }

    #[test]
    fn routes_run_where_their_work_belongs() {
        // A body every key operation takes (verify needs its digest: the body is parsed
        // whole now, once, for placement and route alike).
        let post = |path: &str, alg: &str| {
            placement(
                &Method::POST,
                path,
                format!(r#"{{"alg":"{alg}","value":"AA","digest":"AA"}}"#).as_bytes(),
            )
        };
        use Placement::{Blocking, Compute, Inline};
        assert_eq!(placement(&Method::GET, "/keys/k/", b""), Inline);
        assert_eq!(placement(&Method::GET, "/keys", b""), Inline);
        assert_eq!(post("/keys/k//sign", "ES256"), Inline);
        assert_eq!(post("/keys/k/0123/sign", "RS256"), Compute);
        assert_eq!(post("/keys/k//sign", "PS384"), Compute);
        assert_eq!(post("/keys/k//verify", "RS256"), Inline);
        assert_eq!(post("/keys/k//verify", "ES256"), Inline);
        assert_eq!(post("/keys/k//sign", "ES256K"), Inline);
        assert_eq!(post("/keys/k//sign", "ES384"), Compute);
        assert_eq!(post("/keys/k//verify", "ES384"), Compute);
        assert_eq!(post("/keys/k//sign", "ES512"), Compute);
        assert_eq!(post("/keys/k//verify", "ES512"), Compute);
        assert_eq!(post("/keys/k//sign", "HS256"), Inline);
        assert_eq!(post("/keys/k//encrypt", "RSA-OAEP"), Inline);
        assert_eq!(post("/keys/k//encrypt", "A256GCM"), Inline);
        assert_eq!(post("/keys/k//decrypt", "RSA-OAEP-256"), Compute);
        assert_eq!(post("/keys/k//decrypt", "RSA1_5"), Compute);
        assert_eq!(post("/keys/k//decrypt", "A256GCM"), Inline);
        assert_eq!(post("/keys/k//wrapkey", "RSA-OAEP"), Inline);
        assert_eq!(post("/keys/k//unwrapkey", "RSA-OAEP"), Compute);
        assert_eq!(post("/keys/k//unwrapkey", "A256KW"), Inline);
        // A body that does not parse is refused by the route, at once.
        assert_eq!(placement(&Method::POST, "/keys/k//sign", b"{"), Inline);
        assert_eq!(
            placement(&Method::POST, "/keys/k//verify", br#"{"alg":"ES512"}"#),
            Inline
        );
        // Anything that may write durably.
        assert_eq!(post("/keys/k/create", "RS256"), Blocking);
        assert_eq!(post("/keys/k/rotate", "RS256"), Blocking);
        assert_eq!(post("/keys/k/v/export", "RS256"), Blocking);
        assert_eq!(post("/rng", "RS256"), Blocking);
        assert_eq!(placement(&Method::PUT, "/keys/k", b"{}"), Blocking);
        assert_eq!(placement(&Method::PATCH, "/keys/k/v", b"{}"), Blocking);
        assert_eq!(placement(&Method::DELETE, "/keys/k", b""), Blocking);
    }
}
