//! `set-server`: parse the command line, then hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    set_server::cli::run(set_server::cli::Cli::parse())
}
