//! CPR numbers as the sandbox needs them: shape checks, the century rule, modulus 11
//! and masking for logs.
//!
//! Owns the arithmetic of the number itself; which numbers exist is the population's
//! business. Nothing here logs or stores a number.

use chrono::NaiveDate;

/// The modulus-11 weights of the ten digits (CPR-kontoret, "Personnummeret i CPR").
const WEIGHTS: [u32; 10] = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];

/// `DDMMYY-xxxx`: the only form a CPR number may take in a log or an error message.
/// Anything that is not ten digits is masked entirely.
pub fn mask(cpr: &str) -> String {
    if cpr.len() == 10 && cpr.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-xxxx", &cpr[..6])
    } else {
        "xxxxxx-xxxx".to_owned()
    }
}

/// The ten digits of a number, if it has exactly ten ASCII digits.
pub fn digits(cpr: &str) -> Option<[u8; 10]> {
    let b = cpr.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = [0u8; 10];
    for (o, c) in out.iter_mut().zip(b) {
        *o = c - b'0';
    }
    Some(out)
}

/// The check digit that makes the first nine digits pass modulus 11, if one exists
/// (for about one prefix in eleven none does).
pub fn check_digit(first9: &[u8]) -> Option<u8> {
    let sum: u32 = first9
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match (11 - sum % 11) % 11 {
        10 => None,
        c => Some(c as u8),
    }
}

/// Whether all ten digits pass modulus 11. Numbers that do not have been issued
/// since 2007 (CPR-kontoret), so a client must never require it.
pub fn passes_modulus_11(cpr: &str) -> bool {
    digits(cpr).is_some_and(|d| {
        d.iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(*d) * w)
            .sum::<u32>()
            % 11
            == 0
    })
}

/// The date of birth a number encodes (day, month, two-digit year, century from the
/// seventh digit), or `None` if it is not ten digits or not a real date.
///
/// `cprlink-lookup` has its own copy of this rule, on purpose: the sandbox is the
/// independent check of the client, so it must not share the client's code (a bug in a
/// shared rule would be agreed on by both sides and never show).
pub fn birth_date(cpr: &str) -> Option<NaiveDate> {
    let d = digits(cpr)?;
    let day = u32::from(d[0] * 10 + d[1]);
    let month = u32::from(d[2] * 10 + d[3]);
    let yy = i32::from(d[4] * 10 + d[5]);
    let century = match (d[6], yy) {
        (0..=3, _) => 1900,
        (4 | 9, 0..=36) => 2000,
        (4 | 9, _) => 1900,
        (5..=8, 0..=57) => 2000,
        (5..=8, _) => 1800,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(century + yy, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_checks() {
        assert_eq!(mask("0712614382"), "071261-xxxx");
        assert_eq!(mask("07126"), "xxxxxx-xxxx");
        assert_eq!(mask("071261-4382"), "xxxxxx-xxxx");
        // 010101123: weighted sum 31, so the check digit is 2.
        assert_eq!(check_digit(&[0, 1, 0, 1, 0, 1, 1, 2, 3]), Some(2));
        assert!(passes_modulus_11("0101011232"));
        assert!(!passes_modulus_11("0101011233"));
        assert_eq!(
            birth_date("0712614382"),
            NaiveDate::from_ymd_opt(1961, 12, 7)
        );
        assert_eq!(
            birth_date("0101254000"),
            NaiveDate::from_ymd_opt(2025, 1, 1)
        );
        assert_eq!(birth_date("3102611234"), None);
        assert_eq!(birth_date("0101x11234"), None);
    }
}
