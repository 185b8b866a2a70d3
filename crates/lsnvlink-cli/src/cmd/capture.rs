//! `lsnvlink capture -o FILE.tar.gz [--root DIR] [--force] [--sanitize]`: write a capture of
//! this host (or of a copied root) for replay elsewhere with `--capture FILE`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use lsnvlink::capture::{self, Options};

/// Options of `lsnvlink capture`.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The archive to write (.tar.gz); `-` writes it to standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Capture a copied root directory (holding `sys/`, `proc/`) instead of the live system.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Remove or mask what identifies the host or its network (see docs/sanitize.md).
    #[arg(long, long_help = SANITIZE_HELP)]
    pub sanitize: bool,
}

/// What `lsnvlink capture --help` says `--sanitize` removes (docs/sanitize.md has the table).
pub const SANITIZE_HELP: &str = "\
Remove or mask what identifies the host or its network:
  - the host and domain name (proc/sys/kernel/hostname, domainname; masked elsewhere);
  - the device tree's /chosen (bootargs: host names, root UUID, IP addresses, NFS paths);
  - MAC addresses (local-mac-address, mac-address);
  - UUIDs (ibm,partition-uuid, vm,uuid, any *uuid* property);
  - partition and host names (ibm,partition-name, ibm,lpar-name, hostname);
  - serial numbers (system-id, serial-number, ibm,vpd, ibm,module-vpd, ecid, wafer-id),
    masked wherever else they occur;
  - the serial part of location codes (U78D2.001.WZS0001-P1 -> U78D2.XXX.XXXXXXX-P1);
  - PCI Device Serial Numbers in config space.
The topology, ids, NUMA nodes, slot labels and kernel release stay.";

/// Takes the capture and writes it; the summary goes to stderr.
pub fn run(args: &CaptureArgs) -> anyhow::Result<()> {
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && !args.force && std::fs::symlink_metadata(&args.output).is_ok() {
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
    let (dirs, files, links) = capture.tree.counts();
    if to_stdout {
        // `-o -`: the archive on standard output (`ssh node lsnvlink capture -o - > node.tgz`).
        super::write_stdout(&bytes).context("cannot write the capture to standard output")?;
        eprintln!(
            "lsnvlink: wrote the capture to standard output: {files} files, {dirs} directories, \
             {links} symlinks, {} bytes; {} unreadable (listed in {})",
            bytes.len(),
            capture.manifest.unreadable.len(),
            capture::MANIFEST_NAME,
        );
        return Ok(());
    }
    // Write beside the target and rename, so that FILE is never left half written. The
    // temporary file has a short random name made with O_EXCL (tempfile): names cannot be
    // guessed or pre-created, FILE's own name may be as long as the file system allows, and
    // the temporary file is removed on every error path (dropped unpersisted).
    let dir = match args.output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".lsnvlink-capture-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    // Without --force, the rename refuses to replace a file created meanwhile (link + unlink).
    let persisted = if args.force {
        tmp.persist(&args.output)
    } else {
        tmp.persist_noclobber(&args.output)
    };
    persisted.map_err(|e| e.error).with_context(|| {
        if args.force {
            format!("cannot write {}", args.output.display())
        } else {
            format!(
                "cannot write {} (give --force to overwrite it)",
                args.output.display()
            )
        }
    })?;
    eprintln!(
        "lsnvlink: wrote {}: {files} files, {dirs} directories, {links} symlinks, {} bytes; {} unreadable (listed in {})",
        args.output.display(),
        bytes.len(),
        capture.manifest.unreadable.len(),
        capture::MANIFEST_NAME,
    );
    Ok(())
}
