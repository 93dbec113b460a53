//! The `pkcs11_objects` suite: searches, by any template and after every change.

use super::*;

#[test]
fn searches_answer_any_template() {
    let s = rw("find");
    for i in 0..20 {
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(16.into()),
                Attribute::Label(format!("k{i}").into_bytes()),
                Attribute::Id(vec![i % 3]),
            ],
        )
        .unwrap();
    }
    let (_, private) = ec_pair(&s, "pair", true);
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"k7".to_vec())])
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.find_objects(&[Attribute::Id(vec![0])]).unwrap().len(), 7);
    assert_eq!(
        s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"pair".to_vec())])
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.find_objects(&[
            Attribute::Label(b"pair".to_vec()),
            Attribute::Class(ObjectClass::PRIVATE_KEY)
        ])
        .unwrap(),
        [private]
    );
    assert!(
        s.find_objects(&[Attribute::Label(b"nope".to_vec())])
            .unwrap()
            .is_empty()
    );
    // A search interleaved with attribute reads, in small batches.
    let mut seen = 0;
    for h in s
        .iter_objects_with_cache_size(
            &[Attribute::Class(ObjectClass::SECRET_KEY)],
            3.try_into().unwrap(),
        )
        .unwrap()
    {
        let h = h.unwrap();
        assert!(bytes(&s, h, AttributeType::Label).starts_with(b"k"));
        seen += 1;
    }
    assert_eq!(seen, 20);
    // Raw: an operation at a time, and C_FindObjects without an operation.
    let f = table();
    let h = s.handle();
    unsafe {
        assert_eq!(
            f.C_FindObjectsInit.unwrap()(h, std::ptr::null_mut(), 0),
            CKR_OK
        );
        assert_eq!(
            f.C_FindObjectsInit.unwrap()(h, std::ptr::null_mut(), 0),
            CKR_OPERATION_ACTIVE
        );
        let mut out = [0 as CK_OBJECT_HANDLE; 100];
        let mut n: CK_ULONG = 0;
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, &mut n),
            CKR_OK
        );
        assert_eq!(n, 22);
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, &mut n),
            CKR_OK
        );
        assert_eq!(n, 0);
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, std::ptr::null_mut()),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(f.C_FindObjectsFinal.unwrap()(h), CKR_OK);
        assert_eq!(
            f.C_FindObjectsFinal.unwrap()(h),
            CKR_OPERATION_NOT_INITIALIZED
        );
        assert_eq!(
            f.C_FindObjects.unwrap()(h, out.as_mut_ptr(), 100, &mut n),
            CKR_OPERATION_NOT_INITIALIZED
        );
    }
}

/// The search index follows each change as it happens (the pool's change list, not a
/// rebuild): after every creation or destruction, searches by label and by class answer
/// exactly what a model of the pool holds, and destroyed handles stop resolving.
#[test]
fn searches_follow_every_change() {
    use std::collections::BTreeMap;
    let s = rw("churn");
    let secret = |label: &str| {
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(label.as_bytes().to_vec()),
            ],
        )
        .unwrap()
    };
    let data = |label: &str| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(vec![1, 2, 3]),
        ])
        .unwrap()
    };
    let find = |template: &[Attribute]| {
        let mut found = s.find_objects(template).unwrap();
        found.sort_by_key(|h| h.handle());
        found
    };
    // label → (class, handle), in creation order.
    let mut model: BTreeMap<String, (ObjectClass, ObjectHandle)> = BTreeMap::new();
    let check = |model: &BTreeMap<String, (ObjectClass, ObjectHandle)>| {
        for class in [ObjectClass::SECRET_KEY, ObjectClass::DATA] {
            let mut want: Vec<ObjectHandle> = model
                .values()
                .filter(|(c, _)| *c == class)
                .map(|(_, h)| *h)
                .collect();
            want.sort_by_key(|h| h.handle());
            assert_eq!(find(&[Attribute::Class(class)]), want, "{class:?}");
        }
        for (label, (_, h)) in model {
            assert_eq!(
                find(&[Attribute::Label(label.as_bytes().to_vec())]),
                vec![*h],
                "{label}"
            );
        }
    };
    for i in 0..24 {
        let key_label = format!("k{i}");
        model.insert(
            key_label.clone(),
            (ObjectClass::SECRET_KEY, secret(&key_label)),
        );
        let doc_label = format!("d{i}");
        model.insert(doc_label.clone(), (ObjectClass::DATA, data(&doc_label)));
        if i % 3 == 2 {
            // Destroy one older key and one older data object.
            for gone in [format!("k{}", i - 2), format!("d{}", i - 1)] {
                let (_, h) = model.remove(&gone).unwrap();
                s.destroy_object(h).unwrap();
                assert_eq!(
                    rv(s.get_attributes(h, &[AttributeType::Label])),
                    RvError::ObjectHandleInvalid
                );
                assert!(
                    find(&[Attribute::Label(gone.as_bytes().to_vec())]).is_empty(),
                    "{gone}"
                );
            }
        }
        check(&model);
    }
    // A label used again (a data object's; a destroyed key's name stays taken while it is
    // soft-deleted) names the new object only.
    assert!(!model.contains_key("d1"));
    let again = data("d1");
    assert_eq!(find(&[Attribute::Label(b"d1".to_vec())]), vec![again]);
}
