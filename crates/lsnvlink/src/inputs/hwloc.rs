//! NUMA facts from an `hwloc-gather-topology` tarball (`.tar.bz2`): the NUMA nodes with their
//! CPUs, memory and distances (`sys/devices/system/node/node*/`), the platform line of
//! `/proc/cpuinfo`, and the NVIDIA driver's view of each GPU's memory node
//! (`proc/driver/nvidia/gpus/<address>/numa_status`: `Node:`, `Status:`, `Address:` and `Size:`
//! in hex).
//!
//! On an AC922 the GPU memory nodes are the CPU-less nodes 250–255 (skiboot `hw/npu2.c`
//! `npu2_create_memory_dn` numbers them from 255 down); [`cross_check`] compares what hwloc saw
//! with a topology read from a capture or a sosreport of the same host. [`write_text`] and
//! `write_json` (feature `json`) write the facts.

use std::fmt;
use std::io;
use std::path::Path;

use super::{InputError, join, top_directory};
use crate::facts::HostFacts;
use crate::topology::{NumaStatus, Topology};

/// The NUMA facts of one hwloc capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
#[non_exhaustive]
pub struct NumaFacts {
    /// The `machine` (else `model`) line of `/proc/cpuinfo` (`PowerNV 8335-GTW`).
    pub platform: Option<String>,
    /// NUMA nodes, by id.
    pub nodes: Vec<NumaNode>,
    /// GPUs the NVIDIA driver lists, by address.
    pub nvidia_gpus: Vec<NvidiaNuma>,
}

/// One NUMA node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
#[non_exhaustive]
pub struct NumaNode {
    /// Its id (`node255` → 255).
    pub id: u32,
    /// Its `cpulist` as written (`0-87`), when readable.
    pub cpulist: Option<String>,
    /// How many CPUs the list names.
    pub cpus: u32,
    /// `MemTotal` from its `meminfo`, in KiB.
    pub mem_total_kib: Option<u64>,
    /// Its `distance` row.
    pub distances: Vec<u32>,
}

/// The NVIDIA driver's `numa_status` of one GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
#[non_exhaustive]
pub struct NvidiaNuma {
    /// The GPU's PCI address, as the directory is named.
    pub address: String,
    /// `Node:` (−1 when the memory is not onlined).
    pub node: Option<i64>,
    /// `Status:` (`online`, `offline`, …).
    pub status: Option<String>,
    /// `Address:` (hex in the file).
    pub base: Option<u64>,
    /// `Size:` (hex in the file).
    pub size: Option<u64>,
}

impl NumaFacts {
    /// What these facts tell of the host as [`HostFacts`]: the memory of each NUMA node whose
    /// `meminfo` was read and the NVIDIA driver's `numa_status` per GPU. An hwloc capture has
    /// no PCI bus and no device tree, so the rest stays unknown (empty) and a note says so.
    pub fn host_facts(&self) -> HostFacts {
        let numa_memory = self
            .nodes
            .iter()
            .filter_map(|n| Some((n.id, n.mem_total_kib?.checked_mul(1024)?)))
            .collect();
        let numa_status = self
            .nvidia_gpus
            .iter()
            .map(|g| {
                let status = NumaStatus {
                    node: g.node,
                    status: g.status.clone(),
                    base: g.base,
                    size: g.size,
                };
                (g.address.clone(), status)
            })
            .collect();
        HostFacts {
            numa_memory: Some(numa_memory),
            numa_status,
            notes: vec![
                "hwloc: NUMA nodes and the NVIDIA driver's numa_status only; no PCI bus, no \
                 device tree"
                    .to_owned(),
            ],
            ..HostFacts::default()
        }
    }
}

/// How many CPUs a `cpulist` (`0-3,8,10-11`) names; `None` when it does not parse.
pub fn count_cpus(list: &str) -> Option<u32> {
    let list = list.trim();
    if list.is_empty() {
        return Some(0);
    }
    let mut n: u32 = 0;
    for part in list.split(',') {
        let count = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                b.checked_sub(a)?.checked_add(1)?
            }
            None => {
                part.trim().parse::<u32>().ok()?;
                1
            }
        };
        n = n.checked_add(count)?;
    }
    Some(n)
}

/// The value after `key:` on the first line that starts with `key` (whitespace trimmed).
fn field<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

fn hex(v: &str) -> Option<u64> {
    u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
}

/// Reads the hwloc capture at `path` (the tarball or its unpacked directory).
pub fn read(path: &Path) -> Result<NumaFacts, InputError> {
    let limits = crate::limits::hwloc();
    let root = if path.is_dir() {
        fsroot::Root::dir(path)?.with_limits(limits)
    } else {
        fsroot::Root::archive_with_limits(path, limits)?
    };
    read_root(&root)
}

/// As [`read`], from an already open root.
pub fn read_root(root: &fsroot::Root) -> Result<NumaFacts, InputError> {
    let prefix =
        top_directory(root, &["sys/devices/system/node", "proc/cpuinfo"]).ok_or_else(|| {
            InputError::Missing {
                archive: root.origin().to_string(),
                what: "no sys/devices/system/node or proc/cpuinfo at the top or under one \
                   top-level directory: not an hwloc-gather-topology capture"
                    .to_owned(),
            }
        })?;
    let mut facts = NumaFacts::default();
    if let Ok(cpuinfo) = root.read_text(join(&prefix, "proc/cpuinfo")) {
        facts.platform = field(&cpuinfo, "machine")
            .or_else(|| field(&cpuinfo, "model"))
            .map(str::to_owned);
    }
    let node_dir = join(&prefix, "sys/devices/system/node");
    for name in root.read_dir(&node_dir).unwrap_or_default() {
        let Some(id) = name
            .strip_prefix("node")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = node_dir.join(&name);
        let cpulist = root
            .read_text(dir.join("cpulist"))
            .ok()
            .map(|s| s.trim().to_owned());
        let mem_total_kib = root.read_text(dir.join("meminfo")).ok().and_then(|m| {
            m.lines().find_map(|l| {
                let rest = l.split_once("MemTotal:")?.1;
                rest.split_whitespace().next()?.parse().ok()
            })
        });
        let distances = root
            .read_text(dir.join("distance"))
            .ok()
            .map(|d| {
                d.split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        facts.nodes.push(NumaNode {
            id,
            cpus: cpulist.as_deref().and_then(count_cpus).unwrap_or(0),
            cpulist,
            mem_total_kib,
            distances,
        });
    }
    facts.nodes.sort_by_key(|n| n.id);
    let gpus = join(&prefix, "proc/driver/nvidia/gpus");
    for address in root.read_dir(&gpus).unwrap_or_default() {
        let Ok(status) = root.read_text(gpus.join(&address).join("numa_status")) else {
            continue;
        };
        facts.nvidia_gpus.push(NvidiaNuma {
            node: field(&status, "Node").and_then(|v| v.parse().ok()),
            status: field(&status, "Status").map(str::to_owned),
            base: field(&status, "Address").and_then(hex),
            size: field(&status, "Size").and_then(hex),
            address,
        });
    }
    facts.nvidia_gpus.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(facts)
}

/// Writes the facts as text: one line per NUMA node, then the NVIDIA driver's GPU memory
/// nodes.
///
/// Control characters from the host (in names, paths, messages) are shown as escapes
/// ([`crate::render::escape`]).
pub fn write_text<W: io::Write + ?Sized>(out: &mut W, f: &NumaFacts) -> io::Result<()> {
    crate::render::escape::write_terminal_safe(out, |out| text_raw(out, f))
}

/// [`write_text`] as a `String`.
pub fn text(f: &NumaFacts) -> String {
    ::pci::render::to_string(|out| write_text(out, f))
}

fn text_raw<W: fmt::Write + ?Sized>(out: &mut W, f: &NumaFacts) -> fmt::Result {
    wln!(
        out,
        "NUMA (hwloc capture{}): {} node{}",
        f.platform
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default(),
        f.nodes.len(),
        if f.nodes.len() == 1 { "" } else { "s" }
    )?;
    for n in &f.nodes {
        let mem = n
            .mem_total_kib
            .map_or_else(|| "memory ?".to_owned(), |k| format!("{} MiB", k / 1024));
        let cpus = match (n.cpus, &n.cpulist) {
            (0, _) => "no CPUs".to_owned(),
            (c, Some(list)) => format!("{c} CPUs ({list})"),
            (c, None) => format!("{c} CPUs"),
        };
        let gpu = f
            .nvidia_gpus
            .iter()
            .filter(|g| g.node == Some(i64::from(n.id)))
            .map(|g| g.address.as_str())
            .collect::<Vec<_>>();
        let gpu = if gpu.is_empty() {
            String::new()
        } else {
            format!(", GPU memory of {}", gpu.join(", "))
        };
        wln!(out, "  node {:>3}: {cpus}, {mem}{gpu}", n.id)?;
    }
    for g in &f.nvidia_gpus {
        wln!(
            out,
            "  GPU {}: node {}, {}{}",
            g.address,
            g.node.map_or_else(|| "?".to_owned(), |n| n.to_string()),
            g.status.as_deref().unwrap_or("status ?"),
            g.base
                .map(|b| format!(", memory at {b:#x}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Writes the facts as pretty JSON (`schema_version` 1; keys are a contract), ending in a
/// newline. Feature `json`.
#[cfg(feature = "json")]
pub fn write_json<W: io::Write + ?Sized>(out: &mut W, f: &NumaFacts) -> io::Result<()> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        schema_version: u32,
        #[serde(flatten)]
        facts: &'a NumaFacts,
    }
    serde_json::to_writer_pretty(
        &mut *out,
        &Doc {
            schema_version: 1,
            facts: f,
        },
    )?;
    out.write_all(b"\n")
}

/// [`write_json`] as a `String`.
#[cfg(feature = "json")]
pub fn json(f: &NumaFacts) -> String {
    ::pci::render::to_string(|out| write_json(out, f))
}

/// Notes comparing the hwloc capture with a topology of the same host: each NVLink2 GPU's
/// memory node (device tree) against the NVIDIA driver's `numa_status` and the node list.
pub fn cross_check(f: &NumaFacts, t: &Topology) -> Vec<String> {
    let mut notes = Vec::new();
    for g in t.nvlink2_gpus() {
        let Some(Ok(mem)) = &g.memory else { continue };
        let Some(node) = mem.numa_node else { continue };
        let address = g.address.to_string();
        match f.nvidia_gpus.iter().find(|n| n.address == address) {
            Some(n) if n.node == Some(i64::from(node)) => notes.push(format!(
                "hwloc: {address} GPU memory in NUMA node {node}, {} (nvidia numa_status), as \
                 the device tree says",
                n.status.as_deref().unwrap_or("status ?")
            )),
            Some(n) => notes.push(format!(
                "hwloc: {address} GPU memory in NUMA node {} by nvidia numa_status, {node} by \
                 the device tree",
                n.node.map_or_else(|| "?".to_owned(), |v| v.to_string())
            )),
            None => {
                let present = f.nodes.iter().any(|n| n.id == node);
                notes.push(format!(
                    "hwloc: no nvidia numa_status for {address}; NUMA node {node} {}",
                    if present {
                        "is present"
                    } else {
                        "is absent (GPU memory not onlined)"
                    }
                ));
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_ranges_and_singles() {
        assert_eq!(count_cpus("0-87"), Some(88));
        assert_eq!(count_cpus("0-3,8,10-11\n"), Some(7));
        assert_eq!(count_cpus(""), Some(0));
        assert_eq!(count_cpus("3-1"), None);
        assert_eq!(count_cpus("x"), None);
        assert_eq!(count_cpus("0-4294967295"), None);
    }

    proptest::proptest! {
        #[test]
        fn cpu_lists_never_panic_and_count_what_they_name(list in "[0-9,-]{0,24}") {
            if let Some(n) = count_cpus(&list) {
                // A list that parses names at least one CPU per comma-separated part.
                let parts = list.split(',').filter(|p| !p.is_empty()).count() as u32;
                proptest::prop_assert!(list.trim().is_empty() || n >= parts);
            }
        }

        #[test]
        fn numa_status_text_never_panics(text in "\\PC{0,80}") {
            let _ = field(&text, "Node").and_then(|v| v.parse::<i64>().ok());
            let _ = field(&text, "Address").and_then(hex);
        }
    }

    #[test]
    fn the_real_ac922_capture_fills_host_facts() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/hwloc/nvidiagpunumanodes.tar.bz2");
        let numa = read(&path).unwrap();
        let facts = numa.host_facts();
        let memory = facts.numa_memory.as_ref().unwrap();
        assert_eq!(
            memory.len(),
            numa.nodes
                .iter()
                .filter(|n| n.mem_total_kib.is_some())
                .count()
        );
        assert!(memory.len() >= 2, "{memory:?}");
        assert_eq!(facts.numa_status.len(), numa.nvidia_gpus.len());
        assert!(!facts.numa_status.is_empty());
        for g in &numa.nvidia_gpus {
            let s = &facts.numa_status[&g.address];
            assert_eq!((s.node, s.size), (g.node, g.size));
        }
        assert!(facts.pci.devices.is_empty() && facts.device_tree.is_none());
        // Joined, it is a host without GPUs on a bus: nothing is invented.
        let t = Topology::from_facts(&facts, &pci::Names::builtin());
        assert!(t.gpus.is_empty());
    }

    #[test]
    fn fields_and_hex_values_of_numa_status() {
        let s = "Node:      255\nStatus:    online\nAddress:   40000000000\nSize:      3f0000000\n";
        assert_eq!(field(s, "Node"), Some("255"));
        assert_eq!(field(s, "Status"), Some("online"));
        assert_eq!(field(s, "Address").and_then(hex), Some(0x400_0000_0000));
        assert_eq!(field(s, "Size").and_then(hex), Some(0x3_f000_0000));
        assert_eq!(field(s, "Nope"), None);
    }
}
