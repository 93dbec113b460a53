//! Names and identifiers: Azure's rules for pool (managed HSM) and key names, version ids,
//! tags, and continuation tokens of paged lists.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// Tags: application metadata, at most [`MAX_TAGS`] pairs.
pub type Tags = BTreeMap<String, String>;

/// Azure's limit on the number of tags of an object.
pub const MAX_TAGS: usize = 15;
const MAX_TAG_NAME: usize = 512;
const MAX_TAG_VALUE: usize = 256;

/// Checks a pool name: 3–24 characters, ASCII letters, digits and hyphens, starting with a
/// letter (Azure's rule for managed HSM names; it also forbids a trailing or doubled hyphen).
pub fn validate_pool_name(name: &str) -> Result<()> {
    let ok = (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::bad_parameter(format!(
            "invalid pool name {name:?}: 3-24 letters, digits and single hyphens, starting with a letter and not ending with a hyphen"
        )))
    }
}

/// Checks a key name: 1–127 characters of `[0-9A-Za-z-]`.
pub fn validate_key_name(name: &str) -> Result<()> {
    if (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        Ok(())
    } else {
        Err(Error::bad_parameter(format!(
            "invalid key name {name:?}: 1-127 characters of 0-9, a-z, A-Z and '-'"
        )))
    }
}

/// Checks a version id: 32 lowercase hex characters.
pub fn validate_version(version: &str) -> bool {
    version.len() == 32 && version.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// A fresh random 32-hex-character identifier (key versions, pool ids).
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::RandomFailure)?;
    Ok(hex::encode(bytes))
}

/// Checks tags against Azure's limits.
pub fn validate_tags(tags: &Tags) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::bad_parameter(format!(
            "at most {MAX_TAGS} tags are allowed, got {}",
            tags.len()
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > MAX_TAG_NAME {
            return Err(Error::bad_parameter(format!(
                "tag names are 1-{MAX_TAG_NAME} characters"
            )));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(Error::bad_parameter(format!(
                "tag '{k}' has a value longer than {MAX_TAG_VALUE} characters"
            )));
        }
    }
    Ok(())
}

/// A request for one page of a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items at most (None: [`DEFAULT_PAGE`]); 1 to [`MAX_PAGE`].
    pub max: Option<usize>,
    /// The continuation token of the previous page, if any.
    pub token: Option<String>,
}

/// Page size when none is asked for (Azure's default).
pub const DEFAULT_PAGE: usize = 25;
/// The largest page.
pub const MAX_PAGE: usize = 1000;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token for the next page; None on the last page.
    pub next: Option<String>,
}

impl PageRequest {
    /// A request for the first page of up to `max` items.
    pub fn first(max: usize) -> PageRequest {
        PageRequest {
            max: Some(max),
            token: None,
        }
    }

    /// The validated page size.
    pub(crate) fn size(&self) -> Result<usize> {
        match self.max {
            None => Ok(DEFAULT_PAGE),
            Some(n @ 1..=MAX_PAGE) => Ok(n),
            Some(n) => Err(Error::bad_parameter(format!(
                "page size must be 1 to {MAX_PAGE}, got {n}"
            ))),
        }
    }

    /// The position after which this page starts, decoded from the token.
    pub(crate) fn after(&self, kind: &str) -> Result<Option<String>> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let bad = || Error::bad_parameter("invalid continuation token");
        let raw = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (k, pos) = raw.split_once(':').ok_or_else(bad)?;
        if k != kind {
            return Err(bad());
        }
        Ok(Some(pos.to_string()))
    }
}

/// Builds a page given the caller's request. `items_after(pos)` yields the items sorted by
/// position, starting after `pos` (it may start earlier; earlier items are skipped).
pub(crate) fn paginate<T, I: Iterator<Item = (String, T)>>(
    kind: &str,
    req: &PageRequest,
    items_after: impl FnOnce(Option<&str>) -> I,
) -> Result<Page<T>> {
    let size = req.size()?;
    let after = req.after(kind)?;
    let sorted = items_after(after.as_deref());
    let mut items = Vec::with_capacity(size.min(64));
    let mut last = None;
    let mut more = false;
    for (pos, item) in sorted {
        if after.as_ref().is_some_and(|a| pos.as_str() <= a.as_str()) {
            continue;
        }
        if items.len() == size {
            more = true;
            break;
        }
        last = Some(pos);
        items.push(item);
    }
    let next = match (more, last) {
        (true, Some(pos)) => Some(URL_SAFE_NO_PAD.encode(format!("{kind}:{pos}"))),
        _ => None,
    };
    Ok(Page { items, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names() {
        for ok in ["abc", "pool-1", "A23456789012345678901234", "default"] {
            validate_pool_name(ok).unwrap();
        }
        for bad in [
            "ab",
            "1abc",
            "-abc",
            "abc-",
            "a--b",
            "a_b",
            "a.b",
            "",
            "A234567890123456789012345",
            "pööl",
        ] {
            assert!(validate_pool_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_names() {
        validate_key_name("k").unwrap();
        validate_key_name(&"a".repeat(127)).unwrap();
        validate_key_name("-x-9").unwrap();
        for bad in ["", "a/b", "a b", "a_b", "ключ", &"a".repeat(128)] {
            assert!(validate_key_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids() {
        let id = new_id().unwrap();
        assert!(validate_version(&id), "{id}");
        assert_ne!(id, new_id().unwrap());
        assert!(!validate_version("ABCDEF0123456789abcdef0123456789"));
        assert!(!validate_version("abc"));
    }

    #[test]
    fn tags() {
        let mut t: Tags = (0..15).map(|i| (format!("k{i}"), "v".into())).collect();
        validate_tags(&t).unwrap();
        t.insert("k15".into(), "v".into());
        assert!(validate_tags(&t).is_err());
        assert!(validate_tags(&Tags::from([(String::new(), "v".into())])).is_err());
        assert!(validate_tags(&Tags::from([("k".into(), "v".repeat(257))])).is_err());
    }

    #[test]
    fn paging_walks_everything_once() {
        let all: Vec<String> = (0..53).map(|i| format!("key{i:03}")).collect();
        let mut req = PageRequest::first(10);
        let mut seen = Vec::new();
        loop {
            let page = paginate("k", &req, |_| all.iter().map(|s| (s.clone(), s.clone()))).unwrap();
            assert!(page.items.len() <= 10);
            seen.extend(page.items);
            match page.next {
                Some(t) => req.token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, all);
    }

    #[test]
    fn paging_rejects_bad_requests() {
        let items = |_: Option<&str>| std::iter::empty::<(String, ())>();
        let bad_size = PageRequest::first(0);
        assert_eq!(
            paginate("k", &bad_size, items).unwrap_err().code(),
            "BadParameter"
        );
        let bad_token = PageRequest {
            max: None,
            token: Some("%%%".into()),
        };
        assert_eq!(
            paginate("k", &bad_token, items).unwrap_err().code(),
            "BadParameter"
        );
        let other_kind = PageRequest {
            max: None,
            token: Some(URL_SAFE_NO_PAD.encode("v:x")),
        };
        assert!(paginate("k", &other_kind, items).is_err());
        let exact = paginate("k", &PageRequest::first(2), |_| {
            [("a".to_string(), 1), ("b".to_string(), 2)].into_iter()
        })
        .unwrap();
        assert_eq!(exact.next, None, "no empty last page");
    }
}
