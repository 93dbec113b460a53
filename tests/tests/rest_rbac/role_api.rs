//! The `rest_rbac` suite: role definitions and assignments (shapes, status codes, filters,
//! bad input).

use super::*;

#[test]
fn role_definitions_list_get_and_custom_roles() {
    let (server, _) = start();
    let api = Api::new(server);
    builtin_role_definitions(&api);
    bad_role_definition_paths(&api);
    let role = custom_role_lifecycle(&api);
    role_definition_changes_refused(&api, &role);
}

/// The built-in roles: listed, one by name, by role name, at /keys, at `///`.
fn builtin_role_definitions(api: &Api) {
    let (s, b) = api.admin(Method::GET, DEFS, None);
    assert_eq!(s, StatusCode::OK, "{b}");
    let list = b["value"].as_array().unwrap();
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["properties"]["roleName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, BUILTINS);
    for d in list {
        assert_eq!(d["id"], role_id(d["name"].as_str().unwrap()));
        assert_eq!(d["type"], "Microsoft.Authorization/roleDefinitions");
        assert_eq!(d["properties"]["type"], "AKVBuiltInRole");
        assert_eq!(d["properties"]["assignableScopes"], json!(["/"]));
        assert!(d["properties"]["description"].is_string());
        let p = &d["properties"]["permissions"][0];
        for field in ["actions", "notActions", "dataActions", "notDataActions"] {
            assert!(p[field].is_array(), "{field} in {d}");
        }
    }
    // One by name, the same as listed; by role name; at /keys; the old SDKs' `///` path.
    let (s, user) = api.admin(Method::GET, &format!("{DEFS}/{CRYPTO_USER}"), None);
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        &user,
        list.iter().find(|d| d["name"] == CRYPTO_USER).unwrap()
    );
    let actions = user["properties"]["permissions"][0]["dataActions"]
        .as_array()
        .unwrap();
    assert_eq!(actions.len(), 19);
    assert!(actions.contains(&json!("Microsoft.KeyVault/managedHsm/keys/sign/action")));
    let (s, b) = api.admin(
        Method::GET,
        &format!("{DEFS}?%24filter=roleName%20eq%20'Managed%20HSM%20Crypto%20User'"),
        None,
    );
    assert_eq!(
        (s, b["value"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    assert_eq!(b["value"][0]["name"], CRYPTO_USER);
    let (s, b) = api.admin(Method::GET, &format!("/keys{DEFS}"), None);
    assert_eq!(
        (s, b["value"].as_array().unwrap().len()),
        (StatusCode::OK, 10)
    );
    assert_eq!(
        api.admin(Method::GET, &format!("//{DEFS}"), None).0,
        StatusCode::OK
    );
}

/// Bad names, unknown names, the wrong scope, bad filters.
fn bad_role_definition_paths(api: &Api) {
    // Bad names, unknown names, the wrong scope, bad filters.
    for (path, status, want) in [
        (
            format!("{DEFS}/not-a-guid"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("{DEFS}/{STRANGER}"),
            StatusCode::NOT_FOUND,
            "RoleDefinitionNotFound",
        ),
        (
            format!("/keys{DEFS}/{CRYPTO_USER}"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("/secrets{DEFS}"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("{DEFS}?%24filter=type%20eq%20'x'"),
            StatusCode::BAD_REQUEST,
            "BadParameter",
        ),
        (
            format!("{DEFS}/{CRYPTO_USER}/extra"),
            StatusCode::NOT_FOUND,
            "NotFound",
        ),
    ] {
        let (s, b) = api.admin(Method::GET, &path, None);
        assert_eq!((s, code(&b)), (status, want), "{path}: {b}");
    }
}

/// A custom role: created, read, listed, updated, at work, refused while assigned, deleted.
fn custom_role_lifecycle(api: &Api) -> Value {
    // A custom role: PUT 201, GET, listed, updated, refused while assigned, deleted.
    let name = "c0570000-0000-4000-8000-00000000c001";
    let role = json!({"properties": {
        "roleName": "Key reader",
        "description": "reads keys",
        "type": "CustomRole",
        "permissions": [{"dataActions": ["Microsoft.KeyVault/managedHsm/keys/*"],
                         "notDataActions": ["Microsoft.KeyVault/managedHsm/keys/sign/action"]}],
        "assignableScopes": ["/"],
    }});
    let (s, created) = api.admin(Method::PUT, &format!("{DEFS}/{name}"), Some(&role));
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id": role_id(name),
            "name": name,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "assignableScopes": ["/"],
                "description": "reads keys",
                "permissions": [{
                    "actions": [], "notActions": [],
                    "dataActions": ["Microsoft.KeyVault/managedHsm/keys/*"],
                    "notDataActions": ["Microsoft.KeyVault/managedHsm/keys/sign/action"],
                }],
                "roleName": "Key reader",
                "type": "CustomRole",
            }
        })
    );
    assert_eq!(
        api.admin(Method::GET, &format!("{DEFS}/{name}"), None).1,
        created
    );
    assert_eq!(api.admin(Method::GET, DEFS, None).1["value"][10], created);
    let (s, b) = api.admin(
        Method::PUT,
        &format!("{DEFS}/{name}"),
        Some(&json!({"properties": {"roleName": "Key reader", "permissions": role["properties"]["permissions"]}})),
    );
    assert_eq!(
        (s, &b["properties"]["description"]),
        (StatusCode::CREATED, &json!(""))
    );

    // The custom role at work: keys/* but not sign.
    let who = principal(5);
    let assignment = api.assign("/keys", name, &who);
    let (s, _) = api.send(&token_for(&who), Method::GET, "/keys/k-ec", None);
    assert_eq!(s, StatusCode::OK);
    assert_forbidden(
        api.send(
            &token_for(&who),
            Method::POST,
            "/keys/k-ec//sign",
            Some(&json!({"alg": "ES256", "value": b64(&[1; 32])})),
        ),
        "notDataActions subtracts sign",
    );

    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{name}"), None);
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "Conflict"), "{b}");
    let a_name = assignment["name"].as_str().unwrap();
    assert_eq!(
        api.admin(Method::DELETE, &format!("/keys{ASSIGNS}/{a_name}"), None)
            .0,
        StatusCode::OK
    );
    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{name}"), None);
    assert_eq!((s, &b["name"]), (StatusCode::OK, &json!(name)));
    let (s, b) = api.admin(Method::GET, &format!("{DEFS}/{name}"), None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "RoleDefinitionNotFound")
    );
    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{name}"), None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "RoleDefinitionNotFound")
    );
    role
}

/// Built-ins cannot be changed or deleted; bad definitions are refused.
fn role_definition_changes_refused(api: &Api, role: &Value) {
    // Built-ins cannot be changed or deleted; bad definitions are refused.
    let (s, b) = api.admin(Method::PUT, &format!("{DEFS}/{CRYPTO_USER}"), Some(role));
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("built-in role")
    );
    let (s, b) = api.admin(Method::DELETE, &format!("{DEFS}/{CRYPTO_USER}"), None);
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    for body in [
        json!({"properties": {"permissions": [{"dataActions": ["Microsoft.KeyVault/managedHsm/keys/fly/action"]}]}}),
        json!({"properties": {"type": "AKVBuiltInRole"}}),
        json!({"properties": {"assignableScopes": ["/keys/k-ec"]}}),
        json!({"properties": {"permissions": {"dataActions": []}}}),
        json!({"roleName": "no properties"}),
        json!("not an object"),
    ] {
        let (s, b) = api.admin(Method::PUT, &format!("{DEFS}/{}", new_guid()), Some(&body));
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{body}: {b}"
        );
    }
    let (s, b) = api.admin(Method::PUT, &format!("{DEFS}/bad-guid"), Some(role));
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));
    assert_eq!(
        api.admin(Method::GET, DEFS, None).1["value"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn role_assignments_create_get_list_delete_and_bad_input() {
    let (server, _) = start();
    let api = Api::new(server);
    let name = "a5500000-0000-4000-8000-000000000001";
    let who = principal(3);
    let path = format!("/keys{ASSIGNS}/{name}");
    let (s, created) = api.admin(
        Method::PUT,
        &path,
        Some(&assignment_body(CRYPTO_USER, &who)),
    );
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(
        created,
        json!({
            "id": format!("/keys{ASSIGNS}/{name}"),
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"principalId": who, "roleDefinitionId": role_id(CRYPTO_USER), "scope": "/keys"},
        })
    );
    assert_eq!(
        api.admin(Method::GET, &path, None),
        (StatusCode::OK, created.clone())
    );
    // The same PUT again is answered alike; the name with other values is a conflict.
    assert_eq!(
        api.admin(
            Method::PUT,
            &path,
            Some(&assignment_body(CRYPTO_USER, &who))
        ),
        (StatusCode::CREATED, created.clone())
    );
    let (s, b) = api.admin(Method::PUT, &path, Some(&assignment_body(ARM_USER, &who)));
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "Conflict"));
    // At another scope the name is not found.
    let (s, b) = api.admin(Method::GET, &format!("{ASSIGNS}/{name}"), None);
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "RoleAssignmentNotFound")
    );

    // Lists and filters.
    let count = |path: &str| {
        let (s, b) = api.admin(Method::GET, path, None);
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        b["value"].as_array().unwrap().len()
    };
    assert_eq!(count(ASSIGNS), 2, "the administrator's and this one");
    assert_eq!(count(&format!("{ASSIGNS}?%24filter=atScope()")), 1);
    assert_eq!(count(&format!("/keys{ASSIGNS}?%24filter=atScope()")), 2);
    assert_eq!(
        count(&format!("{ASSIGNS}?%24filter=principalId%20eq%20'{who}'")),
        1
    );
    assert_eq!(
        count(&format!(
            "{ASSIGNS}?%24filter=principalId%20eq%20'{STRANGER}'"
        )),
        0
    );
    assert_eq!(
        count(&format!("//{ASSIGNS}")),
        2,
        "the old SDKs' `///` path"
    );

    // Delete: 200 with the assignment, then not found.
    assert_eq!(
        api.admin(Method::DELETE, &path, None),
        (StatusCode::OK, created)
    );
    for method in [Method::GET, Method::DELETE] {
        let (s, b) = api.admin(method, &path, None);
        assert_eq!(
            (s, code(&b)),
            (StatusCode::NOT_FOUND, "RoleAssignmentNotFound")
        );
    }

    // Bad input: 400 in Azure's body, nothing stored.
    bad_role_assignments(&api, &who);
    assert_eq!(count(ASSIGNS), 1, "only the administrator's is left");
}

/// Bad assignments and filters: 400 in Azure's body, nothing stored; POST is not a route.
fn bad_role_assignments(api: &Api, who: &str) {
    let good = assignment_body(CRYPTO_USER, who);
    for (path, body) in [
        (format!("{ASSIGNS}/not-a-guid"), good.clone()),
        (format!("/secrets{ASSIGNS}/{}", new_guid()), good.clone()),
        (
            format!("/keys/bad_name{ASSIGNS}/{}", new_guid()),
            good.clone(),
        ),
        (format!("/keys/a/b{ASSIGNS}/{}", new_guid()), good.clone()),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            assignment_body(STRANGER, who),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            json!({"properties": {"roleDefinitionId": "Managed HSM Crypto User", "principalId": who}}),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            assignment_body(CRYPTO_USER, "someone@example.test"),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            json!({"properties": {"principalId": who}}),
        ),
        (
            format!("{ASSIGNS}/{}", new_guid()),
            json!({"properties": {"roleDefinitionId": role_id(CRYPTO_USER)}}),
        ),
        (format!("{ASSIGNS}/{}", new_guid()), json!([])),
    ] {
        let (s, b) = api.admin(Method::PUT, &path, Some(&body));
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{path} {body}: {b}"
        );
    }
    for filter in ["roleName%20eq%20'x'", "principalId%20eq%20'x'", "atScope"] {
        let (s, b) = api.admin(Method::GET, &format!("{ASSIGNS}?%24filter={filter}"), None);
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{filter}"
        );
    }
    let (s, b) = api.admin(Method::POST, ASSIGNS, Some(&good));
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "NotFound"));
}
