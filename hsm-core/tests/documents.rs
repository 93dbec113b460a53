//! Pool documents: stored sealed, listed by kind, removed with the pool, carried by backups.

mod common;

use common::envs;
use hsm_core::PoolSettings;
use hsm_core::backup::RestoreMode;
use hsm_core::names::Tags;
use hsm_core::time::DAY;

#[test]
fn put_get_list_delete_and_reopen() {
    for mut env in envs() {
        let pool = env.pool();
        pool.put_document("role-assignment", "a1", b"{\"role\":1}")
            .unwrap();
        pool.put_document("role-assignment", "a2", b"two").unwrap();
        pool.put_document("setting", "a1", b"other kind").unwrap();
        pool.put_document("role-assignment", "a2", b"two, replaced")
            .unwrap();
        assert_eq!(
            pool.get_document("role-assignment", "a1")
                .unwrap()
                .unwrap()
                .as_slice(),
            b"{\"role\":1}"
        );
        assert_eq!(pool.get_document("role-assignment", "zz").unwrap(), None);
        let listed: Vec<_> = pool
            .list_documents("role-assignment")
            .unwrap()
            .into_iter()
            .map(|(id, v)| (id, v.to_vec()))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("a1".into(), b"{\"role\":1}".to_vec()),
                ("a2".into(), b"two, replaced".to_vec())
            ]
        );
        assert!(pool.delete_document("role-assignment", "a1").unwrap());
        assert!(!pool.delete_document("role-assignment", "a1").unwrap());
        assert_eq!(pool.list_documents("setting").unwrap().len(), 1);

        for (kind, id) in [("Bad", "x"), ("k", "a/b"), ("", "x")] {
            assert_eq!(
                pool.put_document(kind, id, b"").unwrap_err().code(),
                "BadParameter"
            );
        }
        let big = vec![0u8; (1 << 20) + 1];
        assert_eq!(
            pool.put_document("k", "big", &big).unwrap_err().code(),
            "BadParameter"
        );

        drop(pool);
        env.reopen();
        let pool = env.pool();
        assert_eq!(
            pool.get_document("role-assignment", "a2")
                .unwrap()
                .unwrap()
                .as_slice(),
            b"two, replaced"
        );
        assert_eq!(pool.get_document("role-assignment", "a1").unwrap(), None);
    }
}

#[test]
fn documents_go_with_their_pool() {
    for env in envs() {
        let hsm = &env.hsm;
        let pool = env.pool();
        pool.put_document("cert", "c1", b"certificate bytes")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        hsm.backup_pool("pool1", &dir.path().join("b")).unwrap();
        hsm.restore_pool(&dir.path().join("b"), "copy1", RestoreMode::IntoEmpty)
            .unwrap();
        assert_eq!(
            hsm.pool("copy1")
                .unwrap()
                .get_document("cert", "c1")
                .unwrap()
                .unwrap()
                .as_slice(),
            b"certificate bytes"
        );
        hsm.delete_pool("pool1").unwrap();
        assert_eq!(
            pool.get_document("cert", "c1").unwrap_err().code(),
            "PoolNotFound"
        );
        env.clock.advance(90 * DAY);
        hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
            .unwrap();
        assert_eq!(
            hsm.pool("pool1")
                .unwrap()
                .get_document("cert", "c1")
                .unwrap(),
            None,
            "purged with the pool"
        );
    }
}

#[test]
fn settings_have_defaults_types_and_persist() {
    for mut env in envs() {
        let pool = env.pool();
        let all = pool.settings().unwrap();
        let names: Vec<_> = all.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "AllowKeyManagementOperationsThroughARM",
                "AccessLogEnabled",
                "AccessLogRetentionDays"
            ]
        );
        assert_eq!(pool.setting("AccessLogEnabled").unwrap().value, "false");
        assert_eq!(pool.access_log_policy().unwrap(), None);
        pool.update_setting("AccessLogEnabled", "True").unwrap();
        pool.update_setting("AccessLogRetentionDays", "7").unwrap();
        assert_eq!(pool.access_log_policy().unwrap(), Some(7));
        assert_eq!(
            pool.update_setting("AccessLogEnabled", "maybe")
                .unwrap_err()
                .code(),
            "BadParameter"
        );
        assert_eq!(
            pool.update_setting("Unknown", "true").unwrap_err().code(),
            "BadParameter"
        );
        assert_eq!(pool.setting("Unknown").unwrap_err().code(), "BadParameter");
        drop(pool);
        env.reopen();
        assert_eq!(env.pool().access_log_policy().unwrap(), Some(7));
    }
}
