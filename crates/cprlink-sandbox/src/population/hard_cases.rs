//! The hard cases of `reference/datafordeler.md`, by name: [`HardCase`] says what makes a
//! person awkward for a client, and [`HardCase::matches`] recognises one, so tests and the
//! demo can ask for "a person who ..." ([`super::Population::example`]).
//!
//! Only recognition lives here; the rates at which the cases occur are `generation`'s.

use super::model::{Beskyttelse, NAME_AND_ADDRESS, Person, RecordStatus, Text, Timestamp};
use super::reference_date;
use crate::cpr;

/// The hard cases, for tests and demos that need "a person who ...". (Not a `Case`:
/// that is an onboarding case file in `cprlink-onboard`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardCase {
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

impl HardCase {
    pub const ALL: [HardCase; 21] = [
        HardCase::MiddleNameAbsent,
        HardCase::MiddleNameNull,
        HardCase::MiddleNameEmpty,
        HardCase::MiddleNamePresent,
        HardCase::NewbornWithoutFirstName,
        HardCase::AddressingNameOnly,
        HardCase::AbbreviatedAddressingName,
        HardCase::HistoricNameFirst,
        HardCase::HistoricNameLast,
        HardCase::CorrectedName,
        HardCase::PersonnummerHistory,
        HardCase::ProtectedInForce,
        HardCase::ProtectedUntilFuture,
        HardCase::ProtectionEnded,
        HardCase::OtherProtectionOnly,
        HardCase::Deceased,
        HardCase::Emigrated,
        HardCase::DanishLetters,
        HardCase::Accent,
        HardCase::Hyphen,
        HardCase::WithoutModulus11,
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
            HardCase::MiddleNameAbsent => cur.is_some_and(|n| n.mellemnavn == Text::Absent),
            HardCase::MiddleNameNull => cur.is_some_and(|n| n.mellemnavn == Text::Null),
            HardCase::MiddleNameEmpty => {
                cur.is_some_and(|n| n.mellemnavn == Text::Value(String::new()))
            }
            HardCase::MiddleNamePresent => cur.is_some_and(|n| !n.mellemnavn.as_str().is_empty()),
            HardCase::NewbornWithoutFirstName => {
                cur.is_some_and(|n| n.fornavne == Text::Value(String::new()))
                    && !cur.is_some_and(|n| n.efternavn.as_str().is_empty())
            }
            HardCase::AddressingNameOnly => cur.is_some_and(|n| {
                n.fornavne.as_str().is_empty()
                    && n.mellemnavn.as_str().is_empty()
                    && n.efternavn.as_str().is_empty()
                    && !n.adresseringsnavn.as_str().is_empty()
            }),
            HardCase::AbbreviatedAddressingName => cur.is_some_and(|n| {
                let given: Vec<&str> = [n.fornavne.as_str(), n.mellemnavn.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect();
                let full = format!("{},{}", n.efternavn.as_str(), given.join(" "));
                !n.efternavn.as_str().is_empty()
                    && !n.adresseringsnavn.as_str().is_empty()
                    && n.adresseringsnavn.as_str() != full
            }),
            HardCase::HistoricNameFirst => {
                matches!((historic_pos, current_pos), (Some(h), Some(c)) if h < c)
            }
            HardCase::HistoricNameLast => {
                matches!((historic_pos, current_pos), (Some(h), Some(c)) if h > c)
            }
            HardCase::CorrectedName => p.navne.iter().any(|n| n.status == RecordStatus::Rettet),
            HardCase::PersonnummerHistory => p.personnumre.len() > 1,
            HardCase::ProtectedInForce => nao(&|b| b.virkning_til.is_none()),
            HardCase::ProtectedUntilFuture => {
                nao(&|b| b.virkning_til.is_some() && b.in_force_at(at))
            }
            HardCase::ProtectionEnded => nao(&|b| !b.in_force_at(at)) && !p.name_protected_at(at),
            HardCase::OtherProtectionOnly => {
                !p.beskyttelser.is_empty()
                    && p.beskyttelser
                        .iter()
                        .all(|b| b.beskyttelsestype != NAME_AND_ADDRESS)
            }
            HardCase::Deceased => p.status == "doed",
            HardCase::Emigrated => p.status == "udrejst",
            HardCase::DanishLetters => name.chars().any(|c| "æøåÆØÅ".contains(c)),
            HardCase::Accent => name.chars().any(|c| "éëóüÉÖ".contains(c)),
            HardCase::Hyphen => name.contains('-'),
            HardCase::WithoutModulus11 => !cpr::passes_modulus_11(&p.cpr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::Population;

    #[test]
    fn every_hard_case_occurs_in_a_small_population() {
        let pop = Population::new(1000, 1);
        for case in HardCase::ALL {
            assert!(pop.example(case).is_some(), "{case:?} missing");
        }
    }
}
