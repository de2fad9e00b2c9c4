//! The REST method `CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple`.
//!
//! Owns the query parameters (`pnr.personnummer.eq`, `pnr.personnummer.wi`, `page`,
//! `pageSize`, `format`), the two flavours of not-found, paging, and the response in
//! Datafordeler's REST shape: `{"Personer": [{"Person": {...}}]}` with every list item
//! wrapped in an object named after its entity, absent keys for missing values (and
//! sometimes `null` or `""`). Access control happens before this module is reached.

use hyper::StatusCode;

use crate::cpr;
use crate::hash;
use crate::http::{self, JsonObject, Resp};
use crate::population::{Person, Population, Text, Timestamp};

/// The REST path (matched case-insensitively, as the gateway does).
/// Datafordeler: names official, full path inferred (datafordeler.md 1).
pub const REST_PATH: &str = "/CPR/CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple";

/// Datafordeler's default page size for CPR (datafordeler.md 1): a client that
/// forgets `pageSize` on a larger `wi` list loses people.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Most numbers one `wi` request may carry (the real limit is the URL length).
pub const MAX_WI: usize = 5000;

/// What a REST request asked for, parsed and checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub numbers: Vec<String>,
    /// `eq` (one number) rather than `wi`.
    pub single: bool,
    pub page: usize,
    pub page_size: usize,
}

/// Parses the query string; an error is the detail of a 400 answer (it never echoes
/// a value, which may be a CPR number).
pub fn parse(query: &str) -> Result<Request, &'static str> {
    let mut eq = None;
    let mut wi = None;
    let mut page = 1usize;
    let mut page_size = DEFAULT_PAGE_SIZE;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.to_ascii_lowercase().as_str() {
            "pnr.personnummer.eq" => eq = Some(value),
            "pnr.personnummer.wi" => wi = Some(value),
            "page" => {
                page = value
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or("page must be a whole number from 1")?;
            }
            "pagesize" => {
                page_size = value
                    .parse()
                    .ok()
                    .filter(|p| (1..=MAX_WI).contains(p))
                    .ok_or("pageSize must be a whole number from 1 to 5000")?;
            }
            "format" if !value.eq_ignore_ascii_case("json") => {
                return Err("the sandbox answers format=json only");
            }
            _ => {}
        }
    }
    let (numbers, single): (Vec<String>, bool) = match (eq, wi) {
        (Some(v), None) => (vec![v.trim().to_owned()], true),
        (None, Some(v)) => (
            v.split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            false,
        ),
        (Some(_), Some(_)) => {
            return Err("give either pnr.personnummer.eq or pnr.personnummer.wi, not both");
        }
        (None, None) => {
            return Err(
                "a search parameter is required: pnr.personnummer.eq or pnr.personnummer.wi",
            );
        }
    };
    if numbers.is_empty() {
        return Err("pnr.personnummer.wi holds no numbers");
    }
    if numbers.len() > MAX_WI {
        return Err("pnr.personnummer.wi holds more than 5000 numbers");
    }
    if numbers.iter().any(|n| cpr::digits(n).is_none()) {
        // Never echo the value: it may be a CPR number.
        return Err("pnr.personnummer must be 10 digits (DDMMYYSSSS)");
    }
    Ok(Request {
        numbers,
        single,
        page,
        page_size,
    })
}

/// The answer to a parsed request.
pub fn answer(pop: &Population, seed: u64, req: &Request) -> Resp {
    // `wi` is a set: each person once, in the order first asked for.
    let mut found: Vec<u32> = Vec::with_capacity(req.numbers.len());
    for n in &req.numbers {
        if let Some(i) = pop.find(n)
            && !found.contains(&i)
        {
            found.push(i);
        }
    }
    if req.single && found.is_empty() {
        // Datafordeler answers a miss either way (datafordeler.md 1.3); which one is
        // fixed per number so tests are reproducible.
        let flavour = hash::mix2(seed ^ 0x404, hash::bytes(req.numbers[0].as_bytes()));
        if flavour & 1 == 0 {
            return http::problem(StatusCode::NOT_FOUND, "No data found", None);
        }
    }
    let start = (req.page - 1).saturating_mul(req.page_size);
    let page = found
        .iter()
        .skip(start)
        .take(req.page_size)
        .map(|&i| pop.person(i));
    let mut out = Vec::with_capacity(64 + 900 * req.page_size.min(found.len()));
    render(&mut out, page);
    http::json(StatusCode::OK, out)
}

/// `{"Personer": [...]}`.
pub fn render(out: &mut Vec<u8>, persons: impl Iterator<Item = Person>) {
    out.extend_from_slice(b"{\"Personer\":[");
    for (k, p) in persons.enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"Person\":");
        person(out, &p);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

fn text(obj: &mut JsonObject<'_>, name: &str, value: &Text) {
    match value {
        Text::Absent => {}
        Text::Null => obj.null(name),
        Text::Value(s) => obj.str(name, s),
    }
}

fn timestamps(obj: &mut JsonObject<'_>, from: &Timestamp, to: Option<&Timestamp>) {
    from.write_json(obj.key("virkningFra"));
    if let Some(t) = to {
        t.write_json(obj.key("virkningTil"));
    }
}

/// `[{"Entity": {...}}, ...]`: REST wraps every list item in its entity's name.
fn wrapped_list<T>(
    out: &mut Vec<u8>,
    entity: &str,
    items: &[T],
    mut each: impl FnMut(&mut JsonObject<'_>, &T),
) {
    out.push(b'[');
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        let mut wrapper = JsonObject::open(out);
        let inner_out = wrapper.key(entity);
        let mut inner = JsonObject::open(inner_out);
        each(&mut inner, item);
        inner.close();
        wrapper.close();
    }
    out.push(b']');
}

fn person(out: &mut Vec<u8>, p: &Person) {
    let mut obj = JsonObject::open(out);
    obj.str("id", &p.id);
    p.foedselsdato.write_json(obj.key("foedselsdato"));
    obj.str("koen", p.koen);
    obj.str("status", p.status);
    p.statusdato.write_json(obj.key("statusdato"));
    wrapped_list(
        obj.key("Personnumre"),
        "Personnummer",
        &p.personnumre,
        |o, n| {
            o.str("personnummer", &n.personnummer);
            o.str("status", n.status.as_str());
            timestamps(o, &n.virkning_fra, n.virkning_til.as_ref());
        },
    );
    wrapped_list(obj.key("Navne"), "Navn", &p.navne, |o, n| {
        text(o, "adresseringsnavn", &n.adresseringsnavn);
        text(o, "fornavne", &n.fornavne);
        text(o, "mellemnavn", &n.mellemnavn);
        text(o, "efternavn", &n.efternavn);
        o.str("status", n.status.as_str());
        timestamps(o, &n.virkning_fra, n.virkning_til.as_ref());
    });
    if !p.beskyttelser.is_empty() || !p.omit_empty_beskyttelser {
        wrapped_list(
            obj.key("Beskyttelser"),
            "Beskyttelse",
            &p.beskyttelser,
            |o, b| {
                o.str("beskyttelsestype", b.beskyttelsestype);
                timestamps(o, &b.virkning_fra, b.virkning_til.as_ref());
            },
        );
    }
    if let Some(a) = &p.address {
        // Not read by a name lookup; a client must ignore it.
        wrapped_list(
            obj.key("Adresseoplysninger"),
            "Adresseoplysninger",
            std::slice::from_ref(a),
            |o, a| {
                o.str("cprKommunekode", &a.kommunekode);
                o.str("cprVejkode", &a.vejkode);
                o.str("husnummer", &a.husnummer);
                o.str("status", "aktuel");
            },
        );
    }
    obj.close();
}

/// The numbers of a request, masked, for a debug log line.
pub fn masked_summary(numbers: &[String]) -> String {
    let mut s: Vec<String> = numbers.iter().take(3).map(|n| cpr::mask(n)).collect();
    if numbers.len() > 3 {
        s.push(format!("... ({} in all)", numbers.len()));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_parameters() {
        let r =
            parse("pnr.personnummer.wi=0101011234%7C0202021234|0303031234&format=json").unwrap();
        assert_eq!(r.numbers.len(), 3);
        assert!(!r.single);
        assert_eq!((r.page, r.page_size), (1, DEFAULT_PAGE_SIZE));
        let r = parse("PNR.personnummer.EQ=0101011234&page=2&pageSize=5").unwrap();
        assert!(r.single);
        assert_eq!((r.page, r.page_size), (2, 5));
        for bad in [
            "",
            "format=json",
            "pnr.personnummer.eq=010101-1234",
            "pnr.personnummer.eq=1&pnr.personnummer.wi=2",
            "pnr.personnummer.eq=0101011234&page=0",
            "pnr.personnummer.eq=0101011234&format=xml",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shape_of_one_person() {
        let pop = Population::new(50, 3);
        let mut out = Vec::new();
        render(&mut out, std::iter::once(pop.person(0)));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let p = &v["Personer"][0]["Person"];
        assert_eq!(
            p["Personnumre"][0]["Personnummer"]["personnummer"],
            pop.cpr(0)
        );
        assert!(p["Navne"][0]["Navn"]["status"].is_string());
        assert!(p["foedselsdato"].as_str().unwrap().ends_with(":00"));
    }
}
