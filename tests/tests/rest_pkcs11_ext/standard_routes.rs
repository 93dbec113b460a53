//! The `rest_pkcs11_ext` suite: the extension through the standard routes (`MHSM-`
//! algorithm names checked against the core, `x-mhsm` kept with a key, generic secrets).

use super::*;

/// A key imported over REST, with a local copy of it for comparison.
struct Twin {
    name: &'static str,
    local: hsm_core::key::EphemeralKey,
}

fn aes_twin(api: &Api, local: &Hsm, name: &'static str, key: &[u8]) -> Twin {
    api.ok(
        Method::PUT,
        &format!("/keys/{name}"),
        Some(json!({"key": {
            "kty": "oct", "k": b64(key),
            "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"],
        }})),
    );
    let ops = KeyOps::of(&[
        Op::Encrypt,
        Op::Decrypt,
        Op::Sign,
        Op::Verify,
        Op::WrapKey,
        Op::UnwrapKey,
    ]);
    let local = local
        .import_ephemeral(KeyMaterial::Aes(SecretBytes::new(key.to_vec())), ops, false)
        .unwrap();
    Twin { name, local }
}

fn crypt_body(req: &jwa::JwaRequest, value: &[u8]) -> Value {
    let mut body = json!({"alg": req.alg, "value": b64(value)});
    if let Some(iv) = &req.iv {
        body["iv"] = json!(b64(iv));
    }
    if let Some(aad) = &req.aad {
        body["aad"] = json!(b64(aad));
    }
    body
}

#[test]
fn vendor_algorithm_names_through_the_standard_routes() {
    let api = Api::new();
    let local = Hsm::open(HsmConfig::in_memory()).unwrap();
    let aes = aes_twin(&api, &local, "aes", &[0x42; 32]);
    vendor_aes_ciphers(&api, &aes);
    vendor_macs_and_key_wrap(&api, &aes);
    let verifier = vendor_rsa_signatures(&api, &local);
    vendor_rsa_ciphers(&api, &verifier);
    vendor_ecdsa(&api, &local);
    vendor_names_refused(&api);
}

/// The input of the AES cases.
const PLAIN: [u8; 48] = [0x11; 48];

/// AES ECB, CTR, CBC and GCM by vendor names: the server's output is the core's.
fn vendor_aes_ciphers(api: &Api, aes: &Twin) {
    let spec = KeySpec::Aes { bits: 256 };
    let plain = PLAIN;
    // Deterministic modes.
    let ecb = CipherAlgorithm::AesEcb;
    let ctr = CipherAlgorithm::AesCtr {
        counter_block: [0xfe; 16],
        counter_bits: 64,
    };
    let cbc = CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [3; 16],
        padding: true,
    };
    let gcm12 = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: Some(vec![8; 12]),
        aad: b"head".to_vec(),
        tag_len: 12,
    };
    for alg in [ecb, ctr, cbc, gcm12] {
        let req = jwa::cipher_request(&alg, &spec);
        assert!(
            req.alg.starts_with("MHSM-") || req.alg == "A256CBCPAD",
            "{}",
            req.alg
        );
        let out = api.ok(
            Method::POST,
            &format!("/keys/{}//encrypt", aes.name),
            Some(crypt_body(&req, &plain)),
        );
        let want = aes.local.encrypt(&alg, &plain).unwrap();
        assert_eq!(unb64(&out["value"]), want.data, "{}", req.alg);
        if let Some(tag) = &want.tag {
            assert_eq!(tag.len(), 12);
            assert_eq!(unb64(&out["tag"]), *tag, "{}", req.alg);
        }
        // Decrypt: GCM's tag comes separately, as Azure sends it.
        let mut body = crypt_body(&req, &want.data);
        if let Some(tag) = &want.tag {
            body["tag"] = json!(b64(tag));
        }
        let back = api.ok(
            Method::POST,
            &format!("/keys/{}//decrypt", aes.name),
            Some(body.clone()),
        );
        assert_eq!(unb64(&back["value"]), plain, "{}", req.alg);
        if want.tag.is_some() {
            body["aad"] = json!(b64(b"tampered"));
            let (s, b) = api.call(
                Method::POST,
                &format!("/keys/{}//decrypt", aes.name),
                Some(body),
            );
            assert_eq!(
                (s, code(&b), inner(&b)),
                (StatusCode::BAD_REQUEST, "BadParameter", "DecryptionFailed")
            );
        }
    }
    // GCM with a generated IV and a 13-byte tag, then Azure's A256GCM.
    for tag_len in [13, 16] {
        let alg = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: Vec::new(),
            tag_len,
        };
        let req = jwa::cipher_request(&alg, &spec);
        let out = api.ok(
            Method::POST,
            "/keys/aes//encrypt",
            Some(crypt_body(&req, &plain)),
        );
        let iv = unb64(&out["iv"]);
        let tag = unb64(&out["tag"]);
        assert_eq!(tag.len(), tag_len);
        let mut ct = unb64(&out["value"]);
        ct.extend(&tag);
        let local_alg = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: Some(iv),
            aad: Vec::new(),
            tag_len,
        };
        assert_eq!(
            aes.local.decrypt(&local_alg, &ct).unwrap().expose_secret(),
            plain
        );
    }
}

/// CMAC and HMAC-SHA-1; AES key wrap with padding under a size the name demands.
fn vendor_macs_and_key_wrap(api: &Api, aes: &Twin) {
    let spec = KeySpec::Aes { bits: 256 };
    for alg in [
        SignAlgorithm::Cmac,
        SignAlgorithm::Hmac {
            hash: HashAlg::Sha1,
        },
    ] {
        let name = jwa::sign_name(&alg, &spec);
        let out = api.ok(
            Method::POST,
            "/keys/aes//sign",
            Some(json!({"alg": name, "value": b64(b"message")})),
        );
        assert_eq!(
            unb64(&out["value"]),
            aes.local.sign(&alg, b"message").unwrap(),
            "{name}"
        );
        let ok = api.ok(
            Method::POST,
            "/keys/aes//verify",
            Some(json!({"alg": name, "digest": b64(b"message"), "value": out["value"]})),
        );
        assert_eq!(ok["value"], true);
    }
    // AES key wrap with padding under a size the name demands.
    let kwp = WrapAlgorithm::AesKwp {
        key_bits: Some(256),
    };
    let req = jwa::wrap_request(&kwp, &spec);
    assert_eq!(req.alg, "MHSM-AES-KWP-K256");
    let wrapped = api.ok(
        Method::POST,
        "/keys/aes//wrapkey",
        Some(crypt_body(&req, &[1; 20])),
    );
    assert_eq!(
        unb64(&wrapped["value"]),
        aes.local.wrap_key(&kwp, &[1; 20]).unwrap()
    );
    let (s, b) = api.call(
        Method::POST,
        "/keys/aes//wrapkey",
        Some(json!({"alg": "MHSM-AES-KWP-K128", "value": b64(&[1; 20])})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "KeyTypeMismatch"));
}

/// RSA signatures: PSS with a salt of 0 and MGF1 like the hash, verified locally. Returns
/// the RSA key's public half, for the cipher cases.
fn vendor_rsa_signatures(api: &Api, local: &Hsm) -> EphemeralKey {
    let rsa = api.ok(
        Method::POST,
        "/keys/rsa/create",
        Some(json!({"kty": "RSA", "key_size": 2048})),
    );
    let public = PublicKey::Rsa {
        n: unb64(&rsa["key"]["n"]),
        e: unb64(&rsa["key"]["e"]),
    };
    let rsa_spec = KeySpec::Rsa { bits: 2048 };
    let verifier = local
        .public_ephemeral(&public, KeyOps::of(&[Op::Verify, Op::Encrypt, Op::WrapKey]))
        .unwrap();
    let digest = [0x5a; 48];
    for alg in [
        SignAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            mgf1: HashAlg::Sha384,
            salt_len: 0,
        },
        SignAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            mgf1: HashAlg::Sha384,
            salt_len: 20,
        },
        SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha384),
        },
    ] {
        let name = jwa::sign_name(&alg, &rsa_spec);
        let sig = api.ok(
            Method::POST,
            "/keys/rsa//sign",
            Some(json!({"alg": name, "value": b64(&digest)})),
        );
        assert!(
            verifier
                .verify(&alg, &digest, &unb64(&sig["value"]))
                .unwrap(),
            "{name}"
        );
        let other = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha384,
            mgf1: HashAlg::Sha384,
            salt_len: 48,
        };
        if alg != other {
            assert!(
                !verifier
                    .verify(&other, &digest, &unb64(&sig["value"]))
                    .unwrap_or(false)
            );
        }
    }
    verifier
}

/// Raw RSA (sign, decrypt); OAEP with SHA-384 and a label, through decrypt and unwrapKey.
fn vendor_rsa_ciphers(api: &Api, verifier: &EphemeralKey) {
    let rsa_spec = KeySpec::Rsa { bits: 2048 };
    let mut raw = vec![0u8; 256];
    raw[1..].fill(0x37);
    let sig = api.ok(
        Method::POST,
        "/keys/rsa//sign",
        Some(json!({"alg": "MHSM-RSA-RAW", "value": b64(&raw)})),
    );
    let sig = unb64(&sig["value"]);
    assert_eq!(sig.len(), 256);
    assert!(verifier.verify(&SignAlgorithm::RsaRaw, &raw, &sig).unwrap());
    let raw_ct = verifier.encrypt(&CipherAlgorithm::RsaRaw, &raw).unwrap();
    let back = api.ok(
        Method::POST,
        "/keys/rsa//decrypt",
        Some(json!({"alg": "MHSM-RSA-RAW", "value": b64(&raw_ct.data)})),
    );
    assert_eq!(unb64(&back["value"]), raw);

    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha384,
        mgf1: HashAlg::Sha384,
        label: b"the label".to_vec(),
    };
    let req = jwa::cipher_request(&oaep, &rsa_spec);
    assert_eq!(req.alg, "MHSM-RSA-OAEP-SHA384-MGF1-SHA384");
    let ct = verifier.encrypt(&oaep, b"secret").unwrap();
    let back = api.ok(
        Method::POST,
        "/keys/rsa//decrypt",
        Some(crypt_body(&req, &ct.data)),
    );
    assert_eq!(unb64(&back["value"]), b"secret");
    let mut wrong = crypt_body(&req, &ct.data);
    wrong["aad"] = json!(b64(b"another label"));
    let (s, b) = api.call(Method::POST, "/keys/rsa//decrypt", Some(wrong));
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "DecryptionFailed")
    );
    // The same through wrapKey / unwrapKey.
    let wrap = WrapAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha1,
        label: b"L".to_vec(),
    };
    let req = jwa::wrap_request(&wrap, &rsa_spec);
    let wrapped = api.ok(
        Method::POST,
        "/keys/rsa//wrapkey",
        Some(crypt_body(&req, &[6; 32])),
    );
    let back = api.ok(
        Method::POST,
        "/keys/rsa//unwrapkey",
        Some(crypt_body(&req, &unb64(&wrapped["value"]))),
    );
    assert_eq!(unb64(&back["value"]), [6; 32]);
    let (s, b) = api.call(
        Method::POST,
        "/keys/rsa//unwrapkey",
        Some(json!({"alg": req.alg, "value": wrapped["value"]})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "DecryptionFailed"),
        "no label"
    );
}

/// ECDSA without a hash on P-256, and with SHA-384 on P-256.
fn vendor_ecdsa(api: &Api, local: &Hsm) {
    let digest = [0x5a; 48];
    let ec = api.ok(
        Method::POST,
        "/keys/ec/create",
        Some(json!({"kty": "EC", "crv": "P-256"})),
    );
    let ec_public = PublicKey::Ec {
        curve: Curve::P256,
        x: unb64(&ec["key"]["x"]),
        y: unb64(&ec["key"]["y"]),
    };
    let ec_verifier = local
        .public_ephemeral(&ec_public, KeyOps::of(&[Op::Verify]))
        .unwrap();
    let ec_spec = KeySpec::Ec { curve: Curve::P256 };
    for (alg, input) in [
        (
            SignAlgorithm::Ecdsa {
                hash: None,
                curve: None,
            },
            &b"twenty bytes of data"[..],
        ),
        (
            SignAlgorithm::Ecdsa {
                hash: Some(HashAlg::Sha384),
                curve: None,
            },
            &digest[..],
        ),
    ] {
        let name = jwa::sign_name(&alg, &ec_spec);
        assert!(name.starts_with("MHSM-ES-"), "{name}");
        let sig = api.ok(
            Method::POST,
            "/keys/ec//sign",
            Some(json!({"alg": name, "value": b64(input)})),
        );
        assert!(
            ec_verifier
                .verify(&alg, input, &unb64(&sig["value"]))
                .unwrap(),
            "{name}"
        );
    }
}

/// Unknown and garbled vendor names.
fn vendor_names_refused(api: &Api) {
    let plain = PLAIN;
    for (path, alg) in [
        ("/keys/aes//encrypt", "MHSM-AES-XTS"),
        ("/keys/rsa//sign", "MHSM-PS-SHA256"),
        ("/keys/aes//wrapkey", "MHSM-AES-KW"),
    ] {
        let (s, b) = api.call(
            Method::POST,
            path,
            Some(json!({"alg": alg, "value": b64(&[0; 32])})),
        );
        assert_eq!(
            (s, code(&b), inner(&b)),
            (
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "UnsupportedAlgorithm"
            ),
            "{alg}"
        );
    }
    let (s, b) = api.call(
        Method::POST,
        "/keys/aes//encrypt",
        Some(json!({"alg": "MHSM-AES-CTR-C64", "value": b64(&plain), "iv": b64(&[0; 12])})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "InvalidAlgorithmParameter")
    );
    let (s, b) = api.call(
        Method::POST,
        "/keys/aes//encrypt",
        Some(json!({"alg": "MHSM-AES-CTR-C48", "value": b64(&plain), "iv": b64(&[0; 16])})),
    );
    assert_eq!(
        (s, inner(&b)),
        (StatusCode::BAD_REQUEST, "InvalidAlgorithmParameter")
    );
}

#[test]
fn x_mhsm_attributes_are_stored_with_the_key() {
    // Read back by the core itself once the server is gone.
    let mut server = TestServer::start(&[]);
    let api_client = server.client(&[]);
    let port = server.port();
    let status = server.runtime.block_on(async {
        api_client
            .post(format!("https://127.0.0.1:{port}/keys/k/create?{V}"))
            .bearer_auth("t")
            .json(&json!({"kty": "EC", "x-mhsm": {"extra": {"ck.id": b64(b"7")}}}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::OK);
    let hsm = server.stop_and_open();
    let pool = hsm.pool("default").unwrap();
    let info = pool.get_key("k", None).unwrap();
    assert_eq!(info.extra.get("ck.id").map(Vec::as_slice), Some(&b"7"[..]));
}

/// A generic secret made through the core (as the PKCS#11 module makes one) shows over REST
/// as `oct-HSM` with its operations, MACs with HS256, and refuses encryption as a key without
/// that operation (403 Forbidden); only the extension tells it from an AES key.
#[test]
fn generic_secrets_show_as_oct_and_only_mac() {
    let server = TestServer::start_with(&["secrets"], |config| {
        let hsm = Hsm::open(HsmConfig::new(&config.data_dir)).unwrap();
        let pool = hsm.pool("secrets").unwrap();
        pool.import_key(
            "hmac",
            KeyMaterial::Secret(SecretBytes::from_slice(b"Jefe")),
            &hsm_core::key::KeyOptions::default(),
        )
        .unwrap();
        pool.create_key(
            "aes",
            KeySpec::Aes { bits: 256 },
            &hsm_core::key::KeyOptions::default(),
        )
        .unwrap();
    });
    let client = server.client(&["secrets.localhost"]);
    let api = Api { server, client };
    let call = |method: Method, path: &str, body: Option<Value>| {
        api.send_as("t", "secrets.localhost", method, path, body)
    };

    let (s, b) = call(Method::GET, "/keys/hmac", None);
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["key"]["kty"], "oct-HSM");
    assert_eq!(b["key"]["key_ops"], json!(["sign", "verify"]));
    assert!(b["key"].get("k").is_none(), "no material");
    let (_, ext) = call(Method::GET, &format!("{X}/keys/hmac"), None);
    assert_eq!(ext["x-mhsm"]["keySize"], 32);
    assert_eq!(ext["x-mhsm"]["genericSecret"], true);
    let (_, aes) = call(Method::GET, &format!("{X}/keys/aes"), None);
    assert_eq!(aes["key"]["kty"], "oct-HSM");
    assert!(aes["x-mhsm"].get("genericSecret").is_none(), "{aes}");

    // RFC 4231 test case 2.
    let (s, b) = call(
        Method::POST,
        "/keys/hmac//sign",
        Some(json!({"alg": "HS256", "value": b64(b"what do ya want for nothing?")})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        hex::encode(unb64(&b["value"])),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let (s, b) = call(
        Method::POST,
        "/keys/hmac//verify",
        Some(
            json!({"alg": "HS256", "digest": b64(b"what do ya want for nothing?"), "value": b["value"]}),
        ),
    );
    assert_eq!((s, &b["value"]), (StatusCode::OK, &json!(true)), "{b}");

    for (op, alg) in [("encrypt", "A256GCM"), ("wrapkey", "A256KW")] {
        let (s, b) = call(
            Method::POST,
            &format!("/keys/hmac//{op}"),
            Some(json!({"alg": alg, "value": b64(&[1; 32])})),
        );
        assert_eq!(
            (s, code(&b), inner(&b)),
            (StatusCode::FORBIDDEN, "Forbidden", "OperationNotPermitted"),
            "{op}"
        );
    }
    // Nor can it be given operations its type cannot do.
    let (s, b) = call(
        Method::PATCH,
        "/keys/hmac/",
        Some(json!({"key_ops": ["sign", "encrypt"]})),
    );
    assert_eq!((s, inner(&b)), (StatusCode::BAD_REQUEST, "BadParameter"));

    // Through the extension, a create asks for a generic secret; the standard API cannot.
    let (s, b) = call(
        Method::POST,
        "/keys/made/create",
        Some(json!({"kty": "oct-HSM", "key_size": 160, "x-mhsm": {"genericSecret": true}})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["x-mhsm"]["genericSecret"], true);
    assert_eq!(b["key"]["key_ops"], json!(["sign", "verify"]));
    let (s, b) = call(
        Method::POST,
        "/keys/plain/create",
        Some(json!({"kty": "oct-HSM", "key_size": 128})),
    );
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["key"]["key_ops"],
        json!(["encrypt", "decrypt", "wrapKey", "unwrapKey"])
    );
}
