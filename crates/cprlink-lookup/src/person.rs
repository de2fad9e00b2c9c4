//! [`Person`]: one person object of a Datafordeler answer, read into the fields of a
//! lookup record.
//!
//! Owns the tolerant reading of both shapes (REST lists wrapped as `{"Navn": {...}}`,
//! GraphQL lists plain; `virkningFra` vs `virkningfra`; absent keys, `null` and `""`;
//! unknown fields ignored) and the name rules of datafordeler.md 1.2. It must not
//! decide anything about requests or errors: a person it cannot read gives empty fields.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

/// What a lookup record says about one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Every CPR number on the person (current first), to map batch answers back.
    pub cprs: Vec<String>,
    pub name: Option<String>,
    pub first_names: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub addressing_name: Option<String>,
    pub name_protected: bool,
    pub person_status: Option<String>,
}

/// A key of `obj`: the exact spelling first, then any case (`virkningFra`/`virkningfra`).
pub fn field<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// A non-empty text value (absent, `null`, `""` and whitespace are all "no value").
pub fn text(obj: &Value, key: &str) -> Option<String> {
    match field(obj, key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// The items of a list field, unwrapped when each item is `{"<Singular>": {...}}`
/// (REST) and taken as they are when plain (GraphQL).
pub fn list<'a>(obj: &'a Value, plural: &str, singular: &str) -> Vec<&'a Value> {
    let Some(Value::Array(items)) = field(obj, plural) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let map = item.as_object()?;
            if map.len() == 1
                && let Some(inner @ Value::Object(_)) = field(item, singular)
            {
                return Some(inner);
            }
            Some(item)
        })
        .collect()
}

/// Datafordeler timestamps (`1961-12-07T12:00:00.000000+01:00`), with fallbacks for a
/// missing offset or a bare date. `None` when absent or unreadable.
pub fn timestamp(obj: &Value, key: &str) -> Option<Result<DateTime<Utc>, ()>> {
    let raw = text(obj, key)?;
    Some(parse_timestamp(&raw).ok_or(()))
}

fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn status_is(obj: &Value, wanted: &str) -> bool {
    text(obj, "status").is_some_and(|s| s.eq_ignore_ascii_case(wanted))
}

/// Records that were corrected or withdrawn never described the person.
fn is_void(obj: &Value) -> bool {
    status_is(obj, "rettet") || status_is(obj, "fortrudt")
}

fn start(obj: &Value) -> Option<DateTime<Utc>> {
    timestamp(obj, "virkningFra").and_then(Result::ok)
}

/// The current record of a history list: `status == "aktuel"` (the latest if several);
/// when none is marked current, the latest open-ended record that was not voided.
fn current<'a>(records: &[&'a Value]) -> Option<&'a Value> {
    let latest = |it: Vec<&'a Value>| it.into_iter().max_by_key(|r| start(r));
    let aktuel: Vec<&Value> = records
        .iter()
        .copied()
        .filter(|r| status_is(r, "aktuel"))
        .collect();
    if !aktuel.is_empty() {
        return latest(aktuel);
    }
    let open: Vec<&Value> = records
        .iter()
        .copied()
        .filter(|r| {
            !is_void(r)
                && field(r, "virkningTil").is_none_or(Value::is_null)
                && !status_is(r, "historisk")
        })
        .collect();
    latest(open)
}

/// The display name: the non-empty parts joined by single spaces; the addressing name
/// only when every part is empty, read as a name (datafordeler.md 1.2).
pub fn display_name(
    first: Option<&str>,
    middle: Option<&str>,
    last: Option<&str>,
    addressing: Option<&str>,
) -> Option<String> {
    let parts: Vec<&str> = [first, middle, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return addressing.and_then(addressing_as_name);
    }
    Some(parts.join(" "))
}

/// An addressing name (`Efternavn,Fornavne`, maybe abbreviated) as a display name:
/// first names, then surname, single spaces (`Holm,Karen Margrethe` reads `Karen
/// Margrethe Holm`). Without a comma it is taken as it is. The sandbox keeps its own
/// copy of this rule on purpose (`cprlink_sandbox::population::model`), so its
/// `persons.csv` checks the client instead of repeating it.
pub fn addressing_as_name(addressing: &str) -> Option<String> {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown = match addressing.split_once(',') {
        Some((last, first)) => [words(first), words(last)]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        None => words(addressing),
    };
    (!shown.is_empty()).then_some(shown)
}

/// Name and address protection in force: a `navne_og_adresse` record that has started
/// and has no end or an end in the future. An end we cannot read counts as in force (the privacy side).
fn protected(person: &Value, now: DateTime<Utc>) -> bool {
    list(person, "Beskyttelser", "Beskyttelse")
        .into_iter()
        .any(|b| {
            let kind = text(b, "beskyttelsestype")
                .is_some_and(|t| t.eq_ignore_ascii_case("navne_og_adresse"));
            if !kind || is_void(b) {
                return false;
            }
            // One that starts later is not in force yet.
            if matches!(timestamp(b, "virkningFra"), Some(Ok(start)) if start > now) {
                return false;
            }
            match timestamp(b, "virkningTil") {
                None => true,
                Some(Ok(end)) => end > now,
                Some(Err(())) => true,
            }
        })
}

/// Reads one person object (the inside of `{"Person": {...}}`, or a GraphQL node).
pub fn person(obj: &Value, now: DateTime<Utc>) -> Person {
    let mut cprs = Vec::new();
    let numbers = list(obj, "Personnumre", "Personnummer");
    for n in &numbers {
        if let Some(p) = text(n, "personnummer") {
            if status_is(n, "aktuel") {
                cprs.insert(0, p);
            } else {
                cprs.push(p);
            }
        }
    }
    let names = list(obj, "Navne", "Navn");
    let cur = current(&names);
    let get = |k: &str| cur.and_then(|n| text(n, k));
    let (first, middle, last, addressing) = (
        get("fornavne"),
        get("mellemnavn"),
        get("efternavn"),
        get("adresseringsnavn"),
    );
    Person {
        cprs,
        name: display_name(
            first.as_deref(),
            middle.as_deref(),
            last.as_deref(),
            addressing.as_deref(),
        ),
        first_names: first,
        middle_name: middle,
        last_name: last,
        addressing_name: addressing,
        name_protected: protected(obj, now),
        person_status: text(obj, "status"),
    }
}

/// The persons of a REST answer (`{"Personer": [{"Person": {...}}]}`). `None` when the
/// body has no `Personer` list at all (not a CPR answer).
pub fn rest_persons(body: &Value, now: DateTime<Utc>) -> Option<Vec<Person>> {
    match field(body, "Personer")? {
        Value::Array(_) => {}
        Value::Null => return Some(Vec::new()),
        _ => return None,
    }
    Some(
        list(body, "Personer", "Person")
            .into_iter()
            .map(|p| person(p, now))
            .collect(),
    )
}

/// The persons of a GraphQL answer (`{"data": {"CPRCustom_PublicSectorPerson":
/// {"nodes": [...]}}}`). `None` when `data` holds no such list.
pub fn graphql_persons(body: &Value, now: DateTime<Utc>) -> Option<Vec<Person>> {
    let data = field(body, "data")?;
    let entity = field(data, "CPRCustom_PublicSectorPerson")?;
    if entity.is_null() {
        return Some(Vec::new());
    }
    match field(entity, "nodes")? {
        Value::Array(nodes) => Some(nodes.iter().map(|p| person(p, now)).collect()),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rest_documented_shape() {
        let body = json!({"Personer": [{"Person": {
            "id": "71844f1f", "foedselsdato": "1961-12-07T12:00:00.000000+01:00",
            "status": "bopael_i_danmark",
            "Personnumre": [{"Personnummer": {"personnummer": "0712614382", "status": "aktuel",
                "virkningFra": "1961-12-07T12:00:00.000000+01:00"}}],
            "Navne": [{"Navn": {"adresseringsnavn": "Henriksen,Karin", "fornavne": "Karin",
                "efternavn": "Henriksen", "status": "aktuel", "virkningFra": "1961-06-07T00:00:00.000000+01:00"}}],
            "Beskyttelser": [{"Beskyttelse": {"beskyttelsestype": "navne_og_adresse",
                "virkningFra": "2016-11-09T09:25:00.000000+01:00"}}],
            "Adresseoplysninger": [{"Adresseoplysninger": {"x": 1}}],
            "somethingNew": {"a": [1, 2]}
        }}]});
        let ps = rest_persons(&body, now()).unwrap();
        assert_eq!(ps.len(), 1);
        let p = &ps[0];
        assert_eq!(p.cprs, vec!["0712614382"]);
        assert_eq!(p.name.as_deref(), Some("Karin Henriksen"));
        assert_eq!(p.middle_name, None);
        assert_eq!(p.addressing_name.as_deref(), Some("Henriksen,Karin"));
        assert!(p.name_protected);
        assert_eq!(p.person_status.as_deref(), Some("bopael_i_danmark"));
    }

    #[test]
    fn middle_name_absent_null_empty_and_present() {
        for (middle, want) in [
            (json!(null), "Anna Jensen"),
            (json!(""), "Anna Jensen"),
            (json!("  "), "Anna Jensen"),
            (json!("Møller"), "Anna Møller Jensen"),
        ] {
            let node = json!({"navne": [{"fornavne": "Anna", "mellemnavn": middle, "efternavn": "Jensen", "status": "aktuel"}]});
            assert_eq!(person(&node, now()).name.as_deref(), Some(want));
        }
        let absent =
            json!({"navne": [{"fornavne": "Anna", "efternavn": "Jensen", "status": "aktuel"}]});
        assert_eq!(person(&absent, now()).name.as_deref(), Some("Anna Jensen"));
    }

    #[test]
    fn history_before_the_current_name_in_any_order() {
        let node = json!({"Navne": [
            {"Navn": {"fornavne": "Old", "efternavn": "Name", "status": "historisk", "virkningFra": "1990-01-01T00:00:00.000000+01:00", "virkningTil": "2001-01-01T00:00:00.000000+01:00"}},
            {"Navn": {"fornavne": "Åse Ærø", "efternavn": "Østergård-Müller", "status": "aktuel", "virkningFra": "2001-01-01T00:00:00.000000+01:00"}},
            {"Navn": {"fornavne": "Wrong", "efternavn": "Fix", "status": "rettet"}}
        ]});
        let p = person(&node, now());
        assert_eq!(p.name.as_deref(), Some("Åse Ærø Østergård-Müller"));
    }

    #[test]
    fn no_current_record_is_handled() {
        // Only history: nothing current to report, and no panic.
        let node = json!({"Navne": [{"Navn": {"fornavne": "Old", "efternavn": "Name", "status": "historisk", "virkningTil": "2001-01-01T00:00:00.000000+01:00"}}]});
        assert_eq!(person(&node, now()).name, None);
        // No status at all but open-ended: taken as current.
        let node = json!({"navne": [{"fornavne": "Bo", "efternavn": "Ek"}]});
        assert_eq!(person(&node, now()).name.as_deref(), Some("Bo Ek"));
        // Empty lists and missing keys.
        assert_eq!(person(&json!({}), now()), Person::default());
        assert_eq!(
            person(&json!({"Navne": null, "Beskyttelser": "x"}), now()).name,
            None
        );
    }

    #[test]
    fn addressing_name_is_only_the_fallback_and_reads_first_names_first() {
        let node = json!({"navne": [{"fornavne": "", "efternavn": null, "adresseringsnavn": "Nyfødt,Pige", "status": "aktuel"}]});
        let p = person(&node, now());
        assert_eq!(p.name.as_deref(), Some("Pige Nyfødt"));
        // The field itself stays as CPR writes it.
        assert_eq!(p.addressing_name.as_deref(), Some("Nyfødt,Pige"));
        assert_eq!(p.first_names, None);
        for (addressing, want) in [
            ("Holm,Karen Margrethe", Some("Karen Margrethe Holm")),
            (
                "Kjærsgaard-Lauritzen,H. F. V.",
                Some("H. F. V. Kjærsgaard-Lauritzen"),
            ),
            (" Holm , Karen  Margrethe ", Some("Karen Margrethe Holm")),
            ("Holm,", Some("Holm")),
            (",Karen", Some("Karen")),
            ("Holm", Some("Holm")),
            (" , ", None),
            ("", None),
        ] {
            assert_eq!(
                addressing_as_name(addressing).as_deref(),
                want,
                "{addressing:?}"
            );
            assert_eq!(
                display_name(None, Some(" "), None, Some(addressing)).as_deref(),
                want,
                "{addressing:?}"
            );
        }
        let node =
            json!({"navne": [{"fornavne": "Pige", "adresseringsnavn": "X,Y", "status": "aktuel"}]});
        assert_eq!(person(&node, now()).name.as_deref(), Some("Pige"));
    }

    #[test]
    fn protection_in_force_or_ended() {
        let with = |b: Value| person(&json!({"beskyttelser": [b]}), now()).name_protected;
        assert!(with(json!({"beskyttelsestype": "navne_og_adresse"})));
        assert!(with(
            json!({"beskyttelsestype": "navne_og_adresse", "virkningtil": null})
        ));
        assert!(with(
            json!({"beskyttelsestype": "navne_og_adresse", "virkningtil": "2999-01-01T00:00:00.000000+01:00"})
        ));
        assert!(!with(
            json!({"beskyttelsestype": "navne_og_adresse", "virkningtil": "2020-01-01T00:00:00.000000+01:00"})
        ));
        assert!(!with(json!({"beskyttelsestype": "lokal_vejviser"})));
        assert!(with(
            json!({"beskyttelsestype": "navne_og_adresse", "virkningTil": "garbage"})
        ));
        assert!(!with(
            json!({"beskyttelsestype": "navne_og_adresse", "virkningfra": "2999-01-01T00:00:00.000000+01:00"})
        ));
        // REST casing and wrapping.
        let rest = json!({"Beskyttelser": [{"Beskyttelse": {"beskyttelsestype": "navne_og_adresse", "virkningTil": "2020-01-01T00:00:00.000000+01:00"}}]});
        assert!(!person(&rest, now()).name_protected);
    }

    #[test]
    fn graphql_shape_and_not_found() {
        let body = json!({"data": {"CPRCustom_PublicSectorPerson": {"nodes": [
            {"id": "x", "status": "doed", "personnumre": [{"personnummer": "0101011234", "status": "aktuel"}, {"personnummer": "0101019999", "status": "historisk"}],
             "navne": [{"fornavne": "Ib", "efternavn": "Lund", "status": "aktuel", "virkningfra": "2000-01-01T00:00:00.000000+01:00"}],
             "beskyttelser": []}
        ]}}});
        let ps = graphql_persons(&body, now()).unwrap();
        assert_eq!(ps[0].cprs, vec!["0101011234", "0101019999"]);
        assert_eq!(ps[0].person_status.as_deref(), Some("doed"));
        assert_eq!(
            graphql_persons(
                &json!({"data": {"CPRCustom_PublicSectorPerson": {"nodes": []}}}),
                now()
            )
            .unwrap()
            .len(),
            0
        );
        assert!(graphql_persons(&json!({"errors": []}), now()).is_none());
        assert_eq!(
            rest_persons(&json!({"Personer": []}), now()).unwrap().len(),
            0
        );
        assert!(rest_persons(&json!({"foo": 1}), now()).is_none());
    }

    #[test]
    fn timestamps_in_the_shapes_seen() {
        for raw in [
            "1961-12-07T12:00:00.000000+01:00",
            "1961-12-07T12:00:00+01:00",
            "1961-12-07T11:00:00Z",
            "1961-12-07T11:00:00.000000",
            "1961-12-07",
        ] {
            assert!(parse_timestamp(raw).is_some(), "{raw}");
        }
        assert!(parse_timestamp("yesterday").is_none());
    }
}
