//! Making a person: every field of [`Person`] drawn from a deterministic [`Rng`]
//! stream, at the rates that make the hard cases occur (`hard_cases`).
//!
//! Owns the probabilities (status by age, middle names absent/`null`/`""`, name and
//! number history, protections, newborns, addressing names) and the way addressing
//! names are abbreviated. Which CPR number and birth date a person has is decided by
//! the population's permutation before this is called.

use chrono::{Datelike, Duration, NaiveDate};

use super::model::{
    Address, Beskyttelse, NAME_AND_ADDRESS, Navn, Person, Personnummer, RecordStatus, Text,
    Timestamp,
};
use super::{reference_date, ymd};
use crate::hash;
use crate::name_pools;
use crate::rng::Rng;

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

pub(super) fn build_person(index: u32, cpr: String, birth: NaiveDate, rng: &mut Rng) -> Person {
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
        name_pools::FIRST_MALE
    } else {
        name_pools::FIRST_FEMALE
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
        Text::value(*rng.pick(name_pools::MIDDLE))
    } else if r < 0.80 {
        Text::Absent
    } else if r < 0.90 {
        Text::Null
    } else {
        Text::value("")
    };
    let pick_last = |rng: &mut Rng| {
        let last = *rng.pick(name_pools::LAST);
        if !last.contains('-') && rng.chance(0.08) {
            format!("{last}-{}", rng.pick(name_pools::LAST_SECOND))
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
}
