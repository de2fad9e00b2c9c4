//! HTTP plumbing shared by the endpoints: decoding single components (query strings
//! and forms are read with `form_urlencoded` where they arrive), JSON strings, and the
//! response shapes (JSON, RFC 9457 problem details, OAuth errors).
//!
//! Owns no routing and no policy. Nothing decoded here is logged.

use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::fault_body::Body;

pub(crate) type Resp = Response<Body>;

pub(crate) const JSON: &str = "application/json; charset=utf-8";
pub(crate) const PROBLEM_JSON: &str = "application/problem+json; charset=utf-8";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// Decodes one form-encoded component on its own (`%XX` escapes, `+` as a space), such
/// as a path segment or a part of HTTP Basic credentials (RFC 6749 2.3.1 form-encodes
/// those). Invalid escapes are kept literally; invalid UTF-8 is replaced.
pub(crate) fn decode_component(s: &str) -> String {
    // `form_urlencoded::parse` splits at `&` and `=`; escaped first, they stay inside
    // the one key it returns.
    let escaped = s.replace('&', "%26").replace('=', "%3D");
    form_urlencoded::parse(escaped.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Appends `s` as a JSON string.
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail; a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes one JSON object key by key, placing the commas.
pub(crate) struct JsonObject<'a> {
    pub out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonObject<'a> {
    pub(crate) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        JsonObject { out, first: true }
    }

    /// Writes `"name":` and leaves the value to the caller.
    pub(crate) fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        json_str(self.out, name);
        self.out.push(b':');
        self.out
    }

    pub(crate) fn str(&mut self, name: &str, value: &str) {
        let out = self.key(name);
        json_str(out, value);
    }

    pub(crate) fn null(&mut self, name: &str) {
        self.key(name).extend_from_slice(b"null");
    }

    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

/// A response with a body and a content type.
pub(crate) fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Resp {
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

pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Resp {
    respond(status, JSON, body)
}

/// A JSON response from a serialisable value.
pub(crate) fn json_value<T: serde::Serialize>(status: StatusCode, value: &T) -> Resp {
    json(status, serde_json::to_vec(value).unwrap_or_default())
}

/// An RFC 9457 problem document, with Datafordeler's `code` when there is one.
pub(crate) fn problem(status: StatusCode, detail: &str, code: Option<&str>) -> Resp {
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
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Resp {
    json_value(
        status,
        &serde_json::json!({"error": error, "error_description": description}),
    )
}

/// The value of a `Bearer` authorization header.
pub(crate) fn bearer(headers: &hyper::HeaderMap) -> Option<&str> {
    let v = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_components_and_compares_secrets() {
        assert_eq!(decode_component("a%7Cb%7cc"), "a|b|c");
        assert_eq!(decode_component("a+b"), "a b");
        assert_eq!(decode_component("100%"), "100%");
        assert_eq!(decode_component("%zz"), "%zz");
        assert_eq!(decode_component("%C3%A6"), "æ");
        assert_eq!(decode_component("a=b&c"), "a=b&c");
        assert_eq!(decode_component("ab%3Acd"), "ab:cd");
        assert_eq!(decode_component(""), "");
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
