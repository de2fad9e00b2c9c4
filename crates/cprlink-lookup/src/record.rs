//! The lookup record: the one output shape of `cprlink lookup`, `cprlink serve` and the
//! library, with the SPEC's field names and order.
//!
//! Owns the record and its statuses; how a record is rendered (JSON Lines, CSV, a table)
//! is the binary's business. A record's `cpr` is the number in full: records go to the
//! user's stdout or file, never to logs.

use serde::{Deserialize, Serialize};

use crate::cpr::Cpr;
use crate::person::Person;

/// How a row was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Found,
    NotFound,
    Invalid,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Found => "found",
            Status::NotFound => "not_found",
            Status::Invalid => "invalid",
            Status::Error => "error",
        }
    }

    /// The status [`Status::as_str`] names.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Found,
            Status::NotFound,
            Status::Invalid,
            Status::Error,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// `invalid` and `error` rows make a batch exit 1.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Invalid | Status::Error)
    }
}

/// One answered input line. Field order is the SPEC's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The ten digits for a valid number; the input as given (trimmed) for an invalid one.
    pub cpr: String,
    pub status: Status,
    /// The display name (datafordeler.md 1.2).
    pub name: Option<String>,
    pub first_names: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub addressing_name: Option<String>,
    /// Name and address protection in force. `false` for rows without a person.
    pub name_protected: bool,
    /// As CPR says it, e.g. `bopael_i_danmark`, `doed`.
    pub person_status: Option<String>,
    pub error: Option<String>,
}

impl Record {
    pub fn found(cpr: &Cpr, p: &Person) -> Record {
        Record {
            cpr: cpr.as_str().to_owned(),
            status: Status::Found,
            name: p.name.clone(),
            first_names: p.first_names.clone(),
            middle_name: p.middle_name.clone(),
            last_name: p.last_name.clone(),
            addressing_name: p.addressing_name.clone(),
            name_protected: p.name_protected,
            person_status: p.person_status.clone(),
            error: None,
        }
    }

    fn empty(cpr: String, status: Status, error: Option<String>) -> Record {
        Record {
            cpr,
            status,
            name: None,
            first_names: None,
            middle_name: None,
            last_name: None,
            addressing_name: None,
            name_protected: false,
            person_status: None,
            error,
        }
    }

    pub fn not_found(cpr: &Cpr) -> Record {
        Record::empty(cpr.as_str().to_owned(), Status::NotFound, None)
    }

    /// An input that is not a CPR number; `raw` is what the user gave.
    pub fn invalid(raw: &str, reason: &crate::cpr::InvalidCpr) -> Record {
        Record::empty(
            raw.trim().to_owned(),
            Status::Invalid,
            Some(format!("invalid CPR number: {reason}")),
        )
    }

    /// A lookup that failed after the retries. `message` must not hold a CPR number.
    pub fn error(cpr: &Cpr, message: impl Into<String>) -> Record {
        Record::empty(cpr.as_str().to_owned(), Status::Error, Some(message.into()))
    }

    /// The SPEC's field names in order (CSV header, table columns).
    pub const FIELDS: [&'static str; 10] = [
        "cpr",
        "status",
        "name",
        "first_names",
        "middle_name",
        "last_name",
        "addressing_name",
        "name_protected",
        "person_status",
        "error",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_field_order_and_types_are_the_specs() {
        let c = Cpr::parse("0101011234").unwrap();
        let json = serde_json::to_string(&Record::not_found(&c)).unwrap();
        assert_eq!(
            json,
            r#"{"cpr":"0101011234","status":"not_found","name":null,"first_names":null,"middle_name":null,"last_name":null,"addressing_name":null,"name_protected":false,"person_status":null,"error":null}"#
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = Record::FIELDS.to_vec();
        sorted.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, sorted);
    }

    #[test]
    fn invalid_rows_keep_the_input_and_say_why() {
        let r = Record::invalid(
            " 3213011234 ",
            &crate::cpr::InvalidCpr::NotADate { day: 32, month: 13 },
        );
        assert_eq!(r.cpr, "3213011234");
        assert_eq!(r.status, Status::Invalid);
        assert!(r.error.unwrap().contains("not a date"));
    }
}
