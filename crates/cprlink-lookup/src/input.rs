//! Reading CPR numbers from a file or stdin, as a stream: one number per line, or CSV
//! with a `cpr` column (the header is detected on the first non-blank line; `,`, `;`
//! and tab are recognised).
//!
//! Owns which input lines are rows (every non-blank one) and what each row asks. It
//! keeps nothing but the current row in memory and never reads ahead more than a line.
//! A CSV row is one line: a quote left open at the end of a line is an error naming
//! that line, never a field that swallows the rows after it (RFC 4180 allows line
//! breaks inside quotes; a file of CPR numbers has no use for them, and a stray quote
//! would silently lose every row up to the next one).

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

/// A quoted field still open at the end of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenQuote;

/// The fields of one CSV line (without its line ending), read as the `csv` crate
/// reads them: a field that starts with `"` is quoted, `""` inside it is a quote, and
/// text after its closing quote is kept; a quote inside an unquoted field is text.
pub fn split_csv_line(line: &str, delimiter: u8) -> Result<Vec<String>, OpenQuote> {
    let delimiter = char::from(delimiter);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut at_start = true;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        if c == delimiter {
            fields.push(std::mem::take(&mut field));
            at_start = true;
            continue;
        }
        if c == '"' && at_start {
            quoted = true;
        } else {
            field.push(c);
        }
        at_start = false;
    }
    if quoted {
        return Err(OpenQuote);
    }
    fields.push(field);
    Ok(fields)
}

/// Whether `line` is a CSV header naming a `cpr` column.
pub fn detect_header(line: &str) -> Option<CsvHeader> {
    for delimiter in [b',', b';', b'\t'] {
        let Ok(fields) = split_csv_line(line, delimiter) else {
            continue;
        };
        if let Some(column) = fields
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
    Csv(R, CsvHeader),
    Done,
}

/// The rows of an input, in order. Blank lines are not rows.
pub struct InputReader<R: BufRead> {
    mode: Mode<R>,
    /// Lines read so far, for messages.
    line: u64,
}

impl<R: BufRead> InputReader<R> {
    pub fn new(reader: R) -> Self {
        InputReader {
            mode: Mode::Start(reader),
            line: 0,
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
                self.mode = Mode::Csv(reader, header);
                return self.next_item();
            }
            self.mode = Mode::Lines(reader);
            return Ok(Some(InputItem::new(&text)));
        }
    }

    fn next_item(&mut self) -> Result<Option<InputItem>, Error> {
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
            Mode::Csv(mut reader, header) => loop {
                let Some(text) = Self::read_line(&mut reader, &mut self.line)? else {
                    return Ok(None);
                };
                let text = text.trim_end_matches(['\r', '\n']);
                if text.trim().is_empty() {
                    continue;
                }
                let fields = split_csv_line(text, header.delimiter).map_err(|OpenQuote| {
                    Error::Input(format!(
                        "the CSV input has a quote left open on line {}: a row is one line, so close the quote (or double a quote inside a field: \"\")",
                        self.line
                    ))
                })?;
                if fields.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                let item = InputItem::new(fields.get(header.column).map_or("", String::as_str));
                self.mode = Mode::Csv(reader, header);
                return Ok(Some(item));
            },
            Mode::Done => Ok(None),
        }
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

    #[test]
    fn a_quote_left_open_is_an_error_naming_its_line() {
        let text = "name,cpr\nAnna,0101011234\n\"Bo,0202021234\nCarl,0303031234\n";
        let got: Vec<_> = InputReader::new(text.as_bytes()).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        let e = got[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("quote"), "{e}");
        // At the very end, without a line ending, too.
        let got: Vec<_> = InputReader::new("cpr\n\"0101011234".as_bytes()).collect();
        assert!(got[0].as_ref().unwrap_err().to_string().contains("line 2"));
        // Quotes that close, doubled quotes and text after a closing quote are fine.
        assert_eq!(
            rows("note,cpr\n\"a \"\"b\"\", c\",0101011234\n\"x\"y,0202021234\nab\"c,0303031234\n"),
            vec![
                ("0101011234".to_owned(), true),
                ("0202021234".to_owned(), true),
                ("0303031234".to_owned(), true)
            ]
        );
    }

    #[test]
    fn the_splitter_reads_fields_as_the_csv_crate_does() {
        for line in [
            "a,b,c",
            "\"a,b\",c",
            "\"a\"\"b\",c",
            "\"a\"x,c",
            "a\"b,c",
            ",,",
            "",
            " \"a\" ,b",
        ] {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(line.as_bytes());
            let mut rec = csv::StringRecord::new();
            let theirs: Vec<String> = if rdr.read_record(&mut rec).unwrap() {
                rec.iter().map(str::to_owned).collect()
            } else {
                vec![String::new()]
            };
            assert_eq!(split_csv_line(line, b',').unwrap(), theirs, "{line:?}");
        }
        assert_eq!(split_csv_line("a,\"b", b','), Err(OpenQuote));
        assert_eq!(split_csv_line("a;b", b';').unwrap(), vec!["a", "b"]);
    }
}
