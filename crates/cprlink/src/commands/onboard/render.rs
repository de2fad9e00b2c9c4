//! What `cprlink onboard` shows: the status checklist, the guidance for a step, and
//! their JSON forms, fitted to 100 columns and readable without colour.
//!
//! Pure rendering from the model's `Status` and step tables; it reads nothing from disk
//! and asks nothing.

use cprlink_onboard::steps::{Applies, FieldDefault, StepDef};
use cprlink_onboard::{Case, Stamp, Status, StepState};
use serde::Serialize;

use crate::exit::{CliError, Code};
use crate::output::Ui;

/// Human output fits this many columns.
pub(super) const WIDTH: usize = 100;

// ---- status ---------------------------------------------------------------------------

/// `status --json`: the SPEC's fields first, then the documented extras.
#[derive(Serialize)]
pub(super) struct StatusJson<'a> {
    authority: &'a str,
    cvr: &'a str,
    route: &'a str,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_email: Option<&'a str>,
    steps: &'a [cprlink_onboard::StepStatus],
    next_action: &'a str,
    credential_expires_on: Option<chrono::NaiveDate>,
    renewal: Option<&'a cprlink_onboard::RenewalStatus>,
    credential_method: Option<&'a str>,
    renewal_due: bool,
    past_renewals: &'a [cprlink_onboard::RenewalStatus],
    expires_soon: bool,
    next_command: Option<&'a str>,
    current_step: Option<&'a str>,
    warnings: &'a [cprlink_onboard::Warning],
    blocked: bool,
    blockers: &'a [String],
    complete: bool,
}

impl<'a> From<&'a Status> for StatusJson<'a> {
    fn from(s: &'a Status) -> Self {
        StatusJson {
            authority: &s.authority,
            cvr: &s.cvr,
            route: s.route.as_str(),
            environment: &s.environment,
            contact_name: s.contact_name.as_deref(),
            contact_email: s.contact_email.as_deref(),
            steps: &s.steps,
            next_action: &s.next_action,
            credential_expires_on: s.credential_expires_on,
            renewal: s.renewal.as_ref(),
            credential_method: s.credential_method.as_deref(),
            renewal_due: s.renewal_due,
            past_renewals: &s.past_renewals,
            expires_soon: s.expires_soon,
            next_command: s.next_command.as_deref(),
            current_step: s.current_step.as_deref(),
            warnings: &s.warnings,
            blocked: s.blocked,
            blockers: &s.blockers,
            complete: s.complete,
        }
    }
}

pub(super) fn state_label(s: &cprlink_onboard::StepStatus) -> String {
    match s.state {
        StepState::Done => "done".to_owned(),
        StepState::InProgress => "in progress".to_owned(),
        StepState::Waiting => format!("waiting {}d", s.waiting_days.unwrap_or(0)),
        StepState::NotStarted => "not started".to_owned(),
    }
}

/// The human checklist (stdout).
pub(super) fn render_status(ui: &Ui, st: &Status) -> String {
    use console::Style;
    let mut out = String::new();
    out.push_str(&format!(
        "{} (CVR {}): route {}, {} environment\n\n",
        st.authority, st.cvr, st.route, st.environment
    ));
    for (i, s) in st.steps.iter().enumerate() {
        let label = state_label(s);
        let style = match s.state {
            StepState::Done => Style::new().green(),
            StepState::Waiting | StepState::InProgress => Style::new().yellow(),
            StepState::NotStarted => Style::new().dim(),
        };
        let word = ui.style_stdout(style, &format!("{label:<12}"));
        let mut line = format!("{:>2}. {word} {} ({})", i + 1, s.title, s.id);
        if let Some(d) = s.done_on.filter(|_| s.state == StepState::Done) {
            line.push_str(&format!(", {d}"));
        }
        out.push_str(&line);
        out.push('\n');
        if let (Some(on), Some(since)) = (&s.waiting_on, s.waiting_since) {
            out.push_str(&format!("      waiting for {on} since {since}\n"));
        }
        for (k, v) in &s.facts {
            out.push_str(&fit(&format!("      {k}: {v}"), WIDTH));
            out.push('\n');
        }
        if !s.missing.is_empty() && s.state != StepState::NotStarted {
            out.push_str(&fit(
                &format!("      missing: {}", s.missing.join(", ")),
                WIDTH,
            ));
            out.push('\n');
        }
    }
    if let Some(r) = &st.renewal {
        out.push('\n');
        out.push_str(&render_renewal(ui, r));
    }
    for r in &st.past_renewals {
        out.push_str(&wrap(
            &format!(
                "Renewed on {}: the {} replaced the {}.",
                r.completed_on.map_or_else(String::new, |d| d.to_string()),
                credential_words(&r.method, &r.new),
                credential_words(&r.method, &r.old),
            ),
            WIDTH,
            "  ",
        ));
    }
    out.push('\n');
    for b in &st.blockers {
        let label = ui.style_stdout(Style::new().red().bold(), "blocked:");
        out.push_str(&wrap(&format!("{label} {b}"), WIDTH, "  "));
    }
    for w in &st.warnings {
        let label = ui.style_stdout(Style::new().yellow().bold(), "warning:");
        out.push_str(&wrap(&format!("{label} {}", w.message), WIDTH, "  "));
    }
    if ui.shows_next() {
        out.push_str(&wrap(&format!("Next: {}", st.next_action), WIDTH, "  "));
    } else if out.ends_with("\n\n") {
        // Without its "Next:" line (the demo's story), the checklist ends with its steps.
        out.pop();
    }
    out
}

/// "certificate SHA-1 X" or "shared secret expiring D", for one line.
fn credential_words(method: &str, c: &cprlink_onboard::status::CredentialView) -> String {
    match (&c.sha1_thumbprint, method) {
        (Some(t), _) => format!("certificate SHA-1 {t}"),
        (None, _) => format!(
            "shared secret expiring {}",
            c.expires_on.map_or_else(String::new, |d| d.to_string())
        ),
    }
}

/// The renewal in progress: the old and the new credential side by side with days
/// left, its steps, and what breaks on which date if it stalls.
fn render_renewal(ui: &Ui, r: &cprlink_onboard::RenewalStatus) -> String {
    use console::Style;
    let secret = r.method == "shared-secret";
    let mut out = String::new();
    let what = if secret {
        "shared secret"
    } else {
        "certificate"
    };
    out.push_str(&ui.style_stdout(
        Style::new().bold(),
        &format!("Renewal of the {what}, started {}", r.started_on),
    ));
    out.push('\n');
    let days = |c: &cprlink_onboard::status::CredentialView| match (c.expires_on, c.days_left) {
        (Some(d), Some(n)) if n < 0 => format!("{d} (expired {} days ago)", -n),
        (Some(d), Some(n)) => format!("{d} ({n} days left)"),
        _ => "?".to_owned(),
    };
    let old_head = if r.is_done("confirm") {
        "old"
    } else {
        "old (in use)"
    };
    let row = |label: &str, old: &str, new: &str| format!("  {label:<12}{old:<43}{new}\n");
    out.push_str(&row("", old_head, "new"));
    if !secret {
        let t = |c: &cprlink_onboard::status::CredentialView| {
            c.sha1_thumbprint.clone().unwrap_or_default()
        };
        out.push_str(&row("SHA-1", &t(&r.old), &t(&r.new)));
    } else {
        let c = |c: &cprlink_onboard::status::CredentialView| {
            c.created_on.map_or_else(String::new, |d| d.to_string())
        };
        out.push_str(&row("created", &c(&r.old), &c(&r.new)));
    }
    out.push_str(&row("expires", &days(&r.old), &days(&r.new)));
    for (i, s) in r.steps.iter().enumerate() {
        let label = state_label(s);
        let style = match s.state {
            StepState::Done => Style::new().green(),
            StepState::Waiting | StepState::InProgress => Style::new().yellow(),
            StepState::NotStarted => Style::new().dim(),
        };
        let word = ui.style_stdout(style, &format!("{label:<12}"));
        let mut line = format!("{:>2}. {word} {} ({})", i + 1, s.title, s.id);
        if let Some(d) = s.done_on.filter(|_| s.state == StepState::Done) {
            line.push_str(&format!(", {d}"));
        }
        out.push_str(&line);
        out.push('\n');
        for (k, v) in &s.facts {
            out.push_str(&fit(&format!("      {k}: {v}"), WIDTH));
            out.push('\n');
        }
    }
    if !r.if_stalled.is_empty() {
        out.push_str("If the renewal stalls here:\n");
        for c in &r.if_stalled {
            out.push_str(&wrap(
                &format!("  {} ({}): {}", c.on, c.step, c.message),
                WIDTH,
                "      ",
            ));
        }
    }
    out
}

/// One JSON document on stdout (a closed pipe is success, see `Ui::print_json`).
pub(super) fn print_json<T: Serialize>(ui: &Ui, value: &T) -> Result<(), CliError> {
    Ok(ui.print_json(value)?)
}

/// A note on stderr, wrapped to the terminal width we promise.
pub(super) fn say(ui: &Ui, text: &str) {
    ui.note(wrap(text, WIDTH, "  ").trim_end());
}

/// Cuts a line to `width` characters, marking the cut.
pub(super) fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut s: String = line.chars().take(width - 3).collect();
    s.push_str("...");
    s
}

/// Wraps text at spaces to `width` columns; continuation lines start with `indent`.
/// Words longer than a line (URLs, commands) stay whole.
pub(super) fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    for para in text.split('\n') {
        // Keep a paragraph's own indentation (aligned lists).
        let lead = &para[..para.len() - para.trim_start_matches(' ').len()];
        let mut line = lead.to_owned();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let visible = |s: &str| console::measure_text_width(s);
            if !line.trim().is_empty() && visible(&line) + 1 + visible(word) > width {
                out.push_str(line.trim_end());
                out.push('\n');
                line = indent.to_owned();
            } else if !line.trim().is_empty() && !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---- next ------------------------------------------------------------------------------

#[derive(Serialize)]
pub(super) struct LinkJson<'a> {
    label: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
pub(super) struct ValueJson<'a> {
    label: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
pub(super) struct FieldJson<'a> {
    key: &'a str,
    flag: &'a str,
    label: &'a str,
    required: bool,
    recorded: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct NextJson<'a> {
    step: Option<&'a str>,
    title: Option<&'a str>,
    state: Option<&'a str>,
    what: Option<&'a str>,
    links: Vec<LinkJson<'a>>,
    values: Vec<ValueJson<'a>>,
    fields: Vec<FieldJson<'a>>,
    command: Option<&'a str>,
    next_action: &'a str,
    complete: bool,
}

/// `next` without prompts: the guidance and the exact command, on stdout.
pub(super) fn guidance_only(case: &Case, prefix: &str, ui: &Ui) -> Result<Code, CliError> {
    let st = case.status_with(Stamp::now().today, prefix);
    let def = current_step(&st).map(|id| case.step(id)).transpose()?;
    if ui.json {
        let values = def.map(|d| case.exact_values(d)).unwrap_or_default();
        let step = def.and_then(|d| step_status(&st, d.id));
        let json = NextJson {
            step: def.map(|d| d.id),
            title: def.map(|d| d.title),
            state: step.map(|s| s.state.as_str()),
            what: def.map(|d| d.what),
            links: def
                .map(|d| {
                    d.links
                        .iter()
                        .map(|l| LinkJson {
                            label: l.label,
                            url: l.url,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            values: values
                .iter()
                .map(|(l, v)| ValueJson { label: l, value: v })
                .collect(),
            fields: def
                .map(|d| {
                    d.fields
                        .iter()
                        .map(|f| FieldJson {
                            key: f.key,
                            flag: f.flag,
                            label: f.label,
                            required: f.required,
                            recorded: step
                                .and_then(|s| s.facts.get(f.presence_key()))
                                .map(String::as_str),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            command: st.next_command.as_deref(),
            next_action: &st.next_action,
            complete: st.complete,
        };
        print_json(ui, &json)?;
        return Ok(Code::Success);
    }
    match def {
        Some(d) => ui.print(&guidance(case, d, &st, prefix, ui))?,
        None => ui.print(&wrap(&st.next_action, WIDTH, ""))?,
    }
    Ok(Code::Success)
}

/// The step to work on: the onboarding's first open one, else the renewal's.
pub(super) fn current_step(st: &Status) -> Option<&str> {
    st.current_step
        .as_deref()
        .or_else(|| st.renewal.as_ref().and_then(|r| r.current_step.as_deref()))
}

/// A step's status, of the onboarding or of the renewal in progress.
pub(super) fn step_status<'a>(st: &'a Status, id: &str) -> Option<&'a cprlink_onboard::StepStatus> {
    st.steps
        .iter()
        .chain(st.renewal.iter().flat_map(|r| r.steps.iter()))
        .find(|s| s.id == id)
}

/// The guidance for one step: what, where, exact values, what to record, the command.
pub(super) fn guidance(case: &Case, def: &StepDef, st: &Status, prefix: &str, ui: &Ui) -> String {
    use console::Style;
    let steps = case.steps_of(def.id);
    let n = steps
        .iter()
        .position(|d| d.id == def.id)
        .map_or(0, |i| i + 1);
    let step = step_status(st, def.id);
    let mut out = String::new();
    let of = if cprlink_onboard::steps::is_renewal_step(def.id) {
        "Renewal step"
    } else {
        "Step"
    };
    let title = format!("{of} {n} of {}: {}", steps.len(), def.title);
    out.push_str(&ui.style_stdout(Style::new().bold(), &title));
    out.push_str(&format!(
        " ({}, {})\n\n",
        def.id,
        step.map_or_else(String::new, state_label)
    ));
    for b in &st.blockers {
        out.push_str(&wrap(&format!("Blocked: {b}"), WIDTH, "  "));
        out.push('\n');
    }
    if let Some(s) = step
        && let (Some(on), Some(since)) = (&s.waiting_on, s.waiting_since)
    {
        out.push_str(&format!(
            "Waiting for {on} since {since} ({} days).\n\n",
            s.waiting_days.unwrap_or(0)
        ));
    }
    out.push_str(&wrap(def.what, WIDTH, ""));
    out.push('\n');
    if !def.links.is_empty() {
        out.push_str("Where:\n");
        for l in def.links {
            let url = l.url.strip_prefix("mailto:").unwrap_or(l.url);
            out.push_str(&format!("  {}: {url}\n", l.label));
        }
        out.push('\n');
    }
    let values = case.exact_values(def);
    if !values.is_empty() {
        out.push_str("Enter exactly:\n");
        let w = values
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        for (label, value) in &values {
            // The value wraps in its own column, under itself.
            let head = format!("  {label:<w$}  ");
            let indent = " ".repeat(head.chars().count());
            let body = wrap(value, WIDTH.saturating_sub(indent.len()).max(20), "");
            for (i, line) in body.lines().enumerate() {
                out.push_str(if i == 0 { &head } else { &indent });
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out.push_str("Record:\n");
    let w = def
        .fields
        .iter()
        .map(|f| f.usage().chars().count())
        .max()
        .unwrap_or(0);
    // Fields of a choice not made yet (`--method`) are grouped under it; fields of the
    // other choice once it is made are left out.
    let mut groups: Vec<(Option<String>, Vec<String>)> = vec![(None, Vec::new())];
    for f in def.fields {
        let pending = match f.applies {
            Applies::When(c) if c.step == def.id && case.state().fact(c.step, c.key).is_none() => {
                let flag = def.field(c.key).map_or(c.key, |d| d.flag);
                Some(format!("with {flag} {}", c.value))
            }
            _ => None,
        };
        if pending.is_none() && !case.applies(f) {
            continue;
        }
        let recorded = step.and_then(|s| s.facts.get(f.presence_key()));
        let state = match (recorded, f.required, f.default) {
            (Some(v), _, _) => format!("recorded: {v}"),
            (None, true, FieldDefault::Today) => "required, default today".to_owned(),
            (None, true, FieldDefault::Value(v)) => format!("default {v}"),
            (None, true, FieldDefault::None) => "required".to_owned(),
            (None, false, _) => "optional".to_owned(),
        };
        let indent = if pending.is_some() { "    " } else { "  " };
        let line = fit(
            &format!("{indent}{:<w$}  {} ({state})", f.usage(), f.label),
            WIDTH,
        );
        match groups.iter_mut().find(|(g, _)| *g == pending) {
            Some((_, lines)) => lines.push(line),
            None => groups.push((pending, vec![line])),
        }
    }
    for (group, lines) in groups {
        if let Some(g) = group {
            out.push_str(&format!("  {g}:\n"));
        }
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(&wrap(
        &format!("Done when: {}.", def.done_when),
        WIDTH,
        "  ",
    ));
    out.push('\n');
    out.push_str("Then run:\n");
    out.push_str(&format!("  {}\n", case.record_command(def, prefix)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_width_and_words_whole() {
        let text = "word ".repeat(60)
            + "https://example.invalid/a/very/long/url/that/cannot/be/broken/anywhere/at/all/ever/never";
        let out = wrap(&text, 40, "  ");
        for line in out.lines() {
            assert!(
                line.chars().count() <= 40 || !line.trim().contains(' '),
                "{line}"
            );
        }
        assert!(out.contains("https://example.invalid/a/very/long/url"));
    }
}
