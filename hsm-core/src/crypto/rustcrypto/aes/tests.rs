use super::*;
use crate::crypto::alg::HashAlg;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn code<T>(r: Result<T>) -> &'static str {
    r.err().map_or("ok", |e| e.code())
}

fn key(bytes: &[u8]) -> AesKey {
    AesKey::new(bytes).unwrap()
}

fn keys() -> Vec<AesKey> {
    [128, 192, 256]
        .into_iter()
        .map(|bits| match generate(bits).unwrap() {
            KeyMaterial::Aes(k) => AesKey::new(k.expose_secret()).unwrap(),
            _ => unreachable!(),
        })
        .collect()
}

fn gcm(iv: Option<Vec<u8>>, aad: &[u8], tag_len: usize) -> CipherAlgorithm {
    CipherAlgorithm::AesGcm {
        key_bits: None,
        iv,
        aad: aad.to_vec(),
        tag_len,
    }
}

const SP800_38A_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";

#[test]
fn generate_and_load_check_lengths() {
    for (bits, len) in [(128, 16), (192, 24), (256, 32)] {
        let KeyMaterial::Aes(k) = generate(bits).unwrap() else {
            unreachable!()
        };
        assert_eq!(k.len(), len);
        assert_eq!(key(k.expose_secret()).spec(), KeySpec::Aes { bits });
    }
    assert_eq!(code(generate(64)), "BadParameter");
    for len in [0, 8, 15, 17, 31, 33, 64] {
        assert_eq!(code(AesKey::new(&vec![1; len])), "InvalidKeyMaterial");
    }
    let k = key(&[0; 16]);
    assert!(k.has_private());
    assert_eq!(k.public_key(), None);
}

#[test]
fn ecb_known_answers_fips197() {
    let pt = h("00112233445566778899aabbccddeeff");
    for (k, ct) in [
        (
            "000102030405060708090a0b0c0d0e0f",
            "69c4e0d86a7b0430d8cdb78070b4c55a",
        ),
        (
            "000102030405060708090a0b0c0d0e0f1011121314151617",
            "dda97ca4864cdfe06eaf70a0ec0d7191",
        ),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "8ea2b7ca516745bfeafc49904b496089",
        ),
    ] {
        let k = key(&h(k));
        let two = [pt.clone(), pt.clone()].concat();
        let out = k.encrypt(&CipherAlgorithm::AesEcb, &two).unwrap();
        assert_eq!(out.data, [h(ct), h(ct)].concat());
        assert_eq!(out.iv, None);
        let back = k.decrypt(&CipherAlgorithm::AesEcb, &out.data).unwrap();
        assert_eq!(back.expose_secret(), &two[..]);
        assert_eq!(
            code(k.encrypt(&CipherAlgorithm::AesEcb, &[0; 15])),
            "InvalidInputLength"
        );
        assert_eq!(
            code(k.decrypt(&CipherAlgorithm::AesEcb, &[0; 17])),
            "InvalidInputLength"
        );
    }
}

#[test]
fn gcm_known_answers() {
    // McGrew and Viega, test cases 1 and 2 (AES-128, zero key and IV).
    let k = key(&[0; 16]);
    let out = k.encrypt(&gcm(Some(vec![0; 12]), b"", 16), b"").unwrap();
    assert_eq!(out.data, Vec::<u8>::new());
    assert_eq!(out.tag, Some(h("58e2fccefa7e3061367f1d57a4e7455a")));
    let out = k
        .encrypt(&gcm(Some(vec![0; 12]), b"", 16), &[0; 16])
        .unwrap();
    assert_eq!(out.data, h("0388dace60b6a392f328c2b971b2fe78"));
    assert_eq!(out.tag, Some(h("ab6e47d42cec13bdf53a67b21257bddf")));
    // A shorter tag is the truncated full tag.
    let out12 = k
        .encrypt(&gcm(Some(vec![0; 12]), b"", 12), &[0; 16])
        .unwrap();
    assert_eq!(out12.tag, Some(h("ab6e47d42cec13bdf53a67b2")));
}

#[test]
fn gcm_round_trips_every_key_and_tag_size() {
    for k in keys() {
        for tag_len in 12..=16 {
            for (pt, aad) in [(&b""[..], &b""[..]), (b"secret message", b"header")] {
                let out = k.encrypt(&gcm(None, aad, tag_len), pt).unwrap();
                let iv = out.iv.clone().unwrap();
                let tag = out.tag.clone().unwrap();
                assert_eq!((iv.len(), tag.len()), (12, tag_len));
                assert_eq!(out.data.len(), pt.len());
                let alg = gcm(Some(iv.clone()), aad, tag_len);
                let back = k.decrypt(&alg, &out.data_with_tag()).unwrap();
                assert_eq!(back.expose_secret(), pt);
                // Given IV: deterministic.
                assert_eq!(k.encrypt(&alg, pt).unwrap(), out);

                let fails = |ct: &[u8], alg: &CipherAlgorithm| code(k.decrypt(alg, ct));
                let mut bad_tag = out.data_with_tag();
                let last = bad_tag.len() - 1;
                bad_tag[last] ^= 1;
                assert_eq!(fails(&bad_tag, &alg), "DecryptionFailed");
                if !pt.is_empty() {
                    let mut bad_ct = out.data_with_tag();
                    bad_ct[0] ^= 1;
                    assert_eq!(fails(&bad_ct, &alg), "DecryptionFailed");
                }
                let mut other_iv = iv.clone();
                other_iv[0] ^= 1;
                assert_eq!(
                    fails(&out.data_with_tag(), &gcm(Some(other_iv), aad, tag_len)),
                    "DecryptionFailed"
                );
                assert_eq!(
                    fails(
                        &out.data_with_tag(),
                        &gcm(Some(iv.clone()), b"other", tag_len)
                    ),
                    "DecryptionFailed"
                );
                if tag_len > 12 {
                    // Reading the input with another tag length moves the split.
                    assert_eq!(
                        fails(
                            &out.data_with_tag(),
                            &gcm(Some(iv.clone()), aad, tag_len - 1)
                        ),
                        "DecryptionFailed"
                    );
                }
            }
        }
        // Two encryptions with generated IVs differ.
        let a = k.encrypt(&gcm(None, b"", 16), b"same").unwrap();
        let b = k.encrypt(&gcm(None, b"", 16), b"same").unwrap();
        assert_ne!(a.iv, b.iv);
        assert_ne!(a.data, b.data);
    }
}

#[test]
fn gcm_parameter_errors() {
    let k = key(&[1; 32]);
    assert_eq!(
        code(k.encrypt(&gcm(Some(vec![0; 8]), b"", 16), b"m")),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(k.encrypt(&gcm(Some(vec![0; 16]), b"", 16), b"m")),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(k.encrypt(&gcm(None, b"", 11), b"m")),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(k.encrypt(&gcm(None, b"", 17), b"m")),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(k.decrypt(&gcm(None, b"", 16), &[0; 32])),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(k.decrypt(&gcm(Some(vec![0; 12]), b"", 16), &[0; 15])),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.decrypt(&gcm(Some(vec![0; 12]), b"", 16), &[0; 16])),
        "DecryptionFailed"
    );
    let want128 = CipherAlgorithm::AesGcm {
        key_bits: Some(128),
        iv: None,
        aad: vec![],
        tag_len: 16,
    };
    assert_eq!(code(k.encrypt(&want128, b"m")), "KeyTypeMismatch");
    assert_eq!(code(k.decrypt(&want128, &[0; 16])), "KeyTypeMismatch");
}

#[test]
fn cbc_known_answer_and_round_trips() {
    // SP 800-38A F.2.1.
    let k = key(&h(SP800_38A_KEY));
    let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let cbc = |padding| CipherAlgorithm::AesCbc {
        key_bits: None,
        iv,
        padding,
    };
    let out = k.encrypt(&cbc(false), &h(SP800_38A_PT)).unwrap();
    assert_eq!(
        out.data,
        h("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
    );
    assert_eq!(out.iv, Some(iv.to_vec()));
    // With padding, a whole block of 0x10 is added after whole blocks.
    let padded = k.encrypt(&cbc(true), &h(SP800_38A_PT)).unwrap();
    assert_eq!(padded.data.len(), 48);
    assert_eq!(&padded.data[..32], &out.data[..]);
    let raw = k.decrypt(&cbc(false), &padded.data).unwrap();
    assert_eq!(&raw.expose_secret()[32..], &[16; 16]);

    for k in keys() {
        for len in 0..40 {
            let pt: Vec<u8> = (0..len).map(|i| u8::try_from(i).unwrap()).collect();
            let ct = k.encrypt(&cbc(true), &pt).unwrap();
            assert_eq!(ct.data.len(), (len / 16 + 1) * 16);
            assert_eq!(
                k.decrypt(&cbc(true), &ct.data).unwrap().expose_secret(),
                &pt[..]
            );
            if len % 16 == 0 {
                let ct = k.encrypt(&cbc(false), &pt).unwrap();
                assert_eq!(ct.data.len(), len);
                assert_eq!(
                    k.decrypt(&cbc(false), &ct.data).unwrap().expose_secret(),
                    &pt[..]
                );
            } else {
                assert_eq!(code(k.encrypt(&cbc(false), &pt)), "InvalidInputLength");
            }
        }
    }
}

#[test]
fn cbc_bad_padding_is_decryption_failed() {
    let k = key(&[3; 16]);
    let cbc = |padding| CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [9; 16],
        padding,
    };
    // Blocks whose decryption ends in 0x00, 0x11, or an inconsistent run.
    for last in [
        [0u8; 16].to_vec(),
        [0x11; 16].to_vec(),
        [[1u8; 14].to_vec(), vec![3, 2]].concat(),
    ] {
        let ct = k.encrypt(&cbc(false), &last).unwrap();
        assert_eq!(code(k.decrypt(&cbc(true), &ct.data)), "DecryptionFailed");
    }
    assert_eq!(code(k.decrypt(&cbc(true), &[0; 15])), "InvalidInputLength");
    let want = CipherAlgorithm::AesCbc {
        key_bits: Some(256),
        iv: [0; 16],
        padding: true,
    };
    assert_eq!(code(k.encrypt(&want, b"m")), "KeyTypeMismatch");
}

#[test]
fn ctr_known_answer_and_counter_sizes() {
    // SP 800-38A F.5.1.
    let k = key(&h(SP800_38A_KEY));
    let block: [u8; 16] = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap();
    let expect = h("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff");
    for bits in [32, 64, 128] {
        let alg = CipherAlgorithm::AesCtr {
            counter_block: block,
            counter_bits: bits,
        };
        let out = k.encrypt(&alg, &h(SP800_38A_PT)).unwrap();
        assert_eq!(out.data, expect, "{bits}");
        assert_eq!(
            k.decrypt(&alg, &out.data).unwrap().expose_secret(),
            &h(SP800_38A_PT)[..]
        );
        // Partial blocks.
        let out = k.encrypt(&alg, &h(SP800_38A_PT)[..20]).unwrap();
        assert_eq!(out.data, expect[..20]);
    }
}

#[test]
fn ctr_refuses_to_wrap_the_counter() {
    let k = key(&[5; 16]);
    let ctr = |block: [u8; 16], bits| CipherAlgorithm::AesCtr {
        counter_block: block,
        counter_bits: bits,
    };
    let mut last32 = [0xaa; 16];
    last32[12..].copy_from_slice(&[0xff; 4]);
    // One block is the last counter value: fine; a second would wrap.
    assert!(k.encrypt(&ctr(last32, 32), &[0; 16]).is_ok());
    assert_eq!(
        code(k.encrypt(&ctr(last32, 32), &[0; 17])),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.decrypt(&ctr(last32, 32), &[0; 32])),
        "InvalidInputLength"
    );
    // A 64-bit counter carries into bit 32, like a 128-bit one.
    let a = k.encrypt(&ctr(last32, 64), &[0; 48]).unwrap();
    let b = k.encrypt(&ctr(last32, 128), &[0; 48]).unwrap();
    assert_eq!(a.data, b.data);
    let mut last64 = [0xaa; 16];
    last64[8..].copy_from_slice(&[0xff; 8]);
    assert_eq!(
        code(k.encrypt(&ctr(last64, 64), &[0; 17])),
        "InvalidInputLength"
    );
    assert_eq!(
        code(k.encrypt(&ctr([0xff; 16], 128), &[0; 17])),
        "InvalidInputLength"
    );
    assert!(k.encrypt(&ctr([0xff; 16], 128), &[0; 16]).is_ok());
    assert!(k.encrypt(&ctr([0xff; 16], 128), &[]).is_ok());
    assert_eq!(
        code(k.encrypt(&ctr([0; 16], 20), &[0; 16])),
        "InvalidAlgorithmParameter"
    );
    assert_eq!(
        code(k.encrypt(&ctr([0; 16], 0), &[0; 16])),
        "InvalidAlgorithmParameter"
    );
}

#[test]
fn key_wrap_known_answers() {
    let kw = WrapAlgorithm::AesKw { key_bits: None };
    let kwp = WrapAlgorithm::AesKwp { key_bits: None };
    // RFC 3394 4.1 and 4.6.
    let k = key(&h("000102030405060708090a0b0c0d0e0f"));
    let data = h("00112233445566778899aabbccddeeff");
    let wrapped = k.wrap(&kw, &data).unwrap();
    assert_eq!(
        wrapped,
        h("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5")
    );
    assert_eq!(k.unwrap(&kw, &wrapped).unwrap().expose_secret(), &data[..]);
    let k = key(&h(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    ));
    let data = h("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f");
    assert_eq!(
        k.wrap(&kw, &data).unwrap(),
        h("28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21")
    );
    // RFC 5649 section 6.
    let k = key(&h("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"));
    let data = h("c37b7e6492584340bed12207808941155068f738");
    let wrapped = k.wrap(&kwp, &data).unwrap();
    assert_eq!(
        wrapped,
        h("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
    );
    assert_eq!(k.unwrap(&kwp, &wrapped).unwrap().expose_secret(), &data[..]);
    let wrapped = k.wrap(&kwp, &h("466f7250617369")).unwrap();
    assert_eq!(wrapped, h("afbeb0f07dfbf5419200f2ccb50bb24f"));
    assert_eq!(
        k.unwrap(&kwp, &wrapped).unwrap().expose_secret(),
        &h("466f7250617369")[..]
    );
}

#[test]
fn key_wrap_failures() {
    for k in keys() {
        let kw = WrapAlgorithm::AesKw { key_bits: None };
        let kwp = WrapAlgorithm::AesKwp { key_bits: None };
        for len in [16, 24, 32, 40] {
            let data = vec![0x5c; len];
            let wrapped = k.wrap(&kw, &data).unwrap();
            assert_eq!(wrapped.len(), len + 8);
            let mut bad = wrapped.clone();
            bad[len / 2] ^= 1;
            assert_eq!(code(k.unwrap(&kw, &bad)), "DecryptionFailed");
        }
        for len in 1..=33 {
            let data = vec![0xa5; len];
            let wrapped = k.wrap(&kwp, &data).unwrap();
            assert_eq!(wrapped.len(), len.div_ceil(8) * 8 + 8);
            assert_eq!(k.unwrap(&kwp, &wrapped).unwrap().expose_secret(), &data[..]);
            let mut bad = wrapped.clone();
            bad[0] ^= 0x80;
            assert_eq!(code(k.unwrap(&kwp, &bad)), "DecryptionFailed");
            // KW and KWP outputs are not interchangeable.
            if wrapped.len() >= 24 {
                assert_eq!(code(k.unwrap(&kw, &wrapped)), "DecryptionFailed");
            }
        }
        assert_eq!(code(k.wrap(&kw, &[0; 8])), "InvalidInputLength");
        assert_eq!(code(k.wrap(&kw, &[0; 20])), "InvalidInputLength");
        assert_eq!(code(k.unwrap(&kw, &[0; 16])), "InvalidInputLength");
        assert_eq!(code(k.unwrap(&kw, &[0; 25])), "InvalidInputLength");
        assert_eq!(code(k.wrap(&kwp, &[])), "InvalidInputLength");
        assert_eq!(code(k.unwrap(&kwp, &[0; 8])), "InvalidInputLength");
        assert_eq!(code(k.unwrap(&kwp, &[0; 20])), "InvalidInputLength");
        assert_eq!(code(k.unwrap(&kwp, &[0; 16])), "DecryptionFailed");
        let want = WrapAlgorithm::AesKw { key_bits: Some(64) };
        assert_eq!(code(k.wrap(&want, &[0; 16])), "KeyTypeMismatch");
    }
}

#[test]
fn cmac_known_answers_rfc4493() {
    let k = key(&h(SP800_38A_KEY));
    let empty = k.sign(&SignAlgorithm::Cmac, b"").unwrap();
    assert_eq!(empty, h("bb1d6929e95937287fa37d129b756746"));
    let msg = h("6bc1bee22e409f96e93d7e117393172a");
    let tag = k.sign(&SignAlgorithm::Cmac, &msg).unwrap();
    assert_eq!(tag, h("070a16b46b4d4144f79bdd9dd04a287c"));
    assert!(k.verify(&SignAlgorithm::Cmac, &msg, &tag).unwrap());
    assert!(!k.verify(&SignAlgorithm::Cmac, b"", &tag).unwrap());
    assert!(!k.verify(&SignAlgorithm::Cmac, &msg, &tag[..15]).unwrap());
    assert!(!k.verify(&SignAlgorithm::Cmac, &msg, &[]).unwrap());
    let mut bad = tag.clone();
    bad[15] ^= 1;
    assert!(!k.verify(&SignAlgorithm::Cmac, &msg, &bad).unwrap());
}

#[test]
fn hmac_uses_the_key_bytes() {
    let k = key(&[0x0b; 32]);
    let alg = SignAlgorithm::Hmac {
        hash: HashAlg::Sha384,
    };
    let tag = k.sign(&alg, b"data").unwrap();
    assert_eq!(
        tag,
        hmac::sign(HashAlg::Sha384, &[0x0b; 32], b"data").unwrap()
    );
    assert!(k.verify(&alg, b"data", &tag).unwrap());
    assert!(!k.verify(&alg, b"datb", &tag).unwrap());
}

#[test]
fn other_families_algorithms_are_key_type_mismatch() {
    let k = key(&[1; 16]);
    for alg in [
        SignAlgorithm::RsaPkcs1v15 { hash: None },
        SignAlgorithm::Ecdsa {
            hash: None,
            curve: None,
        },
    ] {
        assert_eq!(code(k.sign(&alg, &[0; 32])), "KeyTypeMismatch");
        assert_eq!(code(k.verify(&alg, &[0; 32], &[0; 64])), "KeyTypeMismatch");
    }
    assert_eq!(
        code(k.encrypt(&CipherAlgorithm::RsaPkcs1v15, b"m")),
        "KeyTypeMismatch"
    );
    assert_eq!(
        code(k.decrypt(&CipherAlgorithm::RsaPkcs1v15, &[0; 16])),
        "KeyTypeMismatch"
    );
    assert_eq!(
        code(k.wrap(&WrapAlgorithm::RsaPkcs1v15, &[0; 16])),
        "KeyTypeMismatch"
    );
    assert_eq!(
        code(k.unwrap(&WrapAlgorithm::RsaPkcs1v15, &[0; 16])),
        "KeyTypeMismatch"
    );
    assert_eq!(code(k.ecdh(&[4; 65])), "KeyTypeMismatch");
}

#[test]
fn debug_is_redacted() {
    let k = key(&[0xab; 24]);
    let shown = format!("{k:?}");
    assert_eq!(shown, "AesKey(192 bits, [REDACTED])");
    assert!(!shown.contains("abab"));
}
