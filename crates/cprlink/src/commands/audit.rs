//! `cprlink audit find|verify|prune`: the audit trail as evidence.
//!
//! Thin: finds the trail (`[lookup] audit_log`) and its key (`audit_key_file`, else
//! the default place) from the config, parses the CPR number and the dates, calls
//! `cprlink_lookup::audit` and renders. The CPR number given is shown only masked,
//! also when it is refused. Exit codes (docs/operator.md):
//!
//! - `find`: 0 with the lookups found, also none (that is an answer too); 1 when an
//!   entry found does not match its MAC (the evidence was changed).
//! - `verify`: 0 when every entry checks, 1 when anything is wrong (reported by line).
//! - `prune`: 0 when done (also when nothing was older); a trail that does not verify
//!   is not pruned (exit 2, with the line).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use cprlink_lookup::Cpr;
use cprlink_lookup::audit::{self, AuditKey, Cut, Found, Problem};
use cprlink_onboard::Route;
use serde::Serialize;

use crate::args::{AuditCommand, AuditFindArgs, AuditPruneArgs};
use crate::commands::Context;
use crate::commands::connect;
use crate::exit::{CliError, Code, ForRoute};
use crate::output::hanging;

pub(crate) fn run(cmd: &AuditCommand, ctx: &mut Context) -> Result<Code, CliError> {
    match cmd {
        AuditCommand::Find(a) => find(a, ctx),
        AuditCommand::Verify => verify(ctx),
        AuditCommand::Prune(a) => prune(a, ctx),
    }
}

/// The configured trail and its key.
struct Trail {
    log: PathBuf,
    key: AuditKey,
    route: Route,
}

impl Trail {
    /// The library's errors for this trail, with `audit`'s own words for an old one.
    fn map<T>(&self, r: Result<T, cprlink_lookup::Error>) -> Result<T, CliError> {
        match r {
            Err(cprlink_lookup::Error::AuditOldFormat { path }) => Err(old_format(&path)),
            r => r.for_route(self.route),
        }
    }
}

fn old_format(path: &Path) -> CliError {
    CliError::usage(format!(
        "the audit trail {} is in the old format (salted hashes, no chain): `cprlink audit` reads only the keyed, chained format",
        path.display()
    ))
    .with_hint(format!(
        "its entries are SHA-256 of the salt in `{0}.salt` and the number; keep both as evidence, and move them aside (`mv {0} {0}.v1`) so lookups start a new trail",
        path.display()
    ))
}

/// Opens the trail named by the config; `writing` also refuses a key in the log's
/// directory (as the writers do).
fn trail(ctx: &mut Context, writing: bool) -> Result<Trail, CliError> {
    let cfg = ctx.config()?.clone();
    let route = cfg.route();
    let log = cfg.path(&cfg.config.lookup.audit_log).ok_or_else(|| {
        CliError::usage("no audit trail is configured: [lookup] audit_log is empty").with_hint(
            "set audit_log in [lookup] of cprlink.toml (or CPRLINK_LOOKUP_AUDIT_LOG) to the trail `cprlink lookup` and `serve` write",
        )
    })?;
    if !log.exists() {
        return Err(CliError::usage(format!(
            "there is no audit trail at {}",
            log.display()
        ))
        .with_hint(
            "lookups write it once [lookup] audit_log is set; check the path (a relative one is taken from the config file's directory)",
        ));
    }
    let key_path = connect::audit_key(&cfg)?;
    if writing {
        audit::check_apart(&log, &key_path).for_route(route)?;
    }
    let key = AuditKey::open(&key_path, false).for_route(route)?;
    Ok(Trail { log, key, route })
}

/// `YYYY-MM-DD` (the start of that day, UTC) or an RFC 3339 time.
fn parse_date(flag: &str, raw: &str) -> Result<DateTime<Utc>, CliError> {
    let text = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(t) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    // Never echo a CPR number (or a screenful) typed in the wrong place.
    let shown = if cprlink_lookup::cpr::find_in(text).is_some() || text.chars().count() > 40 {
        "the value given".to_owned()
    } else {
        format!("{text:?}")
    };
    Err(CliError::usage(format!("{flag} {shown} is not a date")).with_hint(
        "give a date as YYYY-MM-DD (the start of that day, UTC) or a time as RFC 3339, e.g. 2026-03-01T09:00:00+01:00",
    ))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

// ---- find ---------------------------------------------------------------------------

/// `audit find --json`: `{"cpr_masked", "trail", "since", "pruned", "lookups": [{"time",
/// "operator", "purpose", "outcome", "api", "line", "seq", "intact"}]}`.
#[derive(Debug, Serialize)]
struct FindShown<'a> {
    cpr_masked: String,
    trail: &'a Path,
    since: Option<String>,
    /// The trail was pruned: lookups from before `pruned.before` are no longer in it.
    pruned: Option<&'a Cut>,
    lookups: Vec<FoundShown<'a>>,
}

#[derive(Debug, Serialize)]
struct FoundShown<'a> {
    time: &'a str,
    operator: &'a str,
    purpose: Option<&'a str>,
    outcome: &'a str,
    api: &'a str,
    line: u64,
    seq: u64,
    /// The entry matches its MAC.
    intact: bool,
}

impl<'a> From<&'a Found> for FoundShown<'a> {
    fn from(f: &'a Found) -> Self {
        FoundShown {
            time: &f.time,
            operator: &f.operator,
            purpose: f.purpose.as_deref(),
            outcome: &f.outcome,
            api: &f.api,
            line: f.line,
            seq: f.seq,
            intact: f.intact,
        }
    }
}

fn find(args: &AuditFindArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let cpr = Cpr::parse(&args.cpr).map_err(|e| {
        CliError::usage(format!(
            "{} is not a CPR number ({e})",
            cprlink_lookup::cpr::mask_input(&args.cpr)
        ))
        .with_hint("give the person's number as DDMMYYSSSS or DDMMYY-SSSS")
    })?;
    let since = args
        .since
        .as_deref()
        .map(|raw| parse_date("--since", raw))
        .transpose()?;
    let t = trail(ctx, false)?;
    let findings = t.map(audit::find(&t.log, &t.key, &cpr, since))?;
    let shown = FindShown {
        cpr_masked: cpr.masked(),
        trail: &t.log,
        since: since.map(rfc3339),
        pruned: findings.pruned.as_ref(),
        lookups: findings.lookups.iter().map(FoundShown::from).collect(),
    };
    if ctx.ui.json {
        ctx.ui.print_json(&shown)?;
    } else if !shown.lookups.is_empty() {
        ctx.ui.print(&find_table(&shown.lookups))?;
    }
    let n = shown.lookups.len();
    let since_text = shown
        .since
        .as_ref()
        .map(|s| format!(" since {s}"))
        .unwrap_or_default();
    ctx.ui.note(&format!(
        "{} of {} in {}{since_text}",
        match n {
            0 => "no lookups".to_owned(),
            1 => "1 lookup".to_owned(),
            n => format!("{n} lookups"),
        },
        shown.cpr_masked,
        t.log.display()
    ));
    if let Some(cut) = shown.pruned {
        ctx.ui.note(&format!(
            "the trail was pruned before {} ({} entries dropped): earlier lookups are no longer in it",
            cut.before, cut.dropped
        ));
    }
    let changed: Vec<String> = shown
        .lookups
        .iter()
        .filter(|f| !f.intact)
        .map(|f| f.line.to_string())
        .collect();
    if changed.is_empty() {
        return Ok(Code::Success);
    }
    ctx.ui.warn(&format!(
        "the entr{} on line{} {} of the trail do{} not match {} MAC: changed after it was written; run `cprlink audit verify`",
        if changed.len() == 1 { "y" } else { "ies" },
        if changed.len() == 1 { "" } else { "s" },
        changed.join(", "),
        if changed.len() == 1 { "es" } else { "" },
        if changed.len() == 1 { "its" } else { "their" },
    ));
    Ok(Code::No)
}

/// The lookups as a table with a header: TIME, OPERATOR, PURPOSE, OUTCOME, API.
fn find_table(rows: &[FoundShown<'_>]) -> String {
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.time.to_owned(),
                r.operator.to_owned(),
                r.purpose.unwrap_or("-").to_owned(),
                if r.intact {
                    r.outcome.to_owned()
                } else {
                    format!("{} (changed!)", r.outcome)
                },
                r.api.to_owned(),
            ]
        })
        .collect();
    let head = ["TIME", "OPERATOR", "PURPOSE", "OUTCOME", "API"];
    let mut width = head.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, (c, w)) in row.iter().zip(width).enumerate() {
            if i + 1 == row.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&head.map(str::to_owned));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

// ---- verify -------------------------------------------------------------------------

/// `audit verify --json`: `{"trail", "ok", "entries", "first_seq", "last_seq", "head",
/// "pruned", "problems": [{"line", "kind", "detail"}]}`.
#[derive(Debug, Serialize)]
struct VerifyShown<'a> {
    trail: &'a Path,
    ok: bool,
    entries: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    /// The last entry's MAC: recorded elsewhere, it shows entries cut from the end.
    head: Option<&'a str>,
    pruned: Option<&'a Cut>,
    problems: &'a [Problem],
}

fn verify(ctx: &mut Context) -> Result<Code, CliError> {
    let t = trail(ctx, false)?;
    let v = t.map(audit::verify(&t.log, &t.key))?;
    let shown = VerifyShown {
        trail: &t.log,
        ok: v.ok(),
        entries: v.entries,
        first_seq: v.first_seq,
        last_seq: v.last_seq,
        head: v.head.as_deref(),
        pruned: v.cut.as_ref(),
        problems: &v.problems,
    };
    if ctx.ui.json {
        ctx.ui.print_json(&shown)?;
    } else {
        ctx.ui.print(&verify_text(ctx, &shown))?;
    }
    Ok(if shown.ok { Code::Success } else { Code::No })
}

fn verify_text(ctx: &Context, v: &VerifyShown<'_>) -> String {
    let mut out = String::new();
    for p in v.problems {
        let head = format!("line {}: {}: ", p.line, p.kind.as_str());
        for l in hanging(&head, 4, &p.detail) {
            out.push_str(&l);
            out.push('\n');
        }
    }
    let span = match (v.first_seq, v.last_seq) {
        (Some(a), Some(b)) => format!(" (entries {a} to {b})"),
        _ => String::new(),
    };
    if v.ok {
        out.push_str(&format!(
            "{}  {}: {} {}{span}, every one sealed and chained to the one before\n",
            ctx.ui.verdict_word("ok"),
            v.trail.display(),
            v.entries,
            if v.entries == 1 { "entry" } else { "entries" },
        ));
    } else {
        out.push_str(&format!(
            "{}  {}: {} problem{} in {} {}{span}\n",
            ctx.ui.verdict_word("fail"),
            v.trail.display(),
            v.problems.len(),
            if v.problems.len() == 1 { "" } else { "s" },
            v.entries,
            if v.entries == 1 { "entry" } else { "entries" },
        ));
    }
    if let Some(cut) = v.pruned {
        out.push_str(&format!(
            "      pruned before {} ({} entries dropped, up to entry {})\n",
            cut.before, cut.dropped, cut.after_seq
        ));
    }
    if let (Some(seq), Some(head)) = (v.last_seq, v.head) {
        out.push_str(&format!(
            "      head: entry {seq}, mac {head}\n      (keep it elsewhere: entries cut from the end show only against it)\n"
        ));
    }
    out
}

// ---- prune --------------------------------------------------------------------------

/// `audit prune --json`: `{"trail", "before", "dropped", "kept"}`.
#[derive(Debug, Serialize)]
struct PruneShown<'a> {
    trail: &'a Path,
    before: String,
    dropped: u64,
    kept: u64,
}

fn prune(args: &AuditPruneArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let before = parse_date("--before", &args.before)?;
    if before > Utc::now() {
        return Err(CliError::usage(format!(
            "--before {} is in the future: that would drop lookups still to be kept",
            rfc3339(before)
        ))
        .with_hint("give the first date to keep, e.g. five years ago: --before 2021-01-01"));
    }
    let t = trail(ctx, true)?;
    let done = t.map(audit::prune(&t.log, &t.key, before))?;
    let shown = PruneShown {
        trail: &t.log,
        before: rfc3339(before),
        dropped: done.dropped,
        kept: done.kept,
    };
    if ctx.ui.json {
        ctx.ui.print_json(&shown)?;
    } else if done.dropped == 0 {
        ctx.ui.note(&format!(
            "nothing in {} is from before {}: the trail is unchanged ({} entries)",
            t.log.display(),
            shown.before,
            done.kept
        ));
    } else {
        ctx.ui.note(&format!(
            "pruned {}: {} {} from before {} dropped, {} kept; a sealed marker stands in for the dropped ones, so the trail still verifies",
            t.log.display(),
            done.dropped,
            if done.dropped == 1 { "entry" } else { "entries" },
            shown.before,
            done.kept
        ));
    }
    Ok(Code::Success)
}
