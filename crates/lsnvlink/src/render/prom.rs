//! The report as Prometheus text exposition (format 0.0.4), for node_exporter's textfile
//! collector: `# HELP` and `# TYPE` once per metric before its samples, `\n` line ends, label
//! values escaped (`\\`, `\"`, `\n`), info-style metrics as gauges of value 1.
//!
//! Metric names and labels are a contract (the `lsnvlink_` prefix; labels may be added, never
//! renamed). Series are sorted by metric, then by their labels' order in the topology (PCI
//! address), so two runs on one host give the same bytes. node_exporter's own `pcidevice`
//! collector already exports the PCI bus; these metrics carry what only the NVLink/device-tree
//! join knows.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! use lsnvlink::audit::Report;
//!
//! let root = fsroot::Root::open(dir.path())?;
//! let r = Report::read(&root, &pci::Names::builtin())?;
//! let text = lsnvlink::render::prom::prom(&r, &[]);
//! assert!(text.contains("lsnvlink_nvlink2 0\n"));
//! # Ok(()) }
//! ```

use std::fmt::Write as _;

use crate::audit::{Code, Report, Severity};

use super::report::gpu_label;

/// The memory-locking need of a guest, as the caller computed it ([`crate::memlock`]):
/// `lsnvlink_memlock_need_bytes{guest="…"}` and, when the domain sets one,
/// `lsnvlink_memlock_hard_limit_bytes{guest="…"}` (alert when the need exceeds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemlockNeed {
    /// The guest's name (a libvirt domain name, or what the caller calls it).
    pub guest: String,
    /// Bytes the guest must be allowed to lock: libvirt's formula.
    pub bytes: u64,
    /// The domain's `<memtune><hard_limit>` in bytes, which overrides the formula.
    pub hard_limit_bytes: Option<u64>,
}

/// Escapes a label value as the exposition format requires.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes metrics in order; each metric's HELP/TYPE header comes once, before its first
/// sample, and a metric without samples is left out entirely (strict parsers refuse a lone
/// header).
struct Writer {
    out: String,
    pending: Option<String>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            out: String::new(),
            pending: None,
        }
    }

    fn metric(&mut self, name: &str, help: &str) {
        self.pending = Some(format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: u64) {
        if let Some(header) = self.pending.take() {
            self.out.push_str(&header);
        }
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as Prometheus text. `memlock` adds one `lsnvlink_memlock_need_bytes` sample per
/// guest (sorted by guest name); an empty slice leaves that metric out.
pub fn prom(report: &Report, memlock: &[MemlockNeed]) -> String {
    let t = &report.topology;
    let mut w = Writer::new();
    let p = &t.platform;

    w.metric(
        "lsnvlink_host_info",
        "The host as lsnvlink read it: device-tree model, hostname, kernel, lsnvlink version.",
    );
    w.sample(
        "lsnvlink_host_info",
        &[
            ("model", p.model.clone().unwrap_or_default()),
            ("hostname", p.hostname.clone().unwrap_or_default()),
            ("kernel", p.kernel.clone().unwrap_or_default()),
            ("version", crate::VERSION.to_owned()),
        ],
        1,
    );
    w.metric(
        "lsnvlink_nvlink2",
        "1 when the host has NVLink2 hardware (an NVLink bridge or a GPU with bridges), else 0.",
    );
    w.sample("lsnvlink_nvlink2", &[], u64::from(t.has_nvlink2()));

    w.metric(
        "lsnvlink_gpu_info",
        "One NVIDIA GPU: PCI address, nvidia-smi style index, name, slot, chip, NUMA node of \
         the PCI function, driver, IOMMU group.",
    );
    for g in &t.gpus {
        w.sample(
            "lsnvlink_gpu_info",
            &[
                ("gpu", g.address.to_string()),
                ("index", gpu_label(t, g.address)),
                ("name", g.name.clone()),
                ("slot", g.slot.clone().unwrap_or_default()),
                ("chip", opt(g.chip_id)),
                ("numa_node", opt(g.numa_node)),
                ("driver", g.driver.clone().unwrap_or_default()),
                ("iommu_group", opt(g.iommu_group)),
            ],
            1,
        );
    }
    w.metric(
        "lsnvlink_gpu_cpu_links",
        "NVLink bridge functions of the GPU present on the PCI bus (its links to the CPU).",
    );
    for g in &t.gpus {
        w.sample(
            "lsnvlink_gpu_cpu_links",
            &[("gpu", g.address.to_string())],
            g.links_on_bus().count() as u64,
        );
    }
    w.metric(
        "lsnvlink_gpu_cpu_links_listed",
        "NVLink bridges the GPU's device-tree ibm,npu lists (what it should have).",
    );
    for g in t.gpus.iter().filter(|g| g.npu.is_some()) {
        w.sample(
            "lsnvlink_gpu_cpu_links_listed",
            &[("gpu", g.address.to_string())],
            g.npu.as_ref().map_or(0, Vec::len).max(g.cpu_links.len()) as u64,
        );
    }
    w.metric(
        "lsnvlink_gpu_peer_links",
        "NVLinks between two GPUs (inferred=\"true\": from the Witherspoon wiring, firmware \
         has no ibm,nvlink-peers).",
    );
    for g in &t.gpus {
        for l in &g.gpu_links {
            w.sample(
                "lsnvlink_gpu_peer_links",
                &[
                    ("gpu", g.address.to_string()),
                    ("peer", l.peer.to_string()),
                    ("inferred", l.inferred.to_string()),
                ],
                u64::from(l.count),
            );
        }
    }
    w.metric(
        "lsnvlink_gpu_memory_numa_node",
        "NUMA node of the GPU's memory (its device-tree memory node's ibm,associativity).",
    );
    for g in &t.gpus {
        if let Some(Ok(m)) = &g.memory
            && let Some(node) = m.numa_node
        {
            w.sample(
                "lsnvlink_gpu_memory_numa_node",
                &[("gpu", g.address.to_string())],
                u64::from(node),
            );
        }
    }
    w.metric(
        "lsnvlink_gpu_memory_bytes",
        "Size of the GPU memory aperture in the device tree (memory-region reg), in bytes.",
    );
    for g in &t.gpus {
        if let Some(Ok(m)) = &g.memory {
            w.sample(
                "lsnvlink_gpu_memory_bytes",
                &[("gpu", g.address.to_string())],
                m.size,
            );
        }
    }
    w.metric(
        "lsnvlink_gpu_memory_online_bytes",
        "Memory the GPU's NUMA node really holds (its MemTotal): what the NVIDIA driver \
         onlined; 0 before onlining or with vfio-pci.",
    );
    for g in &t.gpus {
        if let Some(Ok(m)) = &g.memory
            && let Some(bytes) = m.online_bytes
        {
            w.sample(
                "lsnvlink_gpu_memory_online_bytes",
                &[("gpu", g.address.to_string())],
                bytes,
            );
        }
    }
    w.metric(
        "lsnvlink_bridge_info",
        "One NVLink bridge function (1014:04ea): its GPU, chip, link index, speed code, \
         driver, IOMMU group.",
    );
    for b in t.bridges_on_bus() {
        w.sample(
            "lsnvlink_bridge_info",
            &[
                ("bridge", b.address.to_string()),
                ("gpu", opt(b.gpu)),
                ("chip", opt(b.chip_id)),
                ("link_index", opt(b.link_index)),
                (
                    "speed_code",
                    opt(b.speed.map(|s| format!("{:#x}", s.code()))),
                ),
                ("driver", b.driver.clone().unwrap_or_default()),
                ("iommu_group", opt(b.iommu_group)),
            ],
            1,
        );
    }
    w.metric(
        "lsnvlink_bridge_link_speed_bits_per_second",
        "Lane rate of the bridge's NVLink (ibm,nvlink-speed), for the known speed codes.",
    );
    for b in t.bridges_on_bus() {
        if let Some(bps) = b.speed.and_then(|s| s.bits_per_second()) {
            w.sample(
                "lsnvlink_bridge_link_speed_bits_per_second",
                &[("bridge", b.address.to_string())],
                bps,
            );
        }
    }
    w.metric(
        "lsnvlink_findings",
        "Audit findings by code and severity (every pair is written, zero included).",
    );
    for code in Code::ALL {
        for severity in [Severity::Error, Severity::Warning, Severity::Info] {
            let n = report
                .findings
                .iter()
                .filter(|f| f.code == code && f.severity == severity)
                .count();
            w.sample(
                "lsnvlink_findings",
                &[
                    ("code", code.as_str().to_owned()),
                    ("severity", severity.as_str().to_owned()),
                ],
                n as u64,
            );
        }
    }
    if !memlock.is_empty() {
        w.metric(
            "lsnvlink_memlock_need_bytes",
            "Memory a KVM guest given these GPUs must be allowed to lock, as libvirt computes it.",
        );
        let mut sorted: Vec<&MemlockNeed> = memlock.iter().collect();
        sorted.sort_by(|a, b| a.guest.cmp(&b.guest));
        for m in &sorted {
            w.sample(
                "lsnvlink_memlock_need_bytes",
                &[("guest", m.guest.clone())],
                m.bytes,
            );
        }
        w.metric(
            "lsnvlink_memlock_hard_limit_bytes",
            "The guest's <memtune><hard_limit>, which replaces the formula (alert when below \
             lsnvlink_memlock_need_bytes).",
        );
        for m in &sorted {
            if let Some(limit) = m.hard_limit_bytes {
                w.sample(
                    "lsnvlink_memlock_hard_limit_bytes",
                    &[("guest", m.guest.clone())],
                    limit,
                );
            }
        }
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
        assert_eq!(escape("GV100GL [Tesla V100]"), "GV100GL [Tesla V100]");
    }

    #[test]
    fn a_sample_without_labels_has_no_braces() {
        let mut w = Writer::new();
        w.metric("none", "never written");
        w.metric("m", "help");
        w.sample("m", &[], 3);
        w.sample("m", &[("a", "x\"".to_owned()), ("b", String::new())], 0);
        assert_eq!(
            w.out,
            "# HELP m help\n# TYPE m gauge\nm 3\nm{a=\"x\\\"\",b=\"\"} 0\n"
        );
    }
}
