//! Helper of `cargo xtask bench dt` (built with `--release`):
//!
//! - `dt_bench speed BLOB [SECONDS]`: parses, checks and indexes the blob in a loop, prints
//!   the median time of one pass and the throughput.
//! - `dt_bench write-root BLOB DIR`: writes the blob's tree as a copied root (the tree under
//!   `sys/firmware/devicetree/base`, `proc/device-tree` linking to it), as the kernel shows it.
// A benchmark helper run by hand: failing loudly is what it should do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::time::{Duration, Instant};

use devtree::Tree;

fn speed(blob: &[u8], seconds: f64) {
    let mut times = Vec::new();
    let start = Instant::now();
    let mut checksum = 0usize;
    while times.len() < 20 || start.elapsed() < Duration::from_secs_f64(seconds) {
        let t = Instant::now();
        let tree = Tree::from_blob(std::hint::black_box(blob)).unwrap();
        checksum += tree.len() + tree.phandle_count();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let tree = Tree::from_blob(blob).unwrap();
    let props: usize = tree.nodes().map(|n| n.properties().len()).sum();
    println!(
        "bytes={} nodes={} properties={} phandles={} runs={} median_ms={:.4} mb_per_s={:.0} checksum={checksum}",
        blob.len(),
        tree.len(),
        props,
        tree.phandle_count(),
        times.len(),
        median * 1e3,
        blob.len() as f64 / median / 1e6,
    );
}

fn write_root(blob: &[u8], root: &Path) {
    let tree = Tree::from_blob(blob).unwrap();
    let base = root.join("sys/firmware/devicetree/base");
    let mut files = 0usize;
    for node in tree.nodes() {
        let dir = base.join(node.path().trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for p in node.properties() {
            std::fs::write(dir.join(p.name()), p.value()).unwrap();
            files += 1;
        }
    }
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let link = root.join("proc/device-tree");
    if !link.exists() {
        std::os::unix::fs::symlink("/sys/firmware/devicetree/base", link).unwrap();
    }
    println!("nodes={} files={files}", tree.len());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("speed") => {
            let blob = std::fs::read(&args[2]).unwrap();
            let seconds = args.get(3).map_or(3.0, |s| s.parse().unwrap());
            speed(&blob, seconds);
        }
        Some("write-root") => {
            let blob = std::fs::read(&args[2]).unwrap();
            write_root(&blob, Path::new(&args[3]));
        }
        _ => panic!("usage: dt_bench speed BLOB [SECONDS] | dt_bench write-root BLOB DIR"),
    }
}
