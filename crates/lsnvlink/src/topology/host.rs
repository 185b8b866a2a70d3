//! Host facts the audit reasons with: the running kernel's release and what it does with
//! NVLink2, the firmware levels, the memory each NUMA node really holds, and the NVIDIA
//! driver's view of each GPU's memory.
//!
//! What real hosts look like across these (`reference/power9-nvlink2.md` §7, from the upstream
//! sources named on each item):
//! - Linux 5.13 removed the NVLink2 support (torvalds/linux `562d1e207d32` "powerpc/powernv:
//!   remove the nvlink support", `b392a1989170` "vfio/pci: remove vfio_pci_nvlink2"): the NPU
//!   PHBs are no longer probed, the device tree is unchanged.
//! - vfio's NVLink2 subdriver arrived in 5.0 (`7f92891778df`); from 5.7 ("vfio-pci/nvlink2:
//!   Allow fallback to `ibm,mmio-atsd[0]`") a link without its own ATSD register falls back to
//!   register 0.
//! - Before 5.0 upstream, one IOMMU group per GPU PE; from 5.0 one per NPU. Distribution
//!   kernels backport (RHEL 8's 4.18 groups per NPU), so the grouping is read from the groups,
//!   never guessed from the version.
//! - skiboot names itself in `/ibm,opal/firmware/version` (open-power/skiboot `core/opal.c`)
//!   and, on hosts with a PNOR, copies its VERSION partition into `/ibm,firmware-versions`
//!   (`core/flash-firmware-versions.c`).

use std::collections::BTreeMap;
use std::fmt;

/// A Linux kernel version, from a release string (`5.14.0-284.11.1.el9_2.ppc64le`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major number (`5`).
    pub major: u32,
    /// Minor number (`14`).
    pub minor: u32,
    /// Patch level (`0`); 0 when the release names none.
    pub patch: u32,
}

/// What a kernel version does with NVLink2, upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelNvlink2 {
    /// Before 5.0: the NPU is probed (bridge functions, `ibmnpu`), but vfio has no NVLink2
    /// subdriver, so the GPUs cannot be passed through with their NVLink2 memory.
    NoVfio,
    /// 5.0 to 5.12: the NPU is probed and vfio passes NVLink2 GPUs through.
    Vfio {
        /// From 5.7 a link without its own ATSD register uses `ibm,mmio-atsd[0]`.
        atsd_fallback: bool,
    },
    /// 5.13 and later: the NPU PHBs are not probed; no bridge functions, no NVLink2
    /// passthrough. The device tree still describes everything.
    Removed,
}

impl KernelVersion {
    /// Parses the leading `major.minor[.patch]` of a kernel release; `None` when it does not
    /// start that way.
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let mut numbers = release.trim().split(['.', '-', '+', '_', ' ']);
        let number = |s: Option<&str>| -> Option<u32> {
            let s = s?;
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let major = number(numbers.next())?;
        let minor = number(numbers.next())?;
        let patch = number(numbers.next()).unwrap_or(0);
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }

    /// Whether this version is `major.minor` or later.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// What this version does with NVLink2 upstream (a distribution kernel may carry more:
    /// see [`crate::topology::Platform::nvlink2_kernel`]).
    pub fn nvlink2(self) -> KernelNvlink2 {
        if self.at_least(5, 13) {
            KernelNvlink2::Removed
        } else if self.at_least(5, 0) {
            KernelNvlink2::Vfio {
                atsd_fallback: self.at_least(5, 7),
            }
        } else {
            KernelNvlink2::NoVfio
        }
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A skiboot release (`v6.0.23`, `skiboot-v6.5.4`, `5.1.13`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SkibootVersion {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Patch level (0 when absent).
    pub patch: u32,
}

impl SkibootVersion {
    /// Parses a skiboot version string: an optional `skiboot-` prefix (builds made with
    /// buildroot carry it; skiboot `core/flash-firmware-versions.c` strips it before comparing),
    /// an optional `v`, then `major.minor[.patch]`; anything after a `-` (`-rc1`, `-26-g1234`)
    /// is ignored.
    pub fn parse(text: &str) -> Option<SkibootVersion> {
        let s = text.trim();
        let s = s.strip_prefix("skiboot-").unwrap_or(s);
        let s = s.strip_prefix('v').unwrap_or(s);
        let core = s.split(['-', ' ']).next()?;
        let mut parts = core.split('.');
        let number = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = match parts.next() {
            Some(p) => number(Some(p))?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(SkibootVersion {
            major,
            minor,
            patch,
        })
    }

    /// Whether this release exposes eight ATSD registers per NPU (skiboot v6.2, `0fa446cc21cb`;
    /// the OP920 v6.0.x branch kept one).
    pub fn has_eight_atsd(self) -> bool {
        (self.major, self.minor) >= (6, 2)
    }
}

impl fmt::Display for SkibootVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The firmware levels a host's device tree states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Firmware {
    /// The running skiboot's own version string (`/ibm,opal/firmware/version`).
    pub skiboot: Option<String>,
    /// The component levels of the PNOR VERSION partition (`/ibm,firmware-versions`: `version`,
    /// `skiboot`, `hostboot`, `occ`, `open-power`, …), by property name.
    pub versions: BTreeMap<String, String>,
}

impl Firmware {
    /// The skiboot release: the running skiboot's, else the PNOR's `skiboot` entry.
    pub fn skiboot_version(&self) -> Option<SkibootVersion> {
        self.skiboot
            .as_deref()
            .and_then(SkibootVersion::parse)
            .or_else(|| {
                self.versions
                    .get("skiboot")
                    .and_then(|v| SkibootVersion::parse(v))
            })
    }

    /// Whether the device tree states any firmware level.
    pub fn is_known(&self) -> bool {
        self.skiboot.is_some() || !self.versions.is_empty()
    }

    /// Reads the levels from a device tree.
    pub fn from_tree(tree: &devtree::Tree<'_>) -> Firmware {
        let mut firmware = Firmware {
            skiboot: tree
                .find("/ibm,opal/firmware")
                .and_then(|n| n.string("version").ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            versions: BTreeMap::new(),
        };
        if let Some(node) = tree.find("/ibm,firmware-versions") {
            for p in node.properties() {
                let name = p.name();
                if matches!(name, "name" | "phandle" | "linux,phandle" | "ibm,phandle") {
                    continue;
                }
                if let Ok(value) = devtree::decode::string(p.value()) {
                    let value = value.trim();
                    if !value.is_empty() {
                        firmware.versions.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
        }
        firmware
    }
}

/// The NVIDIA driver's view of one GPU's memory
/// (`/proc/driver/nvidia/gpus/DDDD:BB:DD.F/numa_status`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NumaStatus {
    /// `Node:` (−1 when not onlined).
    pub node: Option<i64>,
    /// `Status:` (`online`, `offline`, `online_in_progress`, …).
    pub status: Option<String>,
    /// `Address:` (hex in the file).
    pub base: Option<u64>,
    /// `Size:` (hex in the file): what the driver onlined.
    pub size: Option<u64>,
}

impl NumaStatus {
    /// Parses the file's `Key: value` lines; unknown or malformed lines are skipped.
    pub fn parse(text: &str) -> NumaStatus {
        NumaStatus {
            node: field(text, "Node").and_then(|v| v.parse().ok()),
            status: field(text, "Status").map(str::to_owned),
            base: field(text, "Address").and_then(hex),
            size: field(text, "Size").and_then(hex),
        }
    }

    /// Whether the driver reports the memory online.
    pub fn is_online(&self) -> bool {
        self.status.as_deref() == Some("online")
    }
}

/// The value after `key:` on the first line whose key is `key` (whitespace trimmed).
pub(crate) fn field<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// A hex number with or without `0x`.
pub(crate) fn hex(v: &str) -> Option<u64> {
    let v = v.trim();
    u64::from_str_radix(v.strip_prefix("0x").unwrap_or(v), 16).ok()
}

/// `MemTotal` of a node's `meminfo` (`Node 252 MemTotal:       15728640 kB`), in bytes.
pub fn node_mem_total(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.split_once("MemTotal:")?.1;
        let mut words = rest.split_whitespace();
        let kib: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") | None => kib.checked_mul(1024),
            Some(_) => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> KernelVersion {
        KernelVersion::parse(s).unwrap()
    }

    #[test]
    fn kernel_releases_of_real_distributions() {
        assert_eq!(
            k("5.14.0-284.11.1.el9_2.ppc64le"),
            KernelVersion {
                major: 5,
                minor: 14,
                patch: 0
            }
        );
        assert_eq!(k("4.14.0-49.el7a.ppc64le").to_string(), "4.14.0");
        assert_eq!(k("4.18.0-553.el8_10.ppc64le").to_string(), "4.18.0");
        assert_eq!(k("5.15.0-91-generic").to_string(), "5.15.0");
        assert_eq!(k("6.1.0-13-powerpc64le").to_string(), "6.1.0");
        assert_eq!(k("5.10").to_string(), "5.10.0");
        assert_eq!(k("5.4.0+").to_string(), "5.4.0");
        for bad in ["", "linux", "5", "5.x.1", "-5.10", "v5.10"] {
            assert_eq!(KernelVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn nvlink2_by_version() {
        assert_eq!(k("4.14.0-49.el7a").nvlink2(), KernelNvlink2::NoVfio);
        assert_eq!(k("4.19.0").nvlink2(), KernelNvlink2::NoVfio);
        assert_eq!(
            k("5.0.0").nvlink2(),
            KernelNvlink2::Vfio {
                atsd_fallback: false
            }
        );
        assert_eq!(
            k("5.6.19").nvlink2(),
            KernelNvlink2::Vfio {
                atsd_fallback: false
            }
        );
        assert_eq!(
            k("5.7.0").nvlink2(),
            KernelNvlink2::Vfio {
                atsd_fallback: true
            }
        );
        assert_eq!(
            k("5.12.19").nvlink2(),
            KernelNvlink2::Vfio {
                atsd_fallback: true
            }
        );
        assert_eq!(k("5.13.0").nvlink2(), KernelNvlink2::Removed);
        assert_eq!(k("6.1.0-13-powerpc64le").nvlink2(), KernelNvlink2::Removed);
    }

    #[test]
    fn skiboot_versions_with_and_without_prefix() {
        let v = |s| SkibootVersion::parse(s);
        assert_eq!(v("v7.0").unwrap().to_string(), "v7.0.0");
        assert_eq!(v("skiboot-v6.5.4").unwrap().to_string(), "v6.5.4");
        assert_eq!(v("v6.0.23").unwrap().to_string(), "v6.0.23");
        assert_eq!(v("5.1.13").unwrap().to_string(), "v5.1.13");
        assert_eq!(v("v6.2-rc1").unwrap().to_string(), "v6.2.0");
        assert_eq!(v("v6.5.4-26-g1234abcd").unwrap().to_string(), "v6.5.4");
        assert!(!v("v6.0.23").unwrap().has_eight_atsd());
        assert!(v("v6.2").unwrap().has_eight_atsd());
        for bad in ["", "skiboot", "vx.1", "6", "6.1.2.3", "skiboot-"] {
            assert_eq!(SkibootVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn firmware_skiboot_from_pnor_when_opal_is_silent() {
        let mut f = Firmware::default();
        assert!(!f.is_known());
        f.versions
            .insert("skiboot".to_owned(), "v6.0.23".to_owned());
        assert_eq!(f.skiboot_version().unwrap().to_string(), "v6.0.23");
        f.skiboot = Some("skiboot-v6.5.4".to_owned());
        assert_eq!(f.skiboot_version().unwrap().to_string(), "v6.5.4");
    }

    #[test]
    fn numa_status_of_the_real_capture_format() {
        let s = NumaStatus::parse(
            "Node:      250\nStatus:    online\nAddress:   40000000000\nSize:      3f0000000\n",
        );
        assert_eq!(s.node, Some(250));
        assert!(s.is_online());
        assert_eq!(s.base, Some(0x400_0000_0000));
        assert_eq!(s.size, Some(0x3_f000_0000));
        let garbage = NumaStatus::parse("Node: x\nSize: zz\nStatus\n");
        assert_eq!(garbage, NumaStatus::default());
    }

    #[test]
    fn node_meminfo_totals() {
        assert_eq!(
            node_mem_total("Node 252 MemTotal:       15728640 kB\nNode 252 MemFree: 1 kB\n"),
            Some(15_728_640 * 1024)
        );
        assert_eq!(node_mem_total("Node 0 MemTotal: 0 kB"), Some(0));
        assert_eq!(
            node_mem_total("Node 0 MemTotal: 18446744073709551615 kB"),
            None
        );
        assert_eq!(node_mem_total("Node 0 MemTotal: 5 MB"), None);
        assert_eq!(node_mem_total("MemFree: 3 kB"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,60}") {
            let _ = KernelVersion::parse(&text);
            let _ = SkibootVersion::parse(&text);
            let _ = NumaStatus::parse(&text);
            let _ = node_mem_total(&text);
        }
    }
}
