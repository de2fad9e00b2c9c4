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
//! letters, accents and hyphens. [`HardCase`] names them and [`Population::example`] finds
//! one. This module renders nothing; `rest.rs` and `graphql.rs` do.
//!
//! The parts: this file owns the numbers (who exists: the permutation, the slots, the
//! century and modulus-11 digits); `model` the data CPR holds about a person;
//! `generation` how a person is made from their random stream (the rates of the hard
//! cases); `hard_cases` how a hard case is recognised.

mod generation;
mod hard_cases;
mod model;

use chrono::{Datelike, Duration, NaiveDate};

pub use generation::addressing_name;
pub use hard_cases::HardCase;
pub use model::{
    Address, Beskyttelse, Expected, NAME_AND_ADDRESS, Navn, Person, Personnummer, RecordStatus,
    Text, Timestamp,
};

use crate::cpr;
use crate::hash;
use crate::rng::Rng;

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

pub(super) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

pub(super) fn first_birth() -> NaiveDate {
    ymd(1920, 1, 1)
}

pub(super) fn last_birth() -> NaiveDate {
    ymd(2026, 6, 30)
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
    pub fn example(&self, case: HardCase) -> Option<u32> {
        (0..self.len).find(|&i| case.matches(&self.person(i)))
    }

    /// Person `i` (`i < len()`; larger indices give a person outside the population).
    pub fn person(&self, i: u32) -> Person {
        let slot = self.permute(u64::from(i));
        let cpr = self.slot_cpr(slot);
        let birth = first_birth() + Duration::days((slot / SLOTS_PER_DAY) as i64);
        let mut rng = Rng::new(self.seed, u64::from(i) ^ 0x9E50_0000_0000);
        let mut p = generation::build_person(i, cpr, birth, &mut rng);
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
}
