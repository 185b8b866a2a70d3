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

use crate::topology::{Bridge, Gpu, IommuGrouping, Nvlink2Kernel, Topology};

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
    /// A GPU has fewer NVLink bridge functions on the bus than its `ibm,npu` lists (all of
    /// them gone: its NPU PE was removed), or fewer than the other GPUs.
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
    /// A link has no ATSD register on its NPU (and the kernel has no fallback).
    AtsdMissing,
    /// The running kernel does not expose NVLink2 (5.13 and later, or the NPU was not
    /// probed): one finding for the host.
    Nvlink2KernelUnsupported,
    /// An NVLink bridge whose GPU slot is empty (no `ibm,gpu`): a partly populated board.
    GpuSlotEmpty,
    /// The NVIDIA driver holds the GPU, but its memory node has no memory online.
    GpuMemoryOffline,
    /// The NVIDIA driver reports a link of the GPU inactive (`nvidia-smi nvlink -s` in a
    /// sosreport).
    LinkInactive,
}

impl Code {
    /// Every code, in order.
    pub const ALL: [Code; 11] = [
        Code::LinkMissing,
        Code::MemoryRegionMissing,
        Code::Nv2BridgeIncomplete,
        Code::LinkSpeedMismatch,
        Code::DriverSplit,
        Code::IommuGroupSplit,
        Code::AtsdMissing,
        Code::Nvlink2KernelUnsupported,
        Code::GpuSlotEmpty,
        Code::GpuMemoryOffline,
        Code::LinkInactive,
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
            Code::Nvlink2KernelUnsupported => "nvlink2-kernel-unsupported",
            Code::GpuSlotEmpty => "gpu-slot-empty",
            Code::GpuMemoryOffline => "gpu-memory-offline",
            Code::LinkInactive => "link-inactive",
        }
    }
}

/// What a finding is about: the host as a whole, or one PCI function (a GPU, or an NVLink
/// bridge — for a bridge the kernel does not show, the address its device-tree node gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// The whole host.
    Host,
    /// One PCI function.
    Pci(PciAddress),
}

impl Subject {
    /// The PCI address, when the subject is a function.
    pub fn address(self) -> Option<PciAddress> {
        match self {
            Subject::Host => None,
            Subject::Pci(a) => Some(a),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Host => f.write_str("host"),
            Subject::Pci(a) => a.fmt(f),
        }
    }
}

impl From<PciAddress> for Subject {
    fn from(a: PciAddress) -> Subject {
        Subject::Pci(a)
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
    /// What it is about: the host, or a PCI function (a GPU or an NVLink bridge).
    pub subject: Subject,
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

/// Runs every check; the findings come sorted by subject (the host first, then by address),
/// then code.
pub fn audit(t: &Topology) -> Vec<Finding> {
    let mut out = Vec::new();
    nvlink2_kernel_unsupported(t, &mut out);
    link_missing(t, &mut out);
    memory_region_missing(t, &mut out);
    nv2_bridge_incomplete(t, &mut out);
    gpu_slot_empty(t, &mut out);
    link_speed_mismatch(t, &mut out);
    driver_split(t, &mut out);
    iommu_group_split(t, &mut out);
    atsd_missing(t, &mut out);
    gpu_memory_offline(t, &mut out);
    link_inactive(t, &mut out);
    out.sort();
    out.dedup();
    out
}

/// A finding; `subject` is a PCI address or [`Subject::Host`].
pub fn finding(
    subject: impl Into<Subject>,
    code: Code,
    severity: Severity,
    message: String,
) -> Finding {
    Finding {
        subject: subject.into(),
        code,
        severity,
        message,
    }
}

fn nvlink2_kernel_unsupported(t: &Topology, out: &mut Vec<Finding>) {
    let Some(Nvlink2Kernel::Unsupported { by_version }) = t.platform.nvlink2_kernel else {
        return;
    };
    let kernel = t.platform.kernel.as_deref().unwrap_or("unknown");
    let why = if by_version {
        format!(
            "kernel {kernel} is 5.13 or later, and Linux 5.13 removed the NVLink2 support \
             (\"powerpc/powernv: remove the nvlink support\", \"vfio/pci: remove \
             vfio_pci_nvlink2\"): the NPU PHBs are not probed"
        )
    } else {
        format!(
            "the device tree describes {} NVLink bridge(s) but the PCI bus has none and no NPU \
             PHB was probed (no /sys/devices/pciDDDD:00 for their domains): kernel {kernel} \
             does not probe the NPU",
            t.bridges.len()
        )
    };
    out.push(finding(
        Subject::Host,
        Code::Nvlink2KernelUnsupported,
        Severity::Warning,
        format!(
            "{why}. This kernel does not expose NVLink2: no NVLink bridge functions, the GPUs' \
             NVLink2 memory is not coherent host memory, and passthrough of these GPUs with \
             NVLink2 (vfio) is impossible. The topology here comes from the device tree alone. \
             For NVLink2 run a 5.0–5.12 kernel (5.10 is the last LTS with it; `uname -r`)"
        ),
    ));
}

fn join(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

fn link_missing(t: &Topology, out: &mut Vec<Finding>) {
    // A kernel that does not expose the bridges shows none: said once for the host.
    if !t.kernel_exposes_bridges() {
        return;
    }
    let most = t
        .nvlink2_gpus()
        .map(|g| g.links_on_bus().count())
        .max()
        .unwrap_or(0);
    for g in t.gpus.iter() {
        let present = g.links_on_bus().count();
        let known = g.cpu_links.len();
        // Entries of `ibm,npu` naming no bridge node at all.
        let unnamed = g
            .npu
            .iter()
            .flatten()
            .filter(|e| e.dt_path.is_none())
            .count();
        let expected = known.max(g.npu.as_ref().map_or(0, Vec::len));
        let gone: Vec<String> = g
            .cpu_links
            .iter()
            .filter(|l| !l.on_bus)
            .map(|l| bridge_name(t, l.bridge))
            .chain((0..unnamed).map(|_| "(an ibm,npu phandle naming no node)".to_owned()))
            .collect();
        if present == 0 && expected > 0 {
            out.push(finding(
                g.address,
                Code::LinkMissing,
                Severity::Error,
                format!(
                    "none of its {expected} NVLink bridge functions is on the PCI bus ({}), while \
                     the device tree still describes them: the GPU's NPU PE was removed \
                     together, as the kernel does after an EEH permanent failure (an NPU fence; \
                     NVIDIA's ibmnpu logs \"NPU FENCE detected, machine power cycle required\") \
                     or a manual remove. Look in the kernel log (`dmesg | grep -i -e eeh -e \
                     npu`); a fenced NPU needs a power cycle of the machine",
                    join(gone)
                ),
            ));
        } else if !gone.is_empty() {
            out.push(finding(
                g.address,
                Code::LinkMissing,
                Severity::Error,
                format!(
                    "{present} of its {expected} NVLink bridge functions are on the PCI bus; \
                     missing: {}. A bridge function going away alone matches no known cause: \
                     a link that fails training keeps its function (only the NVIDIA driver \
                     sees it: `nvidia-smi nvlink -s`), and the kernel removes all of a GPU's \
                     bridges together (EEH). Check the kernel log (`dmesg | grep -i -e eeh -e \
                     npu`) and whether the function was removed by hand; `echo 1 > \
                     /sys/bus/pci/rescan` brings a removed function back",
                    join(gone)
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

/// A bridge as messages name it: its address, and its node when it is not on the bus.
fn bridge_name(t: &Topology, address: PciAddress) -> String {
    match t.bridge(address) {
        Some(b) if !b.on_bus => match &b.dt_path {
            Some(p) => format!("{address} ({p})"),
            None => address.to_string(),
        },
        _ => address.to_string(),
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

/// Whether a bridge sits in an empty GPU slot: it has no `ibm,gpu`, and no GPU on the bus
/// lists it in `ibm,npu` (skiboot writes `ibm,gpu` only for a slot holding a GPU).
fn in_empty_slot(t: &Topology, b: &Bridge) -> bool {
    !b.has_gpu_property
        && !t
            .gpus
            .iter()
            .any(|g| g.cpu_links.iter().any(|l| l.bridge == b.address))
}

fn nv2_bridge_incomplete(t: &Topology, out: &mut Vec<Finding>) {
    for b in t.bridges_on_bus() {
        let missing = b.libvirt.missing();
        if missing.is_empty() || in_empty_slot(t, b) {
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

fn gpu_slot_empty(t: &Topology, out: &mut Vec<Finding>) {
    // One finding per empty slot, on its first bridge.
    let mut seen = BTreeSet::new();
    for b in t.bridges.iter().filter(|b| in_empty_slot(t, b)) {
        let key = (
            b.address.domain(),
            b.slot.clone(),
            b.group_id
                .or(if b.slot.is_none() { b.link_index } else { None }),
        );
        if !seen.insert(key) {
            continue;
        }
        let links: Vec<String> = t
            .bridges
            .iter()
            .filter(|o| {
                in_empty_slot(t, o)
                    && o.address.domain() == b.address.domain()
                    && o.slot == b.slot
                    && (b.slot.is_some() || o.group_id == b.group_id)
            })
            .map(|o| o.address.to_string())
            .collect();
        let slot = b.slot.as_deref().map_or_else(
            || "an unlabelled GPU slot".to_owned(),
            |s| format!("GPU slot {s}"),
        );
        out.push(finding(
            b.address,
            Code::GpuSlotEmpty,
            Severity::Info,
            format!(
                "{slot} holds no GPU: its NVLink bridge{} {} ha{} no ibm,gpu, as firmware \
                 leaves it for an empty slot (a partly populated board). Nothing to fix unless \
                 a GPU should be there: then check its seating and the firmware log",
                if links.len() == 1 { "" } else { "s" },
                join(links.iter().cloned()),
                if links.len() == 1 { "s" } else { "ve" }
            ),
        ));
    }
}

fn speed_text(code: u32) -> String {
    match devtree::power9::NvlinkSpeed::from_code(code).bits_per_second() {
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
        for link in g.links_on_bus() {
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
    let grouping = match t.platform.iommu_grouping {
        Some(IommuGrouping::PerGpu) => {
            "this kernel groups per GPU (as Linux before 5.0 does): each GPU with its own \
             NVLink bridges"
        }
        Some(IommuGrouping::PerNpu) => {
            "this kernel groups per NPU (as Linux 5.0–5.12 does): every GPU of a socket with \
             all the NPU's bridges"
        }
        None => {
            "Linux puts a GPU and its NVLink bridges in one group (one per NPU from 5.0, one \
             per GPU before)"
        }
    };
    for g in &t.gpus {
        if g.links_on_bus().next().is_none() {
            continue;
        }
        let mut groups: BTreeSet<Option<u32>> = BTreeSet::new();
        groups.insert(g.iommu_group);
        let mut parts = vec![format!("GPU {}", group_text(g.iommu_group))];
        for link in g.links_on_bus() {
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
                "the GPU and its NVLink bridges are not in one IOMMU group ({}): {grouping}, \
                 so NVLink DMA is not translated as passthrough needs. Check the kernel \
                 (powernv npu-dma) log and that the bridges were probed",
                join(parts)
            ),
        ));
    }
}

fn group_text(group: Option<u32>) -> String {
    group.map_or_else(|| "no group".to_owned(), |n| format!("group {n}"))
}

/// Whether the running kernel's vfio falls back to `ibm,mmio-atsd[0]` (5.7+), and whether
/// ATSD matters at all (only vfio's NVLink2 subdriver, 5.0–5.12, hands ATSD to a guest).
fn atsd_rule(t: &Topology) -> Option<bool> {
    match t.platform.nvlink2_kernel {
        Some(Nvlink2Kernel::Vfio { atsd_fallback, .. }) => Some(atsd_fallback),
        Some(Nvlink2Kernel::NoVfio | Nvlink2Kernel::Unsupported { .. }) => None,
        // Unknown kernel: judged as 5.0–5.6 would, the strictest.
        None => Some(false),
    }
}

fn atsd_missing(t: &Topology, out: &mut Vec<Finding>) {
    let Some(fallback) = atsd_rule(t) else {
        return;
    };
    for g in &t.gpus {
        let npu = g
            .cpu_links
            .first()
            .and_then(|l| t.npus.iter().find(|n| n.domain == l.bridge.domain()));
        // With the 5.7 fallback a link without its own register uses register 0.
        if fallback && npu.is_some_and(|n| !n.atsd.is_empty()) {
            continue;
        }
        let mut without = Vec::new();
        for link in g.links_on_bus() {
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
        let kernel = if fallback {
            "even with the fallback to ibm,mmio-atsd[0] of Linux 5.7+ (the NPU has no register \
             at all)"
        } else {
            "and this kernel (before 5.7) has no fallback to ibm,mmio-atsd[0]"
        };
        let registers = npu.map_or_else(String::new, |n| {
            format!(" (its NPU PHB has {} ATSD register(s))", n.atsd.len())
        });
        out.push(finding(
            g.address,
            Code::AtsdMissing,
            Severity::Warning,
            format!(
                "no ATSD register for {}{registers}, {kernel}: vfio gives these links an \
                 ATSD region of size 0 (\"No available ATSD found\"), so a guest cannot \
                 invalidate the GPU's address translation caches over them. Firmware before \
                 skiboot v6.2 exposes one register: update the system firmware, or run a 5.7+ \
                 kernel",
                join(without)
            ),
        ));
    }
}

fn gpu_memory_offline(t: &Topology, out: &mut Vec<Finding>) {
    // Without NVLink2 in the kernel no driver can online the memory: said once for the host.
    if !t.kernel_exposes_bridges() {
        return;
    }
    for g in &t.gpus {
        if g.driver.as_deref() != Some("nvidia") {
            continue;
        }
        let Some(Ok(m)) = &g.memory else { continue };
        if m.online_bytes != Some(0) {
            continue;
        }
        let node = m
            .numa_node
            .map_or_else(|| "its node".to_owned(), |n| format!("NUMA node {n}"));
        let status = g
            .numa_status
            .as_ref()
            .and_then(|s| s.status.as_deref())
            .map_or_else(String::new, |s| {
                format!(" (the driver's numa_status says {s:?})")
            });
        out.push(finding(
            g.address,
            Code::GpuMemoryOffline,
            Severity::Warning,
            format!(
                "the nvidia driver holds the GPU but {node} has no memory online{status}: the \
                 GPU's RAM is not usable as host memory. The driver onlines it when \
                 nvidia-persistenced runs (`systemctl status nvidia-persistenced`); check \
                 `numactl -H` and the kernel log for onlining errors"
            ),
        ));
    }
}

fn link_inactive(t: &Topology, out: &mut Vec<Finding>) {
    for g in &t.gpus {
        let inactive: Vec<String> = g
            .link_states
            .iter()
            .filter(|l| !l.active)
            .map(|l| format!("link {} ({})", l.link, l.status))
            .collect();
        if inactive.is_empty() {
            continue;
        }
        out.push(finding(
            g.address,
            Code::LinkInactive,
            Severity::Error,
            format!(
                "the NVIDIA driver reports {} of its {} NVLinks not up: {}. A link that fails \
                 training keeps its bridge function, so only the driver sees this. Check \
                 `nvidia-smi nvlink -s` and `nvidia-smi nvlink -e` on the host, the GPU \
                 seating, and the driver's log; a retrain needs a reboot",
                inactive.len(),
                g.link_states.len(),
                join(inactive)
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
