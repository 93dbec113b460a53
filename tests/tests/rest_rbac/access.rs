//! The `rest_rbac` suite: who may do what. Each built-in role against the operation
//! matrix, scopes, JWT principals against anonymous ones, the open default pool.

use super::*;

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
