//! The report as Prometheus text exposition (format 0.0.4), for node_exporter's textfile
//! collector: `# HELP` and `# TYPE` once per metric before its samples, `\n` line ends, label
//! values escaped (`\\`, `\"`, `\n`), info-style metrics as gauges of value 1.
//!
//! Metric names and labels are a contract (the `lsnvlink_` prefix; labels may be added, never
//! renamed). They follow Prometheus's naming rules (`promtool check metrics` is clean on every
//! bundled capture): base units (`_bytes`, `_seconds`, `_bytes_per_second`), `_info` metrics of
//! value 1 for facts that are text. GPUs are labelled as dcgm-exporter labels them, so that
//! the two join: `gpu` is the nvidia-smi index (`0`, `1`, … over the GPUs in PCI address
//! order) and `pci_bus_id` the NVML bus id (`00000004:04:00.0`: eight hex digits of domain,
//! upper case), as in dcgm-exporter's `toMetric` (NVIDIA/dcgm-exporter,
//! `internal/pkg/collector/gpu_collector.go`: `GPU` is the device index, `GPUPCIBusID` NVML's
//! `PCI.BusID`).
//!
//! Every output starts with `lsnvlink_last_run_success` and
//! `lsnvlink_last_run_timestamp_seconds`; when the host cannot be read, [`failed_run`] gives
//! those two alone (success 0), so that a collector never keeps stale findings from an older
//! run. The timestamp is the caller's (the command takes `SOURCE_DATE_EPOCH` when set, else
//! the clock): a renderer reads neither files nor clocks, and the same report and timestamp
//! give the same bytes. Series are sorted by metric, then by their labels' order in the
//! topology (PCI address). node_exporter's own `pcidevice` collector already exports the PCI
//! bus; these metrics carry what only the NVLink/device-tree join knows.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! use lsnvlink::audit::Report;
//!
//! let root = fsroot::Root::open(dir.path())?;
//! let r = Report::read(&root, &pci::Names::builtin())?;
//! let mut out = Vec::new();
//! lsnvlink::render::prom::write_prom(&mut out, &r, &[], 1_700_000_000)?;
//! let text = String::from_utf8(out)?;
//! assert!(text.contains("lsnvlink_nvlink2 0\n"));
//! assert!(text.contains("lsnvlink_last_run_timestamp_seconds 1700000000\n"));
//! # Ok(()) }
//! ```

use std::io;

use crate::audit::{Code, Report, Severity};
use crate::topology::Topology;

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
/// header). The first write error is kept ([`Writer::finish`]) and nothing is written after
/// it.
struct Writer<W> {
    out: W,
    pending: Option<String>,
    error: Option<io::Error>,
}

impl<W: io::Write> Writer<W> {
    fn new(out: W) -> Writer<W> {
        Writer {
            out,
            pending: None,
            error: None,
        }
    }

    fn metric(&mut self, name: &str, help: &str) {
        self.pending = Some(format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: u64) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.try_sample(name, labels, value) {
            self.error = Some(e);
        }
    }

    fn try_sample(&mut self, name: &str, labels: &[(&str, String)], value: u64) -> io::Result<()> {
        if let Some(header) = self.pending.take() {
            self.out.write_all(header.as_bytes())?;
        }
        self.out.write_all(name.as_bytes())?;
        if !labels.is_empty() {
            self.out.write_all(b"{")?;
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.write_all(b",")?;
                }
                write!(self.out, "{k}=\"{}\"", escape(v))?;
            }
            self.out.write_all(b"}")?;
        }
        writeln!(self.out, " {value}")
    }

    /// The first error writing, if any.
    fn finish(self) -> io::Result<()> {
        self.error.map_or(Ok(()), Err)
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A PCI address as NVML (`nvidia-smi --query-gpu=pci.bus_id`, dcgm-exporter's `pci_bus_id`)
/// prints it: `%08X:%02X:%02X.%X`, e.g. `00000035:03:00.0`.
pub fn nvml_bus_id(address: pci::PciAddress) -> String {
    format!(
        "{:08X}:{:02X}:{:02X}.{:X}",
        address.domain(),
        address.bus(),
        address.device(),
        address.function()
    )
}

/// The nvidia-smi index of the GPU at `address` (its position among the GPUs, which the
/// topology keeps in PCI address order), or an empty label when no GPU is there.
fn gpu_index(t: &Topology, address: pci::PciAddress) -> String {
    t.gpus
        .iter()
        .position(|g| g.address == address)
        .map(|i| i.to_string())
        .unwrap_or_default()
}

/// The `gpu` and `pci_bus_id` labels of the GPU at `address`.
fn gpu_labels(t: &Topology, address: pci::PciAddress) -> [(&'static str, String); 2] {
    [
        ("gpu", gpu_index(t, address)),
        ("pci_bus_id", nvml_bus_id(address)),
    ]
}

/// The two metrics that say how the last run went, first in every output.
fn last_run<W: io::Write>(w: &mut Writer<W>, success: bool, timestamp_seconds: u64) {
    w.metric(
        "lsnvlink_last_run_success",
        "1 when the last run read the host and wrote these metrics, 0 when it could not read \
         the host (the other metrics are then absent).",
    );
    w.sample("lsnvlink_last_run_success", &[], u64::from(success));
    w.metric(
        "lsnvlink_last_run_timestamp_seconds",
        "When the last run ended, in seconds since the Unix epoch.",
    );
    w.sample(
        "lsnvlink_last_run_timestamp_seconds",
        &[],
        timestamp_seconds,
    );
}

/// Writes what a run that could not read the host writes: `lsnvlink_last_run_success 0` and
/// the run's timestamp, so that an alert fires instead of old findings staying in place.
pub fn write_failed_run<W: io::Write + ?Sized>(
    out: &mut W,
    timestamp_seconds: u64,
) -> io::Result<()> {
    let mut w = Writer::new(out);
    last_run(&mut w, false, timestamp_seconds);
    w.finish()
}

/// [`write_failed_run`] as a `String`.
pub fn failed_run(timestamp_seconds: u64) -> String {
    ::pci::render::to_string(|out| write_failed_run(out, timestamp_seconds))
}

/// Writes the report as Prometheus text, from a run that ended at `timestamp_seconds` (seconds
/// since the Unix epoch). `memlock` adds one `lsnvlink_memlock_need_bytes` sample per guest
/// (sorted by guest name); an empty slice leaves that metric out.
pub fn write_prom<W: io::Write + ?Sized>(
    out: &mut W,
    report: &Report,
    memlock: &[MemlockNeed],
    timestamp_seconds: u64,
) -> io::Result<()> {
    let t = &report.topology;
    let mut w = Writer::new(out);
    let p = &t.platform;
    last_run(&mut w, true, timestamp_seconds);

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
        "One NVIDIA GPU: nvidia-smi index, NVML bus id, PCI address, topo -m label, name, \
         slot, chip, NUMA node of the PCI function, driver, IOMMU group.",
    );
    for (i, g) in t.gpus.iter().enumerate() {
        w.sample(
            "lsnvlink_gpu_info",
            &[
                ("gpu", i.to_string()),
                ("pci_bus_id", nvml_bus_id(g.address)),
                ("address", g.address.to_string()),
                ("index", format!("GPU{i}")),
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
            &gpu_labels(t, g.address),
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
            &gpu_labels(t, g.address),
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
                    ("gpu", gpu_index(t, g.address)),
                    ("pci_bus_id", nvml_bus_id(g.address)),
                    ("peer", gpu_index(t, l.peer)),
                    ("peer_pci_bus_id", nvml_bus_id(l.peer)),
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
                &gpu_labels(t, g.address),
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
                &gpu_labels(t, g.address),
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
                &gpu_labels(t, g.address),
                bytes,
            );
        }
    }
    w.metric(
        "lsnvlink_bridge_info",
        "One NVLink bridge function (1014:04ea): its GPU (index and NVML bus id), chip, link \
         index, speed code, driver, IOMMU group.",
    );
    for b in t.bridges_on_bus() {
        w.sample(
            "lsnvlink_bridge_info",
            &[
                ("bridge", b.address.to_string()),
                ("gpu", b.gpu.map(|a| gpu_index(t, a)).unwrap_or_default()),
                ("pci_bus_id", opt(b.gpu.map(nvml_bus_id))),
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
        "lsnvlink_bridge_link_speed_bytes_per_second",
        "Lane rate of the bridge's NVLink (ibm,nvlink-speed) in bytes per second (bits / 8), \
         for the known speed codes.",
    );
    for b in t.bridges_on_bus() {
        if let Some(bps) = b.speed.and_then(|s| s.bits_per_second()) {
            w.sample(
                "lsnvlink_bridge_link_speed_bytes_per_second",
                &[("bridge", b.address.to_string())],
                bps / 8,
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
    w.finish()
}

/// [`write_prom`] as a `String`.
pub fn prom(report: &Report, memlock: &[MemlockNeed], timestamp_seconds: u64) -> String {
    ::pci::render::to_string(|out| write_prom(out, report, memlock, timestamp_seconds))
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
        let mut w = Writer::new(Vec::new());
        w.metric("none", "never written");
        w.metric("m", "help");
        w.sample("m", &[], 3);
        w.sample("m", &[("a", "x\"".to_owned()), ("b", String::new())], 0);
        assert_eq!(
            String::from_utf8(w.out).unwrap(),
            "# HELP m help\n# TYPE m gauge\nm 3\nm{a=\"x\\\"\",b=\"\"} 0\n"
        );
    }
}
