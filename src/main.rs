//! `set-server`: parse the command line, then hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_malloc();
    set_server::cli::run(set_server::cli::Cli::parse())
}

/// Bounds what glibc's malloc keeps for itself, before any other thread starts.
///
/// By default glibc gives threads up to eight arenas per core, and freed memory stays in
/// the arena that served it; its mmap threshold also rises to the largest block freed,
/// so after the first password hash each 19 MiB argon2 block came from an arena and
/// stayed resident there. Here arenas are capped at two per core and blocks of 1 MiB or
/// more are always mapped, so they go back to the system when freed. Measured with
/// `benches/load` (4 s runs, side by side): peak RSS under `mixed` 65.5 and 65.9 MiB
/// with glibc's defaults, 25.9 and 25.6 MiB with these, at the same throughput within
/// the noise. `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_` set in the environment is
/// left as glibc read it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_malloc() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores.saturating_mul(2)).unwrap_or(libc::c_int::MAX);
    let set = |name: &str, param: libc::c_int, value: libc::c_int| {
        if std::env::var_os(name).is_none() {
            // SAFETY: mallopt only changes allocator parameters, and runs at the start
            // of main, before any other thread exists.
            unsafe { libc::mallopt(param, value) };
        }
    };
    set("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, arenas);
    set("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 1 << 20);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}
