//! The routing table of tables: each resource's table in [`crate::routes`] in turn, with
//! the RBAC check every route makes through `allow`, which also records the action, key
//! and version for the access log and the request's tracing span.

use std::cell::RefCell;

use axum::response::Response;
use hsm_core::rbac::{DataAction, Scope};

use super::AppState;
use super::dispatch::Call;
use crate::access_log::Operation;
use crate::error::ApiError;
use crate::routes::jobs::JobCtx;
use crate::routes::{self, Ctx, Request, Routed};

/// A resource's routing table.
type Table = fn(&Request, &[&str]) -> Routed;

/// The tables, in the order they are tried: the extension and the RBAC paths (which carry
/// a scope such as `/keys/{name}` before `providers`) before the key routes.
const TABLES: [Table; 6] = [
    routes::pkcs11_ext::route,
    routes::rbac::route,
    routes::settings::route,
    routes::jobs::route,
    routes::key_ops::route,
    routes::keys::route,
];

/// The key version a path names (`/keys/{name}/{version}/...`, and the extension's
/// `/x-mhsm/pkcs11/keys/{name}/{version}/...`), if it is one.
fn path_version<'a>(segments: &[&'a str]) -> Option<&'a str> {
    let v = match segments {
        ["x-mhsm", "pkcs11", "keys", _, v, _] => *v,
        ["keys", _, v, _, ..] => *v,
        _ => return None,
    };
    hsm_core::names::validate_version(v).then_some(v)
}

/// Routes a call past the edge.
pub(super) fn route(
    state: &AppState,
    call: &Call,
    operation: &RefCell<Operation>,
) -> Result<Response, ApiError> {
    let pool = state.hsm.pool(call.pool)?;
    let span = tracing::Span::current();
    if let Some(v) = path_version(call.segments) {
        span.record("version", v);
        if call.segments.first() == Some(&"x-mhsm") {
            operation.borrow_mut().version = Some(v.to_string());
        }
    }
    // Local RBAC: each route names its data action and scope, once, through this.
    let allow = |action: DataAction, scope: &Scope| -> Result<(), ApiError> {
        span.record("action", action.name());
        {
            let mut op = operation.borrow_mut();
            op.action = Some(action.name());
            if let Scope::Key(name) = scope {
                span.record("key", name.as_str());
                op.key = Some(name.clone());
            }
        }
        Ok(hsm_core::rbac::authorize(
            &pool,
            call.principal.object_id.as_deref(),
            action,
            scope,
        )?)
    };
    let request = Request {
        ctx: Ctx {
            pool: &pool,
            host: call.host,
            api_version: call.api_version,
        },
        hsm: &state.hsm,
        method: call.method,
        path: call.path,
        query: call.query,
        body: call.body,
        op: call.op,
        allow: &allow,
        jobs: JobCtx {
            hsm: &state.hsm,
            jobs: &state.jobs,
            data_dir: &state.data_dir,
            pool: call.pool,
            host: call.host,
            api_version: call.api_version,
        },
    };
    for table in TABLES {
        if let Some(response) = table(&request, call.segments)? {
            return Ok(response);
        }
    }
    Err(request.no_route())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::{Method, StatusCode};
    use hsm_core::PoolSettings;
    use hsm_core::crypto::{Curve, KeySpec};
    use hsm_core::key::KeyOptions;
    use hsm_core::names::Tags;
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, SubscriberExt};

    use super::*;
    use crate::app::dispatch::request_span;
    use crate::auth::Principal;
    use crate::routes::key_ops::OpBody;

    /// The fields recorded on spans, as `name=value`.
    #[derive(Clone, Default)]
    struct Fields(Arc<Mutex<Vec<String>>>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let text = format!("{}={:?}", field.name(), value).replace('"', "");
            self.0.lock().unwrap().push(text);
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Fields {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: Context<'_, S>,
        ) {
            attrs.record(&mut self.clone());
        }

        fn on_record(
            &self,
            _: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            _: Context<'_, S>,
        ) {
            values.record(&mut self.clone());
        }
    }

    /// A sign call's span names the pool, the action, the key and the version that signed
    /// (the latest, looked up), and nothing of the body.
    #[test]
    fn the_request_span_carries_pool_action_key_and_version() {
        let state = AppState::for_tests(&[]);
        state
            .hsm
            .create_pool("pool-a", PoolSettings::default(), Tags::new())
            .unwrap();
        let info = state
            .hsm
            .pool("pool-a")
            .unwrap()
            .create_key(
                "k",
                KeySpec::Ec { curve: Curve::P256 },
                &KeyOptions::default(),
            )
            .unwrap();
        let digest = "SECRETSECRETSECRETSECRETSECRETSECRETSECRET0";
        let body = format!(r#"{{"alg":"ES256","value":"{digest}"}}"#);
        let path = "/keys/k//sign";
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let op = OpBody::parse(&Method::POST, &segments, body.as_bytes());
        let principal = Principal::anonymous();
        let call = Call {
            pool: "pool-a",
            host: "pool-a.localhost:1",
            api_version: "7.4",
            method: &Method::POST,
            path,
            segments: &segments,
            query: &[],
            body: body.as_bytes(),
            op: op.as_ref(),
            principal: &principal,
        };
        let fields = Fields::default();
        let subscriber = tracing_subscriber::registry().with(fields.clone());
        let status = tracing::subscriber::with_default(subscriber, || {
            let span = request_span(&Method::POST, path, Some("pool-a"));
            let _entered = span.enter();
            let operation = RefCell::new(Operation::default());
            route(&state, &call, &operation).unwrap().status()
        });
        assert_eq!(status, StatusCode::OK);
        let seen = fields.0.lock().unwrap().clone();
        for want in [
            "pool=pool-a".to_string(),
            format!("path={path}"),
            "action=Microsoft.KeyVault/managedHsm/keys/sign/action".to_string(),
            "key=k".to_string(),
            format!("version={}", info.version),
        ] {
            assert!(seen.contains(&want), "{want} not in {seen:?}");
        }
        assert!(!seen.iter().any(|f| f.contains("SECRET")), "{seen:?}");
    }

    #[test]
    fn versions_come_from_key_paths_only() {
        let v = "0123456789abcdef0123456789abcdef";
        assert_eq!(path_version(&["keys", "k", v, "sign"]), Some(v));
        assert_eq!(
            path_version(&["x-mhsm", "pkcs11", "keys", "k", v, "export"]),
            Some(v)
        );
        assert_eq!(path_version(&["keys", "k", "", "sign"]), None);
        assert_eq!(path_version(&["keys", "k", "versions"]), None);
        assert_eq!(path_version(&["keys", "k", "rotationpolicy", "x"]), None);
    }
}
