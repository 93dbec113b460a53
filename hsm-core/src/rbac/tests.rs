//! RBAC over a pool: open and strict pools, scopes, custom roles, definitions and
//! assignments, and a restart.

use super::*;
use crate::names::Tags;
use crate::pool::Pool;
use crate::{Hsm, HsmConfig, PoolSettings};

const ALICE: &str = "0b1f5c3e-0000-4000-8000-00000000a11c";
const BOB: &str = "0b1f5c3e-0000-4000-8000-000000000b0b";
const CAROL: &str = "0b1f5c3e-0000-4000-8000-0000000ca201";
const CUSTOM: &str = "c0570000-0000-4000-8000-000000000001";

fn pool() -> (Hsm, Pool) {
    let hsm = Hsm::open(HsmConfig::in_memory()).unwrap();
    hsm.create_pool("rbac", PoolSettings::default(), Tags::new())
        .unwrap();
    let pool = hsm.pool("rbac").unwrap();
    (hsm, pool)
}

fn key(name: &str) -> Scope {
    Scope::key(name).unwrap()
}

fn assign(pool: &Pool, scope: &Scope, role: &str, who: &str) -> RoleAssignment {
    create_role_assignment(pool, scope, &new_guid().unwrap(), role, who).unwrap()
}

fn allowed(pool: &Pool, who: Option<&str>, action: DataAction, scope: &Scope) -> bool {
    match authorize(pool, who, action, scope) {
        Ok(()) => true,
        Err(Error::ForbiddenByRbac {
            action: a,
            scope: s,
        }) => {
            assert_eq!((a, s), (action.to_string(), scope.to_string()));
            false
        }
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn open_pools_let_everyone_in() {
    let (_hsm, pool) = pool();
    assert_eq!(mode(&pool).unwrap(), Mode::Open);
    for a in DataAction::ALL {
        assert!(allowed(&pool, None, *a, &Scope::All));
        assert!(allowed(&pool, Some(ALICE), *a, &key("k")));
    }
}

#[test]
fn strict_pools_check_every_call() {
    let (_hsm, pool) = pool();
    assert!(matches!(
        make_strict(&pool, &[]),
        Err(Error::BadParameter { .. })
    ));
    assert!(matches!(
        make_strict(&pool, &["alice"]),
        Err(Error::BadParameter { .. })
    ));
    assert_eq!(
        mode(&pool).unwrap(),
        Mode::Open,
        "a refused call changes nothing"
    );
    let made = make_strict(&pool, &[&ALICE.to_uppercase()]).unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].principal_id, ALICE);
    assert_eq!(made[0].role_definition, ADMINISTRATOR);
    assert_eq!(mode(&pool).unwrap(), Mode::Strict);
    // Again: nothing new for Alice, Bob is added.
    assert_eq!(make_strict(&pool, &[ALICE, BOB]).unwrap().len(), 1);

    // The administrators manage roles but do not use keys.
    assert!(allowed(
        &pool,
        Some(ALICE),
        DataAction::WriteRoleAssignment,
        &Scope::All
    ));
    assert!(allowed(
        &pool,
        Some(&ALICE.to_uppercase()),
        DataAction::ReadRoleDefinition,
        &Scope::All
    ));
    assert!(!allowed(&pool, Some(ALICE), DataAction::Sign, &key("k")));
    // Nobody else, anonymous callers and non-GUID ids included.
    assert!(!allowed(
        &pool,
        Some(CAROL),
        DataAction::ReadRoleDefinition,
        &Scope::All
    ));
    assert!(!allowed(&pool, None, DataAction::ReadKey, &Scope::Keys));
    assert!(!allowed(
        &pool,
        Some("alice"),
        DataAction::ReadKey,
        &Scope::Keys
    ));
}

#[test]
fn scopes_decide_what_an_assignment_reaches() {
    let (_hsm, pool) = pool();
    make_strict(&pool, &[ALICE]).unwrap();
    assign(&pool, &key("k1"), CRYPTO_USER, BOB);
    assign(&pool, &Scope::Keys, CRYPTO_SERVICE_ENCRYPTION_USER, CAROL);

    assert!(allowed(&pool, Some(BOB), DataAction::Sign, &key("k1")));
    assert!(!allowed(&pool, Some(BOB), DataAction::Sign, &key("k2")));
    assert!(!allowed(
        &pool,
        Some(BOB),
        DataAction::ReadKey,
        &Scope::Keys
    ));
    assert!(!allowed(&pool, Some(BOB), DataAction::Random, &Scope::All));

    assert!(allowed(&pool, Some(CAROL), DataAction::Wrap, &key("k1")));
    assert!(allowed(
        &pool,
        Some(CAROL),
        DataAction::ReadKey,
        &Scope::Keys
    ));
    assert!(!allowed(
        &pool,
        Some(CAROL),
        DataAction::ReadKey,
        &Scope::All
    ));
    assert!(!allowed(&pool, Some(CAROL), DataAction::Sign, &key("k1")));

    // At `/`, everything below.
    assign(&pool, &Scope::All, CRYPTO_USER, CAROL);
    assert!(allowed(&pool, Some(CAROL), DataAction::Sign, &key("k9")));
    assert!(allowed(&pool, Some(CAROL), DataAction::Random, &Scope::All));
}

#[test]
fn custom_roles_wildcards_and_not_data_actions() {
    let (_hsm, pool) = pool();
    make_strict(&pool, &[ALICE]).unwrap();
    let input = RoleDefinitionInput {
        role_name: Some("keys but not signing".into()),
        permissions: vec![Permission {
            data_actions: vec!["Microsoft.KeyVault/managedHsm/keys/*".into()],
            not_data_actions: vec![DataAction::Sign.name().into()],
            ..Permission::default()
        }],
        ..RoleDefinitionInput::default()
    };
    let def = set_role_definition(&pool, CUSTOM, input).unwrap();
    assert_eq!(def.role_type, RoleType::Custom);
    assert_eq!(def.assignable_scopes, vec![Scope::All]);
    assert_eq!(def.description, "");
    assign(&pool, &Scope::Keys, CUSTOM, BOB);

    for a in [
        DataAction::ReadKey,
        DataAction::Encrypt,
        DataAction::PurgeDeletedKey,
        DataAction::Verify,
    ] {
        assert!(allowed(&pool, Some(BOB), a, &key("k")), "{a}");
    }
    assert!(!allowed(&pool, Some(BOB), DataAction::Sign, &key("k")));
    assert!(!allowed(&pool, Some(BOB), DataAction::Random, &Scope::All));

    // A subtraction is within its role: another role may still grant the action.
    assign(&pool, &key("k"), CRYPTO_USER, BOB);
    assert!(allowed(&pool, Some(BOB), DataAction::Sign, &key("k")));
    assert!(!allowed(&pool, Some(BOB), DataAction::Sign, &key("j")));

    // A `notDataActions` in a block of its own still subtracts (Azure's SDK tests do this).
    let split = RoleDefinitionInput {
        permissions: vec![
            Permission {
                data_actions: vec!["*".into()],
                ..Permission::default()
            },
            Permission {
                not_data_actions: vec!["*/rng/action".into()],
                ..Permission::default()
            },
        ],
        ..RoleDefinitionInput::default()
    };
    set_role_definition(&pool, CUSTOM, split).unwrap();
    assert!(allowed(
        &pool,
        Some(BOB),
        DataAction::WriteRoleDefinition,
        &Scope::Keys
    ));
    assert!(!allowed(&pool, Some(BOB), DataAction::Random, &Scope::All));
}

#[test]
fn definitions_list_get_set_delete() {
    let (_hsm, pool) = pool();
    assert_eq!(list_role_definitions(&pool).unwrap().len(), 10);
    assert_eq!(
        get_role_definition(&pool, &CRYPTO_USER.to_uppercase())
            .unwrap()
            .unwrap()
            .role_name,
        "Managed HSM Crypto User"
    );
    assert_eq!(get_role_definition(&pool, CUSTOM).unwrap(), None);

    let input = RoleDefinitionInput {
        role_name: Some("mine".into()),
        description: Some("a test role".into()),
        role_type: Some("CustomRole".into()),
        assignable_scopes: Some(vec!["/keys".into()]),
        permissions: vec![Permission {
            data_actions: vec![DataAction::ReadKey.name().into()],
            ..Permission::default()
        }],
    };
    let def = set_role_definition(&pool, CUSTOM, input.clone()).unwrap();
    assert_eq!(
        get_role_definition(&pool, CUSTOM).unwrap(),
        Some(def.clone())
    );
    let all = list_role_definitions(&pool).unwrap();
    assert_eq!(all.len(), 11);
    assert_eq!(all[10], def);

    // Assignable at /keys only.
    assign(&pool, &key("k"), CUSTOM, BOB);
    let at_root = create_role_assignment(&pool, &Scope::All, &new_guid().unwrap(), CUSTOM, BOB);
    assert!(matches!(at_root, Err(Error::BadParameter { .. })));

    // Assigned: deleting it is a conflict, until the assignment goes.
    assert!(matches!(
        delete_role_definition(&pool, CUSTOM),
        Err(Error::Conflict { .. })
    ));
    for a in list_role_assignments(&pool, &Scope::All, &AssignmentFilter::default()).unwrap() {
        delete_role_assignment(&pool, &a.scope, &a.name)
            .unwrap()
            .unwrap();
    }
    assert_eq!(delete_role_definition(&pool, CUSTOM).unwrap(), Some(def));
    assert_eq!(delete_role_definition(&pool, CUSTOM).unwrap(), None);
    assert_eq!(list_role_definitions(&pool).unwrap().len(), 10);
}

#[test]
fn builtins_are_immutable() {
    let (_hsm, pool) = pool();
    for id in [ADMINISTRATOR, &CRYPTO_USER.to_uppercase()] {
        assert!(matches!(
            set_role_definition(&pool, id, RoleDefinitionInput::default()),
            Err(Error::BadParameter { .. })
        ));
        assert!(matches!(
            delete_role_definition(&pool, id),
            Err(Error::BadParameter { .. })
        ));
    }
    assert_eq!(list_role_definitions(&pool).unwrap(), builtin_roles());
}

#[test]
fn bad_definitions_are_bad_parameters() {
    let (_hsm, pool) = pool();
    let with = |f: fn(&mut RoleDefinitionInput)| {
        let mut input = RoleDefinitionInput::default();
        f(&mut input);
        set_role_definition(&pool, CUSTOM, input)
    };
    let bad: Vec<Result<RoleDefinition>> = vec![
        set_role_definition(&pool, "not-a-guid", RoleDefinitionInput::default()),
        with(|i| i.role_type = Some("AKVBuiltInRole".into())),
        with(|i| i.assignable_scopes = Some(vec!["/keys/k".into()])),
        with(|i| i.assignable_scopes = Some(vec!["/secrets".into()])),
        with(|i| {
            i.permissions = vec![Permission {
                data_actions: vec!["Microsoft.KeyVault/managedHsm/keys/fly/action".into()],
                ..Permission::default()
            }]
        }),
        with(|i| {
            i.permissions = vec![Permission {
                not_data_actions: vec!["Microsoft.Storage/*".into()],
                ..Permission::default()
            }]
        }),
    ];
    for r in bad {
        assert!(matches!(r, Err(Error::BadParameter { .. })), "{r:?}");
    }
    assert_eq!(get_role_definition(&pool, CUSTOM).unwrap(), None);
    assert!(matches!(
        get_role_definition(&pool, "x"),
        Err(Error::BadParameter { .. })
    ));
}

#[test]
fn assignments_create_get_list_delete() {
    let (_hsm, pool) = pool();
    let name = "aaaaaaaa-0000-4000-8000-000000000001";
    let id = format!("/{ROLE_DEFINITION_ID_PREFIX}{CRYPTO_USER}");
    let a = create_role_assignment(&pool, &Scope::Keys, name, &id, &BOB.to_uppercase()).unwrap();
    assert_eq!(a.principal_id, BOB);
    assert_eq!(a.role_definition, CRYPTO_USER);
    assert_eq!(
        a.role_definition_id(),
        format!("{ROLE_DEFINITION_ID_PREFIX}{CRYPTO_USER}")
    );
    // Idempotent with the same values, a conflict with others.
    assert_eq!(
        create_role_assignment(&pool, &Scope::Keys, name, CRYPTO_USER, BOB).unwrap(),
        a
    );
    assert!(matches!(
        create_role_assignment(&pool, &Scope::All, name, CRYPTO_USER, BOB),
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        get_role_assignment(&pool, &Scope::Keys, name).unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        get_role_assignment(&pool, &Scope::All, name).unwrap(),
        None,
        "another scope"
    );

    let root = assign(&pool, &Scope::All, CRYPTO_AUDITOR, CAROL);
    let k = assign(&pool, &key("k"), CRYPTO_USER, CAROL);
    let other = assign(&pool, &key("other"), CRYPTO_USER, BOB);
    let list = |scope: &Scope, filter: &str| -> Vec<String> {
        let mut names: Vec<String> =
            list_role_assignments(&pool, scope, &AssignmentFilter::parse(filter).unwrap())
                .unwrap()
                .into_iter()
                .map(|a| a.name)
                .collect();
        names.sort();
        names
    };
    let sorted = |mut v: Vec<&RoleAssignment>| -> Vec<String> {
        v.sort_by(|x, y| x.name.cmp(&y.name));
        v.into_iter().map(|a| a.name.clone()).collect()
    };
    assert_eq!(list(&Scope::All, ""), sorted(vec![&a, &root, &k, &other]));
    assert_eq!(list(&Scope::All, "atScope()"), sorted(vec![&root]));
    assert_eq!(list(&Scope::Keys, "atScope()"), sorted(vec![&a, &root]));
    assert_eq!(list(&key("k"), ""), sorted(vec![&a, &root, &k]));
    assert_eq!(
        list(&Scope::All, &format!("principalId eq '{CAROL}'")),
        sorted(vec![&root, &k])
    );
    assert_eq!(
        list(
            &key("k"),
            &format!("atScope() and principalId eq '{}'", BOB.to_uppercase())
        ),
        sorted(vec![&a])
    );

    assert_eq!(
        delete_role_assignment(&pool, &Scope::Keys, name).unwrap(),
        Some(a)
    );
    assert_eq!(
        delete_role_assignment(&pool, &Scope::Keys, name).unwrap(),
        None
    );
    assert_eq!(
        get_role_assignment(&pool, &Scope::Keys, name).unwrap(),
        None
    );
}

#[test]
fn bad_assignments_are_bad_parameters() {
    let (_hsm, pool) = pool();
    let ok_name = "aaaaaaaa-0000-4000-8000-000000000001";
    for (name, role, who) in [
        ("not-a-guid", CRYPTO_USER, BOB),
        (ok_name, "Managed HSM Crypto User", BOB),
        (
            ok_name,
            "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/x",
            BOB,
        ),
        (ok_name, CUSTOM, BOB), // no such definition
        (ok_name, CRYPTO_USER, "bob@example.com"),
        (ok_name, CRYPTO_USER, ""),
    ] {
        let r = create_role_assignment(&pool, &Scope::All, name, role, who);
        assert!(
            matches!(r, Err(Error::BadParameter { .. })),
            "{name} {role} {who}: {r:?}"
        );
    }
    assert!(
        list_role_assignments(&pool, &Scope::All, &AssignmentFilter::default())
            .unwrap()
            .is_empty()
    );
    for bad in [
        "principalId eq 'x'",
        "principalId eq x",
        "principalId ne '0b1f5c3e-0000-4000-8000-000000000b0b'",
        "roleName eq 'x'",
        "atScope",
        "atScope() or atScope()",
    ] {
        assert!(
            matches!(
                AssignmentFilter::parse(bad),
                Err(Error::BadParameter { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        get_role_assignment(&pool, &Scope::All, "nope"),
        Err(Error::BadParameter { .. })
    ));
}

#[test]
fn rbac_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
        hsm.create_pool("rbac", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("rbac").unwrap();
        make_strict(&pool, &[ALICE]).unwrap();
        assign(&pool, &Scope::Keys, CRYPTO_USER, BOB);
    }
    let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
    let pool = hsm.pool("rbac").unwrap();
    assert_eq!(mode(&pool).unwrap(), Mode::Strict);
    assert!(allowed(&pool, Some(BOB), DataAction::Sign, &key("k")));
    assert!(!allowed(&pool, Some(CAROL), DataAction::Sign, &key("k")));
}
