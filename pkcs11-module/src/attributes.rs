//! PKCS#11 attributes: parsed templates, the attribute maps objects are shown as, and how a
//! key's attributes follow from what the core keeps of it.
//!
//! A key object's attributes are computed from the core's [`KeyInfo`]-like facts (type, public
//! material, allowed operations, exportability, provenance) with the attributes PKCS#11 adds
//! (`CKA_ID`, `CKA_SUBJECT`, `CKA_SENSITIVE`, ...) laid over them. For pool keys those are kept
//! as the key's front-end attributes (`KeyInfo::extra`, named by [`extra_name`]), so they
//! follow the key through soft-delete, recovery and backups.
//!
//! [`KeyInfo`]: hsm_core::key::KeyInfo

use std::collections::{BTreeMap, HashMap};

use cryptoki_sys::*;
use hsm_core::crypto::{Curve, KeyKind, KeySpec, PublicKey};
use hsm_core::key::{KeyOperation, KeyOps};

/// An object's attributes: type → value bytes.
pub(crate) type Attrs = BTreeMap<CK_ATTRIBUTE_TYPE, Vec<u8>>;

/// Which object of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Part {
    /// The private half of an RSA or EC key.
    Private,
    /// The public half of an RSA or EC key.
    Public,
    /// An AES key or a generic secret.
    Secret,
}

impl Part {
    /// The parts a key of this kind shows as.
    pub fn of(kind: KeyKind) -> &'static [Part] {
        match kind {
            KeyKind::Rsa | KeyKind::Ec => &[Part::Private, Part::Public],
            KeyKind::Oct => &[Part::Secret],
        }
    }

    /// The object class.
    pub fn class(self) -> CK_OBJECT_CLASS {
        match self {
            Part::Private => CKO_PRIVATE_KEY,
            Part::Public => CKO_PUBLIC_KEY,
            Part::Secret => CKO_SECRET_KEY,
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Part::Private => "prv",
            Part::Public => "pub",
            Part::Secret => "sec",
        }
    }

    /// The usage attributes this part has, with the core operation each stands for.
    pub fn usages(self) -> &'static [(CK_ATTRIBUTE_TYPE, KeyOperation)] {
        use KeyOperation::*;
        match self {
            Part::Private => &[
                (CKA_SIGN, Sign),
                (CKA_DECRYPT, Decrypt),
                (CKA_UNWRAP, UnwrapKey),
                (CKA_DERIVE, Derive),
            ],
            Part::Public => &[
                (CKA_VERIFY, Verify),
                (CKA_ENCRYPT, Encrypt),
                (CKA_WRAP, WrapKey),
            ],
            Part::Secret => &[
                (CKA_SIGN, Sign),
                (CKA_VERIFY, Verify),
                (CKA_ENCRYPT, Encrypt),
                (CKA_DECRYPT, Decrypt),
                (CKA_WRAP, WrapKey),
                (CKA_UNWRAP, UnwrapKey),
                (CKA_DERIVE, Derive),
            ],
        }
    }
}

/// The attributes kept with a key beyond what the core knows (see [`extra_name`]). Everything
/// else is computed from the key, or fixed.
pub(crate) const STORED: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_ID,
    CKA_SUBJECT,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_PRIVATE,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
];

/// The stored marker of a public half destroyed on its own (a vendor attribute number, never
/// shown as an attribute).
pub(crate) const HIDDEN: CK_ATTRIBUTE_TYPE = CKA_VENDOR_DEFINED | 0x6d68_0001;

/// The core's name for a stored attribute of a key: `ck.id` (shared by both halves, as
/// `CKA_ID` must be), else `ck.{prv|pub|sec}.{type in hex}`.
pub(crate) fn extra_name(part: Part, attr: CK_ATTRIBUTE_TYPE) -> String {
    if attr == CKA_ID {
        "ck.id".to_string()
    } else {
        format!("ck.{}.{attr:x}", part.tag())
    }
}

/// The stored attributes of one part, from the core's front-end attributes of its key.
pub(crate) fn stored_from_extra(part: Part, extra: &BTreeMap<String, Vec<u8>>) -> Attrs {
    STORED
        .iter()
        .filter_map(|a| Some((*a, extra.get(&extra_name(part, *a))?.clone())))
        .collect()
}

/// `CK_BBOOL` bytes.
pub(crate) fn bool_bytes(v: bool) -> Vec<u8> {
    vec![if v { CK_TRUE } else { CK_FALSE }]
}

/// `CK_ULONG` bytes (native endianness and width).
pub(crate) fn ulong_bytes(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

/// A `CK_BBOOL` value, or `CKR_ATTRIBUTE_VALUE_INVALID`.
pub(crate) fn parse_bool(v: &[u8]) -> Result<bool, CK_RV> {
    match v {
        [b] => Ok(*b != CK_FALSE),
        _ => Err(CKR_ATTRIBUTE_VALUE_INVALID),
    }
}

/// A `CK_ULONG` value, or `CKR_ATTRIBUTE_VALUE_INVALID`.
pub(crate) fn parse_ulong(v: &[u8]) -> Result<CK_ULONG, CK_RV> {
    let bytes: [u8; std::mem::size_of::<CK_ULONG>()] =
        v.try_into().map_err(|_| CKR_ATTRIBUTE_VALUE_INVALID)?;
    Ok(CK_ULONG::from_ne_bytes(bytes))
}

/// A parsed input template, with typed getters.
pub(crate) struct Template(pub Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>);

impl Template {
    /// From the pointer layer's view; a type given twice is `CKR_TEMPLATE_INCONSISTENT`
    /// when the values differ. Linear in the template's length (a caller may pass any).
    pub fn new(raw: Vec<(CK_ATTRIBUTE_TYPE, &[u8])>) -> Result<Template, CK_RV> {
        let mut out: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> = Vec::with_capacity(raw.len());
        let mut seen: HashMap<CK_ATTRIBUTE_TYPE, usize> = HashMap::with_capacity(raw.len());
        for (t, v) in raw {
            match seen.get(&t) {
                Some(&i) if out[i].1.as_slice() != v => return Err(CKR_TEMPLATE_INCONSISTENT),
                Some(_) => {}
                None => {
                    seen.insert(t, out.len());
                    out.push((t, v.to_vec()));
                }
            }
        }
        Ok(Template(out))
    }

    /// The raw value of an attribute.
    pub fn get(&self, t: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(a, _)| *a == t)
            .map(|(_, v)| v.as_slice())
    }

    /// A boolean attribute.
    pub fn bool(&self, t: CK_ATTRIBUTE_TYPE) -> Result<Option<bool>, CK_RV> {
        self.get(t).map(parse_bool).transpose()
    }

    /// A `CK_ULONG` attribute.
    pub fn ulong(&self, t: CK_ATTRIBUTE_TYPE) -> Result<Option<CK_ULONG>, CK_RV> {
        self.get(t).map(parse_ulong).transpose()
    }

    /// Whether an object's attributes match this (search) template.
    pub fn matches(&self, attrs: &Attrs) -> bool {
        self.0
            .iter()
            .all(|(t, v)| attrs.get(t).is_some_and(|a| a == v))
    }
}

/// The DER of a curve's named-curve OID (`CKA_EC_PARAMS`).
pub(crate) fn ec_params(curve: Curve) -> Vec<u8> {
    match curve {
        Curve::P256 => vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        Curve::P384 => vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        Curve::P521 => vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        Curve::Secp256k1 => vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
    }
}

/// The curve of a `CKA_EC_PARAMS` value: a named-curve OID, or a curve name as a
/// PrintableString (PKCS#11 3.0 allows both). Anything else: `CKR_CURVE_NOT_SUPPORTED`.
pub(crate) fn curve_of_params(params: &[u8]) -> Result<Curve, CK_RV> {
    if let Some(curve) = Curve::ALL.into_iter().find(|c| ec_params(*c) == params) {
        return Ok(curve);
    }
    // PrintableString: 0x13, length, name.
    if let [0x13, len, name @ ..] = params
        && usize::from(*len) == name.len()
    {
        let curve = match name {
            b"prime256v1" | b"secp256r1" | b"P-256" => Curve::P256,
            b"secp384r1" | b"P-384" => Curve::P384,
            b"secp521r1" | b"P-521" => Curve::P521,
            b"secp256k1" => Curve::Secp256k1,
            _ => return Err(CKR_CURVE_NOT_SUPPORTED),
        };
        return Ok(curve);
    }
    Err(CKR_CURVE_NOT_SUPPORTED)
}

/// `CKA_EC_POINT`: the uncompressed point as a DER OCTET STRING.
pub(crate) fn ec_point_der(point: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    der_length(&mut out, point.len());
    out.extend_from_slice(point);
    out
}

/// The raw point of a `CKA_EC_POINT` (or an ECDH peer value): a DER OCTET STRING holding
/// it, or the raw point itself (accepted on input, as many tools send it).
pub(crate) fn ec_point_raw(value: &[u8], curve: Curve) -> Vec<u8> {
    let raw_len = 1 + 2 * curve.field_len();
    if value.len() == raw_len && value[0] == 0x04 {
        return value.to_vec();
    }
    if let [0x04, rest @ ..] = value
        && let Some((len, body)) = der_read_length(rest)
        && len == body.len()
    {
        return body.to_vec();
    }
    value.to_vec()
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

fn der_read_length(b: &[u8]) -> Option<(usize, &[u8])> {
    match b {
        [l, rest @ ..] if *l < 0x80 => Some((usize::from(*l), rest)),
        [0x81, l, rest @ ..] => Some((usize::from(*l), rest)),
        [0x82, h, l, rest @ ..] => Some(((usize::from(*h) << 8) | usize::from(*l), rest)),
        _ => None,
    }
}

/// `CKA_START_DATE` / `CKA_END_DATE` values are `CK_DATE` (8 ASCII digits) or empty.
pub(crate) fn valid_date(v: &[u8]) -> bool {
    v.is_empty() || (v.len() == 8 && v.iter().all(u8::is_ascii_digit))
}

/// The `CKK_*` of a key: the core's spec decides (a generic secret is the core's own type).
pub(crate) fn key_type(spec: &KeySpec) -> CK_KEY_TYPE {
    match spec {
        KeySpec::Rsa { .. } => CKK_RSA,
        KeySpec::Ec { .. } => CKK_EC,
        KeySpec::Aes { .. } => CKK_AES,
        KeySpec::Secret { .. } => CKK_GENERIC_SECRET,
    }
}

/// The key generation mechanism of a key type.
pub(crate) fn gen_mechanism(spec: &KeySpec) -> CK_MECHANISM_TYPE {
    match spec {
        KeySpec::Rsa { .. } => CKM_RSA_PKCS_KEY_PAIR_GEN,
        KeySpec::Ec { .. } => CKM_EC_KEY_PAIR_GEN,
        KeySpec::Aes { .. } => CKM_AES_KEY_GEN,
        KeySpec::Secret { .. } => CKM_GENERIC_SECRET_KEY_GEN,
    }
}

/// What a key object's attributes are computed from.
pub(crate) struct KeyFacts<'a> {
    /// Type and size.
    pub spec: KeySpec,
    /// Public material (RSA and EC).
    pub public: Option<&'a PublicKey>,
    /// Allowed operations.
    pub ops: KeyOps,
    /// The core lets the material leave (in PKCS#11 terms: extractable, by wrapping).
    pub exportable: bool,
    /// Made inside the HSM (`CKA_LOCAL`).
    pub generated: bool,
    /// A token object.
    pub token: bool,
    /// The label.
    pub label: &'a [u8],
    /// A default `CKA_ID` when none is stored.
    pub default_id: &'a [u8],
    /// The stored attributes of this part (laid over the computed ones).
    pub stored: &'a Attrs,
}

/// A key object's attributes (never the secret components: see [`SECRET_COMPONENTS`]).
pub(crate) fn key_attributes(part: Part, f: &KeyFacts<'_>) -> Attrs {
    let mut a = Attrs::new();
    a.insert(CKA_CLASS, ulong_bytes(part.class()));
    a.insert(CKA_KEY_TYPE, ulong_bytes(key_type(&f.spec)));
    a.insert(CKA_TOKEN, bool_bytes(f.token));
    a.insert(CKA_PRIVATE, bool_bytes(part != Part::Public));
    a.insert(CKA_MODIFIABLE, bool_bytes(true));
    a.insert(CKA_COPYABLE, bool_bytes(true));
    a.insert(CKA_DESTROYABLE, bool_bytes(true));
    a.insert(CKA_LABEL, f.label.to_vec());
    a.insert(CKA_ID, f.default_id.to_vec());
    a.insert(CKA_START_DATE, Vec::new());
    a.insert(CKA_END_DATE, Vec::new());
    a.insert(CKA_LOCAL, bool_bytes(f.generated));
    a.insert(
        CKA_KEY_GEN_MECHANISM,
        ulong_bytes(if f.generated {
            gen_mechanism(&f.spec)
        } else {
            CK_UNAVAILABLE_INFORMATION
        }),
    );
    a.insert(CKA_DERIVE, bool_bytes(false));
    for (attr, op) in part.usages() {
        a.insert(*attr, bool_bytes(f.ops.contains(*op)));
    }
    if part != Part::Public {
        // Imported keys have never been "always" anything (PKCS#11 2.40, 4.9).
        a.insert(CKA_SENSITIVE, bool_bytes(true));
        a.insert(CKA_EXTRACTABLE, bool_bytes(f.exportable));
        a.insert(CKA_ALWAYS_SENSITIVE, bool_bytes(f.generated));
        a.insert(
            CKA_NEVER_EXTRACTABLE,
            bool_bytes(f.generated && !f.exportable),
        );
        a.insert(CKA_WRAP_WITH_TRUSTED, bool_bytes(false));
    }
    if part != Part::Private {
        a.insert(CKA_TRUSTED, bool_bytes(false));
    }
    if part == Part::Private {
        a.insert(CKA_SIGN_RECOVER, bool_bytes(false));
        a.insert(CKA_ALWAYS_AUTHENTICATE, bool_bytes(false));
    }
    if part == Part::Public {
        a.insert(CKA_VERIFY_RECOVER, bool_bytes(false));
    }
    if part != Part::Secret {
        a.insert(CKA_SUBJECT, Vec::new());
    }
    match (f.spec, f.public) {
        (KeySpec::Rsa { bits }, Some(PublicKey::Rsa { n, e })) => {
            a.insert(CKA_MODULUS, n.clone());
            a.insert(CKA_PUBLIC_EXPONENT, e.clone());
            if part == Part::Public {
                a.insert(CKA_MODULUS_BITS, ulong_bytes(CK_ULONG::from(bits)));
            }
        }
        (KeySpec::Ec { curve }, Some(public)) => {
            a.insert(CKA_EC_PARAMS, ec_params(curve));
            if part == Part::Public
                && let Some(point) = public.ec_point_uncompressed()
            {
                a.insert(CKA_EC_POINT, ec_point_der(&point));
            }
        }
        (KeySpec::Aes { bits } | KeySpec::Secret { bits }, _) => {
            a.insert(CKA_VALUE_LEN, ulong_bytes(CK_ULONG::from(bits / 8)));
        }
        _ => {}
    }
    if let Some(public) = f.public
        && let Ok(spki) = public.to_spki_der()
    {
        a.insert(CKA_PUBLIC_KEY_INFO, spki);
    }
    for (t, v) in f.stored {
        // Only what the part has; an extractable flag can only narrow the core's; class and
        // key type are the core's (keys stored before generic secrets were the core's own
        // type may carry a `CKA_KEY_TYPE`: it is not shown).
        if (f.exportable || *t != CKA_EXTRACTABLE)
            && !matches!(*t, CKA_CLASS | CKA_KEY_TYPE)
            && a.contains_key(t)
        {
            a.insert(*t, v.clone());
        }
    }
    a
}

/// The attributes that hold secret key material: shown only for a key that is neither
/// sensitive nor unextractable, and then read from the core on demand.
pub(crate) const SECRET_COMPONENTS: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_VALUE,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

/// Whether an attribute map says true for a boolean attribute.
pub(crate) fn is_true(attrs: &Attrs, t: CK_ATTRIBUTE_TYPE) -> bool {
    attrs
        .get(&t)
        .is_some_and(|v| parse_bool(v).unwrap_or(false))
}

/// The class of an attribute map.
pub(crate) fn class_of(attrs: &Attrs) -> Option<CK_OBJECT_CLASS> {
    attrs.get(&CKA_CLASS).and_then(|v| parse_ulong(v).ok())
}

/// Attribute maps as bytes, for certificates and data objects kept as pool documents:
/// (type u64 BE, length u32 BE, value) repeated.
#[allow(clippy::useless_conversion)] // CK_ULONG is 32 bits on some targets
pub(crate) fn encode(attrs: &Attrs) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, v) in attrs {
        out.extend_from_slice(&u64::from(*t).to_be_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// The inverse of [`encode`]; None when malformed.
pub(crate) fn decode(mut b: &[u8]) -> Option<Attrs> {
    let mut attrs = Attrs::new();
    while !b.is_empty() {
        let t = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let len = u32::from_be_bytes(b.get(8..12)?.try_into().ok()?) as usize;
        let v = b.get(12..12 + len)?;
        attrs.insert(CK_ATTRIBUTE_TYPE::try_from(t).ok()?, v.to_vec());
        b = &b[12 + len..];
    }
    Some(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_params_both_ways() {
        for curve in Curve::ALL {
            assert_eq!(curve_of_params(&ec_params(curve)), Ok(curve));
        }
        let named = [&[0x13, 10][..], b"prime256v1"].concat();
        assert_eq!(curve_of_params(&named), Ok(Curve::P256));
        assert_eq!(
            curve_of_params(&[0x06, 0x01, 0x00]),
            Err(CKR_CURVE_NOT_SUPPORTED)
        );
    }

    #[test]
    fn ec_points_raw_or_der() {
        let raw: Vec<u8> = std::iter::once(4).chain(1..=64).collect();
        let der = ec_point_der(&raw);
        assert_eq!(&der[..2], &[0x04, 65]);
        assert_eq!(ec_point_raw(&der, Curve::P256), raw);
        assert_eq!(ec_point_raw(&raw, Curve::P256), raw);
        let big: Vec<u8> = std::iter::once(4).chain([7u8; 132]).collect();
        assert_eq!(ec_point_raw(&ec_point_der(&big), Curve::P521), big);
    }

    #[test]
    fn attribute_maps_round_trip_and_reject_garbage() {
        let attrs: Attrs = [(CKA_LABEL, b"x".to_vec()), (CKA_VALUE, vec![0; 300])].into();
        assert_eq!(decode(&encode(&attrs)), Some(attrs));
        assert_eq!(decode(&[1, 2, 3]), None);
    }

    #[test]
    fn templates_refuse_contradictions_and_match() {
        let t = Template::new(vec![(CKA_LABEL, b"a"), (CKA_LABEL, b"a")]).unwrap();
        assert_eq!(t.0.len(), 1);
        assert!(matches!(
            Template::new(vec![(CKA_LABEL, b"a"), (CKA_LABEL, b"b")]),
            Err(CKR_TEMPLATE_INCONSISTENT)
        ));
        let attrs: Attrs = [(CKA_LABEL, b"a".to_vec()), (CKA_TOKEN, bool_bytes(true))].into();
        assert!(t.matches(&attrs));
        assert!(!Template::new(vec![(CKA_ID, b"a")]).unwrap().matches(&attrs));
        assert_eq!(parse_bool(&[]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        assert_eq!(parse_ulong(&[1]), Err(CKR_ATTRIBUTE_VALUE_INVALID));
    }

    #[test]
    fn long_templates_parse_in_linear_time() {
        // Found while writing the attribute-template fuzz target: duplicates were looked
        // up by a scan of the attributes so far, so a template of n attributes cost n²/2
        // comparisons (300,000 attributes: 4.5e10, minutes of a C caller's thread).
        let n: CK_ATTRIBUTE_TYPE = 300_000;
        let values: Vec<[u8; 1]> = (0..n).map(|i| [i as u8]).collect();
        let raw: Vec<(CK_ATTRIBUTE_TYPE, &[u8])> =
            (0..n).map(|t| (t, &values[t as usize][..])).collect();
        let start = std::time::Instant::now();
        let t = Template::new(raw.clone()).unwrap();
        assert_eq!(t.0.len(), n as usize);
        let mut twice = raw;
        twice.push((n - 1, b"other"));
        assert!(matches!(
            Template::new(twice),
            Err(CKR_TEMPLATE_INCONSISTENT)
        ));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }
}
