//! Reading how a PKCS#12 file is protected, before anything is decrypted.
//!
//! Owns the pre-scan of the PFX structure: encryption algorithms, MAC digest and
//! iteration counts. Iteration counts are read before anything is authenticated, so a
//! tiny crafted file could keep a reader busy for hours; the scan lets `p12` refuse
//! absurd counts first.

/// OIDs of the PKCS#12 RC2 PBE schemes that need OpenSSL's legacy provider.
const RC2_OIDS: [&[u8]; 2] = [
    // pbeWithSHAAnd128BitRC2-CBC 1.2.840.113549.1.12.1.5
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x05],
    // pbeWithSHAAnd40BitRC2-CBC 1.2.840.113549.1.12.1.6
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x06],
];

/// Whether the file names an RC2 scheme anywhere in its (unencrypted) structure.
pub fn uses_legacy_algorithms(der: &[u8]) -> bool {
    RC2_OIDS.iter().any(|oid| {
        let mut needle = vec![0x06, oid.len() as u8];
        needle.extend_from_slice(oid);
        der.windows(needle.len()).any(|w| w == needle.as_slice())
    })
}
