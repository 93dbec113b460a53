//! Bytes on the wire: base64url without padding (standard base64, padded or not, is read
//! too).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::value::RawValue;

use crate::{Result, WireError};

/// Bytes as base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url as a JSON string that is printed as it is: serde_json escapes a string byte by
/// byte, which for the 5.5 KB of a 4 KiB encryption cost more than the encoding, and the
/// base64url alphabet needs no escaping.
pub fn b64_json(bytes: &[u8]) -> Box<RawValue> {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4 + 2);
    text.push('"');
    URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
    text.push('"');
    RawValue::from_string(text).expect("a base64url string is a JSON string")
}

/// Decodes base64url (or standard base64), with or without padding; `field` names the
/// field in the error.
pub fn unb64(text: &str, field: &str) -> Result<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(text))
        .map_err(|_| WireError::invalid(format!("'{field}' is not valid base64url")))
}

/// Decodes an optional base64url field.
pub fn unb64_opt(text: Option<&str>, field: &str) -> Result<Option<Vec<u8>>> {
    text.map(|t| unb64(t, field)).transpose()
}

/// Decodes a base64url JSON string printed by [`b64_json`] (or any JSON string).
pub fn unb64_raw(raw: &RawValue, field: &str) -> Result<Vec<u8>> {
    let text: &str = serde_json::from_str(raw.get())
        .map_err(|_| WireError::invalid(format!("'{field}' is not a string")))?;
    unb64(text, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_with_or_without_padding() {
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
        assert_eq!(unb64("-_8", "v").unwrap(), [0xfb, 0xff]);
        assert_eq!(unb64("+/8=", "v").unwrap(), [0xfb, 0xff]);
        assert_eq!(unb64("AQID==", "v").unwrap(), [1, 2, 3]);
        let e = unb64("!!", "iv").unwrap_err();
        assert_eq!(e.to_string(), "'iv' is not valid base64url");
        assert_eq!(b64_json(b"").get(), r#""""#);
        assert_eq!(unb64_raw(&b64_json(&[9; 40]), "v").unwrap(), [9; 40]);
        assert!(unb64_raw(&RawValue::from_string("1".into()).unwrap(), "v").is_err());
    }
}
