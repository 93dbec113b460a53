//! What is stored, and where: record types and their paths in the store.
//!
//! Paths: `m` (store metadata), `p/{pool}`, `k/{pool}/{key}`, `v/{pool}/{key}/{version}`,
//! `d/{pool}/{kind}/{id}` (documents: the front ends' other per-pool data).
//! Every value is sealed with its path as associated data (store metadata and pool records
//! under keys derived from the root key, key and version records under the pool's master
//! key), and key material is sealed once more on its own, bound to pool, key and version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::{KeySpec, PublicKey};
use crate::key::{Deletion, KeyOps, RotationPolicy, VersionAttributes};
use crate::names::Tags;
use crate::pool::PoolSettings;
use crate::time::UnixTime;

/// Version of the store layout.
pub(crate) const FORMAT: u32 = 1;

/// The store's own metadata.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct MetaRecord {
    pub format: u32,
    pub security_domain: String,
}

/// A pool.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PoolRecord {
    pub name: String,
    pub uid: String,
    pub created: UnixTime,
    pub updated: UnixTime,
    pub settings: PoolSettings,
    pub tags: Tags,
    /// The master key, sealed under the domain's master-wrap key.
    #[serde(with = "crate::serde_b64")]
    pub wrapped_master: Vec<u8>,
    pub deleted: Option<Deletion>,
}

/// A key: what all its versions share.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub name: String,
    pub created: UnixTime,
    pub updated: UnixTime,
    pub ops: KeyOps,
    pub tags: Tags,
    #[serde(with = "crate::serde_b64::option", default)]
    pub release_policy: Option<Vec<u8>>,
    #[serde(default)]
    pub rotation_policy: Option<RotationPolicy>,
    /// Version ids, oldest first; the last is the latest.
    pub versions: Vec<String>,
    pub deleted: Option<Deletion>,
    /// Front-end attributes (PKCS#11's `CKA_ID`, ...): name → base64url value.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

/// One version of a key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub id: String,
    pub spec: KeySpec,
    pub public_key: Option<PublicKey>,
    pub attributes: VersionAttributes,
    /// The key material, sealed under the pool master key (see [`material_aad`]).
    #[serde(with = "crate::serde_b64")]
    pub sealed_material: Vec<u8>,
}

pub(crate) const META_PATH: &str = "m";

pub(crate) fn pool_path(pool: &str) -> String {
    format!("p/{pool}")
}

pub(crate) fn key_path(pool: &str, key: &str) -> String {
    format!("k/{pool}/{key}")
}

pub(crate) fn key_prefix(pool: &str) -> String {
    format!("k/{pool}/")
}

pub(crate) fn version_path(pool: &str, key: &str, version: &str) -> String {
    format!("v/{pool}/{key}/{version}")
}

pub(crate) fn version_prefix(pool: &str) -> String {
    format!("v/{pool}/")
}

pub(crate) fn doc_path(pool: &str, kind: &str, id: &str) -> String {
    format!("d/{pool}/{kind}/{id}")
}

pub(crate) fn doc_prefix(pool: &str) -> String {
    format!("d/{pool}/")
}

/// Associated data of a record: its path.
pub(crate) fn record_aad(path: &str) -> Vec<u8> {
    format!("mhsm/v1/record/{path}").into_bytes()
}

/// Associated data of sealed key material: pool, key name and version.
pub(crate) fn material_aad(pool: &str, key: &str, version: &str) -> Vec<u8> {
    format!("mhsm/v1/material/{pool}/{key}/{version}").into_bytes()
}

/// Associated data of a wrapped pool master key.
pub(crate) fn master_aad(pool: &str, uid: &str) -> Vec<u8> {
    format!("mhsm/v1/master/{pool}/{uid}").into_bytes()
}
