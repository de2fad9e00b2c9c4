//! `cprlink`: run, map the outcome to an exit code, done.

fn main() {
    let code = cprlink::run();
    #[allow(clippy::exit)]
    std::process::exit(code);
}
