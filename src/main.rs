//! `set-server`: parse the command line, then hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_malloc();
    set_server::cli::run(set_server::cli::Cli::parse())
}

/// Bounds what glibc's malloc keeps for itself, before any other thread starts.
///
/// glibc's mmap threshold rises to the largest block freed, so after the first password
/// hash each 19 MiB argon2 block came from an arena and stayed resident there. Here blocks
/// of 1 MiB or more are always mapped, so they go back to the system when freed. Measured
/// with `benches/load` (4 s runs, side by side): peak RSS under `mixed` 65.5 and 65.9 MiB
/// with glibc's defaults, 25.9 and 25.6 MiB with this (and two arenas per core, since
/// dropped), at the same throughput within the noise.
///
/// The number of arenas stays glibc's (eight per core). Capped at two per core, the async
/// workers could be handed the same arena and wait on its lock: under `register`, 15 % of
/// the server's CPU samples were glibc's lock waits and wake-ups (`__lll_lock_*_private`),
/// and none without the cap. 6 s runs, three rounds
/// side by side: `register` 24,111 / 33,021 / 27,502 req/s with the cap (at 127 / 110 /
/// 121 % server CPU, depending on how the arenas fell), 32,623 / 31,334 / 34,368 without
/// (108 / 109 / 114 %); peak RSS under `mixed` 23.2–24.3 and 25.0–25.5 MiB.
/// `MALLOC_MMAP_THRESHOLD_` set in the environment is left as glibc read it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only changes allocator parameters, and runs at the start of
        // main, before any other thread exists.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
