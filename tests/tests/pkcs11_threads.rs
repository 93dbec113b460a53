//! Eight threads, each with its own sessions, generating random numbers and digests at
//! once through libmhsm_pkcs11.so; every digest is checked against an independent SHA-2.

mod pkcs11_common;

use std::sync::Barrier;
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use pkcs11_common::*;
use sha2::Digest as _;

const THREADS: usize = 8;
const ROUNDS: usize = 2000;

#[test]
fn eight_threads_with_their_own_sessions() {
    create_pools(&["shared"]);
    let p = Pkcs11::new(module_path()).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p.get_slots_with_initialized_token().unwrap()[0];
    let barrier = Barrier::new(THREADS + 1);
    let started = Instant::now();
    let errors: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (p, barrier) = (&p, &barrier);
                scope.spawn(move || {
                    let digests = p.open_ro_session(slot).unwrap();
                    let randoms = p.open_rw_session(slot).unwrap();
                    barrier.wait();
                    let mut errors = 0;
                    let mut seen = std::collections::HashSet::new();
                    for round in 0..ROUNDS {
                        let data = match randoms.generate_random_vec(64 + (round % 7) as u32) {
                            Ok(d) => d,
                            Err(e) => {
                                eprintln!("thread {t}: random: {e}");
                                errors += 1;
                                continue;
                            }
                        };
                        if !seen.insert(data.clone()) {
                            eprintln!("thread {t}: a random value repeated");
                            errors += 1;
                        }
                        // Single-part SHA-256, multi-part SHA-512, interleaved with random.
                        match digests.digest(&Mechanism::Sha256, &data) {
                            Ok(d) if d[..] == sha2::Sha256::digest(&data)[..] => {}
                            other => {
                                eprintln!("thread {t}: sha256: {other:?}");
                                errors += 1;
                            }
                        }
                        let multi = digests
                            .digest_init(&Mechanism::Sha512)
                            .and_then(|()| digests.digest_update(&data[..10]))
                            .and_then(|()| randoms.generate_random_vec(16).map(drop))
                            .and_then(|()| digests.digest_update(&data[10..]))
                            .and_then(|()| digests.digest_final());
                        match multi {
                            Ok(d) if d[..] == sha2::Sha512::digest(&data)[..] => {}
                            other => {
                                eprintln!("thread {t}: sha512: {other:?}");
                                errors += 1;
                            }
                        }
                    }
                    errors
                })
            })
            .collect();
        barrier.wait();
        // Meanwhile, slot and token queries from this thread.
        for _ in 0..50 {
            let info = p.get_token_info(slot).unwrap();
            assert!(info.session_count().unwrap() <= 2 * THREADS as u64);
            p.get_all_slots().unwrap();
        }
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let elapsed = started.elapsed();
    assert_eq!(errors, 0);
    assert_eq!(p.get_token_info(slot).unwrap().session_count(), Some(0));
    eprintln!("{THREADS} threads x {ROUNDS} rounds (2 random + 2 digests each) in {elapsed:.2?}");
    p.finalize().unwrap();
}
