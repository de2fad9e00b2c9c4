//! `cargo xtask <task>`: the project's development tasks (matklad's cargo-xtask).
//!
//! - `ci`: runs `.ci/run`, the one CI sequence (fmt check, clippy -D warnings, the
//!   tests, docs --check, rustdoc -D warnings).
//! - `docs [--check]`: the CLI reference (Markdown) and man pages into `docs/`.
//! - `bench [GROUP]... [--quick] [--json FILE]`, `bench --compare A.json B.json`: the
//!   lookup benchmarks of `shared/reference/performance.md` (`bench --help` lists the
//!   groups).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit,
    reason = "a developer tool: it prints its tables and exits with their verdict"
)]

mod bench;
mod docs;

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("docs") => docs::run(&root(), args.iter().any(|a| a == "--check")),
        Some("bench") => bench::run(&root(), &args[1..]),
        Some("help") | None => {
            println!("usage: cargo xtask <ci|docs [--check]|bench [--help]>");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}` (try `cargo xtask help`)")),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

/// CI has one sequence, in `.ci/run` (what the CI machine runs); this runs it.
fn ci() -> Result<(), String> {
    let script = root().join(".ci/run");
    eprintln!("$ {}", script.display());
    let status = Command::new(&script)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed", script.display()))
    }
}
