//! A minimal DER reader and writer.
//!
//! Owns the few places where the `openssl` crate has no safe API: reading the
//! protection parameters of a PKCS#12 file before anything is decrypted (to bound
//! iteration counts), and re-signing a test certificate with RSASSA-PSS. [`Reader`]
//! reads definite-length DER; [`parse_ber`] also reads BER (indefinite lengths and
//! constructed strings, as Windows and Java write PKCS#12), with a depth and an element
//! limit so that a crafted file can neither recurse without bound nor take more than
//! linear time or memory in proportion. Both are fuzzed (`tests/it/hostile.rs`).

/// Universal tags used by the callers.
pub mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[0]` constructed, context-specific.
    pub const CONTEXT_0: u8 = 0xa0;
    pub const CONTEXT_1: u8 = 0xa1;
    pub const CONTEXT_2: u8 = 0xa2;
}

/// A malformed or unexpected DER structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub &'static str);

/// One tag-length-value element borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    /// The content octets.
    pub value: &'a [u8],
    /// The whole element, header included.
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The elements inside a constructed value.
    pub fn children(&self) -> Reader<'a> {
        Reader::new(self.value)
    }

    /// Reads a non-negative INTEGER that fits in a `u64`.
    pub fn as_u64(&self) -> Result<u64, DerError> {
        if self.tag != tag::INTEGER {
            return Err(DerError("expected an INTEGER"));
        }
        let mut bytes = self.value;
        if bytes.is_empty() {
            return Err(DerError("empty INTEGER"));
        }
        if bytes[0] & 0x80 != 0 {
            return Err(DerError("negative INTEGER"));
        }
        while bytes.len() > 1 && bytes[0] == 0 {
            bytes = &bytes[1..];
        }
        if bytes.len() > 8 {
            // Callers compare against a bound; anything this large is over it.
            return Ok(u64::MAX);
        }
        Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The dotted-decimal text of an OBJECT IDENTIFIER.
    pub fn as_oid(&self) -> Result<String, DerError> {
        if self.tag != tag::OID {
            return Err(DerError("expected an OBJECT IDENTIFIER"));
        }
        oid_to_string(self.value)
    }
}

/// Sequential reader over concatenated DER elements.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, or `None` at the end of the input.
    pub fn next_tlv(&mut self) -> Result<Option<Tlv<'a>>, DerError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let input = self.rest;
        let tag = input[0];
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tags are not supported"));
        }
        let (len, header) = read_length(&input[1..])?;
        let header = header + 1;
        let end = header
            .checked_add(len)
            .filter(|end| *end <= input.len())
            .ok_or(DerError("element longer than its container"))?;
        self.rest = &input[end..];
        Ok(Some(Tlv {
            tag,
            value: &input[header..end],
            raw: &input[..end],
        }))
    }

    /// The next element, which must exist and carry `expected` as its tag. (Not called
    /// `expect`: it returns an error, it does not panic like `Option::expect`.)
    pub fn read_tag(&mut self, expected: u8) -> Result<Tlv<'a>, DerError> {
        match self.next_tlv()? {
            Some(tlv) if tlv.tag == expected => Ok(tlv),
            Some(_) => Err(DerError("unexpected tag")),
            None => Err(DerError("element missing")),
        }
    }

    /// The next element if it carries `expected` as its tag; otherwise nothing is consumed.
    pub fn optional(&mut self, expected: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.rest.first() == Some(&expected) {
            self.next_tlv()
        } else {
            Ok(None)
        }
    }
}

/// How deep BER elements may nest. Real PKCS#12 files nest about 12 levels; the bound
/// keeps a crafted file from exhausting the stack.
pub const MAX_BER_DEPTH: usize = 40;

/// How many elements one [`parse_ber`] call may build. A real PKCS#12 file has a few
/// hundred (a BER string cut into 1,000-byte segments adds one per segment); the bound
/// keeps a crafted 16 MB file of tiny elements from taking gigabytes of memory.
pub const MAX_BER_ELEMENTS: usize = 100_000;

/// One BER element, parsed with all its descendants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ber<'a> {
    /// The first identifier octet (class, constructed bit and, for low tag numbers, the
    /// number), comparable with the constants of [`tag`]; for high tag numbers the low
    /// five bits are all set and [`Ber::number`] holds the number.
    pub ident: u8,
    pub number: u32,
    /// Whether this element or any descendant used an indefinite length.
    pub indefinite: bool,
    /// Content octets of a primitive element (empty for a constructed one).
    pub content: &'a [u8],
    /// Children of a constructed element.
    pub children: Vec<Ber<'a>>,
}

impl<'a> Ber<'a> {
    pub fn constructed(&self) -> bool {
        self.ident & 0x20 != 0
    }

    /// Whether the element has this (low-number) identifier octet. A BER constructed
    /// string also matches its primitive tag: `0x24` matches [`tag::OCTET_STRING`].
    pub fn is(&self, ident: u8) -> bool {
        self.ident == ident || (self.ident == ident | 0x20 && ident & 0x20 == 0 && ident < 0x1f)
    }

    /// The child at `index`, which must carry `ident`.
    pub fn child(&self, index: usize, ident: u8) -> Result<&Ber<'a>, DerError> {
        match self.children.get(index) {
            Some(c) if c.is(ident) => Ok(c),
            Some(_) => Err(DerError("unexpected tag")),
            None => Err(DerError("element missing")),
        }
    }

    /// The octets of a string, concatenating the segments of a constructed (BER) one.
    pub fn octets(&self) -> Vec<u8> {
        if !self.constructed() {
            return self.content.to_vec();
        }
        let mut out = Vec::new();
        self.collect_octets(&mut out);
        out
    }

    fn collect_octets(&self, out: &mut Vec<u8>) {
        if self.constructed() {
            for c in &self.children {
                c.collect_octets(out);
            }
        } else {
            out.extend_from_slice(self.content);
        }
    }

    /// Reads a non-negative INTEGER; anything wider than 64 bits reads as `u64::MAX`.
    pub fn as_u64(&self) -> Result<u64, DerError> {
        Tlv {
            tag: self.ident,
            value: self.content,
            raw: self.content,
        }
        .as_u64()
    }

    /// The dotted-decimal text of an OBJECT IDENTIFIER.
    pub fn as_oid(&self) -> Result<String, DerError> {
        if self.ident != tag::OID {
            return Err(DerError("expected an OBJECT IDENTIFIER"));
        }
        oid_to_string(self.content)
    }
}

/// Parses one BER element from the start of `input`; returns it and the bytes it took.
pub fn parse_ber(input: &[u8]) -> Result<(Ber<'_>, usize), DerError> {
    let mut budget = MAX_BER_ELEMENTS;
    parse_ber_at(input, 0, &mut budget)
}

fn parse_ber_at<'a>(
    input: &'a [u8],
    depth: usize,
    budget: &mut usize,
) -> Result<(Ber<'a>, usize), DerError> {
    if depth > MAX_BER_DEPTH {
        return Err(DerError("nested too deeply"));
    }
    *budget = budget.checked_sub(1).ok_or(DerError("too many elements"))?;
    let ident = *input.first().ok_or(DerError("truncated element"))?;
    let mut pos = 1;
    let mut number = u32::from(ident & 0x1f);
    if number == 0x1f {
        number = 0;
        loop {
            let b = *input.get(pos).ok_or(DerError("truncated tag"))?;
            pos += 1;
            if number > (u32::MAX >> 7) {
                return Err(DerError("tag number too large"));
            }
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let constructed = ident & 0x20 != 0;
    let first_len = *input.get(pos).ok_or(DerError("truncated length"))?;
    if first_len == 0x80 {
        // Indefinite length: children up to the end-of-contents octets 00 00.
        if !constructed {
            return Err(DerError("indefinite length on a primitive element"));
        }
        pos += 1;
        let mut children = Vec::new();
        loop {
            let rest = input.get(pos..).ok_or(DerError("truncated element"))?;
            if rest.len() < 2 {
                return Err(DerError("indefinite length without end-of-contents"));
            }
            if rest[0] == 0 && rest[1] == 0 {
                pos += 2;
                break;
            }
            let (child, used) = parse_ber_at(rest, depth + 1, budget)?;
            pos += used;
            children.push(child);
        }
        return Ok((
            Ber {
                ident,
                number,
                indefinite: true,
                content: &[],
                children,
            },
            pos,
        ));
    }
    let (len, len_octets) = read_length(&input[pos..])?;
    pos += len_octets;
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= input.len())
        .ok_or(DerError("element longer than its container"))?;
    let body = &input[pos..end];
    if !constructed {
        return Ok((
            Ber {
                ident,
                number,
                indefinite: false,
                content: body,
                children: Vec::new(),
            },
            end,
        ));
    }
    let mut children = Vec::new();
    let mut indefinite = false;
    let mut at = 0;
    while at < body.len() {
        let (child, used) = parse_ber_at(&body[at..], depth + 1, budget)?;
        indefinite |= child.indefinite;
        at += used;
        children.push(child);
    }
    Ok((
        Ber {
            ident,
            number,
            indefinite,
            content: &[],
            children,
        },
        end,
    ))
}

/// Returns (length, number of length octets).
fn read_length(input: &[u8]) -> Result<(usize, usize), DerError> {
    let first = *input.first().ok_or(DerError("truncated length"))?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 {
        return Err(DerError("indefinite length is not DER"));
    }
    if count > 4 || input.len() < 1 + count {
        return Err(DerError("truncated or oversized length"));
    }
    let len = input[1..=count]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Ok((len, 1 + count))
}

fn oid_to_string(bytes: &[u8]) -> Result<String, DerError> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return Err(DerError("OID arc too large"));
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i == bytes.len() - 1 {
            return Err(DerError("truncated OID"));
        }
    }
    if arcs.is_empty() {
        return Err(DerError("empty OID"));
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

/// Encodes one element.
pub fn encode(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// Encodes a dotted-decimal OID.
pub fn encode_oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut body = Vec::new();
    let mut push_arc = |mut v: u64| {
        let mut chunk = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            chunk.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        chunk.reverse();
        body.extend_from_slice(&chunk);
    };
    if arcs.len() >= 2 {
        push_arc(arcs[0] * 40 + arcs[1]);
        for arc in &arcs[2..] {
            push_arc(*arc);
        }
    }
    encode(tag::OID, &body)
}

/// Encodes a small non-negative INTEGER.
pub fn encode_u64(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut body = bytes[skip..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    encode(tag::INTEGER, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_round_trip() {
        for oid in [
            "1.2.840.113549.1.1.10",
            "2.5.4.97",
            "2.16.840.1.101.3.4.2.1",
        ] {
            let der = encode_oid(oid);
            let tlv = Reader::new(&der).next_tlv().unwrap().unwrap();
            assert_eq!(tlv.as_oid().unwrap(), oid);
        }
    }

    #[test]
    fn integers_and_lengths() {
        for v in [0u64, 1, 127, 128, 2048, 600_000, u64::from(u32::MAX)] {
            let der = encode_u64(v);
            let tlv = Reader::new(&der).next_tlv().unwrap().unwrap();
            assert_eq!(tlv.as_u64().unwrap(), v);
        }
        let long = encode(tag::OCTET_STRING, &[7u8; 300]);
        let tlv = Reader::new(&long).next_tlv().unwrap().unwrap();
        assert_eq!(tlv.value.len(), 300);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let der = encode(tag::SEQUENCE, &[1, 2, 3, 4]);
        assert!(Reader::new(&der[..4]).next_tlv().is_err());
        assert!(Reader::new(&[0x30, 0x80]).next_tlv().is_err());
        assert!(
            Reader::new(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1])
                .next_tlv()
                .is_err()
        );
    }
    #[test]
    fn ber_indefinite_lengths_and_constructed_strings() {
        // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "cd" }, INTEGER 5 }
        let input = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x02, b'c', b'd', 0x00, 0x00,
            0x02, 0x01, 0x05, 0x00, 0x00,
        ];
        let (ber, used) = parse_ber(&input).unwrap();
        assert_eq!(used, input.len());
        assert!(ber.indefinite);
        assert!(ber.is(tag::SEQUENCE));
        let s = ber.child(0, tag::OCTET_STRING).unwrap();
        assert_eq!(s.octets(), b"abcd");
        assert_eq!(ber.child(1, tag::INTEGER).unwrap().as_u64().unwrap(), 5);
        // Missing end-of-contents, and nesting beyond the bound, are errors, not hangs.
        assert!(parse_ber(&input[..input.len() - 2]).is_err());
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 10_000)
            .flatten()
            .collect();
        assert_eq!(parse_ber(&deep).unwrap_err(), DerError("nested too deeply"));
        // Many tiny elements are refused before they take memory out of proportion.
        let flat = encode(tag::SEQUENCE, &[0x04, 0x00].repeat(MAX_BER_ELEMENTS));
        assert_eq!(parse_ber(&flat).unwrap_err(), DerError("too many elements"));
        let fits = encode(tag::SEQUENCE, &[0x04, 0x00].repeat(MAX_BER_ELEMENTS - 1));
        assert_eq!(
            parse_ber(&fits).unwrap().0.children.len(),
            MAX_BER_ELEMENTS - 1
        );
        // Definite DER parses the same way.
        let der = encode(tag::SEQUENCE, &encode_u64(2048));
        let (ber, _) = parse_ber(&der).unwrap();
        assert!(!ber.indefinite);
        assert_eq!(ber.child(0, tag::INTEGER).unwrap().as_u64().unwrap(), 2048);
    }
}
