//! GUIDs: the names of role definitions and assignments, and principals' object ids.

use crate::error::{Error, Result};
use crate::names::new_id;

/// Is `s` a GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits in either case)?
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A GUID, lower-cased, or `BadParameter` naming `what`.
pub(super) fn guid(s: &str, what: &str) -> Result<String> {
    if is_guid(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::bad_parameter(format!(
            "the {what} '{s}' is not a valid GUID"
        )))
    }
}

/// A fresh random (version 4) GUID.
pub fn new_guid() -> Result<String> {
    let mut hex: Vec<char> = new_id()?.chars().collect();
    hex[12] = '4';
    hex[16] = match hex[16] {
        '0' | '4' | '8' | 'c' => '8',
        '1' | '5' | '9' | 'd' => '9',
        '2' | '6' | 'a' | 'e' => 'a',
        _ => 'b',
    };
    let s: String = hex.into_iter().collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "0b1f5c3e-0000-4000-8000-00000000a11c";

    #[test]
    fn guids() {
        assert!(is_guid(ALICE));
        assert!(is_guid("A290E904-7015-4BBA-90C8-60543313CDB4"));
        for bad in [
            "",
            "a290e904701549ba90c860543313cdb4",
            "a290e904-7015-4bba-90c8-60543313cdb",
            "a290e904-7015-4bba-90c8-60543313cdb4x",
            "g290e904-7015-4bba-90c8-60543313cdb4",
            "a290e904_7015-4bba-90c8-60543313cdb4",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
        let g = new_guid().unwrap();
        assert!(is_guid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        assert_ne!(g, new_guid().unwrap());
    }
}
