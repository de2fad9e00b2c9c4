//! Lookup records on stdout or in a file: JSON Lines, CSV and a table for people, and
//! what `--resume` finds in an output file written before.
//!
//! Owns the three renderings (field names and order are the SPEC's) and the rule that
//! every write holds whole lines only, so a killed run leaves whole lines. It never
//! writes to stderr: records are data.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use cprlink_lookup::batch::RecordSink;
use cprlink_lookup::{Record, Status};

use crate::args::OutputFormat;

/// Renders records of one format into bytes.
pub struct Renderer {
    format: OutputFormat,
    /// The CSV/table header is still to be written.
    header_pending: bool,
}

/// Table column widths; the rows fit 100 columns.
const W_CPR: usize = 11;
const W_STATUS: usize = 9;
const W_NAME: usize = 40;
const W_PROT: usize = 9;

impl Renderer {
    pub fn new(format: OutputFormat, with_header: bool) -> Self {
        Renderer {
            format,
            header_pending: with_header,
        }
    }

    /// Appends the rendering of `records` (and the header, the first time) to `out`.
    pub fn render(&mut self, records: &[Record], out: &mut Vec<u8>) {
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
    if value.contains([',', '"', '\n', '\r']) {
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
        fit(r.person_status.as_deref().unwrap_or(""), 22)
    );
    out.extend_from_slice(line.trim_end().as_bytes());
    out.push(b'\n');
}

/// A sink writing each unit of records with one `write` call.
pub struct WriterSink<W: Write + Send> {
    writer: W,
    renderer: Renderer,
    buf: Vec<u8>,
}

impl<W: Write + Send> WriterSink<W> {
    pub fn new(writer: W, renderer: Renderer) -> Self {
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

/// What `--resume` found in an existing output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// Records already answered (rows to skip).
    pub answered: u64,
    /// The `cpr` field of the last one, to check it matches the input.
    pub last_cpr: Option<String>,
    /// Bytes cut off the end (a half-written last line).
    pub repaired_bytes: u64,
    /// The file already has its CSV header.
    pub has_header: bool,
}

/// Reads an output file for `--resume`: counts whole records, cuts a half-written
/// last line, and returns where to carry on. Reads the file once, streaming.
pub fn resume_point(path: &Path, format: OutputFormat) -> Result<ResumePoint, String> {
    let mut file = match File::options().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(ResumePoint {
                answered: 0,
                last_cpr: None,
                repaired_bytes: 0,
                has_header: false,
            });
        }
        Err(e) => return Err(format!("cannot open {} for --resume: {e}", path.display())),
    };
    let mut lines = 0u64;
    let mut last_line: Vec<u8> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut whole_len = 0u64;
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            total += 1;
            if b == b'\n' {
                lines += 1;
                whole_len = total;
                last_line = std::mem::take(&mut current);
            } else {
                current.push(b);
            }
        }
    }
    let repaired = total - whole_len;
    if repaired > 0 {
        file.set_len(whole_len)
            .map_err(|e| format!("cannot repair {}: {e}", path.display()))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot repair {}: {e}", path.display()))?;
    }
    let (answered, has_header) = match format {
        OutputFormat::Jsonl => (lines, false),
        OutputFormat::Csv => (lines.saturating_sub(1), lines > 0),
        OutputFormat::Table => {
            return Err("--resume needs --format jsonl or csv (a table is for people)".to_owned());
        }
    };
    let last_cpr = if answered == 0 {
        None
    } else {
        let text = String::from_utf8_lossy(&last_line);
        let cpr = match format {
            OutputFormat::Jsonl => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("cpr").and_then(|c| c.as_str()).map(str::to_owned)),
            _ => text
                .split(',')
                .next()
                .map(|f| f.trim_matches('"').to_owned()),
        };
        match cpr {
            Some(c) => Some(c),
            None => {
                return Err(format!(
                    "{} does not look like cprlink {} output (its last line has no cpr field)",
                    path.display(),
                    if format == OutputFormat::Csv {
                        "CSV"
                    } else {
                        "JSON Lines"
                    }
                ));
            }
        }
    };
    Ok(ResumePoint {
        answered,
        last_cpr,
        repaired_bytes: repaired,
        has_header,
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
    }

    #[test]
    fn resume_counts_whole_lines_and_repairs_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        assert_eq!(resume_point(&p, OutputFormat::Jsonl).unwrap().answered, 0);
        std::fs::write(
            &p,
            "{\"cpr\":\"0101011234\"}\n{\"cpr\":\"0202021234\"}\n{\"cpr\":\"03030",
        )
        .unwrap();
        let rp = resume_point(&p, OutputFormat::Jsonl).unwrap();
        assert_eq!(rp.answered, 2);
        assert_eq!(rp.last_cpr.as_deref(), Some("0202021234"));
        assert_eq!(rp.repaired_bytes, 13);
        assert!(std::fs::read_to_string(&p).unwrap().ends_with("}\n"));
        let c = dir.path().join("out.csv");
        std::fs::write(&c, "cpr,status\n0101011234,found\n0202").unwrap();
        let rp = resume_point(&c, OutputFormat::Csv).unwrap();
        assert_eq!(
            (rp.answered, rp.has_header, rp.last_cpr.as_deref()),
            (1, true, Some("0101011234"))
        );
        std::fs::write(&c, "not ours\n").unwrap();
        assert!(resume_point(&p, OutputFormat::Table).is_err());
    }
}
