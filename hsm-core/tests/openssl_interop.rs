//! Interoperability with the `openssl` command line (OpenSSL 3), the independent
//! implementation: signatures, RSA encryption, ECDH, AES-CBC-PAD and AES key wrap made by one
//! side are checked by the other, with keys exchanged as SPKI and PKCS#8 PEM written from
//! `to_spki_der` / `to_pkcs8_der`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use hsm_core::SecretBytes;
use hsm_core::crypto::{
    CipherAlgorithm, CryptoProvider, Curve, HashAlg, KeyMaterial, KeySpec, LoadedKey, PublicKey,
    SignAlgorithm, WrapAlgorithm,
};
use tempfile::TempDir;

fn provider() -> Arc<dyn CryptoProvider> {
    common::current_provider()
}

/// The one RSA-2048 key of this file (generation is slow).
fn rsa_material() -> &'static KeyMaterial {
    static KEY: OnceLock<KeyMaterial> = OnceLock::new();
    KEY.get_or_init(|| provider().generate(KeySpec::Rsa { bits: 2048 }).unwrap())
}

fn digest(hash: HashAlg, msg: &[u8]) -> Vec<u8> {
    let mut h = provider().hasher(hash);
    h.update(msg);
    h.finish()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A scratch directory with the key pair written as PEM files.
struct Files {
    dir: TempDir,
    /// The private key, PKCS#8 PEM.
    key: PathBuf,
    /// The public key, SPKI PEM.
    public: PathBuf,
}

impl Files {
    fn new(material: &KeyMaterial, public: &PublicKey) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = Self {
            key: dir.path().join("key.pem"),
            public: dir.path().join("pub.pem"),
            dir,
        };
        let pkcs8 = material.to_pkcs8_der().unwrap();
        files.write(
            "key.pem",
            pem("PRIVATE KEY", pkcs8.expose_secret()).as_bytes(),
        );
        files.write(
            "pub.pem",
            pem("PUBLIC KEY", &public.to_spki_der().unwrap()).as_bytes(),
        );
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

/// Runs `openssl` with `args`; returns whether it succeeded (stderr is printed on failure).
fn openssl(args: &[&str]) -> bool {
    let out = run(args);
    if !out.status.success() {
        eprintln!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success()
}

/// Runs `openssl` with `args`, expecting a refusal (a verification that must fail).
fn openssl_refuses(args: &[&str]) -> bool {
    !run(args).status.success()
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command runs")
}

/// `openssl dgst <md> -verify <public> <opts> -signature <sig> <msg>`.
fn dgst_verify<'a>(
    md: &'a str,
    opts: &[&'a str],
    public: &'a Path,
    sig: &'a Path,
    msg: &'a Path,
) -> Vec<&'a str> {
    let mut args = vec!["dgst", md, "-verify", p(public)];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["-signature", p(sig), p(msg)]);
    args
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn load(material: &KeyMaterial) -> (Arc<dyn LoadedKey>, PublicKey) {
    let key = provider().load(material).unwrap();
    let public = key.public_key().unwrap();
    (key, public)
}

fn openssl_md(hash: HashAlg) -> &'static str {
    match hash {
        HashAlg::Sha1 => "sha1",
        HashAlg::Sha224 => "sha224",
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
    }
}

// --- DER ECDSA signatures --------------------------------------------------------------------

fn der_integer(be: &[u8]) -> Vec<u8> {
    let first = be.iter().position(|b| *b != 0).unwrap_or(be.len() - 1);
    let mut v = be[first..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    let mut out = vec![0x02];
    out.extend(der_len(v.len()));
    out.extend(v);
    out
}

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![u8::try_from(len).unwrap()]
    } else {
        vec![0x81, u8::try_from(len).unwrap()]
    }
}

/// Raw `r || s` to DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [der_integer(r), der_integer(s)].concat();
    let mut out = vec![0x30];
    out.extend(der_len(body.len()));
    out.extend(body);
    out
}

/// DER to raw `r || s`, each `field_len` bytes (lenient: OpenSSL's output is DER).
fn der_to_raw(der: &[u8], field_len: usize) -> Vec<u8> {
    fn take(input: &[u8], tag: u8) -> (&[u8], &[u8]) {
        assert_eq!(input[0], tag);
        let (len, rest) = if input[1] < 0x80 {
            (usize::from(input[1]), &input[2..])
        } else {
            assert_eq!(input[1], 0x81);
            (usize::from(input[2]), &input[3..])
        };
        rest.split_at(len)
    }
    let (body, _) = take(der, 0x30);
    let (r, rest) = take(body, 0x02);
    let (s, _) = take(rest, 0x02);
    let pad = |v: &[u8]| {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..];
        [vec![0; field_len - v.len()], v.to_vec()].concat()
    };
    [pad(r), pad(s)].concat()
}

#[test]
fn der_helpers_round_trip() {
    common::each_provider(der_helpers_round_trip_on);
}

fn der_helpers_round_trip_on() {
    let raw = [[0x80u8; 32], [0x01; 32]].concat();
    let der = raw_to_der(&raw);
    assert_eq!(&der[..4], &[0x30, 0x45, 0x02, 0x21]);
    assert_eq!(der_to_raw(&der, 32), raw);
    let small = [vec![0; 31], vec![5], vec![0; 31], vec![6]].concat();
    assert_eq!(raw_to_der(&small), vec![0x30, 6, 2, 1, 5, 2, 1, 6]);
    assert_eq!(der_to_raw(&raw_to_der(&small), 32), small);
}

// --- RSA -------------------------------------------------------------------------------------

#[test]
fn rsa_signatures_both_ways() {
    common::each_provider(rsa_signatures_both_ways_on);
}

fn rsa_signatures_both_ways_on() {
    let (key, public) = load(rsa_material());
    let files = Files::new(rsa_material(), &public);
    let msg = files.write("msg.bin", b"a message signed by mhsm");
    let other = files.write("other.bin", b"another message");
    let pss_opts = [
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
        "-sigopt",
        "rsa_mgf1_md:sha256",
    ];
    let rs256 = SignAlgorithm::RsaPkcs1v15 {
        hash: Some(HashAlg::Sha256),
    };
    let ps256 = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        salt_len: 32,
    };
    let d = digest(HashAlg::Sha256, b"a message signed by mhsm");

    for (alg, opts) in [(&rs256, &[][..]), (&ps256, &pss_opts[..])] {
        // mhsm signs, openssl verifies (and refuses another message).
        let sig = files.write("sig.bin", &key.sign(alg, &d).unwrap());
        let verify = |m| dgst_verify("-sha256", opts, &files.public, &sig, m);
        assert!(openssl(&verify(&msg)), "{alg:?}");
        assert!(openssl_refuses(&verify(&other)), "{alg:?}");

        // openssl signs, mhsm verifies.
        let out = files.path("ossl.sig");
        let mut args = vec!["dgst", "-sha256", "-sign", p(&files.key)];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["-out", p(&out), p(&msg)]);
        assert!(openssl(&args));
        let ossl_sig = files.read("ossl.sig");
        assert!(key.verify(alg, &d, &ossl_sig).unwrap(), "{alg:?}");
        let wrong = digest(HashAlg::Sha256, b"another message");
        assert!(!key.verify(alg, &wrong, &ossl_sig).unwrap());
    }
}

#[test]
fn rsa_encryption_both_ways() {
    common::each_provider(rsa_encryption_both_ways_on);
}

fn rsa_encryption_both_ways_on() {
    let (key, public) = load(rsa_material());
    let files = Files::new(rsa_material(), &public);
    let oaep = |hash, mgf1, label: &[u8]| CipherAlgorithm::RsaOaep {
        hash,
        mgf1,
        label: label.to_vec(),
    };
    let cases: Vec<(CipherAlgorithm, Vec<String>)> = vec![
        (
            CipherAlgorithm::RsaPkcs1v15,
            vec!["rsa_padding_mode:pkcs1".into()],
        ),
        (
            oaep(HashAlg::Sha1, HashAlg::Sha1, b""),
            vec![
                "rsa_padding_mode:oaep".into(),
                "rsa_oaep_md:sha1".into(),
                "rsa_mgf1_md:sha1".into(),
            ],
        ),
        (
            oaep(HashAlg::Sha256, HashAlg::Sha256, b""),
            vec![
                "rsa_padding_mode:oaep".into(),
                "rsa_oaep_md:sha256".into(),
                "rsa_mgf1_md:sha256".into(),
            ],
        ),
        (
            oaep(HashAlg::Sha256, HashAlg::Sha1, b"a label"),
            vec![
                "rsa_padding_mode:oaep".into(),
                "rsa_oaep_md:sha256".into(),
                "rsa_mgf1_md:sha1".into(),
                format!("rsa_oaep_label:{}", hex::encode(b"a label")),
            ],
        ),
    ];
    for (alg, opts) in cases {
        let plaintext = b"wrapped key bytes 0123456789abcdef";
        let pkeyopts: Vec<&str> = opts.iter().flat_map(|o| ["-pkeyopt", o.as_str()]).collect();

        // mhsm encrypts, openssl decrypts with the PKCS#8 key.
        let ct = files.write("ct.bin", &key.encrypt(&alg, plaintext).unwrap().data);
        let out = files.path("pt.bin");
        let mut args = vec!["pkeyutl", "-decrypt", "-inkey", p(&files.key)];
        args.extend_from_slice(&pkeyopts);
        args.extend_from_slice(&["-in", p(&ct), "-out", p(&out)]);
        assert!(openssl(&args), "{alg:?}");
        assert_eq!(files.read("pt.bin"), plaintext, "{alg:?}");

        // openssl encrypts to the SPKI key, mhsm decrypts.
        let pt = files.write("pt2.bin", plaintext);
        let out = files.path("ct2.bin");
        let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", p(&files.public)];
        args.extend_from_slice(&pkeyopts);
        args.extend_from_slice(&["-in", p(&pt), "-out", p(&out)]);
        assert!(openssl(&args), "{alg:?}");
        let ct2 = files.read("ct2.bin");
        assert_eq!(
            key.decrypt(&alg, &ct2).unwrap().expose_secret(),
            plaintext,
            "{alg:?}"
        );
    }
}

// --- EC --------------------------------------------------------------------------------------

const EC_CASES: [(Curve, HashAlg, &str); 4] = [
    (Curve::P256, HashAlg::Sha256, "ES256"),
    (Curve::P384, HashAlg::Sha384, "ES384"),
    (Curve::P521, HashAlg::Sha512, "ES512"),
    (Curve::Secp256k1, HashAlg::Sha256, "ES256K"),
];

#[test]
fn ecdsa_signatures_both_ways() {
    common::each_provider(ecdsa_signatures_both_ways_on);
}

fn ecdsa_signatures_both_ways_on() {
    for (curve, hash, name) in EC_CASES {
        let material = provider().generate(KeySpec::Ec { curve }).unwrap();
        let (key, public) = load(&material);
        let files = Files::new(&material, &public);
        let text = format!("a message signed with {name}");
        let msg = files.write("msg.bin", text.as_bytes());
        let other = files.write("other.bin", b"something else");
        let md = format!("-{}", openssl_md(hash));
        let alg = SignAlgorithm::Ecdsa {
            hash: Some(hash),
            curve: Some(curve),
        };
        let d = digest(hash, text.as_bytes());

        // mhsm signs (raw r || s), openssl verifies the DER form.
        let raw = key.sign(&alg, &d).unwrap();
        assert_eq!(raw.len(), 2 * curve.field_len(), "{name}");
        let sig = files.write("sig.der", &raw_to_der(&raw));
        let verify = |m| dgst_verify(&md, &[], &files.public, &sig, m);
        assert!(openssl(&verify(&msg)), "{name}");
        assert!(openssl_refuses(&verify(&other)), "{name}");

        // openssl signs, mhsm verifies the raw form.
        let out = files.path("ossl.der");
        assert!(openssl(&[
            "dgst",
            &md,
            "-sign",
            p(&files.key),
            "-out",
            p(&out),
            p(&msg),
        ]));
        let ossl = der_to_raw(&files.read("ossl.der"), curve.field_len());
        assert!(key.verify(&alg, &d, &ossl).unwrap(), "{name}");
        assert!(
            !key.verify(&alg, &digest(hash, b"something else"), &ossl)
                .unwrap()
        );
    }
}

#[test]
fn ecdh_agrees_with_openssl() {
    common::each_provider(ecdh_agrees_with_openssl_on);
}

fn ecdh_agrees_with_openssl_on() {
    for (curve, _, name) in EC_CASES {
        let ours = provider().generate(KeySpec::Ec { curve }).unwrap();
        let theirs = provider().generate(KeySpec::Ec { curve }).unwrap();
        let (key, public) = load(&ours);
        let (_, peer_public) = load(&theirs);
        // openssl holds the peer's private key and our public key.
        let files = Files::new(&theirs, &peer_public);
        let our_pub = files.write(
            "ours.pem",
            pem("PUBLIC KEY", &public.to_spki_der().unwrap()).as_bytes(),
        );
        let out = files.path("shared.bin");
        assert!(openssl(&[
            "pkeyutl",
            "-derive",
            "-inkey",
            p(&files.key),
            "-peerkey",
            p(&our_pub),
            "-out",
            p(&out),
        ]));
        let point = peer_public.ec_point_uncompressed().unwrap();
        let shared = key.ecdh(&point).unwrap();
        assert_eq!(
            shared.expose_secret(),
            &files.read("shared.bin")[..],
            "{name}"
        );
    }
}

// --- AES -------------------------------------------------------------------------------------

fn aes(bytes: &[u8]) -> Arc<dyn LoadedKey> {
    provider()
        .load(&KeyMaterial::Aes(SecretBytes::from_slice(bytes)))
        .unwrap()
}

#[test]
fn aes_cbc_pad_both_ways() {
    common::each_provider(aes_cbc_pad_both_ways_on);
}

fn aes_cbc_pad_both_ways_on() {
    let dir = tempfile::tempdir().unwrap();
    for bits in [128usize, 192, 256] {
        let mut key_bytes = vec![0; bits / 8];
        provider().fill_random(&mut key_bytes).unwrap();
        let key = aes(&key_bytes);
        let iv = [0x3cu8; 16];
        let alg = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv,
            padding: true,
        };
        let cipher = format!("-aes-{bits}-cbc");
        let (k_hex, iv_hex) = (hex::encode(&key_bytes), hex::encode(iv));
        for len in [0usize, 1, 15, 16, 17, 100] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let ct = dir.path().join("ct.bin");
            let pt = dir.path().join("pt.bin");
            std::fs::write(&ct, key.encrypt(&alg, &plaintext).unwrap().data).unwrap();
            assert!(openssl(&[
                "enc",
                "-d",
                &cipher,
                "-K",
                &k_hex,
                "-iv",
                &iv_hex,
                "-in",
                p(&ct),
                "-out",
                p(&pt),
            ]));
            assert_eq!(std::fs::read(&pt).unwrap(), plaintext, "{bits} {len}");

            std::fs::write(&pt, &plaintext).unwrap();
            assert!(openssl(&[
                "enc",
                &cipher,
                "-K",
                &k_hex,
                "-iv",
                &iv_hex,
                "-in",
                p(&pt),
                "-out",
                p(&ct),
            ]));
            let back = key.decrypt(&alg, &std::fs::read(&ct).unwrap()).unwrap();
            assert_eq!(back.expose_secret(), &plaintext[..], "{bits} {len}");
        }
    }
}

#[test]
fn aes_key_wrap_both_ways() {
    common::each_provider(aes_key_wrap_both_ways_on);
}

fn aes_key_wrap_both_ways_on() {
    let dir = tempfile::tempdir().unwrap();
    for bits in [128usize, 192, 256] {
        let mut kek = vec![0; bits / 8];
        provider().fill_random(&mut kek).unwrap();
        let key = aes(&kek);
        let k_hex = hex::encode(&kek);
        let cases = [
            (
                WrapAlgorithm::AesKw { key_bits: None },
                format!("-id-aes{bits}-wrap"),
                "A6A6A6A6A6A6A6A6",
                vec![16usize, 24, 32],
            ),
            (
                WrapAlgorithm::AesKwp { key_bits: None },
                format!("-id-aes{bits}-wrap-pad"),
                "A65959A6",
                vec![1, 7, 16, 21, 32],
            ),
        ];
        for (alg, cipher, iv, lengths) in cases {
            for len in lengths {
                let mut secret = vec![0; len];
                provider().fill_random(&mut secret).unwrap();
                let wrapped = dir.path().join("wrapped.bin");
                let plain = dir.path().join("plain.bin");

                std::fs::write(&wrapped, key.wrap(&alg, &secret).unwrap()).unwrap();
                assert!(openssl(&[
                    "enc",
                    "-d",
                    &cipher,
                    "-K",
                    &k_hex,
                    "-iv",
                    iv,
                    "-in",
                    p(&wrapped),
                    "-out",
                    p(&plain),
                ]));
                assert_eq!(std::fs::read(&plain).unwrap(), secret, "{cipher} {len}");

                std::fs::write(&plain, &secret).unwrap();
                assert!(openssl(&[
                    "enc",
                    &cipher,
                    "-K",
                    &k_hex,
                    "-iv",
                    iv,
                    "-in",
                    p(&plain),
                    "-out",
                    p(&wrapped),
                ]));
                let back = key.unwrap(&alg, &std::fs::read(&wrapped).unwrap()).unwrap();
                assert_eq!(back.expose_secret(), &secret[..], "{cipher} {len}");
            }
        }
    }
}
