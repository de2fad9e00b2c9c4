//! Lookup records on stdout or in a file: JSON Lines, CSV and a table for people, and
//! reading back an output written before (`--resume`, `--retry-errors`).
//!
//! Owns the three renderings (field names and order are the SPEC's) and the rule that
//! every write holds whole lines only, so a killed run leaves whole lines: a record is
//! always one line (a line break inside a CSV value is written as a space). Reading
//! back, every line must be a whole record of the format; only a half-written last
//! line is allowed, and cut. It never writes to stderr: records are data.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use cprlink_lookup::batch::{Earlier, RecordSink};
use cprlink_lookup::input::split_csv_line;
use cprlink_lookup::{Record, Status};

use super::file::Output;
use crate::args::OutputFormat;
use crate::exit::CliError;

/// Renders records of one format into bytes.
pub(super) struct Renderer {
    format: OutputFormat,
    /// The CSV/table header is still to be written.
    header_pending: bool,
}

/// Table column widths; the rows fit 100 columns.
const W_CPR: usize = 11;
const W_STATUS: usize = 9;
const W_NAME: usize = 32;
/// The longest person status, `bopael_i_groenland_hoej_vejkode`, whole: the columns
/// add up to 100.
const W_PERSON_STATUS: usize = 31;
const W_PROT: usize = 9;

impl Renderer {
    pub(super) fn new(format: OutputFormat, with_header: bool) -> Self {
        Renderer {
            format,
            header_pending: with_header,
        }
    }

    /// Appends the rendering of `records` (and the header, the first time) to `out`.
    pub(super) fn render(&mut self, records: &[Record], out: &mut Vec<u8>) {
        match self.format {
            OutputFormat::Jsonl => {
                for r in records {
                    // A record always serialises; the fallback keeps the line whole.
                    if serde_json::to_writer(&mut *out, r).is_err() {
                        out.extend_from_slice(b"{}");
                    }
                    out.push(b'\n');
                }
            }
            OutputFormat::Csv => {
                if std::mem::take(&mut self.header_pending) {
                    out.extend_from_slice(Record::FIELDS.join(",").as_bytes());
                    out.push(b'\n');
                }
                for r in records {
                    csv_row(r, out);
                }
            }
            OutputFormat::Table => {
                if std::mem::take(&mut self.header_pending) {
                    let head = format!(
                        "{:<W_CPR$}  {:<W_STATUS$}  {:<W_NAME$}  {:<W_PROT$}  {}\n",
                        "CPR", "STATUS", "NAME", "PROTECTED", "PERSON STATUS"
                    );
                    out.extend_from_slice(head.as_bytes());
                }
                for r in records {
                    table_row(r, out);
                }
            }
        }
    }
}

fn csv_field(value: &str, out: &mut Vec<u8>) {
    // One record, one line: `--resume` and `--retry-errors` read the file back by lines.
    let value: std::borrow::Cow<'_, str> = if value.contains(['\n', '\r']) {
        value.replace(['\n', '\r'], " ").into()
    } else {
        value.into()
    };
    if value.contains([',', '"']) {
        out.push(b'"');
        out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

fn csv_row(r: &Record, out: &mut Vec<u8>) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields = [
        r.cpr.clone(),
        r.status.as_str().to_owned(),
        opt(&r.name),
        opt(&r.first_names),
        opt(&r.middle_name),
        opt(&r.last_name),
        opt(&r.addressing_name),
        r.name_protected.to_string(),
        opt(&r.person_status),
        opt(&r.error),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(f, out);
    }
    out.push(b'\n');
}

/// Cuts `s` to `width` characters, marking the cut.
fn fit(s: &str, width: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= width {
        return flat;
    }
    let mut cut: String = flat.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn table_row(r: &Record, out: &mut Vec<u8>) {
    let cpr = if r.status == Status::Invalid || r.cpr.len() != 10 {
        fit(&r.cpr, W_CPR)
    } else {
        format!("{}-{}", &r.cpr[..6], &r.cpr[6..])
    };
    let name = match r.status {
        Status::Found => r
            .name
            .clone()
            .unwrap_or_else(|| "(no current name)".to_owned()),
        Status::NotFound => "-".to_owned(),
        Status::Invalid | Status::Error => r.error.clone().unwrap_or_default(),
    };
    let protected = if r.status == Status::Found {
        if r.name_protected { "yes" } else { "no" }
    } else {
        ""
    };
    let line = format!(
        "{:<W_CPR$}  {:<W_STATUS$}  {:<W_NAME$}  {:<W_PROT$}  {}",
        cpr,
        r.status.as_str(),
        fit(&name, W_NAME),
        protected,
        fit(r.person_status.as_deref().unwrap_or(""), W_PERSON_STATUS)
    );
    out.extend_from_slice(line.trim_end().as_bytes());
    out.push(b'\n');
}

/// A sink writing each unit of records with one `write` call.
pub(super) struct WriterSink<W: Write + Send> {
    writer: W,
    renderer: Renderer,
    buf: Vec<u8>,
}

impl<W: Write + Send> WriterSink<W> {
    pub(super) fn new(writer: W, renderer: Renderer) -> Self {
        WriterSink {
            writer,
            renderer,
            buf: Vec::with_capacity(64 * 1024),
        }
    }
}

impl<W: Write + Send> RecordSink for WriterSink<W> {
    fn write(&mut self, records: &[Record]) -> io::Result<()> {
        self.buf.clear();
        self.renderer.render(records, &mut self.buf);
        self.writer.write_all(&self.buf)?;
        self.writer.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A sink writing each unit of records to the `--output` file with one write, telling
/// it when Datafordeler answered one of them (the moment a staged file goes in place).
pub(super) struct FileSink {
    output: Output,
    renderer: Renderer,
    buf: Vec<u8>,
}

impl FileSink {
    pub(super) fn new(output: Output, renderer: Renderer) -> Self {
        FileSink {
            output,
            renderer,
            buf: Vec::with_capacity(64 * 1024),
        }
    }
}

impl RecordSink for FileSink {
    fn write(&mut self, records: &[Record]) -> io::Result<()> {
        self.buf.clear();
        self.renderer.render(records, &mut self.buf);
        // Invalid rows are answered without Datafordeler; every other status is its word.
        let answered = records.iter().any(|r| r.status != Status::Invalid);
        self.output.write(&self.buf, answered)
    }
}

/// What an output file written before holds, read once before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scan {
    /// Whole records.
    pub records: u64,
    /// Of those, `error` rows.
    pub errors: u64,
    /// Bytes of whole lines; what follows is a half-written last line.
    pub whole_len: u64,
    /// The CSV header is there.
    pub has_header: bool,
}

impl Scan {
    /// Bytes of a half-written last line (cut before appending).
    pub(super) fn cut_bytes(&self, file_len: u64) -> u64 {
        file_len.saturating_sub(self.whole_len)
    }
}

/// The records of an output file written before, line by line. `label` names the flag
/// and the file in messages.
pub(super) struct EarlierLines {
    reader: BufReader<File>,
    format: OutputFormat,
    label: String,
    line: u64,
    pos: u64,
    buf: Vec<u8>,
}

impl EarlierLines {
    pub(super) fn open(
        path: &Path,
        format: OutputFormat,
        label: &str,
    ) -> Result<EarlierLines, CliError> {
        if format == OutputFormat::Table {
            return Err(CliError::usage(format!(
                "{label}: a table is for people and cannot be carried on"
            ))
            .with_hint("write the output with --format jsonl or --format csv"));
        }
        let file = File::open(path).map_err(|e| {
            CliError::usage(format!("{label}: cannot read {}: {e}", path.display()))
        })?;
        Ok(EarlierLines {
            reader: BufReader::with_capacity(256 * 1024, file),
            format,
            label: label.to_owned(),
            line: 0,
            pos: 0,
            buf: Vec::new(),
        })
    }

    /// The next whole record and the end of its line; `None` at the end (or at a
    /// half-written last line).
    fn next_record(&mut self) -> Result<Option<(Record, u64)>, String> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| format!("{}: cannot read line {}: {e}", self.label, self.line + 1))?;
            if n == 0 || self.buf.last() != Some(&b'\n') {
                // The end, or a line a killed run left half-written.
                return Ok(None);
            }
            self.line += 1;
            self.pos += n as u64;
            let text = String::from_utf8_lossy(&self.buf);
            let text = text.trim_end_matches(['\r', '\n']);
            let parsed = match self.format {
                OutputFormat::Csv if self.line == 1 => {
                    if text == Record::FIELDS.join(",") {
                        continue;
                    }
                    Err("not the CSV header cprlink writes".to_owned())
                }
                OutputFormat::Csv => csv_record(text),
                OutputFormat::Jsonl | OutputFormat::Table => {
                    serde_json::from_str::<Record>(text).map_err(|e| not_a_record(&e))
                }
            };
            return match parsed {
                Ok(r) => Ok(Some((r, self.pos))),
                Err(why) => Err(format!(
                    "{}: line {} is {why}: the file is not (or no longer) cprlink {} output",
                    self.label,
                    self.line,
                    if self.format == OutputFormat::Csv {
                        "CSV"
                    } else {
                        "JSON Lines"
                    }
                )),
            };
        }
    }

    /// Reads the whole file: counts and checks every line.
    pub(super) fn scan(mut self) -> Result<Scan, CliError> {
        let mut scan = Scan {
            records: 0,
            errors: 0,
            whole_len: 0,
            has_header: false,
        };
        while let Some((r, end)) = self.next_record().map_err(|m| {
            CliError::usage(m).with_hint(
                "nothing was changed; name a new --output, or pass --force to replace this file",
            )
        })? {
            scan.records += 1;
            scan.errors += u64::from(r.status == Status::Error);
            scan.whole_len = end;
        }
        scan.has_header = self.format == OutputFormat::Csv && self.line > 0;
        if scan.records == 0 {
            // A header alone counts as whole.
            scan.whole_len = self.pos;
        }
        Ok(scan)
    }

    /// The records as the batch runner takes them up: `retry` asks the `error` rows
    /// again and keeps the rest; otherwise every record is already written.
    pub(super) fn earlier(
        mut self,
        retry: bool,
    ) -> impl Iterator<Item = Result<Earlier, cprlink_lookup::Error>> + Send + 'static {
        std::iter::from_fn(move || {
            Some(match self.next_record() {
                Ok(None) => return None,
                Ok(Some((r, _))) => Ok(match (retry, r.status) {
                    (true, Status::Error) => Earlier::Ask { cpr: r.cpr },
                    (true, _) => Earlier::Keep(r),
                    (false, _) => Earlier::Written { cpr: r.cpr },
                }),
                Err(m) => Err(cprlink_lookup::Error::Earlier(m)),
            })
        })
    }
}

/// Why a JSON line is not a record, without serde's own words: they quote the value
/// they choked on, which may be a CPR number or a name.
fn not_a_record(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "a record cut short",
        serde_json::error::Category::Data => "JSON, but not a record cprlink writes",
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => "not JSON",
    };
    format!("not a whole record ({what}, at column {})", e.column())
}

/// A CSV line of cprlink's own output, back as a record.
fn csv_record(line: &str) -> Result<Record, String> {
    let f = split_csv_line(line, b',').map_err(|_| "a record with a quote left open".to_owned())?;
    if f.len() != Record::FIELDS.len() {
        return Err(format!(
            "a row of {} fields (cprlink writes {})",
            f.len(),
            Record::FIELDS.len()
        ));
    }
    let opt = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    let status = Status::parse(&f[1]).ok_or("a row without a known status")?;
    let name_protected = match f[7].as_str() {
        "true" => true,
        "false" => false,
        _ => return Err("a row whose name_protected is not true or false".to_owned()),
    };
    Ok(Record {
        cpr: f[0].clone(),
        status,
        name: opt(&f[2]),
        first_names: opt(&f[3]),
        middle_name: opt(&f[4]),
        last_name: opt(&f[5]),
        addressing_name: opt(&f[6]),
        name_protected,
        person_status: opt(&f[8]),
        error: opt(&f[9]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cprlink_lookup::Cpr;

    fn sample() -> Vec<Record> {
        let a = Cpr::parse("0101011234").unwrap();
        let mut found = Record::not_found(&a);
        found.status = Status::Found;
        found.name = Some("Åse \"Bo\", Jensen".to_owned());
        found.first_names = Some("Åse".to_owned());
        found.name_protected = true;
        found.person_status = Some("bopael_i_danmark".to_owned());
        vec![
            found,
            Record::not_found(&Cpr::parse("0202021234").unwrap()),
            Record::invalid("12345", &cprlink_lookup::InvalidCpr::Shape),
        ]
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let mut out = Vec::new();
        Renderer::new(OutputFormat::Jsonl, false).render(&sample(), &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["name"], "Åse \"Bo\", Jensen");
        assert_eq!(v["name_protected"], true);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn csv_quotes_and_has_one_header() {
        let mut r = Renderer::new(OutputFormat::Csv, true);
        let mut out = Vec::new();
        r.render(&sample()[..1], &mut out);
        r.render(&sample()[1..], &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "cpr,status,name,first_names,middle_name,last_name,addressing_name,name_protected,person_status,error"
        );
        assert_eq!(
            lines[1],
            "0101011234,found,\"Åse \"\"Bo\"\", Jensen\",Åse,,,,true,bopael_i_danmark,"
        );
        assert_eq!(lines[2], "0202021234,not_found,,,,,,false,,");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn table_fits_100_columns() {
        let mut out = Vec::new();
        let mut recs = sample();
        recs[0].name = Some("X".repeat(200));
        recs[0].person_status = Some("bopael_i_groenland_hoej_vejkode".to_owned());
        Renderer::new(OutputFormat::Table, true).render(&recs, &mut out);
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{line:?} ({})",
                line.chars().count()
            );
        }
        assert!(text.contains("010101-1234"));
        assert!(text.contains("invalid CPR number"));
        // Every person status whole (datafordeler.md 1.2).
        assert!(text.contains("bopael_i_groenland_hoej_vejkode"), "{text}");
    }

    #[test]
    fn earlier_outputs_read_back_whole_records_and_stop_at_a_half_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        Renderer::new(OutputFormat::Jsonl, false).render(&sample(), &mut bytes);
        let whole = bytes.len() as u64;
        bytes.extend_from_slice(b"{\"cpr\":\"03030");
        let p = dir.path().join("out.jsonl");
        std::fs::write(&p, &bytes).unwrap();
        let scan = EarlierLines::open(&p, OutputFormat::Jsonl, "--resume")
            .unwrap()
            .scan()
            .unwrap();
        assert_eq!(
            (scan.records, scan.whole_len, scan.has_header),
            (3, whole, false)
        );
        assert_eq!(scan.cut_bytes(bytes.len() as u64), 13);
        let kept: Vec<Earlier> = EarlierLines::open(&p, OutputFormat::Jsonl, "x")
            .unwrap()
            .earlier(true)
            .map(Result::unwrap)
            .collect();
        assert_eq!(kept[0], Earlier::Keep(sample()[0].clone()));
        // CSV reads back to the same records, and writes back to the same bytes.
        let mut csv = Vec::new();
        let mut r = Renderer::new(OutputFormat::Csv, true);
        r.render(&sample(), &mut csv);
        let c = dir.path().join("out.csv");
        std::fs::write(&c, &csv).unwrap();
        let back: Vec<Record> = EarlierLines::open(&c, OutputFormat::Csv, "x")
            .unwrap()
            .earlier(true)
            .map(|e| match e.unwrap() {
                Earlier::Keep(r) => r,
                other => panic!("{other:?}"),
            })
            .collect();
        let mut again = Vec::new();
        Renderer::new(OutputFormat::Csv, true).render(&back, &mut again);
        assert_eq!(again, csv);
        // A line in the middle that is not a record: refused, naming the line.
        std::fs::write(
            &p,
            "{\"cpr\":\"0101011234\",\"status\":\"found\",\"name_protected\":false}\nnot ours\n",
        )
        .unwrap();
        let e = EarlierLines::open(&p, OutputFormat::Jsonl, "--resume: out.jsonl")
            .unwrap()
            .scan()
            .unwrap_err();
        assert!(e.message.contains("line 2"), "{}", e.message);
        std::fs::write(&c, "cpr,status\n").unwrap();
        assert!(
            EarlierLines::open(&c, OutputFormat::Csv, "x")
                .unwrap()
                .scan()
                .is_err()
        );
        assert!(EarlierLines::open(&c, OutputFormat::Table, "x").is_err());
    }

    #[test]
    fn a_line_break_in_a_csv_value_stays_on_its_line() {
        let mut r = sample()[0].clone();
        r.error = Some("two\nlines".to_owned());
        let mut out = Vec::new();
        Renderer::new(OutputFormat::Csv, false).render(&[r], &mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    }
}
