//! CPR numbers: validation before anything is sent, and masking for everything that
//! is not the user's own output.
//!
//! Owns the accepted spellings (`DDMMYYSSSS`, `DDMMYY-SSSS`) and the date check. It must
//! not apply the modulus-11 rule: CPR has issued numbers without it since 2007
//! (datafordeler.md section 4). A [`Cpr`] never prints itself unmasked through `Debug`.

use std::fmt;

/// A valid CPR number, stored as its ten ASCII digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpr([u8; 10]);

/// Why a CPR number was refused. Carries no digits of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCpr {
    #[error("empty")]
    Empty,
    #[error("not 10 digits (DDMMYYSSSS or DDMMYY-SSSS)")]
    Shape,
    #[error("the first six digits are not a date (day {day:02}, month {month:02})")]
    NotADate { day: u8, month: u8 },
}

impl Cpr {
    /// Parses `DDMMYYSSSS` or `DDMMYY-SSSS` (surrounding whitespace ignored).
    pub fn parse(input: &str) -> Result<Cpr, InvalidCpr> {
        let s = input.trim();
        if s.is_empty() {
            return Err(InvalidCpr::Empty);
        }
        let b = s.as_bytes();
        let mut digits = [0u8; 10];
        match b.len() {
            10 => digits.copy_from_slice(b),
            11 if b[6] == b'-' => {
                digits[..6].copy_from_slice(&b[..6]);
                digits[6..].copy_from_slice(&b[7..]);
            }
            _ => return Err(InvalidCpr::Shape),
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(InvalidCpr::Shape);
        }
        let num = |i: usize| (digits[i] - b'0') * 10 + (digits[i + 1] - b'0');
        let (day, month, yy) = (num(0), num(2), num(4));
        let year = full_year(yy, digits[6] - b'0');
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(InvalidCpr::NotADate { day, month });
        }
        Ok(Cpr(digits))
    }

    /// The ten digits, for requests and for stdout records.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// `DDMMYY-xxxx`: the form for logs, stderr and audit trails.
    pub fn masked(&self) -> String {
        let mut s = String::with_capacity(11);
        s.push_str(&self.as_str()[..6]);
        s.push_str("-xxxx");
        s
    }
}

impl fmt::Debug for Cpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpr({})", self.masked())
    }
}

/// Masks anything a user typed where a CPR number was expected, valid or not, for
/// messages: the first six characters (a date at most) and `-xxxx`.
pub fn mask_input(input: &str) -> String {
    let s = input.trim();
    let head: String = s.chars().take(6).collect();
    if s.chars().count() <= 6 {
        // Too short to be personal data; still never echo more than the head.
        return format!("{head:?}");
    }
    format!("{head}-xxxx")
}

/// The first CPR number written in free text (ten digits, or six, `-`, four, standing
/// alone among digits, with a real date): for refusing text that would carry one into
/// a place that keeps numbers only masked, such as the audit trail's purpose.
pub fn find_in(text: &str) -> Option<Cpr> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let run_end = |from: usize| {
            (from..b.len())
                .find(|&k| !b[k].is_ascii_digit())
                .unwrap_or(b.len())
        };
        let j = run_end(i);
        let candidate = match j - i {
            10 => Some(&text[i..j]),
            6 if b.get(j) == Some(&b'-') && run_end(j + 1) == j + 5 => Some(&text[i..j + 5]),
            _ => None,
        };
        if let Some(c) = candidate.and_then(|c| Cpr::parse(c).ok()) {
            return Some(c);
        }
        i = j;
    }
    None
}

/// The century rule of the CPR office: the 7th digit and the two-digit year give the
/// birth year. Only needed here to know whether 29 February exists.
///
/// `cprlink-sandbox` keeps its own copy of this rule on purpose: the sandbox checks
/// the client independently, so a mistake here cannot be mirrored there.
fn full_year(yy: u8, seventh: u8) -> u32 {
    let yy = u32::from(yy);
    let century = match seventh {
        0..=3 => 1900,
        4 | 9 => {
            if yy <= 36 {
                2000
            } else {
                1900
            }
        }
        _ => {
            if yy <= 57 {
                2000
            } else {
                1800
            }
        }
    };
    century + yy
}

fn days_in_month(year: u32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            let leap =
                (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
            if leap { 29 } else { 28 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_spellings_and_no_modulus_11() {
        let a = Cpr::parse("0712614382").unwrap();
        let b = Cpr::parse(" 071261-4382 ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "0712614382");
        // 0101011235 fails modulus 11 but is a valid CPR number since 2007.
        assert!(Cpr::parse("0101011235").is_ok());
    }

    #[test]
    fn rejects_shapes_and_impossible_dates() {
        for bad in [
            "",
            "   ",
            "123",
            "07126143821",
            "0712-614382",
            "071261+4382",
            "07126I4382",
            "071261 4382",
        ] {
            assert!(Cpr::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Cpr::parse("3213011234"),
            Err(InvalidCpr::NotADate { day: 32, month: 13 })
        );
        assert!(Cpr::parse("0013011234").is_err());
        assert!(Cpr::parse("3104011234").is_err(), "31 April");
        assert!(Cpr::parse("0100011234").is_err(), "month 0");
    }

    #[test]
    fn leap_days_follow_the_century_rule() {
        // 29 Feb 2000 (7th digit 4, year 00 -> 2000: leap).
        assert!(Cpr::parse("2902004000").is_ok());
        // 29 Feb 1900 (7th digit 0 -> 1900: not leap).
        assert!(Cpr::parse("2902000000").is_err());
        // 29 Feb 1996 and 29 Feb 1997.
        assert!(Cpr::parse("2902961234").is_ok());
        assert!(Cpr::parse("2902971234").is_err());
        // 7th digit 5, year 58 -> 1858 (not leap); year 56 -> 2056 (leap).
        assert!(Cpr::parse("2902585000").is_err());
        assert!(Cpr::parse("2902565000").is_ok());
    }

    #[test]
    fn masking_never_shows_the_sequence_number() {
        let c = Cpr::parse("0712614382").unwrap();
        assert_eq!(c.masked(), "071261-xxxx");
        assert_eq!(format!("{c:?}"), "Cpr(071261-xxxx)");
        assert_eq!(mask_input("0712614382"), "071261-xxxx");
        assert_eq!(mask_input("3213019999"), "321301-xxxx");
        assert_eq!(mask_input("abc"), "\"abc\"");
        assert!(!mask_input("071261-4382").contains("4382"));
    }

    #[test]
    fn numbers_are_found_in_free_text() {
        assert_eq!(
            find_in("letter to 0712614382 today").map(|c| c.masked()),
            Some("071261-xxxx".to_owned())
        );
        assert!(find_in("brev til 071261-4382.").is_some());
        assert!(find_in("sag 2024-0001, 12 breve").is_none());
        // Not a date, or part of a longer number: not a CPR number.
        assert!(find_in("faktura 3213011234").is_none());
        assert!(find_in("id 107126143820").is_none());
        assert!(find_in("").is_none());
    }
}
