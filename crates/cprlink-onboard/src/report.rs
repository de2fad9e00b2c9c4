//! The whole case file as a document: Markdown for a ticket or a wiki, HTML for a
//! browser or a printout.
//!
//! Owns the layout and the escaping: every recorded value is escaped for the format
//! (HTML entities; `|`, `<` and line breaks in Markdown tables), so a value typed by a
//! person can never turn into markup. It derives everything from the case and the
//! status; it writes nothing to disk.

use chrono::NaiveDate;

use crate::case::Case;
use crate::status::{Status, StepState};

/// One step in the report, already resolved.
struct StepView<'a> {
    number: usize,
    status: &'a crate::status::StepStatus,
    what: &'static str,
    links: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, String)>,
    done_when: &'static str,
}

fn state_words(s: &crate::status::StepStatus) -> String {
    match s.state {
        StepState::Done => match s.done_on {
            Some(d) => format!("done on {d}"),
            None => "done".to_owned(),
        },
        StepState::InProgress => "in progress".to_owned(),
        StepState::Waiting => format!(
            "waiting for {} since {} ({} days)",
            s.waiting_on.as_deref().unwrap_or("an answer"),
            s.waiting_since.map_or_else(String::new, |d| d.to_string()),
            s.waiting_days.unwrap_or(0)
        ),
        StepState::NotStarted => "not started".to_owned(),
    }
}

fn overall(status: &Status) -> &'static str {
    if status.blocked {
        "blocked"
    } else if status.complete {
        "complete"
    } else {
        "in progress"
    }
}

fn views<'a>(case: &Case, status: &'a Status) -> Vec<StepView<'a>> {
    case.steps()
        .iter()
        .zip(&status.steps)
        .enumerate()
        .map(|(i, (def, st))| StepView {
            number: i + 1,
            status: st,
            what: def.what,
            links: def.links.iter().map(|l| (l.label, l.url)).collect(),
            values: case.exact_values(def),
            done_when: def.done_when,
        })
        .collect()
}

/// The case file in Markdown.
pub fn markdown(case: &Case, today: NaiveDate) -> String {
    let status = case.status(today);
    let state = case.state();
    let mut out = String::new();
    let md = md_cell;
    out.push_str(&format!(
        "# Onboarding case: {} (CVR {})\n\n",
        md_text(&state.authority),
        state.cvr
    ));
    out.push_str("| | |\n|---|---|\n");
    out.push_str(&format!("| Route | {} |\n", state.route));
    out.push_str(&format!("| Environment | {} |\n", state.environment));
    if let Some(n) = &state.contact_name {
        out.push_str(&format!("| Contact | {} |\n", md(n)));
    }
    if let Some(e) = &state.contact_email {
        out.push_str(&format!("| Contact e-mail | {} |\n", md(e)));
    }
    out.push_str(&format!("| Opened | {} |\n", state.created_on));
    out.push_str(&format!("| Status on {today} | {} |\n\n", overall(&status)));
    out.push_str(&format!(
        "**Next action:** {}\n\n",
        md_text(&status.next_action)
    ));
    if !status.blockers.is_empty() || !status.warnings.is_empty() {
        out.push_str("## Warnings\n\n");
        for b in &status.blockers {
            out.push_str(&format!("- **Blocked:** {}\n", md_text(b)));
        }
        for w in &status.warnings {
            out.push_str(&format!("- {}\n", md_text(&w.message)));
        }
        out.push('\n');
    }
    out.push_str("## Steps\n\n| # | step | state |\n|---|---|---|\n");
    for v in views(case, &status) {
        out.push_str(&format!(
            "| {} | {} (`{}`) | {} |\n",
            v.number,
            md(&v.status.title),
            v.status.id,
            md(&state_words(v.status))
        ));
    }
    out.push('\n');
    for v in views(case, &status) {
        out.push_str(&format!(
            "### {}. {} (`{}`): {}\n\n",
            v.number,
            md_text(&v.status.title),
            v.status.id,
            md_text(&state_words(v.status))
        ));
        out.push_str(&format!("{}\n\n", md_text(v.what)));
        for (label, url) in &v.links {
            out.push_str(&format!("- {}: <{}>\n", md_text(label), url));
        }
        out.push_str(&format!("- Done when: {}\n\n", md_text(v.done_when)));
        if !v.values.is_empty() {
            out.push_str("| value to enter | |\n|---|---|\n");
            for (label, value) in &v.values {
                out.push_str(&format!("| {} | {} |\n", md(label), md(value)));
            }
            out.push('\n');
        }
        if v.status.facts.is_empty() {
            out.push_str("Nothing recorded yet.\n\n");
        } else {
            out.push_str("| recorded | |\n|---|---|\n");
            for (k, val) in &v.status.facts {
                out.push_str(&format!("| {} | {} |\n", md(k), md(val)));
            }
            out.push('\n');
        }
        if !v.status.missing.is_empty() {
            out.push_str(&format!(
                "Missing: {}\n\n",
                md_text(&v.status.missing.join(", "))
            ));
        }
    }
    out.push_str("## History\n\n| when (UTC) | who | step | what |\n|---|---|---|---|\n");
    for h in &state.history {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            h.at.format("%Y-%m-%d %H:%M"),
            md(&h.who),
            md(h.step.as_deref().unwrap_or("")),
            md(&h.what)
        ));
    }
    out
}

/// The case file as a standalone HTML page.
pub fn html(case: &Case, today: NaiveDate) -> String {
    let status = case.status(today);
    let state = case.state();
    let e = escape_html;
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>Onboarding case: {} (CVR {})</title>\n",
        e(&state.authority),
        e(&state.cvr)
    ));
    out.push_str(
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}\
         table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}\
         .done{color:#060}.waiting{color:#850}.blocked{color:#a00;font-weight:bold}</style>\n</head>\n<body>\n",
    );
    out.push_str(&format!(
        "<h1>Onboarding case: {} (CVR {})</h1>\n<table>\n",
        e(&state.authority),
        e(&state.cvr)
    ));
    let mut row =
        |k: &str, v: &str| out.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>\n", e(k), e(v)));
    row("Route", state.route.as_str());
    row("Environment", state.environment.as_str());
    if let Some(n) = &state.contact_name {
        row("Contact", n);
    }
    if let Some(m) = &state.contact_email {
        row("Contact e-mail", m);
    }
    row("Opened", &state.created_on.to_string());
    row(&format!("Status on {today}"), overall(&status));
    out.push_str("</table>\n");
    out.push_str(&format!(
        "<p><strong>Next action:</strong> {}</p>\n",
        e(&status.next_action)
    ));
    if !status.blockers.is_empty() || !status.warnings.is_empty() {
        out.push_str("<h2>Warnings</h2>\n<ul>\n");
        for b in &status.blockers {
            out.push_str(&format!("<li class=\"blocked\">Blocked: {}</li>\n", e(b)));
        }
        for w in &status.warnings {
            out.push_str(&format!("<li>{}</li>\n", e(&w.message)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Steps</h2>\n");
    for v in views(case, &status) {
        let class = match v.status.state {
            StepState::Done => "done",
            StepState::Waiting => "waiting",
            _ => "open",
        };
        out.push_str(&format!(
            "<h3>{}. {} (<code>{}</code>): <span class=\"{class}\">{}</span></h3>\n",
            v.number,
            e(&v.status.title),
            e(&v.status.id),
            e(&state_words(v.status))
        ));
        out.push_str(&format!("<p>{}</p>\n<ul>\n", e(v.what)));
        for (label, url) in &v.links {
            out.push_str(&format!(
                "<li>{}: <a href=\"{}\">{}</a></li>\n",
                e(label),
                e(url),
                e(url)
            ));
        }
        out.push_str(&format!("<li>Done when: {}</li>\n</ul>\n", e(v.done_when)));
        if !v.values.is_empty() {
            out.push_str("<table>\n<tr><th>value to enter</th><th></th></tr>\n");
            for (label, value) in &v.values {
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td></tr>\n",
                    e(label),
                    e(value)
                ));
            }
            out.push_str("</table>\n");
        }
        if v.status.facts.is_empty() {
            out.push_str("<p>Nothing recorded yet.</p>\n");
        } else {
            out.push_str("<table>\n<tr><th>recorded</th><th></th></tr>\n");
            for (k, val) in &v.status.facts {
                out.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>\n", e(k), e(val)));
            }
            out.push_str("</table>\n");
        }
        if !v.status.missing.is_empty() {
            out.push_str(&format!(
                "<p>Missing: {}</p>\n",
                e(&v.status.missing.join(", "))
            ));
        }
    }
    out.push_str("<h2>History</h2>\n<table>\n<tr><th>when (UTC)</th><th>who</th><th>step</th><th>what</th></tr>\n");
    for h in &state.history {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            h.at.format("%Y-%m-%d %H:%M"),
            e(&h.who),
            e(h.step.as_deref().unwrap_or("")),
            e(&h.what)
        ));
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown text outside tables: no raw HTML, one paragraph.
fn md_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// A Markdown table cell: as text, plus `|` escaped.
fn md_cell(s: &str) -> String {
    md_text(s).replace('|', "\\|")
}
