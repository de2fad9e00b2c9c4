//! HTTP plumbing shared by the endpoints: query strings and forms, JSON strings, and
//! the response shapes (JSON, RFC 9457 problem details, OAuth errors).
//!
//! Owns no routing and no policy. Query strings are decoded here and never logged.

use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::fault_body::Body;

pub type Resp = Response<Body>;

pub const JSON: &str = "application/json; charset=utf-8";
pub const PROBLEM_JSON: &str = "application/problem+json; charset=utf-8";

/// Decodes `%XX` escapes (and `+` as a space, as forms and most gateways do).
/// Invalid escapes are kept literally; invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    if !b.iter().any(|c| *c == b'%' || *c == b'+') {
        return s.to_owned();
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` into decoded pairs (empty pieces skipped).
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Appends `s` as a JSON string.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail; a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes one JSON object key by key, placing the commas.
pub struct JsonObject<'a> {
    pub out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonObject<'a> {
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        JsonObject { out, first: true }
    }

    /// Writes `"name":` and leaves the value to the caller.
    pub fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        json_str(self.out, name);
        self.out.push(b':');
        self.out
    }

    pub fn str(&mut self, name: &str, value: &str) {
        let out = self.key(name);
        json_str(out, value);
    }

    pub fn null(&mut self, name: &str) {
        self.key(name).extend_from_slice(b"null");
    }

    pub fn close(self) {
        self.out.push(b'}');
    }
}

/// A response with a body and a content type.
pub fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Resp {
    let len = body.len();
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}

pub fn json(status: StatusCode, body: Vec<u8>) -> Resp {
    respond(status, JSON, body)
}

/// A JSON response from a serialisable value.
pub fn json_value<T: serde::Serialize>(status: StatusCode, value: &T) -> Resp {
    json(status, serde_json::to_vec(value).unwrap_or_default())
}

/// An RFC 9457 problem document, with Datafordeler's `code` when there is one.
pub fn problem(status: StatusCode, detail: &str, code: Option<&str>) -> Resp {
    let mut v = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(code), Some(map)) = (code, v.as_object_mut()) {
        map.insert("code".into(), code.into());
    }
    respond(
        status,
        PROBLEM_JSON,
        serde_json::to_vec(&v).unwrap_or_default(),
    )
}

/// An OAuth 2.0 error (RFC 6749 section 5.2).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Resp {
    json_value(
        status,
        &serde_json::json!({"error": error, "error_description": description}),
    )
}

/// The value of a `Bearer` authorization header.
pub fn bearer(headers: &hyper::HeaderMap) -> Option<&str> {
    let v = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        assert_eq!(percent_decode("a%7Cb%7cc"), "a|b|c");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%C3%A6"), "æ");
        assert_eq!(
            pairs("pnr.personnummer.wi=1%7C2|3&format=json&&x"),
            vec![
                ("pnr.personnummer.wi".to_owned(), "1|2|3".to_owned()),
                ("format".to_owned(), "json".to_owned()),
                ("x".to_owned(), String::new()),
            ]
        );
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
