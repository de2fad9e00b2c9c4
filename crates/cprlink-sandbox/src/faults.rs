//! Deciding which request gets which fault.
//!
//! Owns the decision only: from a hash of (seed, request content, how many times that
//! same content has been seen), so two runs with one seed misbehave identically and a
//! retried request rolls new dice each attempt. After [`MAX_FAULTY_ATTEMPTS`] tries a
//! request always succeeds unless the rates add up to 1 (then every try fails, for
//! testing what a client does when retries run out). The endpoints apply the decision.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use crate::hash;
use crate::options::Faults;

/// From this attempt on (0-based), a request is answered normally.
pub const MAX_FAULTY_ATTEMPTS: u32 = 8;

/// How many distinct requests to remember before starting over.
const MEMORY: usize = 1 << 20;

/// What to do to one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    None,
    Unavailable,
    TooManyRequests { retry_after_secs: u64 },
    Reset,
    SlowBody { ms: u64 },
}

#[derive(Debug)]
pub(crate) struct FaultControl {
    seed: u64,
    faults: RwLock<Faults>,
    attempts: Mutex<HashMap<u64, u32>>,
}

impl FaultControl {
    pub(crate) fn new(seed: u64, faults: Faults) -> Self {
        FaultControl {
            seed,
            faults: RwLock::new(faults),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn set(&self, faults: Faults) {
        if let Ok(mut f) = self.faults.write() {
            *f = faults;
        }
    }

    pub(crate) fn get(&self) -> Faults {
        self.faults.read().map(|f| *f).unwrap_or_default()
    }

    /// The fault for a request whose content hashes to `content` (see
    /// [`hash::bytes`]).
    pub(crate) fn decide(&self, content: u64) -> Decision {
        let f = self.get();
        if f.is_none() {
            return Decision::None;
        }
        let attempt = match self.attempts.lock() {
            Ok(mut m) => {
                if m.len() >= MEMORY {
                    m.clear();
                }
                let n = m.entry(content).or_insert(0);
                let attempt = *n;
                *n = n.saturating_add(1);
                attempt
            }
            Err(_) => 0,
        };
        let always = f.total_rate() >= 1.0 - 1e-9;
        if attempt >= MAX_FAULTY_ATTEMPTS && !always {
            return Decision::None;
        }
        let u = hash::unit(hash::mix2(
            hash::mix2(self.seed, content),
            u64::from(attempt),
        ));
        let mut edge = f.rate_503;
        if u < edge {
            return Decision::Unavailable;
        }
        edge += f.rate_429;
        if u < edge {
            return Decision::TooManyRequests {
                retry_after_secs: f.retry_after_secs,
            };
        }
        edge += f.rate_reset;
        if u < edge {
            return Decision::Reset;
        }
        edge += f.rate_slow_body;
        if u < edge || always {
            return Decision::SlowBody { ms: f.slow_body_ms };
        }
        Decision::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_rates_and_eventual_success() {
        let faults = Faults {
            rate_503: 0.3,
            rate_429: 0.2,
            ..Faults::default()
        };
        let a = FaultControl::new(5, faults);
        let b = FaultControl::new(5, faults);
        let mut bad = 0;
        for k in 0..2000u64 {
            let da = a.decide(hash::mix(k));
            assert_eq!(da, b.decide(hash::mix(k)));
            if da != Decision::None {
                bad += 1;
            }
        }
        assert!((800..1200).contains(&bad), "{bad}");
        // The same request, retried, gets through within the cap.
        let c = FaultControl::new(5, Faults::unavailable(0.9));
        let ok = (0..=MAX_FAULTY_ATTEMPTS).any(|_| c.decide(42) == Decision::None);
        assert!(ok);
        // Rate 1: never.
        let d = FaultControl::new(5, Faults::unavailable(1.0));
        assert!((0..20).all(|_| d.decide(42) == Decision::Unavailable));
        assert_eq!(
            FaultControl::new(1, Faults::none()).decide(1),
            Decision::None
        );
    }
}
