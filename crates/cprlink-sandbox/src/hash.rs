//! Small, fixed, process-independent hashing.
//!
//! Owns the arithmetic everything deterministic in the sandbox rests on: the population
//! (derived from `(seed, i)`), the not-found flavour of a number and the fault decisions.
//! It must never use `std`'s randomly keyed hashers: two sandboxes with the same seed
//! have to serve identical bytes, in any process, on any machine. This is the one home
//! of splitmix64 in the sandbox; the random streams of `rng` are built on it.

/// splitmix64's increment (2^64 divided by the golden ratio).
pub(crate) const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 step and finaliser: a cheap, well-mixing bijection on `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes two words into one.
pub(crate) fn mix2(a: u64, b: u64) -> u64 {
    mix(mix(a) ^ b.rotate_left(23))
}

/// FNV-1a over bytes, finished with [`mix`]: a stable hash of request content.
pub(crate) fn bytes(data: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// A value in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    // 53 bits fit an f64 mantissa exactly.
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_across_runs() {
        // Fixed values: if these change, every seed's population changes.
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(bytes(b""), mix(0xCBF2_9CE4_8422_2325));
        let u = unit(u64::MAX);
        assert!((0.0..1.0).contains(&u));
    }
}
