//! The answer cache of `serve`: found and not-found records by CPR number, each kept
//! for the TTL (CPR data changes at most daily: datafordeler.md 1, "freshness"), and
//! never more than `cache_max_entries` of them.
//!
//! Owns what is kept (never errors), for how long, the bound, and the serialised JSON
//! of each answer so a hit costs no serialisation. The bound and the eviction (least
//! recently used first, approximately: CLOCK-Pro) are `quick_cache`'s; the shards are
//! chosen so that their capacities add up to the bound exactly, never above it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use quick_cache::sync::DefaultLifecycle;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, UnitWeighter};

use crate::cpr::Cpr;
use crate::record::{Record, Status};

pub(super) struct Entry {
    pub(super) record: Record,
    pub(super) json: Bytes,
    expires: Instant,
}

type Inner = quick_cache::sync::Cache<
    Cpr,
    Arc<Entry>,
    UnitWeighter,
    DefaultHashBuilder,
    DefaultLifecycle<Cpr, Arc<Entry>>,
>;

/// Answers by CPR number, bounded.
pub(super) struct Cache {
    ttl: Duration,
    /// `None`: the cache is off (TTL or capacity zero).
    inner: Option<Inner>,
}

/// Shards and a capacity that is a multiple of them, at most `max`: quick_cache rounds
/// each shard's capacity up, so an uneven split could hold a few more than asked.
fn shape(max: usize) -> (usize, usize) {
    // quick_cache wants at least 32 items a shard; 16 shards keep writers apart.
    let mut shards = 16usize;
    while shards > 1 && max / shards < 32 {
        shards /= 2;
    }
    (shards, max / shards * shards)
}

impl Cache {
    pub(super) fn new(ttl: Duration, max_entries: usize) -> Cache {
        let (shards, capacity) = shape(max_entries);
        let inner = (!ttl.is_zero() && capacity > 0)
            .then(|| {
                OptionsBuilder::new()
                    .estimated_items_capacity(capacity)
                    .weight_capacity(capacity as u64)
                    .shards(shards)
                    .build()
                    .ok()
            })
            .flatten()
            .map(|options| {
                Inner::with_options(
                    options,
                    UnitWeighter,
                    DefaultHashBuilder::default(),
                    DefaultLifecycle::default(),
                )
            });
        Cache { ttl, inner }
    }

    pub(super) fn get(&self, cpr: &Cpr) -> Option<Arc<Entry>> {
        let inner = self.inner.as_ref()?;
        let e = inner.get(cpr)?;
        if e.expires > Instant::now() {
            return Some(e);
        }
        // Only if still stale: another request may have stored a fresh answer meanwhile.
        inner.remove_if(cpr, |e| e.expires <= Instant::now());
        None
    }

    /// Keeps found and not-found answers; never errors.
    pub(super) fn put(&self, cpr: &Cpr, record: &Record) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            record: record.clone(),
            json: Bytes::from(serde_json::to_vec(record).unwrap_or_default()),
            // A TTL past the clock's range (a library caller's) keeps nothing.
            expires: Instant::now()
                .checked_add(self.ttl)
                .unwrap_or_else(Instant::now),
        });
        if let Some(inner) = &self.inner
            && matches!(record.status, Status::Found | Status::NotFound)
        {
            inner.insert(*cpr, entry.clone());
        }
        entry
    }

    pub(super) fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, Inner::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nth(i: usize) -> Cpr {
        // Distinct valid numbers: day 01-28, month 01-12, any sequence number.
        let day = i % 28 + 1;
        let month = (i / 28) % 12 + 1;
        let seq = i / (28 * 12);
        Cpr::parse(&format!("{day:02}{month:02}80{seq:04}")).unwrap()
    }

    #[test]
    fn cache_keeps_answers_not_errors_and_expires() {
        let c = Cpr::parse("0101011234").unwrap();
        let cache = Cache::new(Duration::from_millis(50), 100);
        cache.put(&c, &Record::error(&c, "x"));
        assert!(cache.get(&c).is_none());
        cache.put(&c, &Record::not_found(&c));
        assert_eq!(cache.get(&c).unwrap().record.status, Status::NotFound);
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&c).is_none());
        let off = Cache::new(Duration::ZERO, 100);
        off.put(&c, &Record::not_found(&c));
        assert!(off.get(&c).is_none());
        assert!(Cache::new(Duration::from_secs(1), 0).get(&c).is_none());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        for max in [1usize, 10, 33, 100, 1000, 4097] {
            let cache = Cache::new(Duration::from_secs(60), max);
            for i in 0..max * 5 + 50 {
                cache.put(&nth(i), &Record::not_found(&nth(i)));
                assert!(cache.len() <= max, "{max}: {}", cache.len());
            }
            assert!(cache.len() > 0);
        }
        // Recently used answers tend to stay.
        let cache = Cache::new(Duration::from_secs(60), 1000);
        let hot = nth(0);
        cache.put(&hot, &Record::not_found(&hot));
        for i in 1..20_000 {
            cache.get(&hot);
            cache.put(&nth(i), &Record::not_found(&nth(i)));
        }
        assert!(cache.get(&hot).is_some());
    }
}
