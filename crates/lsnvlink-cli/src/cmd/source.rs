//! `--root DIR | --capture FILE`: where a command reads the host from (default: the live
//! system).

use std::path::PathBuf;

use anyhow::Context;
use fsroot::Root;

/// Where to read the host from. Without either option, the live system.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SourceArgs {
    /// Read a copied root directory (holding `sys/`, `proc/`) instead of the live system.
    #[arg(long, value_name = "DIR", conflicts_with = "capture")]
    pub root: Option<PathBuf>,
    /// Read a capture archive (.tar, .tar.gz, .tar.bz2, .tar.xz, .tar.zst) in memory (at most
    /// 12 MiB of content, 4 MiB per file, 50,000 entries).
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
}

impl SourceArgs {
    /// Opens the root these options name.
    #[allow(dead_code)] // used by the subcommands as they land
    pub fn open(&self) -> anyhow::Result<Root> {
        match (&self.root, &self.capture) {
            (Some(dir), _) => Root::dir(dir)
                .map(|r| r.with_limits(lsnvlink::limits::replay()))
                .with_context(|| format!("cannot open root {}", dir.display())),
            (None, Some(file)) => {
                Root::archive_with_limits(file, lsnvlink::capture::replay_limits())
                    .with_context(|| format!("cannot read capture {}", file.display()))
            }
            (None, None) => Ok(Root::live().with_limits(live_limits())),
        }
    }
}

/// The live system is read within fsroot's defaults (a large host's sysfs is much larger
/// than its capture), scaled by `--limits-scale`.
pub fn live_limits() -> fsroot::Limits {
    fsroot::Limits::default().scaled(lsnvlink::limits::scale())
}
