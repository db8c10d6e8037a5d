//! The two hashing template functions whose exact output matters, because they name resources:
//! `uniqueString` (storage-account and registry names) and `guid` (role-assignment names).
//!
//! - `uniqueString(a, b, ...)`: the arguments joined with `-`, UTF-8, hashed with the 64-bit
//!   Murmur variant of Azure's expression engine (`Azure.Deployments.Expression`, MIT licensed:
//!   two 32-bit lanes, seed 0), and the hash's top 65 bits written as 13 characters of the RFC 4648
//!   base32 alphabet in lower case. Microsoft documents the 13 characters and the determinism
//!   (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string#uniquestring);
//!   the tests pin values ARM itself produced.
//! - `guid(a, b, ...)`: an RFC 4122 version 5 (SHA-1, name-based) UUID of the `-`-joined
//!   arguments in the namespace `11fb06fb-712d-4ddd-98c7-e71bbd588830` (the namespace of the same
//!   engine; https://learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-string#guid).

use sha1::{Digest, Sha1};

/// ARM's `uniqueString` of already-stringified arguments.
pub fn unique_string(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let hash = murmur64(joined.as_bytes());
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = hash;
    let mut out = String::with_capacity(13);
    for _ in 0..13 {
        out.push(ALPHABET[(h >> 59) as usize] as char);
        h <<= 5;
    }
    out
}

/// ARM's `guid` of already-stringified arguments, in lower-case canonical form.
pub fn guid(parts: &[&str]) -> String {
    const ARM_NAMESPACE: [u8; 16] = [
        0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd, 0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88,
        0x30,
    ];
    uuid_v5(&ARM_NAMESPACE, parts.join("-").as_bytes())
}

/// An RFC 4122 §4.3 name-based UUID with SHA-1 (version 5).
fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(namespace);
    sha.update(name);
    let digest = sha.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The engine's 64-bit Murmur variant: two interleaved 32-bit lanes over 8-byte blocks.
fn murmur64(data: &[u8]) -> u64 {
    const C1: u32 = 0x239b_961b; // 597399067
    const C2: u32 = 0xab0e_9789; // 2869860233
    const C3: u32 = 0x85eb_ca6b;
    const C4: u32 = 0xc2b2_ae35;
    let le = |s: &[u8]| {
        s.iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (8 * i)))
    };
    let mut h1: u32 = 0;
    let mut h2: u32 = 0;
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let k1 = le(&block[..4])
            .wrapping_mul(C1)
            .rotate_left(15)
            .wrapping_mul(C2);
        h1 = (h1 ^ k1)
            .rotate_left(19)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x561c_cd1b);
        let k2 = le(&block[4..])
            .wrapping_mul(C2)
            .rotate_left(17)
            .wrapping_mul(C1);
        h2 = (h2 ^ k2)
            .rotate_left(13)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x0bca_a747);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k1 = le(&tail[..tail.len().min(4)])
            .wrapping_mul(C1)
            .rotate_left(15)
            .wrapping_mul(C2);
        h1 ^= k1;
        if tail.len() > 4 {
            let k2 = le(&tail[4..])
                .wrapping_mul(C2)
                .rotate_left(17)
                .wrapping_mul(C1);
            h2 ^= k2;
        }
    }
    let len = data.len() as u32;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    let fmix = |mut h: u32| {
        h ^= h >> 16;
        h = h.wrapping_mul(C3);
        h ^= h >> 13;
        h = h.wrapping_mul(C4);
        h ^ (h >> 16)
    };
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (u64::from(h2) << 32) | u64::from(h1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_string_matches_values_arm_produced() {
        // Outputs of ARM/Bicep deployments published with public reimplementations of the function.
        assert_eq!(unique_string(&["test"]), "rbgf3xv4ufgzg");
        assert_eq!(unique_string(&["hello", "world"]), "a7wkljktk6wne");
        assert_eq!(unique_string(&["abc"]), "cgtzqvhu4i23s");
        assert_eq!(
            unique_string(&[
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg"
            ]),
            "bmg7c6xu4tw46"
        );
        assert_eq!(unique_string(&["foo", "bar", "baz"]), "xzi4ioaxtmth4");
        assert_eq!(unique_string(&["x"]).len(), 13);
    }

    #[test]
    fn uuid_v5_is_rfc_4122() {
        // RFC 4122's DNS namespace and a published v5 vector.
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid_v5(&dns, b"www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
        let g = guid(&["a", "b"]);
        assert_eq!(&g[14..15], "5");
        assert_eq!(g, guid(&["a-b"]));
    }
}
