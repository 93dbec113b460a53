//! Slots: one per live pool (its token's label is the pool name) and one more holding an
//! uninitialized token.
//!
//! Slot ids are stable: a pool's id is fixed in the config file (`[slots.pools]`) or derived
//! from its name (SHA-256 of `mhsm-slot:{name}`, first 31 bits, in `1..=0x7FFF_FFFF`); a
//! derived id that collides with one already taken moves to the next free value, pools taken
//! in name order. The uninitialized token's slot has id 0 unless the config sets
//! `slots.uninitialized`. The list shows pools by name, then the uninitialized slot, so tools
//! that take "the first slot with a token" find a pool.

use std::collections::HashSet;

use cryptoki_sys::{CK_RV, CK_SLOT_ID, CKR_SLOT_ID_INVALID};
use hsm_core::Hsm;
use hsm_core::crypto::HashAlg;
use parking_lot::RwLock;

use crate::config::Config;
use crate::error::CoreResult;
use crate::state::Core;

/// The largest derived slot id (ids stay within 31 bits for 32-bit `CK_ULONG` and Java).
const MAX_DERIVED: CK_SLOT_ID = 0x7FFF_FFFF;

/// What a slot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A live pool's token.
    Pool {
        /// The pool name (= token label).
        name: String,
    },
    /// The token `C_InitToken` turns into a new pool.
    Uninitialized,
}

/// One slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Its id.
    pub id: CK_SLOT_ID,
    /// Its token.
    pub token: Token,
}

/// The slot list, rebuilt from the pools when `C_GetSlotList` is asked for its length.
pub(crate) struct SlotTable {
    slots: RwLock<Vec<Slot>>,
}

impl SlotTable {
    /// An empty table (filled by [`SlotTable::refresh`]).
    pub fn new() -> SlotTable {
        SlotTable {
            slots: RwLock::new(Vec::new()),
        }
    }

    /// Rebuilds the list from the live pools.
    pub fn refresh(&self, core: &Core, config: &Config) -> Result<(), CK_RV> {
        let mut names = core.list_pools().ck()?;
        names.sort();
        let slots = assign(core.hsm(), config, &names);
        *self.slots.write() = slots;
        Ok(())
    }

    /// The slots, in list order.
    pub fn list(&self) -> Vec<Slot> {
        self.slots.read().clone()
    }

    /// One slot, or `CKR_SLOT_ID_INVALID`.
    pub fn get(&self, id: CK_SLOT_ID) -> Result<Slot, CK_RV> {
        self.slots
            .read()
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or(CKR_SLOT_ID_INVALID)
    }
}

/// Gives each pool its slot id and appends the uninitialized slot.
fn assign(hsm: &Hsm, config: &Config, names: &[String]) -> Vec<Slot> {
    let fixed = &config.slots.pools;
    let mut used: HashSet<CK_SLOT_ID> = fixed.values().copied().collect();
    used.insert(config.slots.uninitialized);
    let mut slots = Vec::with_capacity(names.len() + 1);
    for name in names {
        let id = match fixed.get(name) {
            Some(id) => *id,
            None => {
                let mut id = derived_id(hsm, name);
                while used.contains(&id) {
                    id = if id == MAX_DERIVED { 1 } else { id + 1 };
                }
                used.insert(id);
                id
            }
        };
        slots.push(Slot {
            id,
            token: Token::Pool { name: name.clone() },
        });
    }
    slots.push(Slot {
        id: config.slots.uninitialized,
        token: Token::Uninitialized,
    });
    slots
}

/// A pool's slot id when the config does not fix one.
fn derived_id(hsm: &Hsm, name: &str) -> CK_SLOT_ID {
    let digest = hsm.digest(HashAlg::Sha256, format!("mhsm-slot:{name}").as_bytes());
    let v = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) as CK_SLOT_ID;
    1 + v % MAX_DERIVED
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsm_core::HsmConfig;

    #[test]
    fn ids_are_stable_distinct_and_respect_the_config() {
        let hsm = Hsm::open(HsmConfig::in_memory()).unwrap();
        let names: Vec<String> = ["alpha", "beta", "gamma"].map(String::from).to_vec();
        let mut config = Config::default();
        let first = assign(&hsm, &config, &names);
        assert_eq!(first, assign(&hsm, &config, &names), "same pools, same ids");
        assert_eq!(first.len(), 4);
        assert_eq!(first[3].token, Token::Uninitialized);
        assert_eq!(first[3].id, 0);
        let ids: HashSet<_> = first.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), 4);
        assert!(first[..3].iter().all(|s| (1..=MAX_DERIVED).contains(&s.id)));

        // A fixed id that collides with beta's derived one pushes beta to the next value.
        config.slots.pools.insert("alpha".into(), first[1].id);
        config.slots.uninitialized = 7;
        let second = assign(&hsm, &config, &names);
        assert_eq!(second[0].id, first[1].id);
        assert_eq!(second[1].id, first[1].id + 1);
        assert_eq!(second[2].id, first[2].id);
        assert_eq!(second[3].id, 7);
    }
}
