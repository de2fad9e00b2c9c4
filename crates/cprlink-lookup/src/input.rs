//! Reading CPR numbers from a file or stdin, as a stream: one number per line, or CSV
//! with a `cpr` column (the header is detected on the first non-blank line; `,`, `;`
//! and tab are recognised).
//!
//! Owns which input lines are rows (every non-blank one) and what each row asks. It
//! keeps nothing but the current row in memory and never reads ahead more than a line.

use std::io::BufRead;

use crate::cpr::{Cpr, InvalidCpr};
use crate::error::Error;

/// One row of the input: what was given and whether it is a CPR number.
#[derive(Debug, Clone)]
pub struct InputItem {
    pub raw: String,
    pub cpr: Result<Cpr, InvalidCpr>,
}

impl InputItem {
    pub fn new(raw: &str) -> InputItem {
        InputItem {
            raw: raw.trim().to_owned(),
            cpr: Cpr::parse(raw),
        }
    }

    /// The `cpr` field its record will carry: the ten digits, or the input as given.
    pub fn answer_key(&self) -> String {
        match &self.cpr {
            Ok(c) => c.as_str().to_owned(),
            Err(_) => self.raw.clone(),
        }
    }
}

/// The CSV header: delimiter and the index of the `cpr` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvHeader {
    pub delimiter: u8,
    pub column: usize,
}

/// Whether `line` is a CSV header naming a `cpr` column.
pub fn detect_header(line: &str) -> Option<CsvHeader> {
    for delimiter in [b',', b';', b'\t'] {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(line.as_bytes());
        let mut rec = csv::StringRecord::new();
        if rdr.read_record(&mut rec).ok() != Some(true) {
            continue;
        }
        if let Some(column) = rec
            .iter()
            .position(|f| f.trim().eq_ignore_ascii_case("cpr"))
        {
            return Some(CsvHeader { delimiter, column });
        }
    }
    None
}

enum Mode<R: BufRead> {
    Start(R),
    Lines(R),
    Csv(csv::Reader<R>, CsvHeader),
    Done,
}

/// The rows of an input, in order. Blank lines are not rows.
pub struct InputReader<R: BufRead> {
    mode: Mode<R>,
    /// Lines read so far, for messages.
    line: u64,
    pending: Option<InputItem>,
}

impl<R: BufRead> InputReader<R> {
    pub fn new(reader: R) -> Self {
        InputReader {
            mode: Mode::Start(reader),
            line: 0,
            pending: None,
        }
    }

    fn read_line(reader: &mut R, line: &mut u64) -> Result<Option<String>, Error> {
        let mut buf = Vec::new();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| Error::Io {
                what: format!("cannot read the input (line {})", *line + 1),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        *line += 1;
        // Not UTF-8 is not a CPR number: the row becomes `invalid`, nothing is lost.
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    fn start(&mut self, mut reader: R) -> Result<Option<InputItem>, Error> {
        loop {
            let Some(mut text) = Self::read_line(&mut reader, &mut self.line)? else {
                self.mode = Mode::Done;
                return Ok(None);
            };
            if self.line == 1
                && let Some(rest) = text.strip_prefix('\u{feff}')
            {
                text = rest.to_owned();
            }
            if text.trim().is_empty() {
                continue;
            }
            if let Some(header) = detect_header(text.trim_end_matches(['\r', '\n'])) {
                let rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .delimiter(header.delimiter)
                    .flexible(true)
                    .from_reader(reader);
                self.mode = Mode::Csv(rdr, header);
                return self.next_item();
            }
            self.mode = Mode::Lines(reader);
            return Ok(Some(InputItem::new(&text)));
        }
    }

    fn next_item(&mut self) -> Result<Option<InputItem>, Error> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        match std::mem::replace(&mut self.mode, Mode::Done) {
            Mode::Start(reader) => self.start(reader),
            Mode::Lines(mut reader) => loop {
                match Self::read_line(&mut reader, &mut self.line)? {
                    None => return Ok(None),
                    Some(text) if text.trim().is_empty() => continue,
                    Some(text) => {
                        self.mode = Mode::Lines(reader);
                        return Ok(Some(InputItem::new(&text)));
                    }
                }
            },
            Mode::Csv(mut rdr, header) => {
                let mut rec = csv::StringRecord::new();
                loop {
                    let more = rdr.read_record(&mut rec).map_err(|e| {
                        let line = e
                            .position()
                            .map(|p| p.line() + self.line)
                            .unwrap_or(self.line);
                        Error::Input(format!(
                            "the CSV input cannot be read near line {line}: {}",
                            csv_reason(&e)
                        ))
                    })?;
                    if !more {
                        return Ok(None);
                    }
                    if rec.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let raw = rec.get(header.column).unwrap_or("");
                    let item = InputItem::new(raw);
                    self.mode = Mode::Csv(rdr, header);
                    return Ok(Some(item));
                }
            }
            Mode::Done => Ok(None),
        }
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "malformed CSV".to_owned(),
    }
}

impl<R: BufRead> Iterator for InputReader<R> {
    type Item = Result<InputItem, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<(String, bool)> {
        InputReader::new(text.as_bytes())
            .map(|r| r.unwrap())
            .map(|i| (i.raw, i.cpr.is_ok()))
            .collect()
    }

    #[test]
    fn one_per_line_skips_blank_lines_and_keeps_order() {
        let got = rows("0101011234\n\n  \r\n020202-1234\r\nnonsense\n0303031234");
        assert_eq!(
            got,
            vec![
                ("0101011234".to_owned(), true),
                ("020202-1234".to_owned(), true),
                ("nonsense".to_owned(), false),
                ("0303031234".to_owned(), true)
            ]
        );
    }

    #[test]
    fn csv_with_a_cpr_column_anywhere() {
        let got =
            rows("\u{feff}name,CPR,note\nAnna,0101011234,x\n\nBo,\"020202-1234\",\"a, b\"\nC,,\n");
        assert_eq!(
            got,
            vec![
                ("0101011234".to_owned(), true),
                ("020202-1234".to_owned(), true),
                ("".to_owned(), false)
            ]
        );
        assert_eq!(
            rows("id;cpr\n1;0101011234\n"),
            vec![("0101011234".to_owned(), true)]
        );
        assert_eq!(
            rows("cpr\n0101011234\n"),
            vec![("0101011234".to_owned(), true)]
        );
        assert_eq!(
            rows("x\tcpr\n1\t0101011234\n"),
            vec![("0101011234".to_owned(), true)]
        );
        // A short row misses the column: invalid, still answered.
        assert_eq!(rows("a,cpr\nonly\n"), vec![("".to_owned(), false)]);
    }

    #[test]
    fn a_first_line_without_a_cpr_header_is_data() {
        assert_eq!(
            rows("0101011234,Anna\n"),
            vec![("0101011234,Anna".to_owned(), false)]
        );
        assert_eq!(rows(""), vec![]);
        assert_eq!(rows("\n\n"), vec![]);
    }

    #[test]
    fn non_utf8_is_an_invalid_row_not_an_error() {
        let bytes: &[u8] = b"\xff\xfe01\n0101011234\n";
        let got: Vec<_> = InputReader::new(bytes)
            .map(|r| r.unwrap().cpr.is_ok())
            .collect();
        assert_eq!(got, vec![false, true]);
    }
}
