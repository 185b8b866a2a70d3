//! Is this PCI function an NVLink2 bridge? Two views: libvirt's (four device-tree property
//! files exist) and the kernel vfio code's stricter one (the properties it reads, with the
//! values it needs).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let node = dir.path().join("sys/firmware/devicetree/base/pciex@6030200000000/unknown-bridge@0");
//! # std::fs::create_dir_all(&node)?;
//! # for p in ["ibm,gpu", "ibm,nvlink", "ibm,nvlink-speed"] { std::fs::write(node.join(p), [0u8; 4])?; }
//! # let dev = dir.path().join("sys/devices/pci0006:00/0006:00:00.0");
//! # std::fs::create_dir_all(&dev)?;
//! # std::os::unix::fs::symlink("../../../firmware/devicetree/base/pciex@6030200000000/unknown-bridge@0", dev.join("of_node"))?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! # std::os::unix::fs::symlink("../../../devices/pci0006:00/0006:00:00.0", dir.path().join("sys/bus/pci/devices/0006:00:00.0"))?;
//! use lsnvlink::topology::nv2::libvirt_nv2_bridge;
//!
//! let root = fsroot::Root::open(dir.path())?;
//! let check = libvirt_nv2_bridge(&root, "0006:00:00.0".parse()?);
//! assert!(!check.is_nv2_bridge());
//! assert_eq!(check.missing(), vec!["memory-region"]);
//! # Ok(()) }
//! ```

use devtree::power9::Power9Node;
use devtree::power9::names::{
    IBM_DEVICE_TGT_ADDR, IBM_GPU, IBM_MMIO_ATSD, IBM_NPU, IBM_NPU_LINK_INDEX, IBM_NVLINK,
    IBM_NVLINK_SPEED, MEMORY_REGION,
};
use devtree::{Node, PropError};
use pci::PciAddress;

/// The four properties libvirt's `ppc64VFIODeviceIsNV2Bridge` looks for under
/// `/sys/bus/pci/devices/<address>/of_node/` (libvirt `src/qemu/qemu_domain.c`, since 5.3.0):
/// plain existence, no value read.
pub const LIBVIRT_NV2_PROPERTIES: [&str; 4] =
    ["ibm,gpu", "ibm,nvlink", "ibm,nvlink-speed", "memory-region"];

/// The result of libvirt's NV2-bridge test for one PCI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LibvirtCheck {
    /// For each of [`LIBVIRT_NV2_PROPERTIES`], whether the file exists.
    pub present: [bool; 4],
}

impl LibvirtCheck {
    /// True when all four files exist: libvirt treats the function as an NVLink2 bridge.
    pub fn is_nv2_bridge(&self) -> bool {
        self.present.iter().all(|&p| p)
    }

    /// The properties that are absent, in libvirt's order.
    pub fn missing(&self) -> Vec<&'static str> {
        LIBVIRT_NV2_PROPERTIES
            .iter()
            .zip(self.present)
            .filter(|(_, present)| !present)
            .map(|(name, _)| *name)
            .collect()
    }
}

/// libvirt's test, exactly: do `ibm,gpu`, `ibm,nvlink`, `ibm,nvlink-speed` and
/// `memory-region` exist under `/sys/bus/pci/devices/<address>/of_node/` in `root`? A file that
/// cannot be checked counts as absent (libvirt's `virFileExists` is an `access(F_OK)`).
pub fn libvirt_nv2_bridge(root: &fsroot::Root, address: PciAddress) -> LibvirtCheck {
    let mut present = [false; 4];
    // The links on the way (the bus entry, `of_node`) are followed once, not once per file.
    let Ok(node) = root.resolve(format!("{}/{address}/of_node", pci::DEVICES_DIR)) else {
        return LibvirtCheck { present };
    };
    for (slot, name) in present.iter_mut().zip(LIBVIRT_NV2_PROPERTIES) {
        *slot = root.exists(node.join(name));
    }
    LibvirtCheck { present }
}

/// A property the kernel's vfio NVLink2 code needs and a node lacks (or has in a form it
/// cannot use).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VfioProblem {
    /// The property (`ibm,nvlink-speed`).
    pub property: &'static str,
    /// What the kernel does then.
    pub effect: &'static str,
    /// What is wrong, as the device-tree reader says it.
    pub detail: String,
}

impl std::fmt::Display for VfioProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.property, self.effect, self.detail)
    }
}

fn problem(property: &'static str, effect: &'static str, e: &PropError) -> VfioProblem {
    VfioProblem {
        property,
        effect,
        detail: e.problem.to_string(),
    }
}

/// The kernel vfio view of an NVLink bridge's device-tree node: what
/// `vfio_pci_ibm_npu2_init` (torvalds/linux `drivers/vfio/pci/vfio_pci_nvlink2.c`, v5.0 –
/// v5.12) reads, and what it lacks. Empty when vfio would set the bridge up fully.
///
/// - `ibm,gpu` must name a node (else `pnv_pci_get_gpu_dev` fails and vfio gives no NVLink2
///   regions: `-ENODEV`);
/// - `ibm,nvlink` must name a link node with `ibm,npu-link-index` (`-ENODEV`);
/// - `ibm,device-tgt-addr` (u64) and `ibm,nvlink-speed` (u32) must be there (`-EFAULT`);
/// - `ibm,mmio-atsd[link index]` on the PHB is optional: without it the ATSD region has size 0.
pub fn vfio_bridge(bridge: &Node<'_, '_>) -> Vec<VfioProblem> {
    let mut out = Vec::new();
    if let Err(e) = bridge.nvlink_gpu() {
        out.push(problem(IBM_GPU, "no NVLink2 regions (-ENODEV)", &e));
    }
    match bridge.nvlink_links() {
        Ok(links) => match links.first() {
            Some(link) => {
                if let Err(e) = link.npu_link_index() {
                    out.push(problem(IBM_NPU_LINK_INDEX, "vfio refuses the bridge", &e));
                }
            }
            None => out.push(VfioProblem {
                property: IBM_NVLINK,
                effect: "vfio refuses the bridge (-ENODEV)",
                detail: "no phandle".to_owned(),
            }),
        },
        Err(e) => out.push(problem(IBM_NVLINK, "vfio refuses the bridge (-ENODEV)", &e)),
    }
    if let Err(e) = bridge.device_tgt_addr() {
        out.push(problem(
            IBM_DEVICE_TGT_ADDR,
            "vfio refuses the bridge (-EFAULT)",
            &e,
        ));
    }
    if let Err(e) = bridge.nvlink_speed() {
        out.push(problem(
            IBM_NVLINK_SPEED,
            "vfio refuses the bridge (-EFAULT)",
            &e,
        ));
    }
    if let Ok(None) = bridge.nvlink_atsd() {
        out.push(VfioProblem {
            property: IBM_MMIO_ATSD,
            effect: "the ATSD region has size 0",
            detail: "no entry at the link index on the NPU PHB".to_owned(),
        });
    }
    out
}

/// The kernel vfio view of a GPU's device-tree node: what `vfio_pci_nvdia_v100_nvlink2_init`
/// reads (`ibm,npu[0]` → bridge → `memory-region` → `reg`, and the bridge's
/// `ibm,device-tgt-addr`). Empty when vfio would map the GPU's RAM; a GPU without `ibm,npu` is
/// a plain PCIe GPU to vfio (`-ENODEV`, not an error).
pub fn vfio_gpu(gpu: &Node<'_, '_>) -> Vec<VfioProblem> {
    let effect = "vfio gives no GPU RAM region; the guest sees no GPU memory";
    let bridges = match gpu.nvlink_bridges() {
        Ok(b) => b,
        Err(e) if e.is_missing() => return Vec::new(),
        Err(e) => return vec![problem(IBM_NPU, effect, &e)],
    };
    let Some(first) = bridges.first() else {
        return vec![VfioProblem {
            property: IBM_NPU,
            effect,
            detail: "empty list".to_owned(),
        }];
    };
    let mut out = Vec::new();
    if let Err(e) = first.gpu_memory_range() {
        out.push(problem(MEMORY_REGION, effect, &e));
    }
    if let Err(e) = first.device_tgt_addr() {
        out.push(problem(IBM_DEVICE_TGT_ADDR, effect, &e));
    }
    out
}
