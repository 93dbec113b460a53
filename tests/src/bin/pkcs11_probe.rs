//! A helper process for the PKCS#11 tests.
//!
//! `pkcs11_probe MODULE.so` loads the module, calls `C_Initialize(NULL)` and prints
//! `rv=0x...`; when that worked, also `slots=ID,ID,...` and the finalize result. The tests use
//! it to see what another process gets, and what the module says on stderr, under the
//! environment they choose.
//!
//! `pkcs11_probe create-pools DIR NAME...` creates pools with the core and exits, so the
//! directory's lock is gone when it returns (sled lets go of it a moment after a handle
//! drops inside a process).
//!
//! `pkcs11_probe shell MODULE.so TOKEN PIN` is a PKCS#11 application driven line by line on
//! stdin, for tests that act between its calls (stop a server, recover a key with the SDK):
//! it initializes, opens a read-write session on the token labelled TOKEN, logs in as the
//! user, prints `ready`, then answers each command with one line (see [`shell`]).

use std::collections::HashMap;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::{CK_SLOT_ID, CK_ULONG, CKR_OK};
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("create-pools") => create_pools(&args[1], &args[2..]),
        Some("shell") => shell(&args[1], &args[2], &args[3]),
        Some(module) => probe(module),
        None => panic!("usage: pkcs11_probe MODULE.so | create-pools DIR NAME..."),
    }
}

fn create_pools(dir: &str, names: &[String]) {
    let hsm = Hsm::open(HsmConfig::new(dir)).expect("open the data directory");
    for name in names {
        hsm.create_pool(name, PoolSettings::default(), Tags::new())
            .expect("create the pool");
    }
}

fn probe(path: &str) {
    // SAFETY: loading a PKCS#11 module runs its initializers; the module is ours.
    let lib = unsafe { cryptoki_sys::Pkcs11::new(path) }.expect("cannot load the module");
    // SAFETY: C_Initialize accepts NULL arguments.
    let rv = unsafe { lib.C_Initialize(std::ptr::null_mut()) };
    println!("rv={rv:#x}");
    if rv != CKR_OK {
        return;
    }
    let mut ids: Vec<CK_SLOT_ID> = vec![0; 64];
    let mut count = ids.len() as CK_ULONG;
    // SAFETY: `ids` has room for `count` slot ids.
    let rv = unsafe { lib.C_GetSlotList(0, ids.as_mut_ptr(), &mut count) };
    assert_eq!(rv, CKR_OK, "C_GetSlotList");
    ids.truncate(count as usize);
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    println!("slots={}", ids.join(","));
    // SAFETY: C_Finalize takes NULL.
    let rv = unsafe { lib.C_Finalize(std::ptr::null_mut()) };
    println!("finalize rv={rv:#x}");
}

/// The commands of `pkcs11_probe shell`; every answer is one line, `err=<CK_RV name>` when a
/// call failed.
/// - `gen LABEL`: an EC P-256 token key pair; `gen ok`
/// - `sign LABEL`: signs 32 random bytes with the private key of that label (the handle kept
///   from `gen` or `find`; when that handle is no longer valid, found again by label) and
///   checks the signature with `C_Verify` on the public key; `sign ok` or `sign ok refound`
/// - `find LABEL`: how many private keys have that label; `found N`
/// - `destroy LABEL`: destroys the private key of that label; `destroy ok`
/// - `labels`: the labels of every private key, sorted, comma-separated; `labels A,B`
/// - `slots`: how many slots `C_GetSlotList` lists; `slots N`
/// - `loop PREFIX KEYS SIGNS`: KEYS key pairs `PREFIX-i`, SIGNS signatures with each (each
///   verified); `loop errors=E` (the errors also go to stderr)
/// - `quit`
fn shell(module: &str, token: &str, pin: &str) {
    use std::io::BufRead;

    let ctx = Pkcs11::new(module).expect("load the module");
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    let slot = ctx
        .get_slots_with_token()
        .expect("C_GetSlotList")
        .into_iter()
        .find(|s| ctx.get_token_info(*s).is_ok_and(|t| t.label() == token))
        .unwrap_or_else(|| panic!("no token labelled {token}"));
    let s = ctx.open_rw_session(slot).expect("C_OpenSession");
    s.login(UserType::User, Some(&AuthPin::new(pin.into())))
        .expect("C_Login");
    println!("ready");
    let mut shell = Shell {
        ctx: &ctx,
        s,
        pairs: HashMap::new(),
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let Some(answer) = shell.answer(&line) else {
            break;
        };
        println!("{answer}");
    }
    drop(shell);
    ctx.finalize().expect("C_Finalize");
}

/// DER of the P-256 curve OID.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A shell's session and the key pairs it knows by label.
struct Shell<'a> {
    ctx: &'a Pkcs11,
    s: Session,
    /// Label → (private, public) handles, from `gen` and `find`.
    pairs: HashMap<String, (ObjectHandle, ObjectHandle)>,
}

impl Shell<'_> {
    /// The answer to one command line; None for `quit`.
    fn answer(&mut self, line: &str) -> Option<String> {
        let s = &self.s;
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["gen", label] => match gen_pair(s, label) {
                Ok(pair) => {
                    self.pairs.insert(label.to_string(), pair);
                    "gen ok".to_string()
                }
                Err(e) => e,
            },
            ["sign", label] => self.sign(label),
            ["find", label] => match s.find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ]) {
                Ok(found) => {
                    if let Ok(pair) = find(s, label) {
                        self.pairs.insert(label.to_string(), pair);
                    }
                    format!("found {}", found.len())
                }
                Err(e) => err(e),
            },
            ["destroy", label] => match find(s, label) {
                Ok((private, _)) => match s.destroy_object(private) {
                    Ok(()) => {
                        self.pairs.remove(*label);
                        "destroy ok".to_string()
                    }
                    Err(e) => err(e),
                },
                Err(e) => e,
            },
            ["slots"] => match self.ctx.get_all_slots() {
                Ok(slots) => format!("slots {}", slots.len()),
                Err(e) => err(e),
            },
            ["labels"] => self.labels(),
            ["loop", prefix, keys, signs] => {
                let (keys, signs): (usize, usize) = (keys.parse().unwrap(), signs.parse().unwrap());
                self.run_loop(prefix, keys, signs)
            }
            ["quit"] => return None,
            _ => format!("err=unknown command {line:?}"),
        };
        Some(answer)
    }

    /// `sign LABEL`: with the handle kept, or found again when it is no longer valid.
    fn sign(&mut self, label: &str) -> String {
        let s = &self.s;
        let known = match self.pairs.get(label) {
            Some(pair) => Ok(*pair),
            None => find(s, label),
        };
        match known {
            Err(e) => e,
            Ok(pair) => match sign_verify(s, pair) {
                Ok(()) => "sign ok".to_string(),
                Err(Error::Pkcs11(
                    cryptoki::error::RvError::ObjectHandleInvalid
                    | cryptoki::error::RvError::KeyHandleInvalid,
                    _,
                )) => match find(s, label).map(|p| (p, sign_verify(s, p))) {
                    Ok((p, Ok(()))) => {
                        self.pairs.insert(label.to_string(), p);
                        "sign ok refound".to_string()
                    }
                    Ok((_, Err(e))) => err(e),
                    Err(e) => e,
                },
                Err(e) => err(e),
            },
        }
    }

    /// `labels`: every private key's label, sorted.
    fn labels(&self) -> String {
        let s = &self.s;
        let listed = s
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .and_then(|found| {
                found
                    .into_iter()
                    .map(|h| {
                        s.get_attributes(h, &[AttributeType::Label])
                            .map(|a| match a.first() {
                                Some(Attribute::Label(l)) => {
                                    String::from_utf8_lossy(l).into_owned()
                                }
                                _ => String::new(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            });
        match listed {
            Ok(mut labels) => {
                labels.sort();
                format!("labels {}", labels.join(","))
            }
            Err(e) => err(e),
        }
    }

    /// `loop PREFIX KEYS SIGNS`.
    fn run_loop(&self, prefix: &str, keys: usize, signs: usize) -> String {
        let mut errors = 0;
        for k in 0..keys {
            let label = format!("{prefix}-{k}");
            let pair = match gen_pair(&self.s, &label) {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("{label}: {e}");
                    errors += 1;
                    continue;
                }
            };
            for _ in 0..signs {
                if let Err(e) = sign_verify(&self.s, pair) {
                    eprintln!("{label}: {}", err(e));
                    errors += 1;
                }
            }
        }
        format!("loop errors={errors}")
    }
}

fn err(e: Error) -> String {
    match e {
        Error::Pkcs11(rv, f) => format!("err={rv:?} in {f:?}"),
        other => format!("err={other}"),
    }
}

/// The (private, public) handles of the key pair labelled `label`.
fn find(s: &Session, label: &str) -> Result<(ObjectHandle, ObjectHandle), String> {
    let of = |class| {
        s.find_objects(&[Attribute::Class(class), Attribute::Label(label.into())])
            .map_err(err)
    };
    let private = of(ObjectClass::PRIVATE_KEY)?;
    let public = of(ObjectClass::PUBLIC_KEY)?;
    match (private.first(), public.first()) {
        (Some(p), Some(q)) => Ok((*p, *q)),
        _ => Err(format!(
            "{label}: {} private, {} public keys",
            private.len(),
            public.len()
        )),
    }
}

fn gen_pair(s: &Session, label: &str) -> Result<(ObjectHandle, ObjectHandle), String> {
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::EcParams(P256.to_vec()),
                Attribute::Label(label.into()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sign(true),
                Attribute::Label(label.into()),
            ],
        )
        .map_err(err)?;
    Ok((private, public))
}

fn sign_verify(s: &Session, pair: (ObjectHandle, ObjectHandle)) -> Result<(), Error> {
    let data = s.generate_random_vec(32)?;
    let signature = s.sign(&Mechanism::EcdsaSha256, pair.0, &data)?;
    s.verify(&Mechanism::EcdsaSha256, pair.1, &data, &signature)
}
