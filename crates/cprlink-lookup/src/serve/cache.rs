//! The answer cache of `serve`: found and not-found records by CPR number, each kept
//! for the TTL (CPR data changes at most daily: datafordeler.md 1, "freshness").
//!
//! Owns what is kept (never errors), for how long, and the serialised JSON of each
//! answer so a hit costs no serialisation. It has no capacity yet; see [`PRUNE_AT`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::cpr::Cpr;
use crate::record::{Record, Status};

const SHARDS: usize = 16;

/// Not a bound: a shard past this size drops its expired entries before it takes a new
/// one. The capacity (`[serve] cache_max_entries`, least recently used first) belongs
/// in [`Cache::new`] and [`Cache::put`], the only places that add entries.
const PRUNE_AT: usize = 100_000;

pub(super) struct Entry {
    pub(super) record: Record,
    pub(super) json: Bytes,
    expires: Instant,
}

/// Answers by CPR number, sharded so concurrent readers rarely meet.
pub(super) struct Cache {
    ttl: Duration,
    shards: Vec<RwLock<HashMap<Cpr, Arc<Entry>>>>,
}

impl Cache {
    pub(super) fn new(ttl: Duration) -> Cache {
        Cache {
            ttl,
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, cpr: &Cpr) -> &RwLock<HashMap<Cpr, Arc<Entry>>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        cpr.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    pub(super) fn get(&self, cpr: &Cpr) -> Option<Arc<Entry>> {
        if self.ttl.is_zero() {
            return None;
        }
        let shard = self.shard(cpr).read().ok()?;
        let e = shard.get(cpr)?;
        (e.expires > Instant::now()).then(|| e.clone())
    }

    /// Keeps found and not-found answers; never errors.
    pub(super) fn put(&self, cpr: &Cpr, record: &Record) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            record: record.clone(),
            json: Bytes::from(serde_json::to_vec(record).unwrap_or_default()),
            expires: Instant::now() + self.ttl,
        });
        if !self.ttl.is_zero()
            && matches!(record.status, Status::Found | Status::NotFound)
            && let Ok(mut shard) = self.shard(cpr).write()
        {
            if shard.len() > PRUNE_AT {
                let now = Instant::now();
                shard.retain(|_, e| e.expires > now);
            }
            shard.insert(*cpr, entry.clone());
        }
        entry
    }

    pub(super) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keeps_answers_not_errors_and_expires() {
        let c = Cpr::parse("0101011234").unwrap();
        let cache = Cache::new(Duration::from_millis(50));
        cache.put(&c, &Record::error(&c, "x"));
        assert!(cache.get(&c).is_none());
        cache.put(&c, &Record::not_found(&c));
        assert_eq!(cache.get(&c).unwrap().record.status, Status::NotFound);
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&c).is_none());
        let off = Cache::new(Duration::ZERO);
        off.put(&c, &Record::not_found(&c));
        assert!(off.get(&c).is_none());
    }
}
