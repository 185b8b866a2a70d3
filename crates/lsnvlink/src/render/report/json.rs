//! The JSON report. Keys are a contract (schema version [`SCHEMA_VERSION`]); keys may be
//! added, never renamed. Counts and sizes are JSON numbers; PCI addresses `DDDD:BB:DD.F` and
//! PCI ids (`10de`) strings, as in every JSON output of lsnvlink; every array is sorted by
//! address.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::audit::Report;
use crate::topology::{Bridge, Diagnostic, Gpu, IommuGrouping, Npu, Nvlink2Kernel, Topology};

use super::no_nvlink2_sentence;

/// The version of the JSON report's layout: 2 since `vendor_id` and `device_id` are 4-digit
/// hex strings (`"10de"`), as in `lsnvlink pci --format json`, lspci and nvidia-smi, instead of
/// numbers; every other key of version 1 is kept. `docs/schema/report.schema.json` describes it.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    platform: PlatformJ<'a>,
    npus: Vec<NpuJ<'a>>,
    gpus: Vec<GpuJ<'a>>,
    bridges: Vec<BridgeJ<'a>>,
    findings: Vec<FindingJ<'a>>,
    #[serde(serialize_with = "texts")]
    notes: &'a [Diagnostic],
}

/// Diagnostics as the list of their texts, as schema 2 has them.
fn texts<S: serde::Serializer>(list: &&[Diagnostic], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(ToString::to_string))
}

#[derive(Serialize)]
struct PlatformJ<'a> {
    model: Option<&'a str>,
    compatible: &'a [String],
    hostname: Option<&'a str>,
    kernel: Option<&'a str>,
    device_tree: bool,
    nvlink2: bool,
    wiring: Option<&'static str>,
    summary: Option<String>,
    /// `major.minor.patch` parsed from `kernel`.
    kernel_version: Option<String>,
    /// `no-vfio`, `vfio`, `unsupported`, or null when unknown.
    kernel_nvlink2: Option<&'static str>,
    /// Whether vfio falls back to `ibm,mmio-atsd[0]` (null unless `kernel_nvlink2` is `vfio`).
    kernel_atsd_fallback: Option<bool>,
    /// `per-npu`, `per-gpu`, or null.
    iommu_grouping: Option<&'static str>,
    firmware: FirmwareJ<'a>,
    /// Memory per NUMA node, by node number (null when unreadable).
    numa_nodes: Option<Vec<NumaNodeJ>>,
}

#[derive(Serialize)]
struct NumaNodeJ {
    node: u32,
    /// `MemTotal` of its `meminfo`.
    mem_total_bytes: u64,
}

#[derive(Serialize)]
struct FirmwareJ<'a> {
    /// `/ibm,opal/firmware/version`.
    skiboot: Option<&'a str>,
    /// The skiboot release as `vMAJOR.MINOR.PATCH`.
    skiboot_version: Option<String>,
    /// `/ibm,firmware-versions` properties.
    versions: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct NpuJ<'a> {
    domain: String,
    dt_path: &'a str,
    chip_id: Option<u32>,
    links: Option<u32>,
    atsd: &'a [u64],
}

#[derive(Serialize)]
struct MemoryJ<'a> {
    base: u64,
    /// The window (`reg` size); kept as `size` for schema 1.
    size: u64,
    window_bytes: u64,
    /// `MemTotal` of its NUMA node, null when unknown.
    online_bytes: Option<u64>,
    numa_node: Option<u32>,
    tgt_addr: Option<u64>,
    dt_path: &'a str,
}

#[derive(Serialize)]
struct CpuLinkJ {
    bridge: String,
    on_bus: bool,
    link_index: Option<u32>,
    speed_code: Option<u32>,
}

#[derive(Serialize)]
struct GpuLinkJ {
    peer: String,
    count: u32,
    inferred: bool,
}

#[derive(Serialize)]
struct GpuJ<'a> {
    address: String,
    vendor_id: Option<String>,
    device_id: Option<String>,
    name: &'a str,
    slot: Option<&'a str>,
    chip_id: Option<u32>,
    numa_node: Option<u32>,
    driver: Option<&'a str>,
    iommu_group: Option<u32>,
    dt_path: Option<&'a str>,
    npu_listed: Option<usize>,
    memory: Option<MemoryJ<'a>>,
    memory_error: Option<&'a str>,
    cpu_links: Vec<CpuLinkJ>,
    gpu_links: Vec<GpuLinkJ>,
    vfio_problems: Vec<String>,
    #[serde(serialize_with = "texts")]
    problems: &'a [Diagnostic],
    numa_status: Option<NumaStatusJ<'a>>,
}

#[derive(Serialize)]
struct NumaStatusJ<'a> {
    node: Option<i64>,
    status: Option<&'a str>,
    base: Option<u64>,
    size: Option<u64>,
}

#[derive(Serialize)]
struct BridgeJ<'a> {
    address: String,
    on_bus: bool,
    slot: Option<&'a str>,
    gpu: Option<String>,
    link_index: Option<u32>,
    nv2_bridge: bool,
    driver: Option<&'a str>,
    iommu_group: Option<u32>,
    dt_path: Option<&'a str>,
    group_id: Option<u32>,
    chip_id: Option<u32>,
    speed_code: Option<u32>,
    tgt_addr: Option<u64>,
    atsd: Option<u64>,
    libvirt_missing: Vec<&'static str>,
    vfio_problems: Vec<String>,
    #[serde(serialize_with = "texts")]
    problems: &'a [Diagnostic],
}

#[derive(Serialize)]
struct FindingJ<'a> {
    severity: &'static str,
    code: &'static str,
    subject: String,
    message: &'a str,
}

fn npu(n: &Npu) -> NpuJ<'_> {
    NpuJ {
        domain: format!("{:04x}", n.domain),
        dt_path: &n.dt_path,
        chip_id: n.chip_id,
        links: n.links,
        atsd: &n.atsd,
    }
}

fn gpu(g: &Gpu) -> GpuJ<'_> {
    let (memory, memory_error) = match &g.memory {
        Some(Ok(m)) => (
            Some(MemoryJ {
                base: m.base,
                size: m.size,
                window_bytes: m.size,
                online_bytes: m.online_bytes,
                numa_node: m.numa_node,
                tgt_addr: m.tgt_addr,
                dt_path: &m.dt_path,
            }),
            None,
        ),
        Some(Err(e)) => (None, Some(e.as_str())),
        None => (None, None),
    };
    GpuJ {
        address: g.address.to_string(),
        vendor_id: g.vendor_id.map(|v| format!("{v:04x}")),
        device_id: g.device_id.map(|d| format!("{d:04x}")),
        name: &g.name,
        slot: g.slot.as_deref(),
        chip_id: g.chip_id,
        numa_node: g.numa_node,
        driver: g.driver.as_deref(),
        iommu_group: g.iommu_group,
        dt_path: g.dt_path.as_deref(),
        npu_listed: g.npu.as_ref().map(Vec::len),
        memory,
        memory_error,
        cpu_links: g
            .cpu_links
            .iter()
            .map(|l| CpuLinkJ {
                bridge: l.bridge.to_string(),
                on_bus: l.on_bus,
                link_index: l.link_index,
                speed_code: l.speed.map(|s| s.code()),
            })
            .collect(),
        gpu_links: g
            .gpu_links
            .iter()
            .map(|l| GpuLinkJ {
                peer: l.peer.to_string(),
                count: l.count,
                inferred: l.inferred,
            })
            .collect(),
        vfio_problems: g.vfio.iter().map(ToString::to_string).collect(),
        problems: &g.problems,
        numa_status: g.numa_status.as_ref().map(|s| NumaStatusJ {
            node: s.node,
            status: s.status.as_deref(),
            base: s.base,
            size: s.size,
        }),
    }
}

fn bridge(b: &Bridge) -> BridgeJ<'_> {
    BridgeJ {
        address: b.address.to_string(),
        on_bus: b.on_bus,
        slot: b.slot.as_deref(),
        gpu: b.gpu.map(|a| a.to_string()),
        link_index: b.link_index,
        nv2_bridge: b.libvirt.is_nv2_bridge(),
        driver: b.driver.as_deref(),
        iommu_group: b.iommu_group,
        dt_path: b.dt_path.as_deref(),
        group_id: b.group_id,
        chip_id: b.chip_id,
        speed_code: b.speed.map(|s| s.code()),
        tgt_addr: b.tgt_addr,
        atsd: b.atsd,
        libvirt_missing: b.libvirt.missing(),
        vfio_problems: b.vfio.iter().map(ToString::to_string).collect(),
        problems: &b.problems,
    }
}

fn doc(r: &Report) -> Doc<'_> {
    let t: &Topology = &r.topology;
    Doc {
        schema_version: SCHEMA_VERSION,
        platform: PlatformJ {
            model: t.platform.model.as_deref(),
            compatible: &t.platform.compatible,
            hostname: t.platform.hostname.as_deref(),
            kernel: t.platform.kernel.as_deref(),
            device_tree: t.platform.device_tree,
            nvlink2: t.has_nvlink2(),
            wiring: t.wiring.map(|w| w.key()),
            summary: (!t.has_nvlink2()).then(|| no_nvlink2_sentence(t)),
            kernel_version: t.platform.kernel_version.map(|v| v.to_string()),
            kernel_nvlink2: t.platform.nvlink2_kernel.map(Nvlink2Kernel::key),
            kernel_atsd_fallback: match t.platform.nvlink2_kernel {
                Some(Nvlink2Kernel::Vfio { atsd_fallback, .. }) => Some(atsd_fallback),
                _ => None,
            },
            iommu_grouping: t.platform.iommu_grouping.map(IommuGrouping::key),
            firmware: FirmwareJ {
                skiboot: t.platform.firmware.skiboot.as_deref(),
                skiboot_version: t.platform.firmware.skiboot_version().map(|v| v.to_string()),
                versions: &t.platform.firmware.versions,
            },
            numa_nodes: t.platform.numa_memory.as_ref().map(|m| {
                m.iter()
                    .map(|(&node, &mem_total_bytes)| NumaNodeJ {
                        node,
                        mem_total_bytes,
                    })
                    .collect()
            }),
        },
        npus: t.npus.iter().map(npu).collect(),
        gpus: t.gpus.iter().map(gpu).collect(),
        bridges: t.bridges.iter().map(bridge).collect(),
        findings: r
            .findings
            .iter()
            .map(|f| FindingJ {
                severity: f.severity.as_str(),
                code: f.code.as_str(),
                subject: f.subject.to_string(),
                message: &f.message,
            })
            .collect(),
        notes: &t.notes,
    }
}

/// Writes the JSON report, pretty-printed, ending in a newline.
pub fn write_json<W: io::Write + ?Sized>(out: &mut W, r: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &doc(r))?;
    out.write_all(b"\n")
}

/// [`write_json`] as a `String`.
pub fn json(r: &Report) -> String {
    ::pci::render::to_string(|out| write_json(out, r))
}
