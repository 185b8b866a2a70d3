//! `lsnvlink capture -o FILE.tar.gz [--root DIR] [--force] [--sanitize]`: write a capture of
//! this host (or of a copied root) for replay elsewhere with `--capture FILE`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use lsnvlink::capture::{self, Options};

/// Options of `lsnvlink capture`.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The archive to write (.tar.gz).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Capture a copied root directory (holding `sys/`, `proc/`) instead of the live system.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Leave out the host name and serial numbers (device-tree serials, location-code serials,
    /// PCI Device Serial Numbers).
    #[arg(long)]
    pub sanitize: bool,
}

/// Takes the capture and writes it; the summary goes to stderr.
pub fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    if !args.force && std::fs::symlink_metadata(&args.output).is_ok() {
        bail!(
            "{} exists; give --force to overwrite it",
            args.output.display()
        );
    }
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let options = Options {
        sanitize: args.sanitize,
        ..Options::default()
    };
    let capture = capture::collect(&root, &options)
        .with_context(|| format!("cannot capture {}", root.display()))?;
    let bytes = capture.to_tar_gz()?;
    // Write beside the target and rename, so that FILE is never left half written.
    let dir = match args.output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile_in(&dir)?;
    tmp.1
        .write_all(&bytes)
        .and_then(|()| tmp.1.sync_all())
        .with_context(|| format!("cannot write {}", tmp.0.display()))?;
    if !args.force && std::fs::symlink_metadata(&args.output).is_ok() {
        let _ = std::fs::remove_file(&tmp.0);
        bail!(
            "{} exists; give --force to overwrite it",
            args.output.display()
        );
    }
    std::fs::rename(&tmp.0, &args.output).with_context(|| {
        let _ = std::fs::remove_file(&tmp.0);
        format!("cannot write {}", args.output.display())
    })?;
    let (dirs, files, links) = capture.tree.counts();
    eprintln!(
        "lsnvlink: wrote {}: {files} files, {dirs} directories, {links} symlinks, {} bytes; {} unreadable (listed in {})",
        args.output.display(),
        bytes.len(),
        capture.manifest.unreadable.len(),
        capture::MANIFEST_NAME,
    );
    Ok(())
}

/// Creates a new temporary file in `dir`.
fn tempfile_in(dir: &std::path::Path) -> anyhow::Result<(PathBuf, std::fs::File)> {
    let pid = std::process::id();
    for n in 0..100u32 {
        let path = dir.join(format!(".lsnvlink-capture-{pid}-{n}.tmp"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create a file in {}", dir.display()));
            }
        }
    }
    bail!("cannot create a temporary file in {}", dir.display())
}
