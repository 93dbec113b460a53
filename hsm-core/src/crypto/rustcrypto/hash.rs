//! SHA-1 and SHA-2 digests, one-shot and streaming.

use sha2::Digest;

use super::with_hash;
use crate::crypto::alg::HashAlg;
use crate::crypto::provider::Hasher;

/// A streaming digest over any RustCrypto `Digest`.
struct DigestHasher<D>(D);

impl<D: Digest + Send> Hasher for DigestHasher<D> {
    fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.0, data);
    }

    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

/// A streaming hasher for `alg`.
pub fn hasher(alg: HashAlg) -> Box<dyn Hasher> {
    with_hash!(alg, D => Box::new(DigestHasher(D::new())))
}

/// The digest of `data` with `alg` (for tests: the core streams through [`hasher`]).
#[cfg(test)]
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    with_hash!(alg, D => D::digest(data).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [HashAlg; 5] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    #[test]
    fn known_answers_for_abc() {
        let expect = [
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ];
        for (alg, hex_digest) in ALL.into_iter().zip(expect) {
            let one_shot = digest(alg, b"abc");
            assert_eq!(hex::encode(&one_shot), hex_digest, "{alg}");
            assert_eq!(one_shot.len(), alg.output_len());
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for alg in ALL {
            let mut h = hasher(alg);
            for chunk in data.chunks(77) {
                h.update(chunk);
            }
            h.update(&[]);
            assert_eq!(h.finish(), digest(alg, &data), "{alg}");
        }
    }
}
