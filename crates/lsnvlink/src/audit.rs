//! Audit findings: what is wrong with a host's NVLink2 topology, each with a severity, a code
//! scripts can match, the PCI function it is about, and a message that says what to check.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! use lsnvlink::audit::{self, Severity};
//! use lsnvlink::topology::Topology;
//!
//! let root = fsroot::Root::open(dir.path())?;
//! let topology = Topology::read(&root, &pci::Names::builtin())?;
//! let findings = audit::audit(&topology);
//! assert!(!findings.iter().any(|f| f.severity == Severity::Error));
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt;

use pci::PciAddress;

use crate::topology::{Gpu, Topology};

/// How bad a finding is. Any [`Severity::Error`] makes `lsnvlink` exit with 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; nothing is broken.
    Info,
    /// Works, but not as the hardware allows, or breaks in some uses.
    Warning,
    /// Broken: a link, GPU memory or passthrough does not work.
    Error,
}

impl Severity {
    /// `info`, `warning`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about. The kebab-case names ([`Code::as_str`]) are a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Code {
    /// A GPU has fewer NVLink bridge functions on the bus than its `ibm,npu` lists, or fewer
    /// than the other GPUs.
    LinkMissing,
    /// A GPU's memory node is absent or unreadable.
    MemoryRegionMissing,
    /// A bridge lacks one of the four properties libvirt's NV2-bridge test looks for.
    Nv2BridgeIncomplete,
    /// NVLink bridges report different link speeds.
    LinkSpeedMismatch,
    /// A GPU and its bridges are bound to different kinds of driver.
    DriverSplit,
    /// A GPU and its bridges are not in one IOMMU group.
    IommuGroupSplit,
    /// A link has no ATSD register on its NPU.
    AtsdMissing,
}

impl Code {
    /// Every code, in order.
    pub const ALL: [Code; 7] = [
        Code::LinkMissing,
        Code::MemoryRegionMissing,
        Code::Nv2BridgeIncomplete,
        Code::LinkSpeedMismatch,
        Code::DriverSplit,
        Code::IommuGroupSplit,
        Code::AtsdMissing,
    ];

    /// The code as reports print it (`link-missing`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::LinkMissing => "link-missing",
            Code::MemoryRegionMissing => "memory-region-missing",
            Code::Nv2BridgeIncomplete => "nv2-bridge-incomplete",
            Code::LinkSpeedMismatch => "link-speed-mismatch",
            Code::DriverSplit => "driver-split",
            Code::IommuGroupSplit => "iommu-group-split",
            Code::AtsdMissing => "atsd-missing",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Finding {
    /// The PCI function it is about (a GPU or an NVLink bridge).
    pub subject: PciAddress,
    /// Which check.
    pub code: Code,
    /// How bad.
    pub severity: Severity,
    /// What is wrong and what to check.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: {}",
            self.severity, self.code, self.subject, self.message
        )
    }
}

/// The joined topology of a host and its audit findings: what the report renderers print.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// The topology.
    pub topology: Topology,
    /// Its findings, sorted by subject, then code.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Audits `topology`.
    pub fn new(topology: Topology) -> Report {
        let findings = audit(&topology);
        Report { topology, findings }
    }

    /// Reads, joins and audits the host under `root`.
    pub fn read(
        root: &fsroot::Root,
        names: &pci::Names,
    ) -> Result<Report, crate::topology::TopologyError> {
        Topology::read(root, names).map(Report::new)
    }

    /// True when any finding is an error.
    pub fn has_errors(&self) -> bool {
        has_errors(&self.findings)
    }
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// Runs every check; the findings come sorted by subject address, then code.
pub fn audit(t: &Topology) -> Vec<Finding> {
    let mut out = Vec::new();
    link_missing(t, &mut out);
    memory_region_missing(t, &mut out);
    nv2_bridge_incomplete(t, &mut out);
    link_speed_mismatch(t, &mut out);
    driver_split(t, &mut out);
    iommu_group_split(t, &mut out);
    atsd_missing(t, &mut out);
    out.sort();
    out.dedup();
    out
}

fn finding(subject: PciAddress, code: Code, severity: Severity, message: String) -> Finding {
    Finding {
        subject,
        code,
        severity,
        message,
    }
}

fn join(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

fn link_missing(t: &Topology, out: &mut Vec<Finding>) {
    let most = t
        .nvlink2_gpus()
        .map(|g| g.cpu_links.len())
        .max()
        .unwrap_or(0);
    for g in t.gpus.iter() {
        let present = g.cpu_links.len();
        let listed = g.npu.as_ref().map_or(0, Vec::len);
        if listed > present {
            let absent = join(
                g.npu
                    .iter()
                    .flatten()
                    .filter(|e| e.bridge.is_none())
                    .map(|e| {
                        e.dt_path
                            .clone()
                            .unwrap_or_else(|| "(a phandle naming no node)".to_owned())
                    }),
            );
            out.push(finding(
                g.address,
                Code::LinkMissing,
                Severity::Error,
                format!(
                    "{present} of the {listed} NVLink bridges its ibm,npu lists are on the PCI \
                     bus; missing: {absent}. The link is down or the bridge function was \
                     removed: check the NVLink cabling/GPU seating, the firmware (skiboot) log \
                     for NPU link training errors, and `echo 1 > /sys/bus/pci/rescan`"
                ),
            ));
        } else if present < most && is_sxm2(g) {
            out.push(finding(
                g.address,
                Code::LinkMissing,
                Severity::Error,
                format!(
                    "{present} NVLink bridge functions, where other GPUs of this host have \
                     {most}. Check the GPU's ibm,npu in the device tree, the firmware (skiboot) \
                     log for NPU errors, and the GPU seating"
                ),
            ));
        }
    }
}

/// PCI device ids of the V100 SXM2 parts, the GPUs that sit on NVLink2 on an AC922 (pci.ids
/// 2023.04.10: `1db1` 16 GB, `1db5` 32 GB).
const V100_SXM2: [u16; 2] = [0x1db1, 0x1db5];

/// Whether `g` is expected to have NVLink bridges like its siblings: it is NVLink2 already, or
/// it is a V100 SXM2 part (on a host where other GPUs have bridges, it has lost them all).
fn is_sxm2(g: &Gpu) -> bool {
    g.is_nvlink2() || g.device_id.is_some_and(|d| V100_SXM2.contains(&d))
}

fn memory_region_missing(t: &Topology, out: &mut Vec<Finding>) {
    for g in &t.gpus {
        if let Some(Err(why)) = &g.memory {
            out.push(finding(
                g.address,
                Code::MemoryRegionMissing,
                Severity::Error,
                format!(
                    "the GPU memory node cannot be read ({why}): the GPU's memory is not \
                     coherent host memory, its NUMA node is missing, and vfio passthrough \
                     gives the guest no GPU RAM. Check the firmware (skiboot) version and its \
                     log for npu2 memory (GMB) setup errors"
                ),
            ));
        }
    }
}

fn nv2_bridge_incomplete(t: &Topology, out: &mut Vec<Finding>) {
    for b in &t.bridges {
        let missing = b.libvirt.missing();
        if missing.is_empty() {
            continue;
        }
        out.push(finding(
            b.address,
            Code::Nv2BridgeIncomplete,
            Severity::Error,
            format!(
                "its device-tree node lacks {}: libvirt does not treat it as an NVLink2 bridge, \
                 so a guest given this GPU gets a memory-locking limit without the GPU RAM \
                 window and fails to start. Check the firmware (skiboot) and the of_node link \
                 in sysfs",
                missing.join(", ")
            ),
        ));
    }
}

fn speed_text(code: u32) -> String {
    match devtree::NvlinkSpeed::from_code(code).bits_per_second() {
        Some(bps) => format!("{:#x} ({})", code, gbps(bps)),
        None => format!("{code:#x} (unknown code)"),
    }
}

/// `25.78125 Gb/s` from bits per second.
pub(crate) fn gbps(bps: u64) -> String {
    let whole = bps / 1_000_000_000;
    let frac = bps % 1_000_000_000;
    if frac == 0 {
        format!("{whole}.0 Gb/s")
    } else {
        let digits = format!("{frac:09}");
        format!("{whole}.{} Gb/s", digits.trim_end_matches('0'))
    }
}

fn link_speed_mismatch(t: &Topology, out: &mut Vec<Finding>) {
    // The most common speed over the host's bridges (ties: the lower code) is the reference.
    let mut counts: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    for b in &t.bridges {
        if let Some(s) = b.speed {
            *counts.entry(s.code()).or_default() += 1;
        }
    }
    let Some((&common, _)) = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) else {
        return;
    };
    if counts.len() < 2 {
        return;
    }
    for b in &t.bridges {
        let Some(s) = b.speed else { continue };
        if s.code() == common {
            continue;
        }
        let gpu = b.gpu.map_or_else(String::new, |g| format!(" (GPU {g})"));
        out.push(finding(
            b.address,
            Code::LinkSpeedMismatch,
            Severity::Warning,
            format!(
                "ibm,nvlink-speed is {} where the host's other links run at {}{gpu}. The \
                 GPU↔CPU bandwidth of this link differs; check the firmware's link speed \
                 setting (HDAT link_speed) and the GPU/planar part",
                speed_text(s.code()),
                speed_text(common)
            ),
        ));
    }
}

/// What kind of driver: passthrough, a host driver, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DriverKind {
    Vfio,
    Host,
    Unbound,
}

fn kind(driver: Option<&str>) -> DriverKind {
    match driver {
        Some("vfio-pci") => DriverKind::Vfio,
        Some(_) => DriverKind::Host,
        None => DriverKind::Unbound,
    }
}

fn show(driver: Option<&str>) -> &str {
    driver.unwrap_or("no driver")
}

fn driver_split(t: &Topology, out: &mut Vec<Finding>) {
    for g in &t.gpus {
        let gk = kind(g.driver.as_deref());
        let mut differing = Vec::new();
        let mut breaks_passthrough = false;
        for link in &g.cpu_links {
            let Some(b) = t.bridge(link.bridge) else {
                continue;
            };
            let bk = kind(b.driver.as_deref());
            // The NVIDIA driver binds the bridges as `ibmnpu`; with no driver loaded both are
            // unbound. A host driver on the GPU with unbound bridges leaves NVLink unused.
            let split = match (gk, bk) {
                (DriverKind::Vfio, DriverKind::Vfio) => false,
                (DriverKind::Vfio, _) | (_, DriverKind::Vfio) => {
                    breaks_passthrough = true;
                    true
                }
                (DriverKind::Host, DriverKind::Unbound) => true,
                _ => false,
            };
            if split {
                differing.push(format!("{} on {}", b.address, show(b.driver.as_deref())));
            }
        }
        if differing.is_empty() {
            continue;
        }
        let (severity, advice) = if breaks_passthrough {
            (
                Severity::Error,
                "vfio needs the GPU and all its NVLink bridges bound to vfio-pci (they share \
                 one IOMMU group): bind them together, e.g. with driverctl or \
                 driver_override",
            )
        } else {
            (
                Severity::Warning,
                "the GPU's driver does not drive its NVLink bridges, so NVLink is unused: \
                 check that the NVIDIA driver's ibmnpu part is loaded",
            )
        };
        out.push(finding(
            g.address,
            Code::DriverSplit,
            severity,
            format!(
                "the GPU is on {} but its bridges {}; {advice}",
                show(g.driver.as_deref()),
                join(differing)
            ),
        ));
    }
}

fn iommu_group_split(t: &Topology, out: &mut Vec<Finding>) {
    for g in &t.gpus {
        if g.cpu_links.is_empty() {
            continue;
        }
        let mut groups: BTreeSet<Option<u32>> = BTreeSet::new();
        groups.insert(g.iommu_group);
        let mut parts = vec![format!("GPU {}", group_text(g.iommu_group))];
        for link in &g.cpu_links {
            let Some(b) = t.bridge(link.bridge) else {
                continue;
            };
            groups.insert(b.iommu_group);
            parts.push(format!("{} {}", b.address, group_text(b.iommu_group)));
        }
        // No IOMMU at all (no group anywhere) is not a split.
        if groups.len() < 2 {
            continue;
        }
        out.push(finding(
            g.address,
            Code::IommuGroupSplit,
            Severity::Error,
            format!(
                "the GPU and its NVLink bridges are not in one IOMMU group ({}): on POWER9 the \
                 kernel puts every GPU and bridge of an NPU in one group, so NVLink DMA is not \
                 translated as passthrough needs. Check the kernel (powernv npu-dma) log and \
                 that the bridges were probed",
                join(parts)
            ),
        ));
    }
}

fn group_text(group: Option<u32>) -> String {
    group.map_or_else(|| "no group".to_owned(), |n| format!("group {n}"))
}

fn atsd_missing(t: &Topology, out: &mut Vec<Finding>) {
    for g in &t.gpus {
        let mut without = Vec::new();
        for link in &g.cpu_links {
            let Some(b) = t.bridge(link.bridge) else {
                continue;
            };
            if b.atsd.is_none() && b.vfio.iter().all(|p| p.property == "ibm,mmio-atsd") {
                let index = b
                    .link_index
                    .map_or_else(|| "?".to_owned(), |i| i.to_string());
                without.push(format!("link {index} (bridge {})", b.address));
            }
        }
        if without.is_empty() {
            continue;
        }
        let npu = g
            .cpu_links
            .first()
            .and_then(|l| t.npus.iter().find(|n| n.domain == l.bridge.domain()));
        let registers = npu.map_or_else(String::new, |n| {
            format!(" (its NPU PHB has {} ATSD register(s))", n.atsd.len())
        });
        out.push(finding(
            g.address,
            Code::AtsdMissing,
            Severity::Warning,
            format!(
                "no ATSD register for {}{registers}: vfio gives these links an ATSD \
                 region of size 0 (\"No available ATSD found\"), so a guest cannot invalidate \
                 the GPU's address translation caches over them. Firmware before skiboot v6.2 \
                 exposes one register; update the system firmware",
                join(without)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kebab_case_and_distinct() {
        let names: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len());
        assert!(names.contains("link-missing"));
        assert!(names.contains("iommu-group-split"));
    }

    #[test]
    fn gbps_prints_exact_decimals() {
        assert_eq!(gbps(25_781_250_000), "25.78125 Gb/s");
        assert_eq!(gbps(25_000_000_000), "25.0 Gb/s");
        assert_eq!(gbps(20_000_000_000), "20.0 Gb/s");
    }

    #[test]
    fn severity_orders_error_last() {
        assert!(Severity::Error > Severity::Warning);
        assert!(Severity::Warning > Severity::Info);
    }
}
