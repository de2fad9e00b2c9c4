//! What the binary shows: stdout for data, stderr for everything else.
//!
//! Owns colour (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`), whether we may prompt, JSON
//! printing and the small styling helpers shared by the commands. Output must read
//! fine without colour, so styles only ever decorate words that are there anyway.
//! Inside `cprlink demo` it also tells the story: see [`Story`].

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use console::Style;
use serde::Serialize;

use crate::args::{ColorChoice, GlobalArgs};

/// Human output fits this many columns.
pub(crate) const WIDTH: usize = 100;

/// The terminal as the commands see it.
#[derive(Debug, Clone)]
pub struct Ui {
    /// `--json`: one JSON document (or JSON Lines) on stdout.
    pub json: bool,
    /// Colour on stderr.
    pub color_stderr: bool,
    /// Colour on stdout (tables for people).
    pub color_stdout: bool,
    /// We may prompt: stdin and stderr are terminals and `--no-input` is off.
    pub interactive: bool,
    /// stderr is a terminal: progress bars allowed.
    pub stderr_is_terminal: bool,
    pub stdout_is_terminal: bool,
    pub quiet: bool,
    /// `-v`: errors show their causes.
    pub verbose: u8,
    /// Set while `cprlink demo` runs the commands of its story.
    pub story: Option<Story>,
}

/// How the commands `cprlink demo` runs print: as one story on stdout. Their notes and
/// warnings join stdout instead of stderr, so each lands after the command it belongs
/// to rather than wherever two streams happen to interleave; the demo's directory is
/// shown as `$D`, as in the commands it prints; and "Next:" hints are left out, since
/// the demo runs the next step itself.
#[derive(Debug, Clone)]
pub struct Story {
    /// The demo's directory, without a trailing `/`.
    dir: String,
}

impl Story {
    pub fn new(dir: &std::path::Path) -> Self {
        Story {
            dir: dir.display().to_string().trim_end_matches('/').to_owned(),
        }
    }

    /// `text` with every path inside the demo's directory written `$D/...`.
    pub fn shorten<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let prefix = format!("{}/", self.dir);
        if self.dir.is_empty() || !text.contains(&prefix) {
            return Cow::Borrowed(text);
        }
        Cow::Owned(text.replace(&prefix, "$D/"))
    }
}

impl Ui {
    pub fn from_args(args: &GlobalArgs) -> Self {
        let stderr_tty = io::stderr().is_terminal();
        let stdout_tty = io::stdout().is_terminal();
        let stdin_tty = io::stdin().is_terminal();
        let env_no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let env_force =
            std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
        let decide = |tty: bool| match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !env_no_color && (env_force || tty),
        };
        Ui {
            json: args.json,
            color_stderr: decide(stderr_tty),
            color_stdout: decide(stdout_tty),
            interactive: !args.no_input && stdin_tty && stderr_tty,
            stderr_is_terminal: stderr_tty,
            stdout_is_terminal: stdout_tty,
            quiet: args.quiet,
            verbose: args.verbose,
            story: None,
        }
    }

    /// A Ui for tests and embedded use: no colour, no prompts.
    pub fn plain() -> Self {
        Ui {
            json: false,
            color_stderr: false,
            color_stdout: false,
            interactive: false,
            stderr_is_terminal: false,
            stdout_is_terminal: false,
            quiet: false,
            verbose: 0,
            story: None,
        }
    }

    /// Whether to print "Next: ..." hints (not inside the demo's story).
    pub fn shows_next(&self) -> bool {
        self.story.is_none()
    }

    /// Writes one JSON document and a newline to stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> io::Result<()> {
        // Serialise first, so a closed pipe surfaces as the io error it is (success).
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Writes text to stdout (data).
    pub fn print(&self, text: &str) -> io::Result<()> {
        let text = match &self.story {
            Some(story) => story.shorten(text),
            None => Cow::Borrowed(text),
        };
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// A note for the person on stderr (suppressed by --quiet); in the demo's story, on
    /// stdout.
    pub fn note(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.story {
            Some(story) => story_line(&story.shorten(text)),
            None => {
                let _ = writeln!(io::stderr().lock(), "{text}");
            }
        }
    }

    /// A warning on stderr; in the demo's story, on stdout.
    pub fn warn(&self, text: &str) {
        match &self.story {
            Some(story) => {
                let label = self.style_stdout(Style::new().yellow().bold(), "warning:");
                story_line(&format!("{label} {}", story.shorten(text)));
            }
            None => {
                let label = self.style_stderr(Style::new().yellow().bold(), "warning:");
                let _ = writeln!(io::stderr().lock(), "{label} {text}");
            }
        }
    }

    pub fn style_stderr(&self, style: Style, text: &str) -> String {
        style
            .force_styling(self.color_stderr)
            .apply_to(text)
            .to_string()
    }

    pub fn style_stdout(&self, style: Style, text: &str) -> String {
        style
            .force_styling(self.color_stdout)
            .apply_to(text)
            .to_string()
    }

    /// `pass` / `warn` / `fail` / `info` as a fixed-width, optionally coloured word for stdout.
    pub fn verdict_word(&self, status: &str) -> String {
        let style = match status {
            "pass" | "done" | "ok" => Style::new().green(),
            "warn" | "waiting" | "in_progress" => Style::new().yellow(),
            "fail" | "error" => Style::new().red().bold(),
            _ => Style::new().dim(),
        };
        self.style_stdout(style, &format!("{status:<4}"))
    }
}

/// A note or warning of the story on stdout, flushed at once so it stays in order with
/// what the commands print there. A paragraph wrapped for its long paths (continuation
/// lines indented by two) is wrapped again now that they read `$D`; a line still too
/// wide is wrapped, its continuation indented.
fn story_line(text: &str) {
    let mut out = io::stdout().lock();
    let mut lines: Vec<&str> = text.lines().collect();
    let paragraph = lines.len() > 1
        && !lines[0].starts_with(' ')
        && lines[1..]
            .iter()
            .all(|l| l.starts_with("  ") && !l.starts_with("   "));
    let joined;
    if paragraph {
        joined = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
        lines = vec![joined.as_str()];
    }
    for line in lines {
        if line.chars().count() <= WIDTH {
            let _ = writeln!(out, "{line}");
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        for l in hanging(&line[..indent], indent + 2, line.trim_start()) {
            let _ = writeln!(out, "{l}");
        }
    }
    let _ = out.flush();
}

/// Prints an error, its causes (with `-v`) and its hints on stderr.
pub(crate) fn print_error(ui: &Ui, err: &crate::exit::CliError) {
    let mut e = io::stderr().lock();
    let label = ui.style_stderr(Style::new().red().bold(), "error:");
    let _ = writeln!(e, "{label} {}", err.message);
    if ui.verbose > 0 {
        for cause in &err.causes {
            let _ = writeln!(e, "  caused by: {cause}");
        }
    }
    for hint in &err.hints {
        let label = ui.style_stderr(Style::new().cyan(), "Hint:");
        let _ = writeln!(e, "{label} {hint}");
    }
}

/// `head` followed by `text` wrapped into the column that starts at `indent` (the head's
/// width on screen, which colour codes do not change); continuation lines are indented.
pub(crate) fn hanging(head: &str, indent: usize, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (at, line)) in wrap_indented(text, indent).into_iter().enumerate() {
        if i == 0 && at == indent {
            out.push(format!("{head}{line}").trim_end().to_owned());
            continue;
        }
        if i == 0 {
            out.push(head.trim_end().to_owned());
        }
        out.push(format!("{:at$}{line}", ""));
    }
    out
}

/// Wraps `text` for a column starting at `indent`; returns (indent, line) pairs. A word
/// too long for the column (a SHA-256 fingerprint) gets a line of its own, moved left
/// as far as needed to stay within [`WIDTH`].
fn wrap_indented(text: &str, indent: usize) -> Vec<(usize, String)> {
    let avail = WIDTH - indent;
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if len > avail {
            if !line.is_empty() {
                out.push((indent, std::mem::take(&mut line)));
            }
            out.push((
                WIDTH.saturating_sub(len).min(indent).max(2),
                word.to_owned(),
            ));
            continue;
        }
        if !line.is_empty() && line.chars().count() + 1 + len > avail {
            out.push((indent, std::mem::take(&mut line)));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || out.is_empty() {
        out.push((indent, line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanging_keeps_width() {
        let text = "word ".repeat(120);
        for line in hanging("label", 20, &text) {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        assert_eq!(hanging("", 0, "a b"), vec!["a b".to_owned()]);
    }
}
