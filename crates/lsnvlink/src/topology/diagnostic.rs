//! What the join could not read, join or had to leave out, as values: the notes of a
//! [`Topology`](super::Topology) and the problems of a [`Gpu`](super::Gpu) or a
//! [`Bridge`](super::Bridge). Each kind has a stable [`code`](Diagnostic::code) and a
//! [`severity`](Diagnostic::severity); its text (`Display`) is what the text and JSON reports
//! print, so renderers turn a diagnostic into words only when they write it.
//!
//! ```
//! use lsnvlink::audit::Severity;
//! use lsnvlink::topology::Diagnostic;
//!
//! let d = Diagnostic::NvlinkPeersSkipped { entries: 2 };
//! assert_eq!(d.code(), "nvlink-peers-skipped");
//! assert_eq!(d.severity(), Severity::Info);
//! assert!(d.to_string().starts_with("2 ibm,nvlink-peers entries name no GPU on the bus"));
//! ```

use std::fmt;

use pci::PciAddress;

use crate::audit::Severity;

/// One thing the join could not do, or did not do on purpose. The variants up to
/// [`Diagnostic::LinkStatesUnmatched`] are notes of the whole topology ([`Severity::Info`]);
/// the others are problems of one GPU or bridge ([`Severity::Warning`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnostic {
    /// A note of the PCI walk (a device that vanished while it was read): `PCI: …`.
    PciWalk(pci::Note),
    /// A note of an input, in its own words: the device tree could not be read, what a
    /// sosreport cannot say, what an hwloc capture says of the GPU memory nodes.
    Input(String),
    /// The kernel release does not start with a version number, so the rules that depend on
    /// it are not applied.
    KernelVersionUnparsed {
        /// The release as read (`uname -r`).
        release: String,
    },
    /// A GPU's or bridge's `of_node` names no node of the device tree.
    OfNodeNotInTree {
        /// The function.
        address: PciAddress,
        /// Its `of_node` path.
        of_node: String,
    },
    /// An NVLink bridge node the bus does not have gives no PCI address: left out.
    BridgeNodeWithoutAddress {
        /// The node's path.
        node: String,
    },
    /// An NVLink bridge node the bus does not have gives the address of another function:
    /// left out.
    BridgeAddressTaken {
        /// The node's path.
        node: String,
        /// The address it gives.
        address: PciAddress,
    },
    /// `ibm,nvlink-peers` entries naming no GPU on the bus, skipped because some GPU slots
    /// are empty (firmware leaves them pointing nowhere).
    NvlinkPeersSkipped {
        /// How many entries.
        entries: usize,
    },
    /// No `ibm,nvlink-peers` and no known wiring: the GPU-to-GPU links are unknown.
    GpuLinksUnknown {
        /// The wiring's label, or `None` when there are no NVLink link nodes to tell it.
        wiring: Option<&'static str>,
    },
    /// An `nvidia-smi` GPU index (from a sosreport) matches no GPU: its link states are left
    /// out.
    LinkStatesUnmatched {
        /// The `nvidia-smi` GPU index.
        gpu: u32,
    },
    /// A PCI attribute of the function could not be read (`numa_node: missing`).
    PciAttribute(pci::AttrError),
    /// There is no device tree, so nothing joins this bridge to a GPU.
    NoDeviceTree,
    /// The bridge function has no `of_node` link, so nothing joins it to a GPU.
    NoOfNode,
    /// The GPU's chip is unknown, so its GPU-to-GPU links are not inferred from the wiring.
    ChipUnknown,
    /// The bridge's GPU (`ibm,gpu`) is not on the PCI bus.
    GpuNotOnBus {
        /// The GPU's node.
        node: String,
    },
    /// A peer GPU (`ibm,nvlink-peers`) is not on the PCI bus.
    PeerNotOnBus {
        /// The peer's node.
        node: String,
    },
    /// The bridge's `ibm,nvlink` is empty.
    EmptyNvlink {
        /// The bridge's node.
        node: String,
    },
    /// The GPU's `ibm,npu` lists more phandles than are read.
    NpuTruncated {
        /// The GPU's node.
        node: String,
        /// How many it lists.
        listed: usize,
        /// How many are read.
        read: usize,
    },
    /// A phandle of `ibm,npu` or `ibm,nvlink-peers` names no node.
    DanglingPhandle {
        /// The node holding the property.
        node: String,
        /// `ibm,npu` or `ibm,nvlink-peers`.
        property: &'static str,
        /// The phandle.
        phandle: devtree::Phandle,
    },
    /// A device-tree property the join needs is missing or malformed.
    Property(devtree::PropError),
}

impl Diagnostic {
    /// A stable, kebab-case name of the kind (`of-node-not-in-tree`).
    pub fn code(&self) -> &'static str {
        match self {
            Diagnostic::PciWalk(_) => "pci-walk",
            Diagnostic::Input(_) => "input",
            Diagnostic::KernelVersionUnparsed { .. } => "kernel-version-unparsed",
            Diagnostic::OfNodeNotInTree { .. } => "of-node-not-in-tree",
            Diagnostic::BridgeNodeWithoutAddress { .. } => "bridge-node-without-address",
            Diagnostic::BridgeAddressTaken { .. } => "bridge-address-taken",
            Diagnostic::NvlinkPeersSkipped { .. } => "nvlink-peers-skipped",
            Diagnostic::GpuLinksUnknown { .. } => "gpu-links-unknown",
            Diagnostic::LinkStatesUnmatched { .. } => "link-states-unmatched",
            Diagnostic::PciAttribute(_) => "pci-attribute",
            Diagnostic::NoDeviceTree => "no-device-tree",
            Diagnostic::NoOfNode => "no-of-node",
            Diagnostic::ChipUnknown => "chip-unknown",
            Diagnostic::GpuNotOnBus { .. } => "gpu-not-on-bus",
            Diagnostic::PeerNotOnBus { .. } => "peer-not-on-bus",
            Diagnostic::EmptyNvlink { .. } => "empty-nvlink",
            Diagnostic::NpuTruncated { .. } => "npu-truncated",
            Diagnostic::DanglingPhandle { .. } => "dangling-phandle",
            Diagnostic::Property(_) => "device-tree-property",
        }
    }

    /// [`Severity::Info`] for a note of the topology, [`Severity::Warning`] for a problem of
    /// one GPU or bridge (what it costs is the audit's to say, in its findings).
    pub fn severity(&self) -> Severity {
        match self {
            Diagnostic::PciWalk(_)
            | Diagnostic::Input(_)
            | Diagnostic::KernelVersionUnparsed { .. }
            | Diagnostic::OfNodeNotInTree { .. }
            | Diagnostic::BridgeNodeWithoutAddress { .. }
            | Diagnostic::BridgeAddressTaken { .. }
            | Diagnostic::NvlinkPeersSkipped { .. }
            | Diagnostic::GpuLinksUnknown { .. }
            | Diagnostic::LinkStatesUnmatched { .. } => Severity::Info,
            Diagnostic::PciAttribute(_)
            | Diagnostic::NoDeviceTree
            | Diagnostic::NoOfNode
            | Diagnostic::ChipUnknown
            | Diagnostic::GpuNotOnBus { .. }
            | Diagnostic::PeerNotOnBus { .. }
            | Diagnostic::EmptyNvlink { .. }
            | Diagnostic::NpuTruncated { .. }
            | Diagnostic::DanglingPhandle { .. }
            | Diagnostic::Property(_) => Severity::Warning,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::PciWalk(note) => write!(f, "PCI: {note}"),
            Diagnostic::Input(text) => f.write_str(text),
            Diagnostic::KernelVersionUnparsed { release } => write!(
                f,
                "kernel release {release:?} does not start with a version number: the rules \
                 that depend on the kernel version (NVLink2 support, ATSD fallback) are not \
                 applied"
            ),
            Diagnostic::OfNodeNotInTree { address, of_node } => {
                write!(f, "{address}: of_node {of_node} is not in the device tree")
            }
            Diagnostic::BridgeNodeWithoutAddress { node } => write!(
                f,
                "NVLink bridge node {node} has no PCI address (no ibm,opal-phbid above it, or \
                 no reg): left out"
            ),
            Diagnostic::BridgeAddressTaken { node, address } => write!(
                f,
                "NVLink bridge node {node} gives address {address}, which another PCI function \
                 holds: left out"
            ),
            Diagnostic::NvlinkPeersSkipped { entries } => write!(
                f,
                "{entries} ibm,nvlink-peers entr{} name no GPU on the bus: with empty GPU slots \
                 firmware leaves them pointing nowhere; skipped",
                if *entries == 1 { "y" } else { "ies" }
            ),
            Diagnostic::GpuLinksUnknown { wiring } => write!(
                f,
                "GPU-to-GPU links unknown: firmware has no ibm,nvlink-peers and the wiring is {}",
                wiring.unwrap_or("not described (no NVLink link nodes)")
            ),
            Diagnostic::LinkStatesUnmatched { gpu } => write!(
                f,
                "sosreport: nvidia-smi GPU {gpu} matches no GPU of the device tree; its link \
                 states are left out"
            ),
            Diagnostic::PciAttribute(e) => write!(f, "{e}"),
            Diagnostic::NoDeviceTree => f.write_str("no device tree: nothing joins it to a GPU"),
            Diagnostic::NoOfNode => f.write_str("no of_node link: nothing joins it to a GPU"),
            Diagnostic::ChipUnknown => {
                f.write_str("GPU-to-GPU links not inferred: the GPU's chip is unknown")
            }
            Diagnostic::GpuNotOnBus { node } => {
                write!(f, "its GPU {node} (ibm,gpu) is not on the PCI bus")
            }
            Diagnostic::PeerNotOnBus { node } => {
                write!(
                    f,
                    "peer GPU {node} (ibm,nvlink-peers) is not on the PCI bus"
                )
            }
            Diagnostic::EmptyNvlink { node } => write!(f, "{node}: property \"ibm,nvlink\": empty"),
            Diagnostic::NpuTruncated { node, listed, read } => write!(
                f,
                "{node}: property \"ibm,npu\" lists {listed} phandles; only the first {read} \
                 are read"
            ),
            Diagnostic::DanglingPhandle {
                node,
                property,
                phandle,
            } => write!(
                f,
                "{node}: property \"{property}\": phandle {phandle} does not name any node"
            ),
            Diagnostic::Property(e) => write!(f, "{e}"),
        }
    }
}

/// Diagnostics in the order of their text, each once: the order of
/// [`Topology::notes`](super::Topology::notes).
pub(crate) fn sort_by_text(list: &mut Vec<Diagnostic>) {
    list.sort_by_cached_key(ToString::to_string);
    list.dedup_by(|a, b| a.to_string() == b.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_kebab_case_code_and_its_words() {
        let a = PciAddress::new(4, 4, 0, 0).unwrap();
        let all = [
            Diagnostic::Input("device tree: unreadable".to_owned()),
            Diagnostic::KernelVersionUnparsed {
                release: "custom".to_owned(),
            },
            Diagnostic::OfNodeNotInTree {
                address: a,
                of_node: "/x".to_owned(),
            },
            Diagnostic::BridgeNodeWithoutAddress {
                node: "/b".to_owned(),
            },
            Diagnostic::BridgeAddressTaken {
                node: "/b".to_owned(),
                address: a,
            },
            Diagnostic::NvlinkPeersSkipped { entries: 1 },
            Diagnostic::GpuLinksUnknown { wiring: None },
            Diagnostic::LinkStatesUnmatched { gpu: 7 },
            Diagnostic::NoDeviceTree,
            Diagnostic::GpuNotOnBus {
                node: "/g".to_owned(),
            },
            Diagnostic::PeerNotOnBus {
                node: "/g".to_owned(),
            },
            Diagnostic::EmptyNvlink {
                node: "/b".to_owned(),
            },
            Diagnostic::NpuTruncated {
                node: "/g".to_owned(),
                listed: 70,
                read: 64,
            },
            Diagnostic::DanglingPhandle {
                node: "/g".to_owned(),
                property: "ibm,npu",
                phandle: devtree::Phandle(9),
            },
        ];
        for d in &all {
            let code = d.code();
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
            assert!(!d.to_string().is_empty());
        }
        assert_eq!(
            all[5].to_string(),
            "1 ibm,nvlink-peers entry name no GPU on the bus: with empty GPU slots firmware \
             leaves them pointing nowhere; skipped"
        );
        assert_eq!(
            all[6].to_string(),
            "GPU-to-GPU links unknown: firmware has no ibm,nvlink-peers and the wiring is not \
             described (no NVLink link nodes)"
        );
        assert_eq!(
            all[13].to_string(),
            "/g: property \"ibm,npu\": phandle 0x9 does not name any node"
        );
        assert_eq!(all[8].severity(), Severity::Warning);
        assert_eq!(all[1].severity(), Severity::Info);
    }

    #[test]
    fn notes_sort_by_their_words_once_each() {
        let mut notes = vec![
            Diagnostic::Input("b".to_owned()),
            Diagnostic::Input("a".to_owned()),
            Diagnostic::Input("b".to_owned()),
        ];
        sort_by_text(&mut notes);
        assert_eq!(
            notes,
            [
                Diagnostic::Input("a".to_owned()),
                Diagnostic::Input("b".to_owned())
            ]
        );
    }
}
