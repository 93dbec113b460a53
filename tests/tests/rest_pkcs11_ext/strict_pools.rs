//! The `rest_pkcs11_ext` suite: RBAC and the access log on the extension routes of a
//! strict pool.

use super::*;

/// The strict pool's administrator.
const ADMIN: &str = "ad000000-0000-4000-8000-000000000001";
/// A Crypto User of the strict pool.
const USER: &str = "0e000000-0000-4000-8000-000000000001";
/// A principal with no role in the strict pool.
const STRANGER: &str = "5e000000-0000-4000-8000-000000000001";

#[test]
fn strict_pools_check_the_extension_routes_and_log_them() {
    let server = TestServer::start_with(&["strict"], |config| {
        let hsm = Hsm::open(HsmConfig::new(&config.data_dir)).unwrap();
        rbac::make_strict(&hsm.pool("strict").unwrap(), &[ADMIN]).unwrap();
    });
    let api = Api::on(server);
    let host = "strict.localhost";
    strict_pool_with_a_user(&api, host);
    extension_routes_refuse_a_stranger(&api, host);
    extension_routes_for_a_crypto_user(&api, host);
    access_log_of_extension_routes(&api);
}

/// The administrator turns the access log on and makes USER a Crypto User, who makes a key.
fn strict_pool_with_a_user(api: &Api, host: &str) {
    // The administrator turns the access log on and makes USER a Crypto User.
    let (s, b) = api.send_as(
        &token_for(ADMIN),
        host,
        Method::PATCH,
        "/settings/AccessLogEnabled",
        Some(json!({"value": "true"})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let grant = json!({"properties": {
        "roleDefinitionId": "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/21dbd100-6940-42c2-9190-5d6cb909625b",
        "principalId": USER,
    }});
    let (s, b) = api.send_as(
        &token_for(ADMIN),
        host,
        Method::PUT,
        "/providers/Microsoft.Authorization/roleAssignments/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        Some(grant),
    );
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::POST,
        "/keys/k/create",
        Some(json!({"kty": "EC"})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// Each extension route names its data action and scope when it refuses a stranger.
fn extension_routes_refuse_a_stranger(api: &Api, host: &str) {
    for (method, path, action) in [
        (
            Method::GET,
            format!("{X}/state"),
            "keys/read/action on /keys",
        ),
        (
            Method::GET,
            format!("{X}/keys/k"),
            "keys/read/action on /keys/k",
        ),
        (
            Method::PUT,
            format!("{X}/keys/k/extra/a"),
            "keys/write/action on /keys/k",
        ),
        (
            Method::POST,
            format!("{X}/keys/k//derive"),
            "keys/derive/action on /keys/k",
        ),
        (
            Method::POST,
            format!("{X}/keys/k//export"),
            "keys/export/action on /keys/k",
        ),
        (
            Method::DELETE,
            format!("{X}/documents/p11-object/x"),
            "keys/delete on /keys",
        ),
        (
            Method::POST,
            format!("{X}/pins/user/verify"),
            "keys/read/action on /keys",
        ),
        (
            Method::POST,
            format!("{X}/clear"),
            "keys/deletedKeys/delete on /keys",
        ),
    ] {
        let (s, b) = api.send_as(
            &token_for(STRANGER),
            host,
            method.clone(),
            &path,
            Some(json!({})),
        );
        assert_eq!(
            (s, code(&b), inner(&b)),
            (StatusCode::FORBIDDEN, "ForbiddenByRbac", "ForbiddenByRbac"),
            "{method} {path}"
        );
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.ends_with(action), "{message}");
    }
}

/// A Crypto User reads through the extension but may not clear the pool.
fn extension_routes_for_a_crypto_user(api: &Api, host: &str) {
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::GET,
        &format!("{X}/state"),
        None,
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::GET,
        &format!("{X}/keys/k"),
        None,
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = api.send_as(
        &token_for(USER),
        host,
        Method::POST,
        &format!("{X}/clear"),
        None,
    );
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "ForbiddenByRbac"),
        "a crypto user may not clear"
    );
}

/// The access log names the extension routes' actions and principals, never bodies.
fn access_log_of_extension_routes(api: &Api) {
    let logs = api.server.dir.path().join("logs/strict");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let read = lines
        .iter()
        .find(|l| l["request"] == format!("GET {X}/keys/k") && l["objectId"] == USER)
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        read["operation"],
        "Microsoft.KeyVault/managedHsm/keys/read/action"
    );
    assert_eq!(read["key"], "k");
    assert_eq!(read["status"], 200);
    assert_eq!(read["upn"], format!("{USER}@example.test"));
    let refused = lines
        .iter()
        .find(|l| l["request"] == format!("POST {X}/keys/k//derive"))
        .unwrap();
    assert_eq!(refused["objectId"], STRANGER);
    assert_eq!(
        refused["operation"],
        "Microsoft.KeyVault/managedHsm/keys/derive/action"
    );
    assert_eq!(refused["status"], 403);
    assert!(!text.contains("\"pin\""), "no request bodies in the log");
}
