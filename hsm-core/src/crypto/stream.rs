//! Multi-part AES-ECB, AES-CBC (with or without padding) and AES-CTR as a series of one-shot
//! operations.
//!
//! A front end that receives a message in parts (PKCS#11's `C_EncryptUpdate`) must hand back
//! output as it goes: callers size their buffers for it. The operation API works in one call,
//! so a [`CipherStream`] splits the stream into calls on whole blocks and carries the chaining
//! state between them (the CBC IV, the CTR counter), so that the concatenated output equals
//! one call over the whole message. The caller makes each call (with the key, through the
//! usual checks) in a closure; the stream never sees a key.
//!
//! What a stream holds back: the bytes of an incomplete block, and for CBC decryption with
//! padding the last whole block too (it may be the padding). AES-GCM and RSA do not stream:
//! [`CipherStream::new`] answers `None` and the caller gathers the input for one call.

use super::alg::CipherAlgorithm;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

const BLOCK: usize = 16;

/// The direction of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Plaintext in, ciphertext out.
    Encrypt,
    /// Ciphertext in, plaintext out.
    Decrypt,
}

/// A multi-part AES-ECB, CBC or CTR operation in progress (see the module docs).
pub struct CipherStream {
    /// The algorithm with the chaining state as it is now (next IV, next counter block).
    alg: CipherAlgorithm,
    direction: Direction,
    /// Input not yet processed.
    pending: SecretBytes,
    /// For CTR: how many counter values are left before the counter would wrap around (which
    /// one call refuses, so a stream refuses it too).
    counter_left: u128,
}

impl std::fmt::Debug for CipherStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CipherStream")
            .field("direction", &self.direction)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl CipherStream {
    /// A stream for `alg`, or `None` for an algorithm that does not stream (AES-GCM, RSA).
    pub fn new(alg: &CipherAlgorithm, direction: Direction) -> Option<CipherStream> {
        match alg {
            CipherAlgorithm::AesEcb
            | CipherAlgorithm::AesCbc { .. }
            | CipherAlgorithm::AesCtr { .. } => Some(CipherStream {
                alg: alg.clone(),
                direction,
                pending: SecretBytes::default(),
                counter_left: counter_values_left(alg),
            }),
            CipherAlgorithm::AesGcm { .. }
            | CipherAlgorithm::RsaPkcs1v15
            | CipherAlgorithm::RsaOaep { .. }
            | CipherAlgorithm::RsaRaw => None,
        }
    }

    /// How many bytes the stream holds back (not yet processed).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn holds_padding_block(&self) -> bool {
        self.direction == Direction::Decrypt
            && matches!(self.alg, CipherAlgorithm::AesCbc { padding: true, .. })
    }

    /// How much of `pending + part_len` bytes an update processes now.
    fn ready(&self, part_len: usize) -> usize {
        let total = self.pending.len().saturating_add(part_len);
        let whole = total - total % BLOCK;
        if self.holds_padding_block() && whole == total {
            whole.saturating_sub(BLOCK)
        } else {
            whole
        }
    }

    /// Refuses to go past the end of a CTR counter (`InvalidInputLength`, as one call does).
    fn check_counter(&self, len: usize) -> Result<()> {
        if let CipherAlgorithm::AesCtr { counter_bits, .. } = &self.alg
            && len.div_ceil(BLOCK) as u128 > self.counter_left
        {
            return Err(Error::input_length(format!(
                "the {counter_bits}-bit AES-CTR counter would wrap around"
            )));
        }
        Ok(())
    }

    /// The exact output length of [`CipherStream::update`] with a part of `part_len` bytes
    /// (for the two-call convention: known before any work).
    pub fn update_len(&self, part_len: usize) -> Result<usize> {
        let ready = self.ready(part_len);
        self.check_counter(ready)?;
        Ok(ready)
    }

    /// The output length of [`CipherStream::finish`]: exact when encrypting, the most it can
    /// be when decrypting with padding.
    pub fn finish_len(&self) -> Result<usize> {
        self.check_counter(self.pending.len())?;
        Ok(match (&self.alg, self.direction) {
            (CipherAlgorithm::AesCbc { padding: true, .. }, Direction::Encrypt) => {
                (self.pending.len() / BLOCK + 1) * BLOCK
            }
            _ => self.pending.len(),
        })
    }

    /// Takes one part: makes the one-shot call on the whole blocks now ready (if any) with
    /// `call(algorithm, input)` and returns its output; the chaining state advances only
    /// when the call succeeds.
    pub fn update<E: From<Error>>(
        &mut self,
        part: &[u8],
        call: impl FnOnce(&CipherAlgorithm, &[u8]) -> Result<SecretBytes, E>,
    ) -> Result<SecretBytes, E> {
        let ready = self.update_len(part.len())?;
        if ready == 0 {
            self.pending.extend_from_slice(part);
            return Ok(SecretBytes::default());
        }
        let mut input = SecretBytes::default();
        input.extend_from_slice(self.pending.expose_secret());
        input.extend_from_slice(part);
        let (now, later) = input.expose_secret().split_at(ready);
        let output = call(&self.unpadded(), now)?;
        self.advance(now, output.expose_secret());
        self.pending = SecretBytes::from_slice(later);
        Ok(output)
    }

    /// The last call, on what the stream holds back (with the padding, for CBC with padding).
    /// Nothing held back and nothing to pad: no call, no output. The stream is left as it was,
    /// so a caller whose output buffer was too small can ask again.
    pub fn finish<E: From<Error>>(
        &self,
        call: impl FnOnce(&CipherAlgorithm, &[u8]) -> Result<SecretBytes, E>,
    ) -> Result<SecretBytes, E> {
        self.check_counter(self.pending.len())?;
        let padded = matches!(self.alg, CipherAlgorithm::AesCbc { padding: true, .. });
        if self.pending.is_empty() && !padded {
            return Ok(SecretBytes::default());
        }
        // Incomplete blocks where the mode needs whole ones: the call's checks refuse them.
        call(&self.alg, self.pending.expose_secret())
    }

    /// The algorithm for a call on whole blocks before the end (no padding yet).
    fn unpadded(&self) -> CipherAlgorithm {
        match &self.alg {
            CipherAlgorithm::AesCbc { key_bits, iv, .. } => CipherAlgorithm::AesCbc {
                key_bits: *key_bits,
                iv: *iv,
                padding: false,
            },
            other => other.clone(),
        }
    }

    /// Moves the chaining state past `input` (whole blocks) that gave `output`.
    fn advance(&mut self, input: &[u8], output: &[u8]) {
        match &mut self.alg {
            CipherAlgorithm::AesCbc { iv, .. } => {
                // The next IV is the last ciphertext block.
                let ciphertext = match self.direction {
                    Direction::Encrypt => output,
                    Direction::Decrypt => input,
                };
                if let Some(last) = ciphertext
                    .len()
                    .checked_sub(BLOCK)
                    .and_then(|at| ciphertext.get(at..))
                    .and_then(|b| <[u8; BLOCK]>::try_from(b).ok())
                {
                    *iv = last;
                }
            }
            CipherAlgorithm::AesCtr {
                counter_block,
                counter_bits,
            } => {
                let blocks = (input.len() / BLOCK) as u128;
                self.counter_left = self.counter_left.saturating_sub(blocks);
                let mask = match *counter_bits {
                    bits @ 1..=127 => (1u128 << bits) - 1,
                    _ => u128::MAX,
                };
                let block = u128::from_be_bytes(*counter_block);
                let counter = (block & mask).wrapping_add(blocks) & mask;
                *counter_block = ((block & !mask) | counter).to_be_bytes();
            }
            _ => {}
        }
    }
}

/// How many counter values a CTR counter block has before it wraps (saturated at
/// `u128::MAX` for a 128-bit counter); not CTR: unlimited.
fn counter_values_left(alg: &CipherAlgorithm) -> u128 {
    let CipherAlgorithm::AesCtr {
        counter_block,
        counter_bits,
    } = alg
    else {
        return u128::MAX;
    };
    let mask = match *counter_bits {
        bits @ 1..=127 => (1u128 << bits) - 1,
        _ => u128::MAX,
    };
    let used = u128::from_be_bytes(*counter_block) & mask;
    (mask - used).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::LoadedKey;
    use crate::crypto::check::Checked;
    use crate::crypto::material::KeySpec;
    use crate::crypto::provider::CryptoProvider;
    use crate::crypto::rustcrypto::RustCryptoProvider;

    const SPEC: KeySpec = KeySpec::Aes { bits: 128 };

    fn key() -> std::sync::Arc<dyn LoadedKey> {
        let p = RustCryptoProvider::new();
        p.load(&p.generate(SPEC).unwrap()).unwrap()
    }

    /// Runs `input` through a stream in parts of the given sizes (cycled).
    fn streamed(
        key: &dyn LoadedKey,
        alg: &CipherAlgorithm,
        direction: Direction,
        input: &[u8],
        sizes: &[usize],
    ) -> Result<Vec<u8>, Error> {
        // Each call as the core makes it: checked, then the provider.
        let checked = Checked { spec: &SPEC, key };
        let call = |alg: &CipherAlgorithm, data: &[u8]| match direction {
            Direction::Encrypt => checked
                .encrypt(alg, data)
                .map(|c| SecretBytes::new(c.into_data_with_tag())),
            Direction::Decrypt => checked.decrypt(alg, data),
        };
        let mut stream = CipherStream::new(alg, direction).unwrap();
        let mut out = Vec::new();
        let mut rest = input;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (part, next) = rest.split_at((*size).min(rest.len()));
            let want = stream.update_len(part.len())?;
            let got = stream.update(part, call)?;
            assert_eq!(got.len(), want, "update_len");
            out.extend_from_slice(got.expose_secret());
            rest = next;
        }
        let bound = stream.finish_len()?;
        let last = stream.finish(call)?;
        assert!(last.len() <= bound, "finish_len");
        if direction == Direction::Encrypt {
            assert_eq!(last.len(), bound, "finish_len is exact when encrypting");
        }
        out.extend_from_slice(last.expose_secret());
        Ok(out)
    }

    #[test]
    fn streams_equal_one_call() {
        let key = key();
        let algs = [
            CipherAlgorithm::AesEcb,
            CipherAlgorithm::AesCbc {
                key_bits: None,
                iv: [7; 16],
                padding: false,
            },
            CipherAlgorithm::AesCbc {
                key_bits: None,
                iv: [7; 16],
                padding: true,
            },
            CipherAlgorithm::AesCtr {
                counter_block: [9; 16],
                counter_bits: 64,
            },
            // The low 32 bits about to wrap: the stream wraps them as one call does.
            CipherAlgorithm::AesCtr {
                counter_block: [
                    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xff, 0xff, 0xff, 0xfd,
                ],
                counter_bits: 32,
            },
            CipherAlgorithm::AesCtr {
                counter_block: [0xff; 16],
                counter_bits: 128,
            },
        ];
        let sizes: [&[usize]; 5] = [&[1], &[16], &[5, 27, 0, 16], &[33], &[1000]];
        for alg in &algs {
            let padded = matches!(alg, CipherAlgorithm::AesCbc { padding: true, .. });
            let streams = matches!(alg, CipherAlgorithm::AesCtr { .. });
            for len in [0usize, 1, 15, 16, 17, 32, 100, 160] {
                if !padded && !streams && len % 16 != 0 {
                    continue;
                }
                let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
                let one = key.encrypt(alg, &plain).map(|c| c.data);
                for parts in sizes {
                    let ct = streamed(&*key, alg, Direction::Encrypt, &plain, parts);
                    match &one {
                        Ok(one) => {
                            assert_eq!(ct.as_ref().ok(), Some(one), "{alg:?} {len} {parts:?}");
                        }
                        // A counter that would wrap: refused either way.
                        Err(e) => {
                            assert_eq!(ct.err().map(|e| e.code()), Some(e.code()));
                            continue;
                        }
                    }
                    let ct = ct.unwrap();
                    let back = streamed(&*key, alg, Direction::Decrypt, &ct, parts).unwrap();
                    assert_eq!(back, plain, "{alg:?} {len} {parts:?}");
                }
            }
        }
    }

    #[test]
    fn cbc_padding_holds_the_last_block_back_when_decrypting() {
        let alg = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv: [0; 16],
            padding: true,
        };
        let s = CipherStream::new(&alg, Direction::Decrypt).unwrap();
        assert_eq!(s.update_len(16).unwrap(), 0);
        assert_eq!(s.update_len(32).unwrap(), 16);
        assert_eq!(s.update_len(33).unwrap(), 32);
        let e = CipherStream::new(&alg, Direction::Encrypt).unwrap();
        assert_eq!(e.update_len(16).unwrap(), 16);
        assert_eq!(e.finish_len().unwrap(), 16, "a whole block of padding");
    }

    #[test]
    fn incomplete_blocks_are_refused_at_the_end_by_the_call() {
        let key = key();
        for (alg, direction) in [
            (CipherAlgorithm::AesEcb, Direction::Encrypt),
            (
                CipherAlgorithm::AesCbc {
                    key_bits: None,
                    iv: [0; 16],
                    padding: false,
                },
                Direction::Decrypt,
            ),
            (
                CipherAlgorithm::AesCbc {
                    key_bits: None,
                    iv: [0; 16],
                    padding: true,
                },
                Direction::Decrypt,
            ),
        ] {
            let r = streamed(&*key, &alg, direction, &[1; 20], &[7]);
            assert_eq!(
                r.err().map(|e| e.code()),
                Some("InvalidInputLength"),
                "{alg:?}"
            );
        }
        // Nothing at all to decrypt with padding: not even the padding block.
        let alg = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv: [0; 16],
            padding: true,
        };
        let r = streamed(&*key, &alg, Direction::Decrypt, &[], &[1]);
        assert_eq!(r.err().map(|e| e.code()), Some("InvalidInputLength"));
    }

    #[test]
    fn a_failed_call_leaves_the_stream_as_it_was() {
        let alg = CipherAlgorithm::AesCbc {
            key_bits: None,
            iv: [3; 16],
            padding: false,
        };
        let mut s = CipherStream::new(&alg, Direction::Encrypt).unwrap();
        s.update(&[1; 10], |_, _| -> Result<SecretBytes, Error> {
            unreachable!("no whole block yet")
        })
        .unwrap();
        let r = s.update(&[2; 10], |_, _| Err(Error::DecryptionFailed));
        assert_eq!(r.err().map(|e| e.code()), Some("DecryptionFailed"));
        assert_eq!(s.pending_len(), 10);
        assert_eq!(s.alg, alg, "the IV did not move");
    }

    #[test]
    fn gcm_and_rsa_do_not_stream() {
        let gcm = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: vec![],
            tag_len: 16,
        };
        assert!(CipherStream::new(&gcm, Direction::Encrypt).is_none());
        assert!(CipherStream::new(&CipherAlgorithm::RsaPkcs1v15, Direction::Decrypt).is_none());
    }
}
