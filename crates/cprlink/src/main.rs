//! `cprlink`: run, map the outcome to an exit code, done.

fn main() {
    let code = cprlink::run();
    #[allow(
        clippy::exit,
        reason = "the one place the exit code leaves the process"
    )]
    std::process::exit(code);
}
