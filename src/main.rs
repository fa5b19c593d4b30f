//! The `idcheck` command line: parses arguments, calls the library, prints reports. Only this
//! binary prints; the library returns values.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
