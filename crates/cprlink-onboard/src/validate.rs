//! The checks that refuse, today, a value that would make onboarding fail weeks later.
//!
//! Owns the rules for single values (CVR with its modulus-11 check, text, dates,
//! expiry dates, public IPv4, e-mail) and for certificate evidence (CVR, OCES3
//! system/organisation, 30 days left, environment). The same rules check what a
//! state file holds when it is loaded (`state`), so a value typed by hand into
//! `onboarding.toml` is held to the flags' rules. Every function is pure: it returns
//! the reason in words (never echoing the value), and the caller decides what to do
//! with it. Nothing here touches the state file.

use std::net::{IpAddr, Ipv4Addr};

use chrono::NaiveDate;
use cprlink_cert::{Environment, Generation, Kind};

use crate::evidence::{CertificateEvidence, HandoverEvidence, VerifyVerdict};
use crate::steps::TargetEnvironment;

/// A certificate or secret needs this many days left when it is recorded: onboarding
/// takes weeks.
pub const MIN_DAYS_LEFT: i64 = 30;
/// Warn when the registered certificate or secret has fewer days left than this.
pub const WARN_DAYS_LEFT: i64 = 60;
/// `status` exits 1 when the certificate or secret expires within this many days.
pub const URGENT_DAYS_LEFT: i64 = 14;
/// The longest one-line value typed by a person (names, case numbers, ...).
pub const MAX_TEXT: usize = 200;
/// No date before this year: a typo, not a day of this process.
pub const MIN_YEAR: i32 = 2000;

/// A CVR number: exactly 8 digits (spaces and a `DK` prefix allowed for reading, e.g.
/// "DK 12 34 56 78") that pass the modulus-11 check every CVR number is issued with.
pub fn cvr(value: &str) -> Result<String, String> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact.strip_prefix("DK").unwrap_or(&compact).to_owned();
    if compact.len() != 8 || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a CVR number has exactly 8 digits".to_owned());
    }
    // Erhvervsstyrelsen: weights 2 7 6 5 4 3 2 1, the sum divisible by 11.
    let sum: u32 = compact
        .bytes()
        .zip([2, 7, 6, 5, 4, 3, 2, 1])
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    if !sum.is_multiple_of(11) {
        return Err(
            "it fails the modulus-11 check of CVR numbers: a digit is wrong or two are swapped \
             (the CVR is on virk.dk and in the certificate as organizationIdentifier NTRDK-...)"
                .to_owned(),
        );
    }
    Ok(compact)
}

/// Characters that must never reach a terminal from a value: control characters
/// (escape sequences start with one), line and paragraph separators, and the bidi
/// controls that make text display in another order than it is stored.
pub fn forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// One line of text: trimmed, 1..=200 characters, no control characters.
pub fn text(value: &str) -> Result<String, String> {
    text_up_to(value, MAX_TEXT)
}

/// One line of text of at most `max` characters.
pub fn text_up_to(value: &str, max: usize) -> Result<String, String> {
    let t = value.trim();
    if t.is_empty() {
        return Err("an empty value".to_owned());
    }
    if t.chars().any(forbidden_char) {
        return Err("one line of text without control characters".to_owned());
    }
    let n = t.chars().count();
    if n > max {
        return Err(format!("at most {max} characters (this one has {n})"));
    }
    Ok(t.to_owned())
}

/// One of `choices` (case-insensitive).
pub fn choice(value: &str, choices: &[&str]) -> Result<String, String> {
    let v = value.trim().to_ascii_lowercase();
    if choices.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(format!("one of {}", choices.join(", ")))
    }
}

/// A date `YYYY-MM-DD`, not after `today` and not before [`MIN_YEAR`].
pub fn date(value: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let parsed = date_shape(value)?;
    if parsed > today {
        return Err(format!("in the future (today is {today})"));
    }
    Ok(parsed)
}

/// The expiry date of a credential: after `today`, with at least [`MIN_DAYS_LEFT`]
/// days left (onboarding and a rotation take weeks).
pub fn expiry(value: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let parsed = date_shape(value)?;
    let days = (parsed - today).num_days();
    if days < 0 {
        return Err(format!("already expired (today is {today})"));
    }
    if days < MIN_DAYS_LEFT {
        return Err(format!(
            "only {days} days from today: at least {MIN_DAYS_LEFT} are needed, so make a new one first"
        ));
    }
    Ok(parsed)
}

/// `YYYY-MM-DD`, a real day, not before [`MIN_YEAR`] (and before 10000: four digits).
pub fn date_shape(value: &str) -> Result<NaiveDate, String> {
    let v = value.trim();
    let shaped = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let parsed = shaped
        .then(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| "a date as YYYY-MM-DD (e.g. 2026-03-01)".to_owned())?;
    if chrono::Datelike::year(&parsed) < MIN_YEAR {
        return Err(format!("before {MIN_YEAR}: a typo?"));
    }
    Ok(parsed)
}

/// A public IPv4 address for Datafordeler's allowlist. A trailing `/32` is accepted.
pub fn public_ipv4(value: &str) -> Result<Ipv4Addr, String> {
    let v = value.trim();
    let v = v.strip_suffix("/32").unwrap_or(v);
    if v.contains('/') {
        return Err("a single address (a /32), not a range".to_owned());
    }
    let ip: IpAddr = v
        .parse()
        .map_err(|_| "an IPv4 address like 203.0.113.10 (four numbers 0-255)".to_owned())?;
    let ip = match ip {
        IpAddr::V4(ip) => ip,
        // Datafordeler: "IPv6 addresses cannot be whitelisted" (reference/datafordeler.md section 3).
        IpAddr::V6(_) => {
            return Err(
                "an IPv6 address: Datafordeler whitelists public IPv4 addresses only".to_owned(),
            );
        }
    };
    if let Some(range) = non_public_range(ip) {
        return Err(format!(
            "{range}: Datafordeler whitelists public IPv4 addresses only (ask DPG for the service's fixed external address)"
        ));
    }
    Ok(ip)
}

/// The special-purpose range `ip` falls in (RFC 6890 and friends), if any.
fn non_public_range(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let in_net = |net: [u8; 4], bits: u32| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
    };
    let table: &[([u8; 4], u32, &'static str)] = &[
        ([0, 0, 0, 0], 8, "a \"this network\" address (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "a private address (10.0.0.0/8)"),
        (
            [100, 64, 0, 0],
            10,
            "a carrier-grade NAT address (100.64.0.0/10)",
        ),
        ([127, 0, 0, 0], 8, "a loopback address (127.0.0.0/8)"),
        (
            [169, 254, 0, 0],
            16,
            "a link-local address (169.254.0.0/16)",
        ),
        ([172, 16, 0, 0], 12, "a private address (172.16.0.0/12)"),
        (
            [192, 0, 0, 0],
            24,
            "an IETF protocol address (192.0.0.0/24)",
        ),
        ([192, 0, 2, 0], 24, "a documentation address (192.0.2.0/24)"),
        (
            [192, 88, 99, 0],
            24,
            "a 6to4 relay address (192.88.99.0/24)",
        ),
        ([192, 168, 0, 0], 16, "a private address (192.168.0.0/16)"),
        (
            [198, 18, 0, 0],
            15,
            "a benchmarking address (198.18.0.0/15)",
        ),
        (
            [198, 51, 100, 0],
            24,
            "a documentation address (198.51.100.0/24)",
        ),
        (
            [203, 0, 113, 0],
            24,
            "a documentation address (203.0.113.0/24)",
        ),
        ([224, 0, 0, 0], 4, "a multicast address (224.0.0.0/4)"),
        ([240, 0, 0, 0], 4, "a reserved address (240.0.0.0/4)"),
    ];
    if o == [255, 255, 255, 255] {
        return Some("the broadcast address");
    }
    table
        .iter()
        .find(|(net, bits, _)| in_net(*net, *bits))
        .map(|(_, _, what)| *what)
}

/// A plausible e-mail address (one `@`, a dot in the domain, no spaces).
pub fn email(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !v.chars().any(|c| c.is_whitespace() || forbidden_char(c))
                && v.chars().count() <= MAX_TEXT
        }
        None => false,
    };
    if ok {
        Ok(v.to_owned())
    } else {
        Err("an e-mail address like it@kommune.dk".to_owned())
    }
}

/// Why a certificate is wrong for this onboarding (empty: it is right).
///
/// The rules of `reference/certificates.md`: the authority's CVR in
/// `organizationIdentifier`, an OCES3 system/organisation certificate (not an employee
/// one, not OCES2), production vs test as the onboarding targets, and at least
/// [`MIN_DAYS_LEFT`] days left, since the process takes weeks.
pub fn certificate_problems(
    cert: &CertificateEvidence,
    authority_cvr: &str,
    environment: TargetEnvironment,
    today: NaiveDate,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(problem) = &cert.chain_problem {
        out.push(format!(
            "it does not chain to a trusted OCES3 root ({problem}); for a test PKI, pass its CA with --trust"
        ));
    }
    match cert.cvr.as_deref() {
        Some(c) if c == authority_cvr => {}
        Some(c) => out.push(format!(
            "it carries CVR {c} (organizationIdentifier NTRDK-{c}), but the authority's CVR is {authority_cvr}"
        )),
        None => out.push(format!(
            "it carries no CVR (no organizationIdentifier NTRDK-...); the authority's CVR is {authority_cvr}"
        )),
    }
    match cert.kind {
        Kind::SystemOrOrganisation => {}
        Kind::Employee => out.push(
            "it is an employee certificate (UI:DK-E): Datafordeler needs a system or organisation certificate (UI:DK-O)"
                .to_owned(),
        ),
        Kind::Unknown => out.push(
            "it is not a system or organisation certificate (no serialNumber UI:DK-O:...)".to_owned(),
        ),
    }
    match cert.generation {
        Generation::Oces3 => {}
        Generation::Oces2 => out.push(
            "it is an OCES2 certificate, retired on 31 October 2023: get an OCES3 certificate from MitID Erhverv"
                .to_owned(),
        ),
        Generation::Unknown => out.push("it is not an OCES3 certificate".to_owned()),
    }
    let wanted = match environment {
        TargetEnvironment::Production => Environment::Production,
        TargetEnvironment::Test => Environment::Test,
    };
    if cert.environment != wanted {
        let is = match cert.environment {
            Environment::Production => "a production certificate",
            Environment::Test => "a test certificate",
            Environment::Unknown => "neither a production nor a test OCES3 certificate",
        };
        out.push(format!(
            "it is {is}, but this onboarding targets the {environment} environment"
        ));
    }
    let expires = cert.not_after.date_naive();
    let days_left = (expires - today).num_days();
    if days_left < 0 {
        out.push(format!("it expired on {expires}"));
    } else if days_left < MIN_DAYS_LEFT {
        out.push(format!(
            "it expires on {expires}, in {days_left} days: onboarding takes weeks, so at least \
             {MIN_DAYS_LEFT} days are needed; renew it at MitID Erhverv first"
        ));
    }
    out
}

/// Why a .p12 must not be handed over (empty: it may). `registered_thumbprint` is the
/// certificate recorded at the service-user (or OAuth certificate) step.
pub fn handover_problems(
    p12: &HandoverEvidence,
    registered_thumbprint: Option<&str>,
    authority_cvr: &str,
    environment: TargetEnvironment,
    today: NaiveDate,
) -> Vec<String> {
    let mut out = Vec::new();
    if p12.verdict == VerifyVerdict::Fail {
        let checks = if p12.failed_checks.is_empty() {
            "see `cprlink cert verify`".to_owned()
        } else {
            p12.failed_checks.join(", ")
        };
        out.push(format!(
            "`cprlink cert verify` fails it (failed checks: {checks})"
        ));
    }
    out.extend(certificate_problems(
        &p12.certificate,
        authority_cvr,
        environment,
        today,
    ));
    match registered_thumbprint {
        Some(t) if t.eq_ignore_ascii_case(&p12.certificate.sha1_thumbprint) => {}
        Some(t) => out.push(format!(
            "its certificate (SHA-1 {}) is not the one registered at Datafordeler (SHA-1 {t})",
            p12.certificate.sha1_thumbprint
        )),
        None => out.push(
            "no certificate is recorded as registered at Datafordeler yet: record it first"
                .to_owned(),
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvr_needs_eight_digits_that_pass_modulus_11() {
        // The real CVR of the OCES3 example certificate, the sandbox's and the demo's,
        // and the made-up ones of the tests and docs.
        for good in ["19552101", "12345674", "29189846", "29189625", "29189986"] {
            assert_eq!(cvr(good).unwrap(), good);
        }
        assert_eq!(cvr("12 34 56 74").unwrap(), "12345674");
        assert_eq!(cvr("DK12345674").unwrap(), "12345674");
        for bad in ["1234567", "123456789", "1234567a", "", "١٢٣٤٥٦٧٨"] {
            assert!(cvr(bad).unwrap_err().contains("8 digits"), "{bad}");
        }
        // One digit off, two swapped: the check catches both.
        for bad in ["12345678", "19552102", "19551201"] {
            assert!(cvr(bad).unwrap_err().contains("modulus-11"), "{bad}");
        }
    }

    #[test]
    fn text_refuses_what_a_terminal_would_obey() {
        assert_eq!(text("  Ærø Kommune ").unwrap(), "Ærø Kommune");
        for bad in [
            "a\u{1b}[31mred",
            "a\u{9b}31m",
            "two\nlines",
            "tab\there",
            "bidi \u{202e}txt.exe",
            "iso\u{2066}late",
            "para\u{2029}graph",
        ] {
            assert!(text(bad).unwrap_err().contains("control"), "{bad:?}");
        }
        let long = "x".repeat(201);
        let err = text(&long).unwrap_err();
        assert!(err.contains("at most 200") && err.contains("201"), "{err}");
        assert!(!err.contains("xxxxx"), "the value is not echoed: {err}");
    }

    #[test]
    fn expiry_dates_are_in_the_future_with_room() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        assert!(expiry("2028-03-01", today).is_ok());
        assert!(expiry("2026-03-09", today).unwrap_err().contains("expired"));
        assert!(
            expiry("2026-03-20", today)
                .unwrap_err()
                .contains("only 10 days")
        );
        assert!(
            expiry("2026-3-20", today)
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
    }

    #[test]
    fn dates_are_iso_and_not_in_the_future() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        assert_eq!(date("2026-03-10", today).unwrap(), today);
        assert!(date("2026-03-11", today).unwrap_err().contains("future"));
        for bad in [
            "10-03-2026",
            "2026-3-1",
            "2026-02-30",
            "2026/03/01",
            "tomorrow",
            "+2026-03-01",
        ] {
            assert!(
                date(bad, today).unwrap_err().contains("YYYY-MM-DD"),
                "{bad}"
            );
        }
        assert!(
            date("1999-12-31", today)
                .unwrap_err()
                .contains("before 2000")
        );
        assert!(date("2000-01-01", today).is_ok());
    }

    #[test]
    fn only_public_ipv4_is_accepted() {
        assert_eq!(public_ipv4("8.8.8.8").unwrap(), Ipv4Addr::new(8, 8, 8, 8));
        assert_eq!(
            public_ipv4(" 91.100.1.2/32 ").unwrap(),
            Ipv4Addr::new(91, 100, 1, 2)
        );
        let cases = [
            ("2001:db8::1", "IPv6"),
            ("::ffff:8.8.8.8", "IPv6"),
            ("10.1.2.3", "private"),
            ("172.20.0.1", "private"),
            ("192.168.1.1", "private"),
            ("127.0.0.1", "loopback"),
            ("169.254.10.1", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.10", "documentation"),
            ("0.0.0.0", "this network"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("91.100.1.0/24", "not a range"),
            ("91.100.1", "IPv4 address like"),
            ("091.100.1.2", "IPv4 address like"),
            ("dpg.example", "IPv4 address like"),
        ];
        for (value, why) in cases {
            let err = public_ipv4(value).unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
        // Just outside the private and CGNAT ranges.
        assert!(public_ipv4("172.32.0.1").is_ok());
        assert!(public_ipv4("100.128.0.1").is_ok());
    }

    #[test]
    fn email_shape() {
        assert!(email("it@kommune.dk").is_ok());
        for bad in [
            "it",
            "it@kommune",
            "@kommune.dk",
            "it @kommune.dk",
            "a@b@c.dk",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
