//! The `rest_pkcs11_ext` suite: the `/x-mhsm/pkcs11/` routes (state, keys, front-end
//! attributes, derive and export, documents, PINs, clear) and their 404s.

use super::*;

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
