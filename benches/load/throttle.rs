//! `--write-iops N`: the run on a disk that completes at most N writes a second.
//!
//! Group commit pays off in proportion to what one fsync costs, and a fast local disk
//! makes one commit per request cheap (thousands a second). Cloud block storage and small
//! servers are often capped at a few hundred to a few thousand IOPS. This puts the
//! benchmark, and so every server it starts, in a cgroup of its own whose block-I/O
//! throttle caps writes to the disk under `--data-dir` (cgroup v2 `io.max` `wiops`, or v1
//! `blkio.throttle.write_iops_device`). That is the kernel's own throttle on the real
//! disk: SQLite, the filesystem and fsync run unchanged, only the writes wait their turn.
//! Needs root and a cgroup hierarchy with the io (blkio) controller.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The benchmark's own cgroup, left (and removed) on drop.
pub struct Throttle {
    dir: PathBuf,
    /// The cgroup the benchmark was in, to move back to before removing `dir`.
    home: PathBuf,
    /// What the report says about it.
    pub describe: String,
}

impl Throttle {
    /// Moves this process into a new cgroup that caps writes to the disk holding
    /// `data_dir` at `iops` a second.
    pub fn apply(data_dir: &Path, iops: u32) -> Result<Throttle, String> {
        let device = whole_disk(data_dir)?;
        let (home, dir, file, rule) = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            let home = Path::new("/sys/fs/cgroup").join(own_cgroup("0::")?);
            let controllers = read(&home.join("cgroup.controllers"))?;
            if !controllers.split_whitespace().any(|c| c == "io") {
                return Err(format!(
                    "the io controller is not available in {}",
                    home.display()
                ));
            }
            // Children only get the controllers their parent delegates.
            write(&home.join("cgroup.subtree_control"), "+io")?;
            let dir = home.join(format!("set-bench-{}", std::process::id()));
            (home, dir, "io.max", format!("{device} wiops={iops}"))
        } else {
            let root = Path::new("/sys/fs/cgroup/blkio");
            if !root.is_dir() {
                return Err("no cgroup v2 hierarchy and no v1 blkio controller".into());
            }
            let home = root.join(own_cgroup(":blkio:")?);
            let dir = home.join(format!("set-bench-{}", std::process::id()));
            (
                home,
                dir,
                "blkio.throttle.write_iops_device",
                format!("{device} {iops}"),
            )
        };
        std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let throttle = Throttle {
            dir,
            home,
            describe: format!(
                "writes to the data disk ({device}) capped at {iops} a second by the cgroup throttle ({file})"
            ),
        };
        write(&throttle.dir.join(file), &rule)?;
        write(
            &throttle.dir.join("cgroup.procs"),
            &std::process::id().to_string(),
        )?;
        Ok(throttle)
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        // The servers have stopped by now; a cgroup is removed only once empty.
        let _ = write(
            &self.home.join("cgroup.procs"),
            &std::process::id().to_string(),
        );
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {text:?} to {}: {e}", path.display()))
}

/// This process's cgroup path (relative) from the /proc/self/cgroup line starting with
/// `prefix` (`0::` for v2, `N:blkio:` for v1, matched anywhere before the path).
fn own_cgroup(prefix: &str) -> Result<String, String> {
    let text = read(Path::new("/proc/self/cgroup"))?;
    text.lines()
        .find_map(|line| {
            let at = line.find(prefix)?;
            let path = &line[at + prefix.len()..];
            (prefix != "0::" || at == 0).then(|| path.trim_start_matches('/').to_owned())
        })
        .ok_or_else(|| format!("no `{prefix}` line in /proc/self/cgroup"))
}

/// `MAJOR:MINOR` of the disk (not the partition) holding `dir`: throttles apply to whole
/// disks.
fn whole_disk(dir: &Path) -> Result<String, String> {
    let dev = std::fs::metadata(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .dev();
    // Linux's dev_t layout (glibc's gnu_dev_major / gnu_dev_minor).
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if !sys.exists() {
        return Err(format!(
            "{} is not on a block device ({major}:{minor}: an overlay, tmpfs or network filesystem?)",
            dir.display()
        ));
    }
    if sys.join("partition").exists() {
        // /sys/dev/block/M:m links to …/<disk>/<partition>; the disk's `dev` is one up.
        return Ok(read(&sys.join("../dev"))?.trim().to_owned());
    }
    Ok(format!("{major}:{minor}"))
}
