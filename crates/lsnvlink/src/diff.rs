//! What differs between two hosts, or one host at two times: topology, drivers, IOMMU groups,
//! memory, firmware, kernel and findings.
//!
//! Each report is flattened into facts keyed by section, subject and field (`gpu`,
//! `0004:04:00.0`, `driver` → `nvidia`); the difference is the facts only one side has and the
//! facts whose values differ, in key order. The host name is not a fact: two nodes that should
//! be identical differ in their names by design. [`render`] writes the differences as text or
//! JSON.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! use lsnvlink::audit::Report;
//! let root = fsroot::Root::open(dir.path())?;
//! let a = Report::read(&root, &pci::Names::builtin())?;
//! let b = a.clone();
//! assert!(lsnvlink::diff::diff(&a, &b).is_empty());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use crate::audit::Report;
use crate::topology::Topology;

pub mod render;

/// The version of the JSON layout of `lsnvlink diff`.
pub const SCHEMA_VERSION: u32 = 1;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Change {
    /// `platform`, `firmware`, `numa`, `npu`, `gpu`, `bridge` or `finding`.
    pub section: &'static str,
    /// What in the section: a PCI address, a NUMA node, `host`, a finding's subject.
    pub subject: String,
    /// The field (`driver`, `iommu_group`, a finding's code).
    pub field: String,
    /// The value on the first side (`None`: the first side does not have it).
    pub a: Option<String>,
    /// The value on the second side (`None`: the second side does not have it).
    pub b: Option<String>,
}

type Key = (&'static str, String, String);

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

/// The facts of a report, by (section, subject, field).
pub fn facts(r: &Report) -> BTreeMap<Key, String> {
    let t: &Topology = &r.topology;
    let mut f = BTreeMap::new();
    let mut put = |section: &'static str, subject: &str, field: &str, value: String| {
        f.insert((section, subject.to_owned(), field.to_owned()), value);
    };
    let p = &t.platform;
    put("platform", "host", "model", opt(p.model.as_deref()));
    put("platform", "host", "kernel", opt(p.kernel.as_deref()));
    put(
        "platform",
        "host",
        "kernel_nvlink2",
        opt(p.nvlink2_kernel.map(|k| k.key())),
    );
    put(
        "platform",
        "host",
        "iommu_grouping",
        opt(p.iommu_grouping.map(|g| g.key())),
    );
    put("platform", "host", "device_tree", p.device_tree.to_string());
    put("platform", "host", "wiring", opt(t.wiring.map(|w| w.key())));
    if let Some(s) = &p.firmware.skiboot {
        put("firmware", "skiboot", "running", s.clone());
    }
    for (k, v) in &p.firmware.versions {
        put("firmware", "pnor", k, v.clone());
    }
    if let Some(nodes) = &p.numa_memory {
        for (node, bytes) in nodes {
            put(
                "numa",
                &format!("node{node}"),
                "mem_total_bytes",
                bytes.to_string(),
            );
        }
    }
    for n in &t.npus {
        let s = format!("{:04x}", n.domain);
        put("npu", &s, "chip", opt(n.chip_id));
        put("npu", &s, "atsd_registers", n.atsd.len().to_string());
    }
    for g in &t.gpus {
        let s = g.address.to_string();
        put("gpu", &s, "name", g.name.clone());
        put("gpu", &s, "slot", opt(g.slot.as_deref()));
        put("gpu", &s, "chip", opt(g.chip_id));
        put("gpu", &s, "numa_node", opt(g.numa_node));
        put(
            "gpu",
            &s,
            "driver",
            g.driver.clone().unwrap_or_else(|| "none".to_owned()),
        );
        put("gpu", &s, "iommu_group", opt(g.iommu_group));
        match &g.memory {
            Some(Ok(m)) => {
                put("gpu", &s, "memory_base", format!("{:#x}", m.base));
                put("gpu", &s, "memory_window_bytes", m.size.to_string());
                put("gpu", &s, "memory_online_bytes", opt(m.online_bytes));
                put("gpu", &s, "memory_numa_node", opt(m.numa_node));
            }
            Some(Err(e)) => put("gpu", &s, "memory", format!("missing: {e}")),
            None => {}
        }
        let links: Vec<String> = g
            .cpu_links
            .iter()
            .map(|l| {
                format!(
                    "{}{}",
                    l.bridge,
                    if l.on_bus { "" } else { " (not on the bus)" }
                )
            })
            .collect();
        put("gpu", &s, "cpu_links", links.join(", "));
        for l in &g.gpu_links {
            put(
                "gpu",
                &s,
                &format!("gpu_link {}", l.peer),
                format!(
                    "NV{}{}",
                    l.count,
                    if l.inferred { " (inferred)" } else { "" }
                ),
            );
        }
    }
    for b in &t.bridges {
        let s = b.address.to_string();
        put("bridge", &s, "on_bus", b.on_bus.to_string());
        put("bridge", &s, "gpu", opt(b.gpu));
        // A bridge the bus does not show has no driver, group or libvirt test to compare.
        if b.on_bus {
            put(
                "bridge",
                &s,
                "driver",
                b.driver.clone().unwrap_or_else(|| "none".to_owned()),
            );
            put("bridge", &s, "iommu_group", opt(b.iommu_group));
            put(
                "bridge",
                &s,
                "nv2_bridge",
                b.libvirt.is_nv2_bridge().to_string(),
            );
        }
        put("bridge", &s, "link_index", opt(b.link_index));
        put(
            "bridge",
            &s,
            "speed_code",
            opt(b.speed.map(|v| format!("{:#x}", v.code()))),
        );
        put("bridge", &s, "atsd", opt(b.atsd.map(|a| format!("{a:#x}"))));
    }
    for finding in &r.findings {
        put(
            "finding",
            &finding.subject.to_string(),
            finding.code.as_str(),
            finding.severity.as_str().to_owned(),
        );
    }
    f
}

/// What differs between `a` and `b`, in key order; empty when the hosts are alike.
pub fn diff(a: &Report, b: &Report) -> Vec<Change> {
    let (fa, fb) = (facts(a), facts(b));
    let mut out = Vec::new();
    let mut keys: Vec<&Key> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (va, vb) = (fa.get(key), fb.get(key));
        if va != vb {
            out.push(Change {
                section: key.0,
                subject: key.1.clone(),
                field: key.2.clone(),
                a: va.cloned(),
                b: vb.cloned(),
            });
        }
    }
    out
}

/// One side of a comparison, as the output names it.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "json", derive(serde::Serialize))]
pub struct Side<'a> {
    /// Where it was read from.
    pub source: &'a str,
    /// Its host name.
    pub hostname: Option<&'a str>,
}
