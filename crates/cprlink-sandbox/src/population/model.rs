//! What CPR says about a person, as plain data: [`Person`] with its name, number and
//! protection records, the field types CPR delivers ([`Text`] that may be absent,
//! `null` or `""`; [`Timestamp`] in CPR's form), and [`Expected`], the answer a correct
//! client gives.
//!
//! No randomness and no rendering here: `generation` fills these in, `rest.rs` and
//! `graphql.rs` render them. The display-name and protection rules a client must
//! follow (datafordeler.md 1.1, 1.2) are here, because `persons.csv` is built from them.

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{reference_date, ymd};

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

    pub(super) fn value(s: impl Into<String>) -> Self {
        Text::Value(s.into())
    }
}

/// A point in time, rendered as CPR does: `1961-12-07T12:00:00.000000+01:00` (six
/// fraction digits, Danish offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub NaiveDateTime);

impl Timestamp {
    pub(super) fn at(date: NaiveDate, h: u32, m: u32) -> Self {
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
    /// non-empty parts joined by one space, else its addressing name read as a name
    /// (`Holm,Karen Margrethe` reads `Karen Margrethe Holm`).
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
            addressing_as_name(n.adresseringsnavn.as_str())
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

/// `Efternavn,Fornavne` as a display name: first names, then surname, single spaces.
/// Without a comma it is taken as it is. Kept apart from cprlink-lookup's
/// `addressing_as_name` on purpose: the expected names the sandbox writes check the
/// client's rule rather than share it.
pub(super) fn addressing_as_name(addressing: &str) -> String {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match addressing.split_once(',') {
        Some((last, first)) => [words(first), words(last)]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        None => words(addressing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
