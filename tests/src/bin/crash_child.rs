//! The child of the crash test: works on a data directory until it is killed, printing each
//! operation before it starts (`BEGIN`) and once it is acknowledged (`ACK`).
//!
//! Usage: `crash_child <data-dir> <seed>`. Lines: `BEGIN <op> <key>` and
//! `ACK <op> <key> [<version>]` with ops `create`, `rotate`, `delete`, `purge`, `tag`.

use std::io::Write;

use hsm_core::crypto::{Curve, KeySpec};
use hsm_core::key::{KeyOptions, KeyUpdate};
use hsm_core::names::{PageRequest, Tags};
use hsm_core::{Hsm, HsmConfig, PoolSettings};

/// xorshift64*: a tiny deterministic generator, enough to choose operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn names(
    page: impl Fn(&PageRequest) -> hsm_core::Result<hsm_core::names::Page<hsm_core::key::KeyInfo>>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut req = PageRequest::first(1000);
    loop {
        let p = page(&req).expect("list");
        out.extend(p.items.into_iter().map(|k| k.name));
        match p.next {
            Some(t) => req.token = Some(t),
            None => return out,
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("data dir");
    let seed: u64 = args.next().expect("seed").parse().expect("numeric seed");
    let mut rng = Rng(seed | 1);
    let hsm = Hsm::open(HsmConfig::new(&dir)).expect("open");
    if hsm.get_pool("crash").is_err() {
        hsm.create_pool("crash", PoolSettings::default(), Tags::new())
            .expect("create pool");
    }
    let pool = hsm.pool("crash").expect("pool");
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut counter = rng.next() % 1_000_000;
    loop {
        let live = names(|r| pool.list_keys(r));
        let deleted = names(|r| pool.list_deleted_keys(r));
        let choice = rng.below(10);
        let (op, key) = match choice {
            0..=3 => {
                counter += 1;
                let name = format!("k{counter}");
                // Another trial's child may have used this name already.
                if live.contains(&name) || deleted.contains(&name) {
                    continue;
                }
                ("create", name)
            }
            4 | 5 if !live.is_empty() => ("rotate", live[rng.below(live.len())].clone()),
            6 | 7 if !live.is_empty() => ("delete", live[rng.below(live.len())].clone()),
            8 if !deleted.is_empty() => ("purge", deleted[rng.below(deleted.len())].clone()),
            9 if !live.is_empty() => ("tag", live[rng.below(live.len())].clone()),
            _ => continue,
        };
        writeln!(out, "BEGIN {op} {key}").unwrap();
        out.flush().unwrap();
        let version = match op {
            "create" => {
                let spec = if counter.is_multiple_of(2) {
                    KeySpec::Ec { curve: Curve::P256 }
                } else {
                    KeySpec::Aes { bits: 256 }
                };
                Some(
                    pool.create_key(&key, spec, &KeyOptions::default())
                        .expect("create")
                        .version,
                )
            }
            "rotate" => Some(pool.rotate_key(&key).expect("rotate").version),
            "delete" => {
                pool.delete_key(&key).expect("delete");
                None
            }
            "purge" => {
                pool.purge_deleted_key(&key).expect("purge");
                None
            }
            _ => {
                let tags: Tags = [("n".to_string(), counter.to_string())].into();
                let update = KeyUpdate {
                    tags: Some(tags),
                    ..KeyUpdate::default()
                };
                pool.update_key(&key, None, &update).expect("tag");
                Some(counter.to_string())
            }
        };
        match version {
            Some(v) => writeln!(out, "ACK {op} {key} {v}").unwrap(),
            None => writeln!(out, "ACK {op} {key}").unwrap(),
        }
        out.flush().unwrap();
    }
}
