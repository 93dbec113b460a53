//! The client against the real server (in process, HTTPS with its CA), and against a tiny
//! plain-HTTP fake for the faults a real server cannot be made to produce on demand (429
//! with `Retry-After`, a server that hangs, a refused or dropped connection) and for the
//! extension API's answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hsm_core::crypto::{
    CipherAlgorithm, Curve, HashAlg, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm,
};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions, KeyUpdate};
use hsm_core::pin::{InitialPins, PinRole};
use hsm_core::{Error, SecretBytes};
use parking_lot::Mutex;
use serde_json::json;

use super::*;

// ---------------------------------------------------------------- the real server

struct RealServer {
    runtime: tokio::runtime::Runtime,
    running: Option<server::Running>,
    url: String,
    ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl RealServer {
    fn start() -> RealServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = server::ServeConfig::new(dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime.block_on(server::start(config)).unwrap();
        let ca = std::fs::read(running.ca_path.as_ref().unwrap()).unwrap();
        RealServer {
            url: running.url.clone(),
            running: Some(running),
            runtime,
            ca,
            _dir: dir,
        }
    }

    fn remote(&self) -> RemoteHsm {
        RemoteHsm::connect(RemoteSettings {
            url: self.url.clone(),
            ca_pem: Some(self.ca.clone()),
            token: TokenSource::Value("test-token".into()),
            ..RemoteSettings::default()
        })
        .unwrap()
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

fn ops(list: &[KeyOperation]) -> Option<KeyOps> {
    Some(KeyOps::of(list))
}

#[test]
fn pools_are_listed_created_and_addressed_by_name() {
    let server = RealServer::start();
    let remote = server.remote();
    assert_eq!(remote.url(), server.url);
    assert_eq!(remote.list_pools().unwrap(), vec!["default".to_string()]);
    remote
        .create_pool_with_pins("team-a", &InitialPins::default())
        .unwrap();
    let mut pools = remote.list_pools().unwrap();
    pools.sort();
    assert_eq!(pools, vec!["default".to_string(), "team-a".to_string()]);
    // team-a.localhost resolves to the server and presents its own certificate.
    let a = remote.pool("team-a");
    a.create_key(
        "only-in-a",
        KeySpec::Ec { curve: Curve::P256 },
        &KeyOptions::default(),
    )
    .unwrap();
    assert_eq!(a.snapshot_keys().unwrap().1.len(), 1);
    assert!(remote.pool("default").snapshot_keys().unwrap().1.is_empty());
    assert!(matches!(
        remote.create_pool_with_pins("team-a", &InitialPins::default()),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn keys_sign_verify_and_show_through_the_standard_api() {
    let server = RealServer::start();
    let pool = server.remote().pool("default");
    let g0 = pool.generation().unwrap();
    let opts = KeyOptions {
        ops: ops(&[KeyOperation::Sign, KeyOperation::Verify]),
        tags: Some([("app".to_string(), "x".to_string())].into()),
        expires: Some(hsm_core::time::UnixTime(4_000_000_000)),
        ..KeyOptions::default()
    };
    let info = pool
        .create_key("ec1", KeySpec::Ec { curve: Curve::P256 }, &opts)
        .unwrap();
    assert_eq!(info.name, "ec1");
    assert_eq!(info.version.len(), 32);
    assert_eq!(info.spec, KeySpec::Ec { curve: Curve::P256 });
    assert_eq!(info.tags["app"], "x");
    assert_eq!(info.attributes.expires, opts.expires);
    assert!(info.public_key.is_some());
    assert_ne!(
        pool.generation().unwrap(),
        g0,
        "own writes move the generation"
    );

    let got = pool.get_key("ec1", Some(&info.version)).unwrap();
    assert_eq!(got.public_key, info.public_key);
    assert_eq!(
        got.ops,
        KeyOps::of(&[KeyOperation::Sign, KeyOperation::Verify])
    );
    let (_, keys) = pool.snapshot_keys().unwrap();
    assert_eq!(
        keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["ec1"]
    );

    let es256 = SignAlgorithm::Ecdsa {
        hash: Some(HashAlg::Sha256),
        curve: None,
    };
    let digest = [7u8; 32];
    let v = Some(info.version.as_str());
    let sig = pool.sign("ec1", v, &es256, &digest).unwrap();
    assert_eq!(sig.len(), 64);
    assert!(pool.verify("ec1", v, &es256, &digest, &sig).unwrap());
    assert!(!pool.verify("ec1", v, &es256, &[8u8; 32], &sig).unwrap());

    // Errors come back as the core's, with the request's names.
    assert!(matches!(
        pool.get_key("nope", None),
        Err(Error::KeyNotFound { name }) if name == "nope"
    ));
    let off = KeyUpdate {
        enabled: Some(false),
        ..KeyUpdate::default()
    };
    assert!(!pool.update_key("ec1", v, &off).unwrap().attributes.enabled);
    assert!(matches!(
        pool.sign("ec1", v, &es256, &digest),
        Err(Error::KeyDisabled { name }) if name == "ec1"
    ));
    let deleted = pool.delete_key("ec1").unwrap();
    assert!(deleted.deletion.is_some());
    assert!(matches!(
        pool.get_key("ec1", None),
        Err(Error::KeyNotFound { .. })
    ));
    // A deleted name is taken for a new PKCS#11 object.
    let new_only = KeyOptions {
        new_key_only: true,
        ..KeyOptions::default()
    };
    assert!(matches!(
        pool.create_key("ec1", KeySpec::Ec { curve: Curve::P256 }, &new_only),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn exported_rsa_and_ec_keys_are_the_keys_the_server_holds() {
    // The server answers an export with PKCS#8 for RSA and EC (`SecretValue::of_material`);
    // the material read back is the key whose public half the bundle shows.
    let server = RealServer::start();
    let pool = server.remote().pool("default");
    let opts = KeyOptions {
        exportable: true,
        ops: ops(&[KeyOperation::Export]),
        ..KeyOptions::default()
    };
    for (name, spec) in [
        ("rsa-x", KeySpec::Rsa { bits: 2048 }),
        ("ec-x", KeySpec::Ec { curve: Curve::P384 }),
    ] {
        let info = pool.create_key(name, spec, &opts).unwrap();
        let (shown, material) = pool.export_key(name, None).unwrap();
        assert_eq!(shown.version, info.version);
        assert_eq!(material.spec(), spec, "{name}");
        let loaded = hsm_core::crypto::default_provider()
            .load(&material)
            .unwrap();
        assert_eq!(loaded.public_key(), info.public_key, "{name}");
    }
    let aes = pool
        .create_key("aes-x", KeySpec::Aes { bits: 128 }, &opts)
        .unwrap();
    let (_, material) = pool.export_key("aes-x", Some(&aes.version)).unwrap();
    assert!(matches!(material, KeyMaterial::Aes(k) if k.expose_secret().len() == 16));
}

#[test]
fn aes_keys_encrypt_wrap_and_import() {
    let server = RealServer::start();
    let pool = server.remote().pool("default");
    let opts = KeyOptions {
        ops: ops(&[
            KeyOperation::Encrypt,
            KeyOperation::Decrypt,
            KeyOperation::WrapKey,
            KeyOperation::UnwrapKey,
        ]),
        ..KeyOptions::default()
    };
    let material = KeyMaterial::Aes(SecretBytes::new(vec![0x42; 32]));
    let info = pool.import_key("aes1", material, &opts).unwrap();
    assert_eq!(info.spec, KeySpec::Aes { bits: 256 });
    let v = Some(info.version.as_str());

    let gcm = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: None,
        aad: b"header".to_vec(),
        tag_len: 16,
    };
    let ct = pool.encrypt("aes1", v, &gcm, b"attack at dawn").unwrap();
    assert_eq!(ct.tag.as_ref().map(Vec::len), Some(16));
    let iv = ct.iv.clone().expect("the server chose an IV");
    let dec = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: Some(iv),
        aad: b"header".to_vec(),
        tag_len: 16,
    };
    let plain = pool.decrypt("aes1", v, &dec, &ct.data_with_tag()).unwrap();
    assert_eq!(plain.expose_secret(), b"attack at dawn");
    let mut tampered = ct.data_with_tag();
    tampered[0] ^= 1;
    assert!(matches!(
        pool.decrypt("aes1", v, &dec, &tampered),
        Err(Error::DecryptionFailed | Error::BadParameter { .. })
    ));

    let cbc = CipherAlgorithm::AesCbc {
        key_bits: None,
        iv: [3; 16],
        padding: true,
    };
    let ct = pool.encrypt("aes1", v, &cbc, b"seventeen bytes!!").unwrap();
    assert_eq!(ct.data.len(), 32);
    assert_eq!(
        pool.decrypt("aes1", v, &cbc, &ct.data)
            .unwrap()
            .expose_secret(),
        b"seventeen bytes!!"
    );

    let kw = WrapAlgorithm::AesKw { key_bits: None };
    let wrapped = pool.wrap_key("aes1", v, &kw, &[5; 16]).unwrap();
    assert_eq!(wrapped.len(), 24);
    assert_eq!(
        pool.unwrap_key("aes1", v, &kw, &wrapped)
            .unwrap()
            .expose_secret(),
        [5; 16]
    );
    // Not permitted: the key has no sign operation.
    let hs256 = SignAlgorithm::Hmac {
        hash: HashAlg::Sha256,
    };
    assert!(matches!(
        pool.sign("aes1", v, &hs256, b"m"),
        Err(Error::OperationNotPermitted { .. })
    ));
}

/// A generic secret round-trips through the client: made and imported through the
/// extension, read back (extended and standard answers, the snapshot) as a generic secret,
/// not an AES key, MACs, refuses encryption, and exports as one.
#[test]
fn generic_secrets_round_trip() {
    let server = RealServer::start();
    let pool = server.remote().pool("default");
    let hs256 = SignAlgorithm::Hmac {
        hash: HashAlg::Sha256,
    };
    let made = pool
        .create_key(
            "hmac",
            KeySpec::Secret { bits: 160 },
            &KeyOptions {
                ops: ops(&[
                    KeyOperation::Sign,
                    KeyOperation::Verify,
                    KeyOperation::Export,
                ]),
                exportable: true,
                ..KeyOptions::default()
            },
        )
        .unwrap();
    assert_eq!(made.spec, KeySpec::Secret { bits: 160 });
    assert_eq!(
        made.ops,
        KeyOps::of(&[
            KeyOperation::Sign,
            KeyOperation::Verify,
            KeyOperation::Export
        ])
    );
    let imported = pool
        .import_key(
            "jefe",
            KeyMaterial::Secret(SecretBytes::from_slice(b"Jefe")),
            &KeyOptions::default(),
        )
        .unwrap();
    assert_eq!(imported.spec, KeySpec::Secret { bits: 32 });
    // A fresh client knows them from the server's answers alone.
    let fresh = server.remote().pool("default");
    assert_eq!(
        fresh.get_key("hmac", None).unwrap().spec,
        KeySpec::Secret { bits: 160 }
    );
    assert_eq!(
        fresh.get_key("jefe", Some(&imported.version)).unwrap().spec,
        KeySpec::Secret { bits: 32 }
    );
    let (_, keys) = fresh.snapshot_keys().unwrap();
    assert!(
        keys.iter()
            .all(|k| matches!(k.spec, KeySpec::Secret { .. }))
    );
    // RFC 4231 test case 2.
    let tag = fresh
        .sign("jefe", None, &hs256, b"what do ya want for nothing?")
        .unwrap();
    assert_eq!(
        tag.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let gcm = CipherAlgorithm::AesGcm {
        key_bits: None,
        iv: None,
        aad: vec![],
        tag_len: 16,
    };
    assert!(matches!(
        fresh.encrypt("jefe", None, &gcm, b"m"),
        Err(Error::OperationNotPermitted { .. })
    ));
    let (_, material) = fresh.export_key("hmac", None).unwrap();
    assert!(matches!(material, KeyMaterial::Secret(k) if k.len() == 20));
}

#[test]
fn an_untrusted_server_or_a_missing_token_is_refused() {
    let server = RealServer::start();
    // The public roots do not cover mhsm's local CA: a TLS failure is a transport failure.
    let untrusted = RemoteHsm::connect(RemoteSettings {
        url: server.url.clone(),
        token: TokenSource::Value("t".into()),
        ..RemoteSettings::default()
    })
    .unwrap();
    assert!(matches!(
        untrusted.pool("default").get_key("k", None),
        Err(Error::Unavailable { .. })
    ));
    let anonymous = RemoteHsm::connect(RemoteSettings {
        url: server.url.clone(),
        ca_pem: Some(server.ca.clone()),
        ..RemoteSettings::default()
    })
    .unwrap();
    assert!(matches!(
        anonymous.pool("default").get_key("k", None),
        Err(Error::ForbiddenByRbac { .. })
    ));
}

#[test]
fn handles_are_shared_between_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<RemoteHsm>();
    shared::<RemotePool>();
}

#[test]
fn settings_and_handles_print_no_secrets() {
    let settings = RemoteSettings {
        url: "https://127.0.0.1:1".into(),
        token: TokenSource::Value("s3cret-token".into()),
        ..RemoteSettings::default()
    };
    let printed = format!("{settings:?}");
    assert!(!printed.contains("s3cret"), "{printed}");
    let remote = RemoteHsm::connect(settings).unwrap();
    let printed = format!("{remote:?} {:?}", remote.pool("p"));
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(RemoteHsm::connect(RemoteSettings::default()).is_err());
}

// ---------------------------------------------------------------- the fake server

/// What the fake does with one request.
enum Act {
    /// Answer with a status, extra headers and a JSON body, then close.
    Answer(u16, &'static str, String),
    /// Close the connection without answering.
    Drop,
    /// Say nothing for this long.
    Hang(Duration),
}

/// The requests the fake saw (request line and headers, lower-cased).
type Seen = Arc<Mutex<Vec<String>>>;

fn read_request(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        head.push_str(&lower);
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    Some(head)
}

/// Serves `script(n, request)` for the n-th request (from 1) on `listener`.
fn fake(
    listener: TcpListener,
    script: impl Fn(usize, &str) -> Act + Send + Sync + 'static,
) -> Seen {
    let seen: Seen = Arc::default();
    let script = Arc::new(script);
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (script, log) = (script.clone(), log.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let Some(head) = read_request(&mut reader) else {
                    return;
                };
                let n = {
                    let mut log = log.lock();
                    log.push(head.clone());
                    log.len()
                };
                let mut stream = reader.into_inner();
                match script(n, &head) {
                    Act::Answer(status, headers, body) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                            body.len()
                        );
                    }
                    Act::Drop => {}
                    Act::Hang(d) => std::thread::sleep(d),
                }
            });
        }
    });
    seen
}

fn local() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

fn client(port: u16, tweak: impl FnOnce(&mut RemoteSettings)) -> RemoteHsm {
    let mut settings = RemoteSettings {
        url: format!("http://127.0.0.1:{port}"),
        token: TokenSource::Value("tok".into()),
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(500),
        max_retry_wait: Duration::from_millis(500),
        ..RemoteSettings::default()
    };
    tweak(&mut settings);
    RemoteHsm::connect(settings).unwrap()
}

fn pools_json() -> String {
    json!({"value": [{"name": "default"}]}).to_string()
}

#[test]
fn throttled_requests_are_retried_then_succeed() {
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    let seen = fake(listener, |n, _| match n {
        1 | 2 => Act::Answer(429, "Retry-After: 0\r\n", String::new()),
        _ => Act::Answer(200, "", pools_json()),
    });
    let remote = client(port, |_| {});
    assert_eq!(remote.list_pools().unwrap(), vec!["default".to_string()]);
    let seen = seen.lock();
    assert_eq!(seen.len(), 3);
    // The api-version and the token go with every request.
    assert!(seen.iter().all(|r| r.contains("api-version=7.5")));
    assert!(seen.iter().all(|r| r.contains("authorization: bearer tok")));
}

#[test]
fn throttling_past_the_budget_is_unavailable() {
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    // Asks for 1 s each time: two waits do not fit the 1.5 s budget.
    let seen = fake(listener, |_, _| {
        Act::Answer(429, "Retry-After: 1\r\n", String::new())
    });
    let remote = client(port, |s| s.max_retry_wait = Duration::from_millis(1500));
    let started = Instant::now();
    // A creation too: a 429 means the server did not act, so any request is retried.
    let err = remote
        .create_pool_with_pins("p", &InitialPins::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { message } if message.contains("429")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert_eq!(seen.lock().len(), 2);
}

#[test]
fn a_refused_connection_is_unavailable_until_the_server_comes() {
    let port = {
        let l = local();
        l.local_addr().unwrap().port()
    };
    let remote = client(port, |_| {});
    let err = remote.list_pools().unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { message } if message.contains(&format!("127.0.0.1:{port}"))),
        "{err}"
    );
    // Nothing is cached: the next call finds the server.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    fake(listener, |_, _| Act::Answer(200, "", pools_json()));
    assert_eq!(remote.list_pools().unwrap(), vec!["default".to_string()]);
}

#[test]
fn a_server_that_hangs_times_out() {
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    let seen = fake(listener, |_, _| Act::Hang(Duration::from_secs(3)));
    let remote = client(port, |s| s.request_timeout = Duration::from_millis(300));
    let started = Instant::now();
    assert!(matches!(
        remote.list_pools(),
        Err(Error::Unavailable { .. })
    ));
    // A read is tried once more.
    assert!(started.elapsed() < Duration::from_millis(2000));
    assert_eq!(seen.lock().len(), 2);
}

#[test]
fn writes_are_not_replayed_after_a_dropped_connection() {
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    let seen = fake(listener, |_, head| {
        if head.contains("/x-mhsm/pkcs11/state") {
            Act::Answer(200, "", json!({"generation": 1}).to_string())
        } else {
            Act::Drop
        }
    });
    let remote = client(port, |_| {});
    let count = |what: &str| seen.lock().iter().filter(|r| r.contains(what)).count();
    assert!(matches!(
        remote.create_pool_with_pins("p", &InitialPins::default()),
        Err(Error::Unavailable { .. })
    ));
    assert_eq!(count("post /mhsm/pools"), 1);
    let pool = remote.pool("default");
    assert!(matches!(
        pool.create_key("k", KeySpec::Aes { bits: 128 }, &KeyOptions::default()),
        Err(Error::Unavailable { .. })
    ));
    assert_eq!(count("/keys/k/create"), 1);
    assert!(matches!(
        pool.delete_key("k"),
        Err(Error::Unavailable { .. })
    ));
    assert_eq!(count("delete /keys/k"), 1);
    assert!(matches!(
        pool.verify_pin(PinRole::User, b"1234"),
        Err(Error::Unavailable { .. })
    ));
    assert_eq!(count("/pins/user/verify"), 1);
    assert!(matches!(pool.clear(), Err(Error::Unavailable { .. })));
    assert_eq!(count("/x-mhsm/pkcs11/clear"), 1);
    // A read is tried twice.
    assert!(matches!(
        remote.list_pools(),
        Err(Error::Unavailable { .. })
    ));
    assert_eq!(count("get /mhsm/pools"), 2);
}

/// Events recorded by a test subscriber: (level, message).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0.lock().push((*event.metadata().level(), m.0));
    }
}

#[test]
fn each_outage_is_logged_once() {
    use tracing_subscriber::layer::SubscriberExt;
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let up2 = up.clone();
    fake(listener, move |_, _| {
        if up2.load(std::sync::atomic::Ordering::SeqCst) {
            Act::Answer(200, "", pools_json())
        } else {
            Act::Answer(
                503,
                "",
                json!({"error": {"code": "ServiceUnavailable", "message": "secret body"}})
                    .to_string(),
            )
        }
    });
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::with_default(subscriber, || {
        let remote = client(port, |_| {});
        for _ in 0..3 {
            assert!(matches!(
                remote.list_pools(),
                Err(Error::Unavailable { .. })
            ));
        }
        up.store(true, std::sync::atomic::Ordering::SeqCst);
        remote.list_pools().unwrap();
        remote.list_pools().unwrap();
        up.store(false, std::sync::atomic::Ordering::SeqCst);
        let err = remote.list_pools().unwrap_err();
        assert!(!err.to_string().contains("secret body"), "{err}");
    });
    let events = capture.0.lock();
    let errors: Vec<&String> = events
        .iter()
        .filter(|(l, _)| *l == tracing::Level::ERROR)
        .map(|(_, m)| m)
        .collect();
    assert_eq!(errors.len(), 2, "{events:?}");
    assert!(errors[0].contains(&format!(
        "mhsm server at http://127.0.0.1:{port} is unreachable"
    )));
    assert!(errors[0].contains("503"));
    assert!(events.iter().all(|(_, m)| !m.contains("secret body")));
    let infos = events
        .iter()
        .filter(|(l, m)| *l == tracing::Level::INFO && m.contains("reachable again"))
        .count();
    assert_eq!(infos, 1);
}

fn ext_bundle(name: &str, version: &str) -> serde_json::Value {
    json!({
        "key": {"kid": format!("https://x/keys/{name}/{version}"), "kty": "oct-HSM", "key_ops": ["encrypt"]},
        "attributes": {"enabled": true, "created": 1, "updated": 2, "exportable": false},
        "tags": {},
        "x-mhsm": {"keySize": 192, "extra": {"CKA_ID": "AQI"}}
    })
}

#[test]
fn the_extension_api_is_used_when_offered() {
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    let seen = fake(listener, |_, head| {
        let first = head.lines().next().unwrap_or_default().to_string();
        let path = first
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let answer = |v: serde_json::Value| Act::Answer(200, "", v.to_string());
        match path.as_str() {
            "/x-mhsm/pkcs11/state" => answer(json!({"generation": 41})),
            "/x-mhsm/pkcs11/keys" => {
                answer(json!({"generation": 42, "keys": [ext_bundle("a", "v1")]}))
            }
            "/x-mhsm/pkcs11/keys/a/extra/cka_label" => answer(ext_bundle("a", "v1")),
            "/x-mhsm/pkcs11/documents/cert" => {
                answer(json!({"documents": [{"id": "c1", "value": "AAE"}]}))
            }
            "/x-mhsm/pkcs11/documents/cert/none" => Act::Answer(
                404,
                "",
                json!({"error": {"code": "NotFound", "message": "no"}}).to_string(),
            ),
            "/x-mhsm/pkcs11/pins" => answer(json!({
                "policy": {"min_len": 4, "max_len": 8, "max_failures": 3},
                "user": {"initialized": true, "failures": 1, "locked": false, "remaining": 2},
                "so": {"initialized": false, "failures": 0, "locked": false, "remaining": 3}
            })),
            "/x-mhsm/pkcs11/pins/user/verify" => Act::Answer(
                401,
                "",
                json!({"error": {
                "code": "Unauthorized", "message": "the PIN is incorrect (2 tries left)",
                "innererror": {"code": "PinIncorrect", "remaining": 2}}})
                .to_string(),
            ),
            "/keys/a/create" if first.starts_with("post") => answer(ext_bundle("a", "v2")),
            _ => Act::Answer(
                404,
                "",
                json!({"error": {"code": "NotFound", "message": path}}).to_string(),
            ),
        }
    });
    let pool = client(port, |s| s.refresh_interval = Duration::from_secs(60)).pool("default");
    assert!(pool.has_extension().unwrap());
    assert_eq!(
        pool.generation().unwrap(),
        41,
        "cached from the state request"
    );
    let (generation, keys) = pool.snapshot_keys().unwrap();
    assert_eq!(generation, 42);
    assert_eq!(keys[0].spec, KeySpec::Aes { bits: 192 });
    assert_eq!(keys[0].extra["CKA_ID"], vec![1, 2]);
    assert_eq!(pool.generation().unwrap(), 42);
    assert!(pool.set_key_extra("a", "CKA_LABEL", Some(b"x")).is_ok());
    // The write forgot the cached generation.
    assert_eq!(pool.generation().unwrap(), 41);

    let mut opts = KeyOptions {
        new_key_only: true,
        ..KeyOptions::default()
    };
    opts.extra.insert("CKA_ID".into(), vec![9]);
    pool.create_key("a", KeySpec::Aes { bits: 192 }, &opts)
        .unwrap();

    assert_eq!(pool.list_documents("cert").unwrap()[0].1.as_slice(), [0, 1]);
    assert_eq!(pool.get_document("cert", "none").unwrap(), None);
    assert_eq!(pool.pin_policy().unwrap().max_failures, 3);
    assert_eq!(pool.pin_status(PinRole::User).unwrap().remaining, 2);
    assert!(!pool.pin_status(PinRole::So).unwrap().initialized);
    assert!(matches!(
        pool.verify_pin(PinRole::User, b"9999"),
        Err(Error::PinIncorrect { remaining: 2 })
    ));

    let seen = seen.lock();
    // One state request for the extension and the first generation, one after the write.
    assert_eq!(
        seen.iter()
            .filter(|r| r.contains("/x-mhsm/pkcs11/state"))
            .count(),
        2
    );
    // newKeyOnly went in the request: no look-up first.
    assert!(!seen.iter().any(|r| r.starts_with("get /keys/a")));
}

#[test]
fn without_the_extension_new_key_only_looks_first_and_the_generation_ticks() {
    let listener = local();
    let port = listener.local_addr().unwrap().port();
    let seen = fake(listener, |_, head| {
        if head.starts_with("get /keys/taken") {
            Act::Answer(200, "", ext_bundle("taken", "v").to_string())
        } else {
            Act::Answer(
                404,
                "",
                json!({"error": {"code": "NotFound", "message": "x"}}).to_string(),
            )
        }
    });
    let pool = client(port, |s| s.refresh_interval = Duration::from_millis(50)).pool("default");
    assert!(!pool.has_extension().unwrap());
    let g = pool.generation().unwrap();
    std::thread::sleep(Duration::from_millis(120));
    assert!(pool.generation().unwrap() > g);
    let opts = KeyOptions {
        new_key_only: true,
        ..KeyOptions::default()
    };
    assert!(matches!(
        pool.create_key("taken", KeySpec::Aes { bits: 128 }, &opts),
        Err(Error::Conflict { .. })
    ));
    assert!(!seen.lock().iter().any(|r| r.contains("/create")));
    assert!(pool.list_documents("cert").unwrap().is_empty());
    assert!(matches!(
        pool.set_key_extra("taken", "CKA_ID", None),
        Err(Error::BadParameter { .. })
    ));
}

#[test]
fn algorithms_have_their_azure_names() {
    let p256 = KeySpec::Ec { curve: Curve::P256 };
    let rsa = KeySpec::Rsa { bits: 2048 };
    let es256 = SignAlgorithm::Ecdsa {
        hash: Some(HashAlg::Sha256),
        curve: Some(Curve::P256),
    };
    assert_eq!(alg::sign_name(&es256, &p256), "ES256");
    let ps384 = SignAlgorithm::RsaPss {
        hash: HashAlg::Sha384,
        mgf1: HashAlg::Sha384,
        salt_len: 48,
    };
    assert_eq!(alg::sign_name(&ps384, &rsa), "PS384");
    assert_eq!(
        alg::sign_name(&SignAlgorithm::RsaPkcs1v15 { hash: None }, &rsa),
        "RSNULL"
    );
    let oaep = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        label: Vec::new(),
    };
    assert_eq!(alg::cipher_request(&oaep, &rsa).alg, "RSA-OAEP-256");
    let aes128 = KeySpec::Aes { bits: 128 };
    assert_eq!(
        alg::wrap_request(&WrapAlgorithm::AesKw { key_bits: None }, &aes128).alg,
        "A128KW"
    );
    assert!(alg::sign_name(&SignAlgorithm::Cmac, &aes128).starts_with("MHSM-"));
}
