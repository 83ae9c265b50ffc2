//! Challenge-response authentication with HMAC-SHA256.
//!
//! The serving side sends a fresh random nonce per connection; the client
//! proves it knows the shared secret by returning
//! `HMAC-SHA256(secret, "memwire.auth.v1" ‖ nonce ‖ hello)`, where `hello` is
//! the exact body of the client's hello frame. A proof is bound to one nonce,
//! so a recorded proof is useless on any other connection, and to the hello
//! (protocol version, client name, tenant, frame limit), so it cannot be
//! moved to another identity. The comparison is constant-time.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The length of a challenge nonce.
pub const NONCE_LEN: usize = 32;
/// The length of a proof.
pub const PROOF_LEN: usize = 32;
/// The domain string that starts every proof's input.
pub const AUTH_DOMAIN: &[u8] = b"memwire.auth.v1";

/// A server's challenge: random bytes, fresh for every connection.
pub type Nonce = [u8; NONCE_LEN];
/// A client's answer to a challenge.
pub type Proof = [u8; PROOF_LEN];

/// HMAC's key rule (RFC 2104): a key longer than the hash's block is hashed
/// first, a shorter one is padded with zeros. Done here so that keying
/// cannot fail.
fn block_key(secret: &[u8]) -> [u8; 64] {
    let mut key = [0u8; 64];
    let digest;
    let src: &[u8] = if secret.len() > key.len() {
        digest = Sha256::digest(secret);
        &digest
    } else {
        secret
    };
    if let Some(dst) = key.get_mut(..src.len()) {
        dst.copy_from_slice(src);
    }
    key
}

fn mac(secret: &[u8], nonce: &Nonce, hello: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block_key(secret).into());
    mac.update(AUTH_DOMAIN);
    mac.update(nonce);
    mac.update(hello);
    mac
}

/// The proof for `nonce` and the hello frame body `hello`, by a client
/// holding `secret`.
pub fn proof(secret: &[u8], nonce: &Nonce, hello: &[u8]) -> Proof {
    mac(secret, nonce, hello).finalize().into_bytes().into()
}

/// Whether `proof` answers `nonce` for the hello body `hello` with `secret`,
/// compared in constant time.
pub fn verify(secret: &[u8], nonce: &Nonce, hello: &[u8], proof: &[u8]) -> bool {
    let expected = self::proof(secret, nonce, hello);
    expected.ct_eq(proof).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_and_binding() {
        let nonce = [7u8; NONCE_LEN];
        let hello = b"\x00\x01\x80\x02\x03cli\x04demo";
        let p = proof(b"demo-secret", &nonce, hello);
        // Computed apart from this crate, with Python: hmac.new(b"demo-secret",
        //   b"memwire.auth.v1" + bytes([7])*32 + b"\x00\x01\x80\x02\x03cli\x04demo",
        //   "sha256").digest()
        let expected: Proof = [
            0xfc, 0x85, 0xe3, 0x3f, 0xff, 0x53, 0x25, 0xe3, 0xc6, 0x4b, 0x89, 0xad, 0xd6, 0xb1,
            0x46, 0x52, 0x85, 0x2f, 0x8d, 0x48, 0x58, 0x96, 0xb3, 0x47, 0xda, 0x1c, 0xcc, 0x71,
            0x92, 0x8f, 0x5b, 0xdb,
        ];
        assert_eq!(p, expected);
        // Long secrets are hashed, as HMAC prescribes. The same in Python,
        // with the key bytes([9])*100.
        let long = [9u8; 100];
        let python: Proof = [
            0x0c, 0xae, 0x60, 0x89, 0x36, 0x13, 0x5a, 0xbf, 0xdd, 0xfd, 0x75, 0x42, 0x3f, 0xab,
            0x38, 0x1f, 0x02, 0x9c, 0x8a, 0x80, 0x03, 0x56, 0x27, 0x8e, 0xd9, 0xe1, 0x6f, 0xb5,
            0xeb, 0x15, 0x33, 0x85,
        ];
        assert_eq!(proof(&long, &nonce, hello), python);
        let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&long).unwrap();
        reference.update(AUTH_DOMAIN);
        reference.update(&nonce);
        reference.update(hello);
        let want: Proof = reference.finalize().into_bytes().into();
        assert_eq!(proof(&long, &nonce, hello), want);
        assert!(verify(b"demo-secret", &nonce, hello, &p));
        assert!(!verify(b"demo-secreT", &nonce, hello, &p));
        assert!(!verify(b"demo-secret", &[8; NONCE_LEN], hello, &p));
        assert!(!verify(
            b"demo-secret",
            &nonce,
            b"\x00\x01\x80\x02\x03cl\x05idemo",
            &p
        ));
        assert!(!verify(b"demo-secret", &nonce, hello, &p[..31]));
    }

    /// RFC 4231, test case 6: a key longer than the block, hashed first by
    /// [`block_key`].
    #[test]
    fn long_key_follows_rfc_4231() {
        let key = [0xaa; 131];
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&block_key(&key).into());
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        let expected: [u8; 32] = [
            0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5,
            0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28, 0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f,
            0x0e, 0xe3, 0x7f, 0x54,
        ];
        assert_eq!(<[u8; 32]>::from(mac.finalize().into_bytes()), expected);
    }
}
