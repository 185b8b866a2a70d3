//! PCI enumeration from sysfs (filled by the PCI issue).
//!
//! This crate will hold `PciAddress` (`DDDD:BB:DD.F`), the enumeration of
//! `/sys/bus/pci/devices` through [`fsroot`] with per-attribute errors (ids, class, revision,
//! driver, NUMA node, IOMMU group, `of_node`, parent bridge, config header, slot label), names
//! from `pci.ids`, and the domain → root port → switch → endpoint tree. Nothing is implemented
//! yet.
#![forbid(unsafe_code)]
