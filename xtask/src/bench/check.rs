//! Checking the contenders' answers: every name against the sandbox's `persons.csv`,
//! every unknown number answered `not_found`, one record per input line.
//!
//! A benchmark whose answers are wrong measures nothing, so every check here fails the
//! bench with a message that says who answered what. Outputs of a million lines are
//! read line by line and compared as bytes (the record's fields come in the SPEC's
//! order), so the check neither holds them in memory nor takes longer than the run.

use std::collections::HashMap;
use std::fs;
use std::io::BufRead as _;
use std::path::Path;

/// `cpr -> name` from a CSV with `cpr` and `name` columns (`persons.csv`, a contender's
/// output).
pub(crate) fn names_from_csv(path: &Path) -> Result<HashMap<String, String>, String> {
    Ok(answers_from_csv(path)?
        .into_iter()
        .map(|(cpr, a)| (cpr, a.name))
        .collect())
}

/// One row of a contender's CSV output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub name: String,
    /// The `status` column, when the CSV has one (cprlink's output does).
    pub status: Option<String>,
}

/// `cpr -> answer` from a CSV with `cpr` and `name` columns and maybe `status`.
pub(crate) fn answers_from_csv(path: &Path) -> Result<HashMap<String, Answer>, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = r.headers().map_err(|e| e.to_string())?.clone();
    let find = |n: &str| header.iter().position(|h| h == n);
    let col = |n: &str| find(n).ok_or_else(|| format!("{}: no {n} column", path.display()));
    let (c, n, s) = (col("cpr")?, col("name")?, find("status"));
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        out.insert(
            rec[c].to_owned(),
            Answer {
                name: rec.get(n).unwrap_or("").to_owned(),
                status: s.and_then(|s| rec.get(s)).map(str::to_owned),
            },
        );
    }
    Ok(out)
}

/// Every CPR number asked must have the expected name in `got`.
pub(crate) fn names(
    who: &str,
    asked: &[String],
    got: &HashMap<String, String>,
    want: &HashMap<String, String>,
) -> Result<(), String> {
    let bad = asked.iter().filter(|c| got.get(*c) != want.get(*c)).count();
    if bad > 0 {
        return Err(format!(
            "{who}: {bad} of {} names differ from persons.csv",
            asked.len()
        ));
    }
    eprintln!(
        "  checked: {who} returned the expected name for all {} CPR numbers",
        asked.len()
    );
    Ok(())
}

/// The beginning of cprlink's JSON record for a known number (`cpr`, `status`, `name`
/// come first, in that order, in `lookup --format jsonl` and in `serve`'s answers).
pub(crate) fn record_prefix(cpr: &str, name: &str) -> String {
    let name = serde_json::to_string(name).unwrap_or_default();
    format!("{{\"cpr\":\"{cpr}\",\"status\":\"found\",\"name\":{name},")
}

/// A JSON Lines output of `cprlink lookup` must hold exactly one record per input
/// line, record `i` for `asked(i)`, with its expected name. Returns the record count.
pub(crate) fn jsonl_output(
    who: &str,
    path: &Path,
    lines: usize,
    asked: impl Fn(usize) -> String,
    want: &HashMap<String, String>,
) -> Result<(), String> {
    let prefixes: HashMap<&str, String> = want
        .iter()
        .map(|(c, n)| (c.as_str(), record_prefix(c, n)))
        .collect();
    let file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = String::new();
    let (mut records, mut wrong) = (0usize, 0usize);
    let mut first_wrong = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        let cpr = asked(records);
        let ok = prefixes
            .get(cpr.as_str())
            .is_some_and(|p| line.starts_with(p.as_str()));
        if !ok {
            wrong += 1;
            first_wrong.get_or_insert(records + 1);
        }
        records += 1;
    }
    if records != lines {
        return Err(format!("{who}: {records} records for {lines} input lines"));
    }
    if let Some(at) = first_wrong {
        return Err(format!(
            "{who}: {wrong} of {records} records differ from persons.csv (the first on line {at})"
        ));
    }
    eprintln!("  checked: {who} wrote {records} records, each with the expected name");
    Ok(())
}

/// A CSV output of `cprlink lookup` where `known` are numbers of `persons.csv` and
/// `unknown` are numbers the sandbox does not know: names for the first, `not_found`
/// with no name for the others.
pub(crate) fn found_and_not_found(
    who: &str,
    got: &HashMap<String, Answer>,
    known: &[String],
    unknown: &[String],
    want: &HashMap<String, String>,
) -> Result<(), String> {
    let found = |c: &String| {
        got.get(c)
            .is_some_and(|a| a.status.as_deref() == Some("found") && want.get(c) == Some(&a.name))
    };
    let missing = |c: &String| {
        got.get(c)
            .is_some_and(|a| a.status.as_deref() == Some("not_found") && a.name.is_empty())
    };
    let bad_known = known.iter().filter(|c| !found(c)).count();
    let bad_unknown = unknown.iter().filter(|c| !missing(c)).count();
    if bad_known + bad_unknown > 0 {
        return Err(format!(
            "{who}: {bad_known} of {} known numbers without their name, {bad_unknown} of {} unknown numbers not answered not_found",
            known.len(),
            unknown.len()
        ));
    }
    eprintln!(
        "  checked: {who} found all {} known numbers with their names and answered not_found for all {} unknown ones",
        known.len(),
        unknown.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> HashMap<String, String> {
        [
            ("0101011234", "Åse Ørum"),
            ("0202025678", "Jens \"JJ\" Hansen"),
        ]
        .into_iter()
        .map(|(c, n)| (c.to_owned(), n.to_owned()))
        .collect()
    }

    #[test]
    fn jsonl_records_are_matched_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let rec = |c: &str, n: &str| {
            let n = serde_json::to_string(n).unwrap();
            format!("{{\"cpr\":\"{c}\",\"status\":\"found\",\"name\":{n},\"first_names\":null}}\n")
        };
        let asked = |i: usize| ["0101011234", "0202025678"][i % 2].to_owned();
        let good = rec("0101011234", "Åse Ørum") + &rec("0202025678", "Jens \"JJ\" Hansen");
        fs::write(&path, good.repeat(2)).unwrap();
        jsonl_output("t", &path, 4, asked, &want()).unwrap();
        let e = jsonl_output("t", &path, 5, asked, &want()).unwrap_err();
        assert!(e.contains("4 records for 5 input lines"), "{e}");
        let bad = good.clone() + &rec("0101011234", "Ase Orum") + &rec("0202025678", "x");
        fs::write(&path, bad).unwrap();
        let e = jsonl_output("t", &path, 4, asked, &want()).unwrap_err();
        assert!(
            e.contains("2 of 4 records differ") && e.contains("line 3"),
            "{e}"
        );
    }

    #[test]
    fn unknown_numbers_must_be_not_found_and_known_ones_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(
            &path,
            "cpr,status,name,error\n0101011234,found,Åse Ørum,\n0202025678,found,\"Jens \"\"JJ\"\" Hansen\",\n0303030000,not_found,,\n",
        )
        .unwrap();
        let got = answers_from_csv(&path).unwrap();
        let known = vec!["0101011234".to_owned(), "0202025678".to_owned()];
        let unknown = vec!["0303030000".to_owned()];
        found_and_not_found("t", &got, &known, &unknown, &want()).unwrap();
        let e = found_and_not_found("t", &got, &unknown, &known, &want()).unwrap_err();
        assert!(
            e.contains("1 of 1 known") && e.contains("2 of 2 unknown"),
            "{e}"
        );
    }
}
