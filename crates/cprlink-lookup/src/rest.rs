//! REST over mutual TLS: `GET {rest_base_url}{rest_path}` with `pnr.personnummer.eq`
//! for one number and `pnr.personnummer.wi` for a batch, `format=json`, and paging.
//!
//! Owns the query string and the paging rule. Datafordeler's default page size for CPR
//! is 20 (datafordeler.md 1, \[observed\]): a batch client that does not set `pageSize`
//! and follow pages silently loses people. It must not log the URL: it holds CPR numbers.

use chrono::Utc;

use crate::config::Endpoints;
use crate::cpr::Cpr;
use crate::error::Error;
use crate::person::{Person, rest_persons};
use crate::transport::{Transport, host_of, refusal};

/// Datafordeler's default page size for CPR.
const DEFAULT_PAGE_SIZE: usize = 20;

/// The query URL for one page.
pub(crate) fn url(base: &str, path: &str, cprs: &[Cpr], page: usize) -> String {
    let mut u = String::with_capacity(base.len() + path.len() + 40 + cprs.len() * 13);
    u.push_str(base);
    u.push_str(path);
    if let [one] = cprs {
        u.push_str("?pnr.personnummer.eq=");
        u.push_str(one.as_str());
        u.push_str("&format=json");
        return u;
    }
    u.push_str("?pnr.personnummer.wi=");
    for (i, c) in cprs.iter().enumerate() {
        if i > 0 {
            // `|` separates the values; percent-encoded as Datafordeler documents.
            u.push_str("%7C");
        }
        u.push_str(c.as_str());
    }
    u.push_str(&format!("&pageSize={}&page={page}&format=json", cprs.len()));
    u
}

/// Whether to ask for the next page: some numbers are still unanswered and the page was
/// full (as many persons as asked for, or at least the default page size, in case the
/// server caps `pageSize`).
pub(crate) fn wants_next_page(page_len: usize, page_size: usize, unanswered: usize) -> bool {
    unanswered > 0 && page_len > 0 && page_len >= page_size.min(DEFAULT_PAGE_SIZE)
}

pub(crate) async fn lookup(
    transport: &Transport,
    ep: &Endpoints,
    cprs: &[Cpr],
) -> Result<Vec<Person>, Error> {
    let host = host_of(&ep.rest_base_url);
    let mut persons: Vec<Person> = Vec::new();
    let mut page = 1usize;
    loop {
        let target = url(&ep.rest_base_url, &ep.rest_path, cprs, page);
        let http = transport.http().clone();
        let make = move || {
            http.get(&target)
                .header(reqwest::header::ACCEPT, "application/json")
        };
        let answer = transport.send(&host, &make).await?;
        match answer.status {
            200..=299 => {}
            // Datafordeler: not found is either 404 or `200 {"Personer": []}`.
            404 => return Ok(persons),
            _ => return Err(refusal(&host, &answer, transport.certificate())),
        }
        let body: serde_json::Value =
            serde_json::from_slice(&answer.body).map_err(|e| Error::Protocol {
                host: host.clone(),
                reason: format!("the answer is not JSON ({})", e.classify_name()),
            })?;
        let found = rest_persons(&body, Utc::now()).ok_or_else(|| Error::Protocol {
            host: host.clone(),
            reason: "the answer has no `Personer` list".to_owned(),
        })?;
        let page_len = found.len();
        persons.extend(found);
        if cprs.len() == 1 {
            return Ok(persons);
        }
        let answered = cprs
            .iter()
            .filter(|c| {
                persons
                    .iter()
                    .any(|p| p.cprs.iter().any(|n| n == c.as_str()))
            })
            .count();
        if !wants_next_page(page_len, cprs.len(), cprs.len() - answered) || page > cprs.len() {
            return Ok(persons);
        }
        page += 1;
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "bad syntax",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_for_one_wi_with_page_size_for_many() {
        let a = Cpr::parse("0101011234").unwrap();
        let b = Cpr::parse("020202-1234").unwrap();
        assert_eq!(
            url("https://h", "/CPR/x", &[a], 1),
            "https://h/CPR/x?pnr.personnummer.eq=0101011234&format=json"
        );
        assert_eq!(
            url("https://h", "/CPR/x", &[a, b], 2),
            "https://h/CPR/x?pnr.personnummer.wi=0101011234%7C0202021234&pageSize=2&page=2&format=json"
        );
    }

    #[test]
    fn paging_rule() {
        // Full page, people missing: next page.
        assert!(wants_next_page(20, 20, 1));
        // Everyone answered: done, even with a full page.
        assert!(!wants_next_page(20, 20, 0));
        // The server capped a page of 50 at 20: keep going.
        assert!(wants_next_page(20, 50, 30));
        // A short page is the last.
        assert!(!wants_next_page(7, 10, 3));
        assert!(!wants_next_page(0, 10, 10));
    }
}
