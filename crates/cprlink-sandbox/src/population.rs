//! The deterministic synthetic population: person `i` is a pure function of `(seed, i)`.
//!
//! Owns who exists and what CPR says about them. Nothing is stored per person: the CPR
//! number of person `i` comes from a keyed permutation (a Feistel network with cycle
//! walking) of "slots" (a birth date and a serial number), and the inverse permutation
//! turns a number back into `i`, so a population of 1,000,000 costs a few words of
//! memory. Every number is generated here, never copied from anywhere: they are
//! synthetic, and only look valid (a real date of birth, the century rule of the seventh
//! digit, most of them passing modulus 11 and some not, as issued since 2007).
//!
//! The hard cases of `reference/datafordeler.md` occur at fixed rates: middle names
//! absent / `null` / `""`, name history in either order, a `rettet` record, historic
//! CPR numbers, protection in force / until a future date / ended, protections that do
//! not hide the name, deceased and emigrated persons, newborns with `"fornavne": ""`,
//! a name known only by its addressing name, abbreviated addressing names, Danish
//! letters, accents and hyphens. [`Case`] names them and [`Population::example`] finds
//! one. This module renders nothing; `rest.rs` and `graphql.rs` do.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::cpr;
use crate::hash::{self, Rng};
use crate::names;

/// The largest population the sandbox serves.
pub const MAX_PERSONS: u32 = 1_000_000;

/// Serial-number slots per birth date: 400 whose check digit passes modulus 11 (where
/// one exists) and 40 that deliberately do not.
const MOD11_SLOTS: u64 = 400;
const SLOTS_PER_DAY: u64 = 440;
const ROUNDS: usize = 6;

/// The population's data snapshot is from this date: births up to it, ended
/// protections before it, "future" protection ends well after it (2035 or later), so
/// `name_protected` in `persons.csv` holds for any clock between mid-2026 and 2035.
pub fn reference_date() -> NaiveDate {
    ymd(2026, 7, 1)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

fn first_birth() -> NaiveDate {
    ymd(1920, 1, 1)
}

fn last_birth() -> NaiveDate {
    ymd(2026, 6, 30)
}

/// A text field as CPR delivers it: the key may be missing, `null`, or a string
/// (possibly `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Absent,
    Null,
    Value(String),
}

impl Text {
    /// The value, with absent and `null` read as `""`.
    pub fn as_str(&self) -> &str {
        match self {
            Text::Value(s) => s,
            Text::Absent | Text::Null => "",
        }
    }

    fn value(s: impl Into<String>) -> Self {
        Text::Value(s.into())
    }
}

/// A point in time, rendered as CPR does: `1961-12-07T12:00:00.000000+01:00` (six
/// fraction digits, Danish offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub NaiveDateTime);

impl Timestamp {
    fn at(date: NaiveDate, h: u32, m: u32) -> Self {
        Timestamp(date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)))
    }
}

impl Timestamp {
    /// The 32 ASCII bytes of the CPR form, without an allocation (hot path).
    pub fn bytes(&self) -> [u8; 32] {
        let t = self.0;
        let mut b = *b"0000-00-00T00:00:00.000000+01:00";
        let put = |b: &mut [u8; 32], at: usize, v: u32, width: usize| {
            let mut v = v;
            for k in (0..width).rev() {
                b[at + k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut b, 0, t.year().unsigned_abs(), 4);
        put(&mut b, 5, t.month(), 2);
        put(&mut b, 8, t.day(), 2);
        put(&mut b, 11, t.hour(), 2);
        put(&mut b, 14, t.minute(), 2);
        put(&mut b, 17, t.second(), 2);
        if danish_summer_time(t) {
            b[28] = b'2';
        }
        b
    }

    /// Appends the timestamp as a JSON string.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(&self.bytes());
        out.push(b'"');
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes are ASCII digits and punctuation.
        f.write_str(std::str::from_utf8(&self.bytes()).unwrap_or_default())
    }
}

/// Danish summer time: since 1980, from the last Sunday of March to the last Sunday of
/// September (until 1995) or October (from 1996), switching at 02:00/03:00 local time.
fn danish_summer_time(t: NaiveDateTime) -> bool {
    let y = t.year();
    if y < 1980 {
        return false;
    }
    let month = t.month();
    let end_month = if y >= 1996 { 10 } else { 9 };
    if !(3..=end_month).contains(&month) {
        return false;
    }
    // The last Sunday of a month with 30 or 31 days.
    let last_sunday = |m: u32, last_day: u32| {
        let d = ymd(y, m, last_day);
        last_day - d.weekday().num_days_from_sunday()
    };
    let start = last_sunday(3, 31);
    let end = last_sunday(end_month, if end_month == 10 { 31 } else { 30 });
    let (day, hour) = (t.day(), t.hour());
    match month {
        3 => day > start || (day == start && hour >= 2),
        m if m == end_month => day < end || (day == end && hour < 3),
        _ => true,
    }
}

/// Record status of a name or number record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    Aktuel,
    Historisk,
    Rettet,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Aktuel => "aktuel",
            RecordStatus::Historisk => "historisk",
            RecordStatus::Rettet => "rettet",
        }
    }
}

/// One `Navn` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Navn {
    pub fornavne: Text,
    pub mellemnavn: Text,
    pub efternavn: Text,
    pub adresseringsnavn: Text,
    pub status: RecordStatus,
    pub virkning_fra: Timestamp,
    pub virkning_til: Option<Timestamp>,
}

/// One `Personnummer` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personnummer {
    pub personnummer: String,
    pub status: RecordStatus,
    pub virkning_fra: Timestamp,
    pub virkning_til: Option<Timestamp>,
}

/// The protection that hides name and address from companies (authorities still get
/// the name): the only `beskyttelsestype` that makes `name_protected` true.
pub const NAME_AND_ADDRESS: &str = "navne_og_adresse";

/// One `Beskyttelse` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beskyttelse {
    pub beskyttelsestype: &'static str,
    pub virkning_fra: Timestamp,
    pub virkning_til: Option<Timestamp>,
}

impl Beskyttelse {
    /// In force at `at`: started, and no end or an end after `at` (datafordeler.md 1.1).
    pub fn in_force_at(&self, at: NaiveDateTime) -> bool {
        self.virkning_fra.0 <= at && self.virkning_til.is_none_or(|end| end.0 > at)
    }
}

/// Address codes (REST only): a field a client must ignore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub kommunekode: String,
    pub vejkode: String,
    pub husnummer: String,
}

/// Everything CPR says about one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub index: u32,
    pub id: String,
    pub cpr: String,
    pub foedselsdato: Timestamp,
    /// `mand` or `kvinde` (from the parity of the last digit).
    pub koen: &'static str,
    /// Person status as CPR says it (`bopael_i_danmark`, `doed`, `udrejst`, ...).
    pub status: &'static str,
    pub statusdato: Timestamp,
    pub personnumre: Vec<Personnummer>,
    pub navne: Vec<Navn>,
    pub beskyttelser: Vec<Beskyttelse>,
    /// With no protection, REST leaves `Beskyttelser` out (true) or sends `[]` (false).
    pub omit_empty_beskyttelser: bool,
    pub address: Option<Address>,
}

impl Person {
    /// The `aktuel` name record, if any.
    pub fn current_name(&self) -> Option<&Navn> {
        self.navne.iter().find(|n| n.status == RecordStatus::Aktuel)
    }

    /// The display name by the rule of datafordeler.md 1.2: the current name's
    /// non-empty parts joined by one space, else its addressing name.
    pub fn display_name(&self) -> String {
        let Some(n) = self.current_name() else {
            return String::new();
        };
        let parts: Vec<&str> = [&n.fornavne, &n.mellemnavn, &n.efternavn]
            .iter()
            .map(|t| t.as_str())
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            n.adresseringsnavn.as_str().to_owned()
        } else {
            parts.join(" ")
        }
    }

    /// Whether a `navne_og_adresse` protection is in force at `at`.
    pub fn name_protected_at(&self, at: NaiveDateTime) -> bool {
        self.beskyttelser
            .iter()
            .any(|b| b.beskyttelsestype == NAME_AND_ADDRESS && b.in_force_at(at))
    }

    /// The answer a correct client gives (the `persons.csv` row), judged at
    /// [`reference_date`].
    pub fn expected(&self) -> Expected {
        Expected {
            cpr: self.cpr.clone(),
            name: self.display_name(),
            name_protected: self.name_protected_at(Timestamp::at(reference_date(), 0, 0).0),
            person_status: self.status,
        }
    }
}

/// What a correct client reports for a person (the columns of `persons.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub cpr: String,
    pub name: String,
    pub name_protected: bool,
    pub person_status: &'static str,
}

/// The hard cases, for tests and demos that need "a person who ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `mellemnavn` key missing.
    MiddleNameAbsent,
    /// `"mellemnavn": null`.
    MiddleNameNull,
    /// `"mellemnavn": ""`.
    MiddleNameEmpty,
    /// A real middle name.
    MiddleNamePresent,
    /// A newborn with `"fornavne": ""`.
    NewbornWithoutFirstName,
    /// No name parts at all: the display name is the addressing name.
    AddressingNameOnly,
    /// An addressing name abbreviated to fit 34 characters.
    AbbreviatedAddressingName,
    /// A `historisk` name before the current one in the list.
    HistoricNameFirst,
    /// A `historisk` name after the current one in the list.
    HistoricNameLast,
    /// A `rettet` name record without an end date (pick by status, not by dates).
    CorrectedName,
    /// A `historisk` CPR number next to the current one.
    PersonnummerHistory,
    /// `navne_og_adresse` without an end.
    ProtectedInForce,
    /// `navne_og_adresse` ending in the future.
    ProtectedUntilFuture,
    /// `navne_og_adresse` that ended: not protected.
    ProtectionEnded,
    /// Only protections that do not count (`lokal_vejviser`, `markedsfoering`, ...).
    OtherProtectionOnly,
    /// Status `doed`.
    Deceased,
    /// Status `udrejst`.
    Emigrated,
    /// æ, ø or å in the display name.
    DanishLetters,
    /// An accented letter (é, ë, ó, ...) in the display name.
    Accent,
    /// A hyphen in the display name.
    Hyphen,
    /// A CPR number that fails modulus 11 (issued since 2007).
    WithoutModulus11,
}

impl Case {
    pub const ALL: [Case; 21] = [
        Case::MiddleNameAbsent,
        Case::MiddleNameNull,
        Case::MiddleNameEmpty,
        Case::MiddleNamePresent,
        Case::NewbornWithoutFirstName,
        Case::AddressingNameOnly,
        Case::AbbreviatedAddressingName,
        Case::HistoricNameFirst,
        Case::HistoricNameLast,
        Case::CorrectedName,
        Case::PersonnummerHistory,
        Case::ProtectedInForce,
        Case::ProtectedUntilFuture,
        Case::ProtectionEnded,
        Case::OtherProtectionOnly,
        Case::Deceased,
        Case::Emigrated,
        Case::DanishLetters,
        Case::Accent,
        Case::Hyphen,
        Case::WithoutModulus11,
    ];

    /// Whether `p` is an instance of this case.
    pub fn matches(self, p: &Person) -> bool {
        let cur = p.current_name();
        let at = Timestamp::at(reference_date(), 0, 0).0;
        let nao = |f: &dyn Fn(&Beskyttelse) -> bool| {
            p.beskyttelser
                .iter()
                .any(|b| b.beskyttelsestype == NAME_AND_ADDRESS && f(b))
        };
        let name = p.display_name();
        let historic_pos = p
            .navne
            .iter()
            .position(|n| n.status == RecordStatus::Historisk);
        let current_pos = p
            .navne
            .iter()
            .position(|n| n.status == RecordStatus::Aktuel);
        match self {
            Case::MiddleNameAbsent => cur.is_some_and(|n| n.mellemnavn == Text::Absent),
            Case::MiddleNameNull => cur.is_some_and(|n| n.mellemnavn == Text::Null),
            Case::MiddleNameEmpty => {
                cur.is_some_and(|n| n.mellemnavn == Text::Value(String::new()))
            }
            Case::MiddleNamePresent => cur.is_some_and(|n| !n.mellemnavn.as_str().is_empty()),
            Case::NewbornWithoutFirstName => {
                cur.is_some_and(|n| n.fornavne == Text::Value(String::new()))
                    && !cur.is_some_and(|n| n.efternavn.as_str().is_empty())
            }
            Case::AddressingNameOnly => cur.is_some_and(|n| {
                n.fornavne.as_str().is_empty()
                    && n.mellemnavn.as_str().is_empty()
                    && n.efternavn.as_str().is_empty()
                    && !n.adresseringsnavn.as_str().is_empty()
            }),
            Case::AbbreviatedAddressingName => cur.is_some_and(|n| {
                let given: Vec<&str> = [n.fornavne.as_str(), n.mellemnavn.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect();
                let full = format!("{},{}", n.efternavn.as_str(), given.join(" "));
                !n.efternavn.as_str().is_empty()
                    && !n.adresseringsnavn.as_str().is_empty()
                    && n.adresseringsnavn.as_str() != full
            }),
            Case::HistoricNameFirst => {
                matches!((historic_pos, current_pos), (Some(h), Some(c)) if h < c)
            }
            Case::HistoricNameLast => {
                matches!((historic_pos, current_pos), (Some(h), Some(c)) if h > c)
            }
            Case::CorrectedName => p.navne.iter().any(|n| n.status == RecordStatus::Rettet),
            Case::PersonnummerHistory => p.personnumre.len() > 1,
            Case::ProtectedInForce => nao(&|b| b.virkning_til.is_none()),
            Case::ProtectedUntilFuture => nao(&|b| b.virkning_til.is_some() && b.in_force_at(at)),
            Case::ProtectionEnded => nao(&|b| !b.in_force_at(at)) && !p.name_protected_at(at),
            Case::OtherProtectionOnly => {
                !p.beskyttelser.is_empty()
                    && p.beskyttelser
                        .iter()
                        .all(|b| b.beskyttelsestype != NAME_AND_ADDRESS)
            }
            Case::Deceased => p.status == "doed",
            Case::Emigrated => p.status == "udrejst",
            Case::DanishLetters => name.chars().any(|c| "æøåÆØÅ".contains(c)),
            Case::Accent => name.chars().any(|c| "éëóüÉÖ".contains(c)),
            Case::Hyphen => name.contains('-'),
            Case::WithoutModulus11 => !cpr::passes_modulus_11(&p.cpr),
        }
    }
}

/// The population: `persons` people derived from `seed`.
#[derive(Debug, Clone)]
pub struct Population {
    seed: u64,
    len: u32,
    /// Number of birth dates.
    days: u64,
    /// Number of slots (`days * SLOTS_PER_DAY`): the permutation's domain.
    domain: u64,
    half_bits: u32,
    keys: [u64; ROUNDS],
}

impl Population {
    /// The population of `persons` people (at most [`MAX_PERSONS`]) for `seed`.
    pub fn new(persons: u32, seed: u64) -> Self {
        let len = persons.min(MAX_PERSONS);
        let days = (last_birth() - first_birth()).num_days() as u64 + 1;
        let domain = days * SLOTS_PER_DAY;
        let mut half_bits = 1;
        while (1u64 << (2 * half_bits)) < domain {
            half_bits += 1;
        }
        let mut keys = [0u64; ROUNDS];
        for (k, key) in keys.iter_mut().enumerate() {
            *key = hash::mix2(seed ^ 0x005E_ED0F_CE11, k as u64);
        }
        Population {
            seed,
            len,
            days,
            domain,
            half_bits,
            keys,
        }
    }

    /// Number of persons.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current CPR number of person `i` (cheap: no names are made).
    pub fn cpr(&self, i: u32) -> String {
        self.slot_cpr(self.permute(u64::from(i)))
    }

    /// The index of the person whose current CPR number is `cpr`. Historic numbers
    /// and numbers outside the population give `None`.
    pub fn find(&self, cpr: &str) -> Option<u32> {
        let slot = self.slot_of(cpr)?;
        let i = self.unpermute(slot);
        if i < u64::from(self.len) {
            u32::try_from(i).ok()
        } else {
            None
        }
    }

    /// A valid-looking CPR number (a real date of birth, right century digit) that is
    /// guaranteed not to be in this population, current or historic. `k = 0, 1, 2, ...`
    /// give different numbers (up to several million of them).
    pub fn unknown_cpr(&self, k: u64) -> String {
        let n = u64::from(self.len);
        let span = self.domain - 2 * n;
        self.slot_cpr(self.permute(n + k % span))
    }

    /// The answer a correct client gives for person `i`.
    pub fn expected(&self, i: u32) -> Expected {
        self.person(i).expected()
    }

    /// The first person (by index) who is an instance of `case`.
    pub fn example(&self, case: Case) -> Option<u32> {
        (0..self.len).find(|&i| case.matches(&self.person(i)))
    }

    /// Person `i` (`i < len()`; larger indices give a person outside the population).
    pub fn person(&self, i: u32) -> Person {
        let slot = self.permute(u64::from(i));
        let cpr = self.slot_cpr(slot);
        let birth = first_birth() + Duration::days((slot / SLOTS_PER_DAY) as i64);
        let mut rng = Rng::new(self.seed, u64::from(i) ^ 0x9E50_0000_0000);
        let mut p = build_person(i, cpr, birth, &mut rng);
        if p.personnumre.len() > 1 {
            let old = self.historic_cpr(i);
            for n in &mut p.personnumre {
                if n.personnummer.is_empty() {
                    n.personnummer.clone_from(&old);
                }
            }
        }
        p
    }

    /// A historic (replaced) CPR number for person `i`: never a current one.
    fn historic_cpr(&self, i: u32) -> String {
        self.slot_cpr(self.permute(self.domain - 1 - u64::from(i)))
    }

    // ---- the permutation ------------------------------------------------------

    fn feistel(&self, x: u64, inverse: bool) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let mut l = x >> self.half_bits;
        let mut r = x & mask;
        if inverse {
            for k in (0..ROUNDS).rev() {
                let t = r ^ (hash::mix2(self.keys[k], l) & mask);
                r = l;
                l = t;
            }
        } else {
            for k in 0..ROUNDS {
                let t = l ^ (hash::mix2(self.keys[k], r) & mask);
                l = r;
                r = t;
            }
        }
        (l << self.half_bits) | r
    }

    /// Index -> slot, a bijection on `0..domain` (cycle walking keeps it in range).
    fn permute(&self, mut x: u64) -> u64 {
        loop {
            x = self.feistel(x, false);
            if x < self.domain {
                return x;
            }
        }
    }

    fn unpermute(&self, mut x: u64) -> u64 {
        loop {
            x = self.feistel(x, true);
            if x < self.domain {
                return x;
            }
        }
    }

    // ---- slots and numbers ----------------------------------------------------

    /// The CPR number of a slot: birth date, then a serial whose first digit follows
    /// the century rule (0-3 for 1900-1999, 4-7 for 2000-2036), then the last digit:
    /// the modulus-11 check digit for the first 400 slots of a day (where one
    /// exists), a digit that fails it for the other 40.
    fn slot_cpr(&self, slot: u64) -> String {
        let day = slot / SLOTS_PER_DAY;
        let j = slot % SLOTS_PER_DAY;
        let date = first_birth() + Duration::days(day as i64);
        let serial3 = if j < MOD11_SLOTS {
            j
        } else {
            (j - MOD11_SLOTS) * 10 + day % 10
        };
        let base = if date.year() >= 2000 { 400 } else { 0 };
        let first9 = nine_digits(date, base + serial3);
        let (a, b) = last_digits(&first9);
        let last = if j < MOD11_SLOTS { a } else { b };
        let mut s = String::with_capacity(10);
        for d in first9 {
            s.push(char::from(b'0' + d));
        }
        s.push(char::from(b'0' + last));
        s
    }

    fn slot_of(&self, cpr: &str) -> Option<u64> {
        let d = cpr::digits(cpr)?;
        let date = cpr::birth_date(cpr)?;
        if date < first_birth() || date > last_birth() {
            return None;
        }
        let day = (date - first_birth()).num_days() as u64;
        let serial = u64::from(d[6]) * 100 + u64::from(d[7]) * 10 + u64::from(d[8]);
        let base = if date.year() >= 2000 { 400 } else { 0 };
        let serial3 = serial.checked_sub(base).filter(|s| *s < 400)?;
        let (a, b) = last_digits(&d[..9]);
        let j = if d[9] == a {
            serial3
        } else if d[9] == b && serial3 % 10 == day % 10 {
            MOD11_SLOTS + serial3 / 10
        } else {
            return None;
        };
        (day < self.days).then_some(day * SLOTS_PER_DAY + j)
    }
}

fn nine_digits(date: NaiveDate, serial: u64) -> [u8; 9] {
    let yy = (date.year() % 100) as u32;
    let nums = [date.day(), date.month(), yy];
    let mut out = [0u8; 9];
    for (k, v) in nums.iter().enumerate() {
        out[2 * k] = (v / 10) as u8;
        out[2 * k + 1] = (v % 10) as u8;
    }
    out[6] = (serial / 100) as u8;
    out[7] = (serial / 10 % 10) as u8;
    out[8] = (serial % 10) as u8;
    out
}

/// The last digit of the modulus-11 slot (`a`) and of the other slot (`b != a`) for a
/// nine-digit prefix.
fn last_digits(first9: &[u8]) -> (u8, u8) {
    let sum: u32 = first9.iter().map(|d| u32::from(*d)).sum();
    let a = cpr::check_digit(first9).unwrap_or((sum % 10) as u8);
    let b = ((u32::from(a) + 1 + sum % 9) % 10) as u8;
    (a, b)
}

// ---- making a person ----------------------------------------------------------

fn random_date(rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    if to <= from {
        return from;
    }
    let span = (to - from).num_days() as u64;
    from + Duration::days(rng.below(span + 1) as i64)
}

/// A random minute on a random day in `from..=to`.
fn random_moment(rng: &mut Rng, from: NaiveDate, to: NaiveDate) -> Timestamp {
    let date = random_date(rng, from, to);
    Timestamp::at(date, rng.below(24) as u32, rng.below(60) as u32)
}

fn uuid(rng: &mut Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let a = rng.next_u64();
    let b = rng.next_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (k, byte) in bytes.iter().enumerate() {
        if matches!(k, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 15)]));
    }
    s
}

/// `Efternavn,Fornavne Mellemnavn`, abbreviated to at most 34 characters the way
/// addressing names are: later given names become initials first, then the first,
/// and only then is the text cut.
pub fn addressing_name(last: &str, first: &str, middle: &str) -> String {
    const MAX: usize = 34;
    let mut given: Vec<String> = first
        .split(' ')
        .chain(std::iter::once(middle))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let build = |given: &[String]| format!("{last},{}", given.join(" "));
    let fits = |s: &str| s.chars().count() <= MAX;
    let mut text = build(&given);
    let mut k = given.len();
    while !fits(&text) && k > 0 {
        k -= 1;
        if let Some(initial) = given[k].chars().next() {
            given[k] = format!("{initial}.");
        }
        text = build(&given);
    }
    if !fits(&text) {
        text = text.chars().take(MAX).collect();
    }
    text
}

fn build_person(index: u32, cpr: String, birth: NaiveDate, rng: &mut Rng) -> Person {
    let reference = reference_date();
    let male = cpr.as_bytes().last().is_some_and(|d| (d - b'0') % 2 == 1);
    let year = birth.year();
    let id = uuid(rng);
    let foedselsdato = Timestamp::at(birth, 12, 0);
    let adult_from = birth + Duration::days(18 * 365);

    // Status: the old are more often dead.
    let p_dead = if year < 1935 {
        0.6
    } else if year < 1950 {
        0.2
    } else {
        0.02
    };
    let event_date = |rng: &mut Rng| {
        random_date(
            rng,
            birth.max(ymd(1990, 1, 1)) + Duration::days(1),
            reference,
        )
    };
    let (status, statusdato) = if rng.chance(p_dead) {
        ("doed", Timestamp::at(event_date(rng), 0, 0))
    } else {
        let r = hash::unit(rng.next_u64());
        let status = if r < 0.03 {
            "udrejst"
        } else if r < 0.035 {
            "bopael_i_groenland"
        } else if r < 0.04 {
            "bopael_i_danmark_hoej_vejkode"
        } else if r < 0.043 {
            "ej_bopael"
        } else if r < 0.044 {
            "forsvundet"
        } else {
            "bopael_i_danmark"
        };
        let date = if status == "bopael_i_danmark" && rng.chance(0.3) {
            birth
        } else {
            event_date(rng)
        };
        (status, Timestamp::at(date, 0, 0))
    };

    // The name.
    let pool = if male {
        names::FIRST_MALE
    } else {
        names::FIRST_FEMALE
    };
    let count = match rng.below(10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    let mut firsts: Vec<&str> = Vec::with_capacity(count);
    while firsts.len() < count {
        let f = *rng.pick(pool);
        if !firsts.contains(&f) {
            firsts.push(f);
        }
    }
    let fornavne = firsts.join(" ");
    let r = hash::unit(rng.next_u64());
    let mellemnavn = if r < 0.35 {
        Text::value(*rng.pick(names::MIDDLE))
    } else if r < 0.80 {
        Text::Absent
    } else if r < 0.90 {
        Text::Null
    } else {
        Text::value("")
    };
    let pick_last = |rng: &mut Rng| {
        let last = *rng.pick(names::LAST);
        if !last.contains('-') && rng.chance(0.08) {
            format!("{last}-{}", rng.pick(names::LAST_SECOND))
        } else {
            last.to_owned()
        }
    };
    let efternavn = pick_last(rng);
    let newborn = birth > ymd(2025, 7, 1) && rng.chance(0.4);
    let addressing_only = !newborn && rng.chance(0.004);
    let birth_name_time = Timestamp::at(birth, 0, 0);

    let mut current = if newborn {
        Navn {
            fornavne: Text::value(""),
            mellemnavn: Text::Absent,
            efternavn: Text::value(efternavn.clone()),
            adresseringsnavn: Text::Absent,
            status: RecordStatus::Aktuel,
            virkning_fra: birth_name_time,
            virkning_til: None,
        }
    } else if addressing_only {
        Navn {
            fornavne: if rng.chance(0.5) {
                Text::Absent
            } else {
                Text::value("")
            },
            mellemnavn: Text::Absent,
            efternavn: if rng.chance(0.5) {
                Text::Absent
            } else {
                Text::Null
            },
            adresseringsnavn: Text::value(addressing_name(
                &efternavn,
                &fornavne,
                mellemnavn.as_str(),
            )),
            status: RecordStatus::Aktuel,
            virkning_fra: birth_name_time,
            virkning_til: None,
        }
    } else {
        Navn {
            adresseringsnavn: Text::value(addressing_name(
                &efternavn,
                &fornavne,
                mellemnavn.as_str(),
            )),
            fornavne: Text::value(fornavne.clone()),
            mellemnavn: mellemnavn.clone(),
            efternavn: Text::value(efternavn.clone()),
            status: RecordStatus::Aktuel,
            virkning_fra: birth_name_time,
            virkning_til: None,
        }
    };

    let mut navne = Vec::with_capacity(3);
    // A corrected (`rettet`) record with no end date: a client must go by status.
    if !newborn && !addressing_only && rng.chance(0.015) {
        let mut wrong = current.clone();
        wrong.fornavne = Text::value(format!("{fornavne}h"));
        wrong.status = RecordStatus::Rettet;
        navne.push(wrong);
    }
    // Name history: an earlier surname, listed before or after the current record.
    if !newborn && !addressing_only && adult_from < reference && rng.chance(0.15) {
        let change = random_moment(rng, adult_from, reference);
        let old_last = pick_last(rng);
        let historic = Navn {
            adresseringsnavn: Text::value(addressing_name(
                &old_last,
                &fornavne,
                mellemnavn.as_str(),
            )),
            fornavne: Text::value(fornavne.clone()),
            mellemnavn: mellemnavn.clone(),
            efternavn: Text::value(old_last),
            status: RecordStatus::Historisk,
            virkning_fra: birth_name_time,
            virkning_til: Some(change),
        };
        current.virkning_fra = change;
        if rng.chance(0.5) {
            navne.push(historic);
            navne.push(current);
        } else {
            navne.push(current);
            navne.push(historic);
        }
    } else {
        navne.push(current);
    }

    // CPR numbers: the current one, sometimes a replaced one.
    let number_since = foedselsdato;
    let mut personnumre = Vec::with_capacity(2);
    let current_number = Personnummer {
        personnummer: cpr.clone(),
        status: RecordStatus::Aktuel,
        virkning_fra: number_since,
        virkning_til: None,
    };
    if rng.chance(0.015) {
        // Filled in by the caller, which knows the historic number.
        let change = random_moment(rng, birth + Duration::days(1), reference);
        let old = Personnummer {
            personnummer: String::new(),
            status: RecordStatus::Historisk,
            virkning_fra: number_since,
            virkning_til: Some(change),
        };
        let mut cur = current_number;
        cur.virkning_fra = change;
        if rng.chance(0.5) {
            personnumre.push(old);
            personnumre.push(cur);
        } else {
            personnumre.push(cur);
            personnumre.push(old);
        }
    } else {
        personnumre.push(current_number);
    }

    // Protections.
    let mut beskyttelser = Vec::new();
    let since =
        |rng: &mut Rng, until: NaiveDate| random_moment(rng, birth.max(ymd(1990, 1, 1)), until);
    let r = hash::unit(rng.next_u64());
    if r < 0.04 {
        beskyttelser.push(Beskyttelse {
            beskyttelsestype: NAME_AND_ADDRESS,
            virkning_fra: since(rng, reference - Duration::days(1)),
            virkning_til: None,
        });
    } else if r < 0.05 {
        let end = random_date(rng, ymd(2035, 1, 1), ymd(2045, 12, 31));
        beskyttelser.push(Beskyttelse {
            beskyttelsestype: NAME_AND_ADDRESS,
            virkning_fra: since(rng, reference - Duration::days(1)),
            virkning_til: Some(Timestamp::at(end, 0, 0)),
        });
    } else if r < 0.08 && year < 2020 {
        let from = since(rng, ymd(2023, 12, 31));
        let end = random_date(rng, from.0.date() + Duration::days(30), ymd(2026, 6, 1));
        beskyttelser.push(Beskyttelse {
            beskyttelsestype: NAME_AND_ADDRESS,
            virkning_fra: from,
            virkning_til: Some(Timestamp::at(end, 0, 0)),
        });
    }
    for (kind, p) in [
        ("lokal_vejviser", 0.03),
        ("markedsfoering", 0.06),
        ("kreditadvarsel", 0.005),
    ] {
        if rng.chance(p) {
            beskyttelser.push(Beskyttelse {
                beskyttelsestype: kind,
                virkning_fra: since(rng, reference - Duration::days(1)),
                virkning_til: None,
            });
        }
    }
    let omit_empty_beskyttelser = rng.chance(0.7);

    let address =
        (status.starts_with("bopael_i_danmark") && beskyttelser.is_empty() && rng.chance(0.2))
            .then(|| Address {
                kommunekode: rng
                    .pick(&["0101", "0147", "0461", "0751", "0851"])
                    .to_string(),
                vejkode: format!("{:04}", 1 + rng.below(9998)),
                husnummer: (1 + rng.below(200)).to_string(),
            });

    Person {
        index,
        id,
        cpr,
        foedselsdato,
        koen: if male { "mand" } else { "kvinde" },
        status,
        statusdato,
        personnumre,
        navne,
        beskyttelser,
        omit_empty_beskyttelser,
        address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_look_valid() {
        let pop = Population::new(5000, 42);
        let mut mod11 = 0;
        for i in 0..pop.len() {
            let cpr = pop.cpr(i);
            assert_eq!(pop.find(&cpr), Some(i), "{}", cpr::mask(&cpr));
            let born = cpr::birth_date(&cpr).expect("a real date");
            assert!(born >= first_birth() && born <= last_birth());
            if cpr::passes_modulus_11(&cpr) {
                mod11 += 1;
            }
        }
        // Most pass modulus 11, some do not (both exist since 2007).
        assert!(mod11 > 3500 && mod11 < 4800, "{mod11}");
        for k in 0..2000 {
            let u = pop.unknown_cpr(k);
            assert!(cpr::birth_date(&u).is_some());
            assert_eq!(pop.find(&u), None);
        }
        for i in 0..200 {
            assert_eq!(pop.find(&pop.historic_cpr(i)), None);
        }
        assert_eq!(pop.find("0101x01234"), None);
        assert_eq!(pop.find("3102601234"), None);
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = Population::new(100, 7);
        let b = Population::new(100, 7);
        let c = Population::new(100, 8);
        assert_eq!(a.person(3), b.person(3));
        assert_ne!(a.cpr(3), c.cpr(3));
    }

    #[test]
    fn every_hard_case_occurs_in_a_small_population() {
        let pop = Population::new(1000, 1);
        for case in Case::ALL {
            assert!(pop.example(case).is_some(), "{case:?} missing");
        }
    }

    #[test]
    fn addressing_names_fit() {
        assert_eq!(addressing_name("Henriksen", "Karin", ""), "Henriksen,Karin");
        let long = addressing_name(
            "Kjærsgaard-Lauritzen",
            "Hans-Christian Frederik",
            "Vestergaard",
        );
        assert!(long.chars().count() <= 34, "{long}");
        assert_eq!(long, "Kjærsgaard-Lauritzen,H. F. V.");
        let mid = addressing_name("Ærø-Østergaard", "Søren Christian", "Brøndum");
        assert_eq!(mid, "Ærø-Østergaard,Søren Christian B.");
    }

    #[test]
    fn timestamps_have_the_cpr_shape() {
        let t = Timestamp::at(ymd(1961, 12, 7), 12, 0);
        assert_eq!(t.to_string(), "1961-12-07T12:00:00.000000+01:00");
        let s = Timestamp::at(ymd(2016, 7, 9), 9, 25);
        assert_eq!(s.to_string(), "2016-07-09T09:25:00.000000+02:00");
        // 2024: summer time from 31 March 02:00 to 27 October 03:00.
        for (d, h, summer) in [
            (ymd(2024, 3, 31), 1, false),
            (ymd(2024, 3, 31), 2, true),
            (ymd(2024, 10, 27), 2, true),
            (ymd(2024, 10, 27), 3, false),
            (ymd(1990, 9, 30), 12, false),
            (ymd(1990, 9, 29), 12, true),
            (ymd(1975, 7, 1), 12, false),
        ] {
            assert_eq!(
                danish_summer_time(Timestamp::at(d, h, 0).0),
                summer,
                "{d} {h}"
            );
        }
    }
}
