//! The `pkcs11_crypto` suite: the two-call convention, through raw calls (a short buffer
//! keeps the operation); large multi-part messages.

use super::*;

#[test]
fn short_buffers_keep_the_operation() {
    let s = session();
    short_buffers_in_signing(&s);
    let k = aes(
        &s,
        16,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    short_buffers_in_single_part_cbc(&s, k);
    short_buffers_in_multi_part_cbc(&s, k);
    short_buffers_in_gcm_and_wrapping(&s, k);
}

/// Signing: the length without signing, a short buffer, then the signature; `C_SignFinal`.
fn short_buffers_in_signing(s: &Session) {
    let (ec, ec_public) = ec_pair(s, &[]);
    let point = bytes(s, ec_public, AttributeType::EcPoint);
    let h_s = s.handle();
    let data = b"two calls";
    let mut m = raw_mechanism::<()>(CKM_ECDSA_SHA256, &());
    m.pParameter = std::ptr::null_mut();
    m.ulParameterLen = 0;
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    assert_eq!(
        unsafe { raw().C_SignInit(h_s, &mut m, ec.handle()) },
        CKR_OK
    );
    let sign = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_Sign(
            h_s,
            data.as_ptr() as *mut u8,
            data.len() as CK_ULONG,
            out,
            len,
        )
    };
    let mut len: CK_ULONG = 0;
    assert_eq!(sign(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 64, "2 × the field length, known without signing");
    let mut buf = [0u8; 80];
    len = 10;
    assert_eq!(sign(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 64);
    assert_eq!(buf, [0u8; 80], "nothing written");
    len = 80;
    assert_eq!(sign(buf.as_mut_ptr(), &mut len), CKR_OK);
    assert_eq!(len, 64);
    assert!(p256_verifies(&point, &sha256(data), &buf[..64]));
    assert_eq!(
        sign(buf.as_mut_ptr(), &mut len),
        CKR_OPERATION_NOT_INITIALIZED,
        "done"
    );
    // A NULL length pointer is a bad argument (and ends the operation).
    assert_eq!(
        unsafe { raw().C_SignInit(h_s, &mut m, ec.handle()) },
        CKR_OK
    );
    assert_eq!(
        unsafe {
            raw().C_Sign(
                h_s,
                data.as_ptr() as *mut u8,
                9,
                buf.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        },
        CKR_ARGUMENTS_BAD
    );

    // C_SignFinal after updates.
    assert_eq!(
        unsafe { raw().C_SignInit(h_s, &mut m, ec.handle()) },
        CKR_OK
    );
    assert_eq!(
        unsafe { raw().C_SignUpdate(h_s, data.as_ptr() as *mut u8, data.len() as CK_ULONG) },
        CKR_OK
    );
    len = 3;
    assert_eq!(
        unsafe { raw().C_SignFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 64);
    assert_eq!(
        unsafe { raw().C_SignFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_OK
    );
    assert!(p256_verifies(&point, &sha256(data), &buf[..64]));
}

/// Single-part CBC-PAD: the exact ciphertext length, the plaintext's bound then its exact
/// length.
fn short_buffers_in_single_part_cbc(s: &Session, k: ObjectHandle) {
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    let h_s = s.handle();
    let mut buf = [0u8; 80];
    let mut len: CK_ULONG;
    // Encryption: the exact ciphertext length before any work.
    let iv = [1u8; 16];
    let mut cbc_pad = raw_mechanism(CKM_AES_CBC_PAD, &iv);
    assert_eq!(raw_encrypt_init(s, &mut cbc_pad, k), CKR_OK);
    let plain = [6u8; 20];
    let encrypt = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_Encrypt(h_s, plain.as_ptr() as *mut u8, 20, out, len)
    };
    len = 0;
    assert_eq!(encrypt(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 32);
    len = 31;
    assert_eq!(encrypt(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 32);
    assert_eq!(encrypt(buf.as_mut_ptr(), &mut len), CKR_OK);
    let ct = buf[..32].to_vec();

    // Decryption: the most the plaintext can be, then the exact length; a buffer that holds
    // the plaintext but not the bound is enough.
    assert_eq!(
        unsafe { raw().C_DecryptInit(h_s, &mut cbc_pad, k.handle()) },
        CKR_OK
    );
    let decrypt = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_Decrypt(h_s, ct.as_ptr() as *mut u8, 32, out, len)
    };
    len = 0;
    assert_eq!(decrypt(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 32);
    let mut small = [0u8; 20];
    len = 19;
    assert_eq!(decrypt(small.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 20, "the exact length");
    assert_eq!(decrypt(small.as_mut_ptr(), &mut len), CKR_OK);
    assert_eq!((len, small), (20, plain));
}

/// Multi-part CBC-PAD, both ways.
fn short_buffers_in_multi_part_cbc(s: &Session, k: ObjectHandle) {
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    let h_s = s.handle();
    let mut buf = [0u8; 80];
    let mut len: CK_ULONG;
    let iv = [1u8; 16];
    let mut cbc_pad = raw_mechanism(CKM_AES_CBC_PAD, &iv);
    let plain = [6u8; 20];
    // Multi-part CBC: each update returns the whole blocks ready, with the two calls; the
    // final call the padded rest.
    assert_eq!(raw_encrypt_init(s, &mut cbc_pad, k), CKR_OK);
    let mut ct = Vec::new();
    for want in [16, 16] {
        let update = |out: *mut u8, len: &mut CK_ULONG| unsafe {
            raw().C_EncryptUpdate(h_s, plain.as_ptr() as *mut u8, 20, out, len)
        };
        len = 0;
        assert_eq!(update(std::ptr::null_mut(), &mut len), CKR_OK);
        assert_eq!(len, want, "a length query takes nothing");
        len = want - 1;
        assert_eq!(update(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
        assert_eq!(len, want);
        len = 80;
        assert_eq!(update(buf.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(len, want);
        ct.extend_from_slice(&buf[..want as usize]);
    }
    len = 0;
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, std::ptr::null_mut(), &mut len) },
        CKR_OK
    );
    assert_eq!(len, 16, "8 bytes held back, padded");
    len = 15;
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_OK
    );
    ct.extend_from_slice(&buf[..16]);
    let mut dm = raw_mechanism(CKM_AES_CBC_PAD, &iv);
    assert_eq!(
        raw_decrypt(s, &mut dm, k, &ct).unwrap(),
        [plain, plain].concat()
    );
    // Decrypting with padding: the final call answers the most it can be, then the rest.
    assert_eq!(
        unsafe { raw().C_DecryptInit(h_s, &mut dm, k.handle()) },
        CKR_OK
    );
    len = 80;
    assert_eq!(
        unsafe {
            raw().C_DecryptUpdate(h_s, ct.as_ptr() as *mut u8, 48, buf.as_mut_ptr(), &mut len)
        },
        CKR_OK
    );
    assert_eq!(len, 32, "the last block waits: it holds the padding");
    len = 0;
    assert_eq!(
        unsafe { raw().C_DecryptFinal(h_s, std::ptr::null_mut(), &mut len) },
        CKR_OK
    );
    assert_eq!(len, 16);
    let mut small = [0u8; 8];
    len = 7;
    assert_eq!(
        unsafe { raw().C_DecryptFinal(h_s, small.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 8, "the exact length");
    assert_eq!(
        unsafe { raw().C_DecryptFinal(h_s, small.as_mut_ptr(), &mut len) },
        CKR_OK
    );
    assert_eq!(small, plain[12..]);
}

/// GCM (updates answer nothing, the final call everything); wrapping.
fn short_buffers_in_gcm_and_wrapping(s: &Session, k: ObjectHandle) {
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    let h_s = s.handle();
    let mut buf = [0u8; 80];
    let mut len: CK_ULONG;
    let plain = [6u8; 20];
    // GCM gathers: updates answer 0 bytes, the final call everything.
    let nonce = [4u8; 12];
    let gcm_params = CK_GCM_PARAMS {
        pIv: nonce.as_ptr() as *mut u8,
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: std::ptr::null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    let mut gcm = raw_mechanism(CKM_AES_GCM, &gcm_params);
    assert_eq!(raw_encrypt_init(s, &mut gcm, k), CKR_OK);
    len = 80;
    assert_eq!(
        unsafe {
            raw().C_EncryptUpdate(
                h_s,
                plain.as_ptr() as *mut u8,
                20,
                buf.as_mut_ptr(),
                &mut len,
            )
        },
        CKR_OK
    );
    assert_eq!(len, 0);
    len = 0;
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, std::ptr::null_mut(), &mut len) },
        CKR_OK
    );
    assert_eq!(len, 36, "20 bytes and the tag");

    // Wrapping: the length first.
    let wrapping = aes(s, 32, &[Attribute::Wrap(true)]);
    let target = aes(s, 32, &[Attribute::Extractable(true)]);
    let mut kw = raw_mechanism::<()>(CKM_AES_KEY_WRAP, &());
    kw.pParameter = std::ptr::null_mut();
    kw.ulParameterLen = 0;
    let wrap = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_WrapKey(
            h_s,
            &mut kw.clone(),
            wrapping.handle(),
            target.handle(),
            out,
            len,
        )
    };
    len = 0;
    assert_eq!(wrap(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 40);
    len = 39;
    assert_eq!(wrap(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 40);
    assert_eq!(wrap(buf.as_mut_ptr(), &mut len), CKR_OK);
    assert_eq!(len, 40);
}

/// pkcs11-tool encrypts a file in 1,024-byte parts and gives `C_EncryptFinal` a buffer of
/// 1,024 bytes: updates must hand back their output as they go.
#[test]
fn large_multi_part_messages_stream() {
    let s = session();
    let k = aes(
        &s,
        32,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let iv = [0x5au8; 16];
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 32,
        cb: [7; 16],
    };
    let mut mechanisms = [
        raw_mechanism(CKM_AES_CBC_PAD, &iv),
        raw_mechanism(CKM_AES_CBC, &iv),
        raw_mechanism(CKM_AES_CTR, &ctr),
    ];
    for m in mechanisms.iter_mut() {
        let len = if m.mechanism == CKM_AES_CBC {
            99_984
        } else {
            data.len()
        };
        let data = &data[..len];
        let one = raw_encrypt(&s, m, k, data).unwrap();
        assert_eq!(raw_encrypt_init(&s, m, k), CKR_OK);
        let mut streamed = Vec::new();
        let mut out = [0u8; 1024];
        for chunk in data.chunks(1024) {
            let mut n = out.len() as CK_ULONG;
            // SAFETY: valid buffers.
            let code = unsafe {
                raw().C_EncryptUpdate(
                    s.handle(),
                    chunk.as_ptr() as *mut u8,
                    chunk.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut n,
                )
            };
            assert_eq!(code, CKR_OK);
            streamed.extend_from_slice(&out[..n as usize]);
        }
        let mut n = out.len() as CK_ULONG;
        // SAFETY: valid buffers.
        let code = unsafe { raw().C_EncryptFinal(s.handle(), out.as_mut_ptr(), &mut n) };
        assert_eq!(code, CKR_OK, "{:#x}", m.mechanism);
        streamed.extend_from_slice(&out[..n as usize]);
        assert_eq!(streamed, one, "{:#x}", m.mechanism);

        // SAFETY: a valid mechanism.
        assert_eq!(
            unsafe { raw().C_DecryptInit(s.handle(), m, k.handle()) },
            CKR_OK
        );
        let mut back = Vec::new();
        for chunk in one.chunks(1024) {
            let mut n = out.len() as CK_ULONG;
            // SAFETY: valid buffers.
            let code = unsafe {
                raw().C_DecryptUpdate(
                    s.handle(),
                    chunk.as_ptr() as *mut u8,
                    chunk.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut n,
                )
            };
            assert_eq!(code, CKR_OK);
            back.extend_from_slice(&out[..n as usize]);
        }
        let mut n = out.len() as CK_ULONG;
        // SAFETY: valid buffers.
        let code = unsafe { raw().C_DecryptFinal(s.handle(), out.as_mut_ptr(), &mut n) };
        assert_eq!(code, CKR_OK);
        back.extend_from_slice(&out[..n as usize]);
        assert_eq!(back, data, "{:#x}", m.mechanism);
    }
    // RSA is single-part only.
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    s.encrypt_init(&Mechanism::RsaPkcs, rsa_public).unwrap();
    assert_eq!(rv(s.encrypt_update(b"part")), RvError::FunctionNotSupported);
    assert_eq!(rv(s.encrypt_final()), RvError::OperationNotInitialized);
}
