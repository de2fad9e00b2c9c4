//! The hard cases of `reference/datafordeler.md`, by name: [`Case`] says what makes a
//! person awkward for a client, and [`Case::matches`] recognises one, so tests and the
//! demo can ask for "a person who ..." ([`super::Population::example`]).
//!
//! Only recognition lives here; the rates at which the cases occur are `generation`'s.

use super::model::{Beskyttelse, NAME_AND_ADDRESS, Person, RecordStatus, Text, Timestamp};
use super::reference_date;
use crate::cpr;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::Population;

    #[test]
    fn every_hard_case_occurs_in_a_small_population() {
        let pop = Population::new(1000, 1);
        for case in Case::ALL {
            assert!(pop.example(case).is_some(), "{case:?} missing");
        }
    }
}
