//! Helpers both providers share: big-endian integers and field elements as bytes, so that
//! each provider pads, trims and truncates alike and reports the same errors; the copy
//! into a caller's buffer.

use zeroize::Zeroizing;

use crate::crypto::material::Curve;
use crate::error::{Error, Result};

/// Copies `bytes` into the start of `out`, which must hold them (else `InvalidInputLength`);
/// returns their length. The default of the `*_into` operations of the provider seam.
pub fn copy_out(bytes: &[u8], out: &mut [u8]) -> Result<usize> {
    out.get_mut(..bytes.len())
        .ok_or_else(|| Error::input_length("the output buffer is too short"))?
        .copy_from_slice(bytes);
    Ok(bytes.len())
}

/// `bytes` without its leading zero bytes (big-endian integers).
pub fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// `bytes` left-padded to the curve's field length; longer input is refused.
pub fn field_bytes(curve: Curve, bytes: &[u8], what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let len = curve.field_len();
    let pad = len.checked_sub(bytes.len()).ok_or_else(|| {
        Error::material(format!(
            "the {what} is {} bytes, longer than the {len} bytes of {curve}",
            bytes.len()
        ))
    })?;
    let mut out = Zeroizing::new(vec![0; len]);
    out.get_mut(pad..)
        .ok_or_else(|| Error::internal("field padding"))?
        .copy_from_slice(bytes);
    Ok(out)
}

/// FIPS 186-5 `bits2int` of `input` for the curve's order, as a big-endian integer of the
/// field length: input longer than the order's bit length keeps its leftmost bits, shorter
/// input is a smaller integer.
pub fn bits2field(curve: Curve, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let qlen = usize::try_from(curve.bits()).map_err(|_| Error::internal("curve size"))?;
    let flen = curve.field_len();
    if input.len() * 8 <= qlen {
        return field_bytes(curve, input, "ECDSA input");
    }
    let qbytes = qlen.div_ceil(8);
    let shift = qbytes * 8 - qlen;
    let taken = input
        .get(..qbytes)
        .ok_or_else(|| Error::internal("ECDSA truncation"))?;
    let mut out = Zeroizing::new(vec![0; flen]);
    let dst = out
        .get_mut(flen - qbytes..)
        .ok_or_else(|| Error::internal("ECDSA truncation"))?;
    let mut carry = 0u8;
    for (d, s) in dst.iter_mut().zip(taken) {
        *d = (s >> shift) | carry;
        carry = if shift == 0 { 0 } else { s << (8 - shift) };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_value() {
        assert_eq!(trim_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(trim_leading_zeros(&[0, 0]), &[] as &[u8]);
        assert_eq!(trim_leading_zeros(&[]), &[] as &[u8]);
        assert_eq!(trim_leading_zeros(&[5]), &[5]);
    }

    #[test]
    fn bits2field_truncates_to_the_order_length() {
        // P-521: 66 bytes of ones keep their leftmost 521 bits.
        let out = bits2field(Curve::P521, &[0xff; 66]).unwrap();
        assert_eq!(out[0], 0x01);
        assert!(out[1..].iter().all(|b| *b == 0xff));
        let out = bits2field(Curve::P521, &[0x80; 70]).unwrap();
        assert_eq!(&out[..3], &[0x01, 0x01, 0x01]);
        let out = bits2field(Curve::P256, &(0..40u8).collect::<Vec<_>>()).unwrap();
        assert_eq!(&out[..], &(0..32u8).collect::<Vec<_>>()[..]);
        let out = bits2field(Curve::P384, &[9, 9]).unwrap();
        assert_eq!(out.len(), 48);
        assert_eq!(&out[46..], &[9, 9]);
        assert!(out[..46].iter().all(|b| *b == 0));
        let out = bits2field(Curve::P521, &[7; 65]).unwrap();
        assert_eq!((out[0], out[1]), (0, 7));
    }
}
