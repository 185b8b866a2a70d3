//! `cargo xtask pictures [--check]`: the topology pictures of the README. Each bundled capture
//! named in [`PICTURES`] goes through `lsnvlink --format dot` (the library renderer, the same
//! bytes) and Graphviz `dot -Tsvg` into `docs/`. Graphviz is installed with apt-get when it is
//! missing (as root); `--check` fails when a committed picture differs from what Graphviz
//! draws now.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Capture name → picture file under `docs/`.
pub const PICTURES: [(&str, &str); 2] = [
    ("ac922-4gpu-16gb-nvidia", "topology-ac922-4gpu.svg"),
    ("ac922-6gpu-32gb-vfio", "topology-ac922-6gpu.svg"),
];

/// The Graphviz text of a bundled capture.
pub fn dot_text(root: &Path, capture: &str) -> Result<String> {
    let path = root
        .join("testdata/captures")
        .join(format!("{capture}.tar.gz"));
    let fs = fsroot::Root::archive(&path).with_context(|| format!("reading {}", path.display()))?;
    let report = lsnvlink::audit::Report::read(&fs, &pci::Names::builtin())
        .with_context(|| format!("joining {}", path.display()))?;
    Ok(lsnvlink::render::dot::dot(&report))
}

fn ensure_graphviz() -> Result<()> {
    if Command::new("dot").arg("-V").output().is_ok() {
        return Ok(());
    }
    eprintln!("Graphviz is missing: apt-get install graphviz");
    crate::run(Command::new("apt-get").args([
        "install",
        "-y",
        "--no-install-recommends",
        "graphviz",
    ]))
    .context("cannot install graphviz (run as root, or install it yourself)")
}

/// `dot -Tsvg` of `text`.
fn svg(text: &str) -> Result<Vec<u8>> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start dot")?;
    child
        .stdin
        .take()
        .context("dot's stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("dot failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}

/// Writes (or, with `check`, compares) every picture.
pub fn run(root: &Path, check: bool) -> Result<()> {
    ensure_graphviz()?;
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs)?;
    let mut stale = Vec::new();
    for (capture, file) in PICTURES {
        let picture = svg(&dot_text(root, capture)?)?;
        let path = docs.join(file);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(picture.as_slice()) {
                stale.push(file);
            }
        } else {
            std::fs::write(&path, &picture)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} ({} bytes)", path.display(), picture.len());
        }
    }
    if !stale.is_empty() {
        bail!(
            "out of date in docs/: {} (run cargo xtask pictures)",
            stale.join(", ")
        );
    }
    Ok(())
}
