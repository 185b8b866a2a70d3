//! Many hosts at once: each capture archive or copied root is read, joined and audited in
//! parallel (rayon, with the `parallel` feature), reduced to a [`Host`] line, and compared with the majority of the fleet;
//! [`render`] writes it as text or JSON lines.
//!
//! A host "differs from the majority" when its [`Shape`] (model, GPU and link counts, wiring,
//! the set of finding codes) is not the most common shape. There is a majority only when one
//! shape is shared by at least two hosts and by more hosts than any other shape: with a tie
//! at the top, nothing is called odd.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! let fleet = lsnvlink::fleet::Fleet::read(&[dir.path().to_path_buf()]);
//! assert_eq!(fleet.hosts.len(), 1);
//! assert!(fleet.hosts[0].error.is_none());
//! assert!(fleet.differing().is_empty());
//! # Ok(()) }
//! ```

pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[cfg(feature = "parallel")]
use rayon::prelude::*;

use crate::audit::{Report, Severity};

/// File names taken as capture archives when a directory of captures is given.
pub const ARCHIVE_SUFFIXES: [&str; 7] = [
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".txz", ".tar.zst",
];

/// What is compared across the fleet: hosts with equal shapes are alike.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub struct Shape {
    /// The device-tree model (`8335-GTH`).
    pub model: Option<String>,
    /// NVLink2 GPUs.
    pub nvlink2_gpus: usize,
    /// All NVIDIA GPUs (NVLink2 and plain PCIe).
    pub gpus: usize,
    /// NVLink bridge functions on the bus (GPU ↔ CPU links).
    pub cpu_links: usize,
    /// GPU ↔ GPU links, each link counted once.
    pub gpu_links: u64,
    /// The Witherspoon wiring key (`redbud-4gpu`), when known.
    pub wiring: Option<&'static str>,
    /// The codes of the host's findings, with severity (`error link-missing`).
    pub findings: BTreeSet<String>,
}

/// One host of the fleet, as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Host {
    /// The capture file or directory it was read from.
    pub source: PathBuf,
    /// `/proc/sys/kernel/hostname` in the capture.
    pub hostname: Option<String>,
    /// The compared facts (all zero when the input could not be read).
    pub shape: Shape,
    /// Findings by severity.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Info findings.
    pub infos: usize,
    /// Why the input could not be read, if it could not.
    pub error: Option<String>,
}

impl Host {
    /// The host's name: its hostname, else the source's file name.
    pub fn name(&self) -> String {
        if let Some(h) = &self.hostname {
            return h.clone();
        }
        let file = self
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.source.display().to_string());
        ARCHIVE_SUFFIXES
            .iter()
            .find_map(|s| file.strip_suffix(s))
            .map_or_else(|| file.clone(), str::to_owned)
    }

    /// The host as its report gives it.
    pub fn from_report(source: PathBuf, report: &Report) -> Host {
        let t = &report.topology;
        let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
        let gpu_links: u64 = t
            .gpus
            .iter()
            .flat_map(|g| {
                g.gpu_links
                    .iter()
                    .filter(move |l| l.peer > g.address)
                    .map(|l| u64::from(l.count))
            })
            .sum();
        Host {
            source,
            hostname: t.platform.hostname.clone(),
            shape: Shape {
                model: t.platform.model.clone(),
                nvlink2_gpus: t.nvlink2_gpus().count(),
                gpus: t.gpus.len(),
                cpu_links: t.bridges_on_bus().count(),
                gpu_links,
                wiring: t.wiring.map(|w| w.key()),
                findings: report
                    .findings
                    .iter()
                    .map(|f| format!("{} {}", f.severity, f.code))
                    .collect(),
            },
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            error: None,
        }
    }

    /// Reads, joins and audits the capture archive or copied root at `path`; an unreadable
    /// input is a host with its [`error`](Host::error) set.
    pub fn read(path: &Path) -> Host {
        let unreadable = |e: String| Host {
            source: path.to_path_buf(),
            hostname: None,
            shape: Shape::default(),
            errors: 0,
            warnings: 0,
            infos: 0,
            error: Some(e),
        };
        if is_sosreport(path) {
            return match crate::inputs::sosreport::read(path, &pci::Names::builtin()) {
                Ok(topology) => Host::from_report(path.to_path_buf(), &Report::new(topology)),
                Err(e) => unreadable(e.to_string()),
            };
        }
        let root = match crate::capture::open_replay(path) {
            Ok(root) => root,
            Err(e) => return unreadable(e.to_string()),
        };
        match Report::read(&root, &pci::Names::builtin()) {
            Ok(report) => Host::from_report(path.to_path_buf(), &report),
            Err(e) => unreadable(e.to_string()),
        }
    }
}

/// The inputs a path names: a file is one capture; a directory holding `sys/` or `proc/` is a
/// copied root; any other directory gives its capture archives and copied-root
/// subdirectories (one level, sorted by name).
pub fn expand(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() || is_copied_root(path) || is_sosreport(path) {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        let archive = meta.is_file() && ARCHIVE_SUFFIXES.iter().any(|s| name.ends_with(s));
        if archive || (meta.is_dir() && (is_copied_root(&p) || is_sosreport(&p))) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn is_copied_root(dir: &Path) -> bool {
    dir.join("sys").is_dir() || dir.join("proc").is_dir()
}

/// Whether `path` is a sosreport: an archive sos named (`sosreport-HOST-…`), or an unpacked
/// one (`sos_commands/` or `sos_reports/` at its top).
pub fn is_sosreport(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("sos_commands").is_dir() || path.join("sos_reports").is_dir();
    }
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("sosreport-"))
}

/// The hosts of a fleet, in input order, with their majority shape.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fleet {
    /// One per input, sorted by source path.
    pub hosts: Vec<Host>,
    /// The most common shape among readable hosts and how many hosts have it (`None` when no
    /// shape is shared by two hosts, or two shapes tie for the most hosts).
    pub majority: Option<(Shape, usize)>,
}

impl Fleet {
    /// Reads every input: in parallel on rayon's current pool with the `parallel` feature,
    /// else one after another.
    pub fn read(inputs: &[PathBuf]) -> Fleet {
        #[cfg(feature = "parallel")]
        let hosts: Vec<Host> = inputs.par_iter().map(|p| Host::read(p)).collect();
        #[cfg(not(feature = "parallel"))]
        let hosts: Vec<Host> = inputs.iter().map(|p| Host::read(p)).collect();
        Fleet::from_hosts(hosts)
    }

    /// The fleet of already-read hosts (sorted by source here).
    pub fn from_hosts(mut hosts: Vec<Host>) -> Fleet {
        hosts.sort_by(|a, b| a.source.cmp(&b.source));
        let mut counts: BTreeMap<&Shape, usize> = BTreeMap::new();
        for h in hosts.iter().filter(|h| h.error.is_none()) {
            *counts.entry(&h.shape).or_insert(0) += 1;
        }
        let top = counts.values().copied().max().unwrap_or(0);
        let mut at_top = counts.iter().filter(|(_, n)| **n == top);
        let majority = match (at_top.next(), at_top.next()) {
            (Some((shape, n)), None) if *n >= 2 => Some(((*shape).clone(), *n)),
            _ => None,
        };
        Fleet { hosts, majority }
    }

    /// The hosts that could be read and differ from the majority, with what differs.
    pub fn differing(&self) -> Vec<(&Host, Vec<String>)> {
        let Some((majority, _)) = &self.majority else {
            return Vec::new();
        };
        self.hosts
            .iter()
            .filter(|h| h.error.is_none())
            .filter_map(|h| {
                let d = differences(&h.shape, majority);
                (!d.is_empty()).then_some((h, d))
            })
            .collect()
    }

    /// The hosts whose input could not be read.
    pub fn unreadable(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.error.is_some())
    }

    /// Hosts with at least one error finding.
    pub fn with_errors(&self) -> usize {
        self.hosts.iter().filter(|h| h.errors > 0).count()
    }
}

/// What differs between a host's shape and the majority's, in words (`gpus 4, majority 6`).
pub fn differences(host: &Shape, majority: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    if host.model != majority.model {
        out.push(format!(
            "model {}, majority {}",
            text(&host.model),
            text(&majority.model)
        ));
    }
    let mut num = |what: &str, a: u64, b: u64| {
        if a != b {
            out.push(format!("{what} {a}, majority {b}"));
        }
    };
    num(
        "NVLink2 GPUs",
        host.nvlink2_gpus as u64,
        majority.nvlink2_gpus as u64,
    );
    num("GPUs", host.gpus as u64, majority.gpus as u64);
    num(
        "CPU links",
        host.cpu_links as u64,
        majority.cpu_links as u64,
    );
    num("GPU links", host.gpu_links, majority.gpu_links);
    if host.wiring != majority.wiring {
        out.push(format!(
            "wiring {}, majority {}",
            host.wiring.unwrap_or("none"),
            majority.wiring.unwrap_or("none")
        ));
    }
    let extra: Vec<&str> = host
        .findings
        .difference(&majority.findings)
        .map(String::as_str)
        .collect();
    if !extra.is_empty() {
        out.push(format!("findings {}", extra.join(", ")));
    }
    let lacking: Vec<&str> = majority
        .findings
        .difference(&host.findings)
        .map(String::as_str)
        .collect();
    if !lacking.is_empty() {
        out.push(format!(
            "lacks the majority's findings {}",
            lacking.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, gpus: usize, findings: &[&str]) -> Host {
        Host {
            source: PathBuf::from(format!("/c/{name}.tar.gz")),
            hostname: None,
            shape: Shape {
                model: Some("8335-GTH".to_owned()),
                nvlink2_gpus: gpus,
                gpus,
                cpu_links: gpus * 3,
                gpu_links: gpus as u64 / 2 * 3,
                wiring: Some("redbud-4gpu"),
                findings: findings.iter().map(|s| (*s).to_owned()).collect(),
            },
            errors: findings.len(),
            warnings: 0,
            infos: 0,
            error: None,
        }
    }

    #[test]
    fn the_majority_is_the_most_common_shape_and_the_rest_differ() {
        let fleet = Fleet::from_hosts(vec![
            host("c", 4, &[]),
            host("a", 4, &[]),
            host("b", 2, &["error link-missing"]),
        ]);
        assert_eq!(fleet.majority.as_ref().map(|m| m.1), Some(2));
        let d = fleet.differing();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0.name(), "b");
        assert!(d[0].1.contains(&"NVLink2 GPUs 2, majority 4".to_owned()));
        assert!(d[0].1.contains(&"findings error link-missing".to_owned()));
        // Sorted by source.
        let names: Vec<String> = fleet.hosts.iter().map(Host::name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn a_tie_at_the_top_has_no_majority() {
        let one = Fleet::from_hosts(vec![host("a", 4, &[]), host("b", 6, &[])]);
        assert_eq!(one.majority, None);
        assert!(one.differing().is_empty());
        let two = Fleet::from_hosts(vec![
            host("a", 4, &[]),
            host("b", 6, &[]),
            host("c", 4, &[]),
            host("d", 6, &[]),
        ]);
        assert_eq!(two.majority, None);
        let three = Fleet::from_hosts(vec![
            host("d", 6, &[]),
            host("a", 4, &[]),
            host("b", 6, &[]),
            host("c", 4, &[]),
            host("e", 4, &[]),
        ]);
        assert_eq!(three.majority.as_ref().map(|m| m.1), Some(3));
        assert_eq!(three.differing().len(), 2);
    }

    #[test]
    fn unreadable_hosts_are_not_counted_in_the_majority() {
        let mut bad = host("z", 0, &[]);
        bad.error = Some("cannot read".to_owned());
        let fleet = Fleet::from_hosts(vec![bad, host("a", 4, &[]), host("b", 4, &[])]);
        assert_eq!(fleet.majority.as_ref().map(|m| m.1), Some(2));
        assert!(fleet.differing().is_empty());
        assert_eq!(fleet.unreadable().count(), 1);
        assert!(Fleet::from_hosts(Vec::new()).majority.is_none());
    }

    #[test]
    fn names_drop_the_archive_suffix() {
        let mut h = host("x", 4, &[]);
        h.source = PathBuf::from("/c/node07.tar.bz2");
        assert_eq!(h.name(), "node07");
        h.hostname = Some("n7".to_owned());
        assert_eq!(h.name(), "n7");
    }
}
