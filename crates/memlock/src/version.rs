//! Which libvirt release's rules to apply (`--libvirt 5.3.0`), and what each release changed
//! in the memory-locking limit (the table in the libvirt memlock reference, §7; commit ids are
//! upstream libvirt's).
//!
//! ```
//! use lsnvlink_memlock::version::Release;
//!
//! let old: Release = "5.2.0".parse()?;
//! assert!(!old.rules().nvlink2);
//! assert!("5.3".parse::<Release>()?.rules().nvlink2);
//! assert!(Release::Newest.rules().any_pci_hostdev);
//! # Ok::<(), lsnvlink_memlock::version::VersionError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// A libvirt release, or the newest behaviour known (libvirt `98caeeae`, 2026).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// The newest rules: every change below applies.
    #[default]
    Newest,
    /// `major.minor.micro`.
    Version(u32, u32, u32),
}

/// The first release the memlock rules are modelled for: `d269ef165c`, the first ppc64 formula.
pub const FIRST: (u32, u32, u32) = (1, 3, 0);

/// A `--libvirt` value that is not a release this tool models.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// Not `MAJOR.MINOR[.MICRO]` or `newest`.
    #[error("{0:?} is not a libvirt version (MAJOR.MINOR[.MICRO], e.g. 5.3.0, or newest)")]
    Syntax(String),
    /// Older than 1.3.0.
    #[error(
        "libvirt {0} predates the first ppc64 memlock formula (1.3.0, d269ef165c); not modelled"
    )]
    TooOld(String),
}

impl FromStr for Release {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Release, VersionError> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("newest") || text.eq_ignore_ascii_case("latest") {
            return Ok(Release::Newest);
        }
        let syntax = || VersionError::Syntax(s.to_owned());
        let digits = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let mut parts = [0u32; 3];
        let mut count = 0usize;
        for (slot, piece) in parts.iter_mut().zip(digits.split('.')) {
            if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            *slot = piece.parse().map_err(|_| syntax())?;
            count += 1;
        }
        if count < 2 || digits.split('.').count() > 3 {
            return Err(syntax());
        }
        let [major, minor, micro] = parts;
        if (major, minor, micro) < FIRST {
            return Err(VersionError::TooOld(digits.to_owned()));
        }
        Ok(Release::Version(major, minor, micro))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Release::Newest => f.write_str("newest"),
            Release::Version(a, b, c) => write!(f, "{a}.{b}.{c}"),
        }
    }
}

impl Release {
    /// Whether this release is `version` or later.
    pub fn at_least(&self, version: (u32, u32, u32)) -> bool {
        match *self {
            Release::Newest => true,
            Release::Version(a, b, c) => (a, b, c) >= version,
        }
    }

    /// The memlock rules of this release.
    pub fn rules(&self) -> Rules {
        Rules {
            kvm_only: self.at_least((2, 1, 0)),
            locked_unlimited: self.at_least((3, 2, 0)),
            count_phbs: self.at_least((3, 6, 0)),
            nvlink2: self.at_least((5, 3, 0)),
            nvme: self.at_least((6, 0, 0)),
            mdev_vdpa: self.at_least((7, 2, 0)),
            generic_factor: self.at_least((8, 7, 0)),
            nvme_own_factor: self.at_least((9, 3, 0)),
            vhost_vdpa_disks: self.at_least((9, 8, 0)),
            any_pci_hostdev: self.at_least((10, 5, 0)),
            align_memory: true,
            unreadable_group_not_isolated: self.at_least((3, 6, 0)),
        }
    }
}

/// What changed when, as booleans (true: the release has the change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rules {
    /// 2.1.0 `cd89d3451b`: the ppc64 formula only for KVM guests; TCG takes the generic path
    /// (before: any ppc64 guest).
    pub kvm_only: bool,
    /// 3.2.0 `7e667664d2`: `<locked/>` means no limit (before: memory + 1 GiB).
    pub locked_unlimited: bool,
    /// 3.6.0 `210dd0c58d`, `b84b6ab502`: PHBs are counted, hostdevs get isolation PHBs
    /// (before: one PHB, always).
    pub count_phbs: bool,
    /// 5.3.0 `1a922648f6`: the NVLink2 branch.
    pub nvlink2: bool,
    /// 6.0.0 `d3f06dcdb5`: an NVMe disk asks for VFIO too.
    pub nvme: bool,
    /// 7.2.0 `e7068a0bc2`, `98e22ff749`: on ppc64, an mdev hostdev or a vDPA interface asks
    /// for VFIO; on the generic path, a vDPA interface does.
    pub mdev_vdpa: bool,
    /// 8.7.0 `8d5704e2c4`: the generic path multiplies memory by a per-device factor.
    pub generic_factor: bool,
    /// 9.3.0 (release note "Properly configure locked memory limit for VMs with
    /// `<disk type='nvme'>`"): on the generic path each NVMe disk adds its own factor; from
    /// 8.7.0 to 9.2.x NVMe disks count with the VFIO hostdevs (factor 1 without a vIOMMU).
    pub nvme_own_factor: bool,
    /// 9.8.0: `<disk type='vhostvdpa'>` counts as a vDPA device on the generic path (never on
    /// the ppc64 path, where only vDPA interfaces count).
    pub vhost_vdpa_disks: bool,
    /// Between 9.10.0 (counts only VFIO hostdevs) and 10.5.0 (counts any PCI hostdev; the
    /// libvirt memlock reference §7.1): any PCI hostdev counts, not only VFIO-backed ones.
    pub any_pci_hostdev: bool,
    /// `qemuDomainAlignMemorySizes` before the limit is computed at start: memory rounded up
    /// to 256 MiB on ppc64 (the pSeries LMB size), 1 MiB elsewhere, each NUMA cell and DIMM
    /// separately. Seen in every release read (3.2.0 to 11.3.0); taken to hold for every
    /// modelled release.
    pub align_memory: bool,
    /// 3.6.0 (`b84b6ab502`, isolation of pSeries hostdevs): a hostdev whose IOMMU group cannot
    /// be read is not isolated ("device won't be isolated"): no extra PHB.
    pub unreadable_group_not_isolated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!("5.3.0".parse(), Ok(Release::Version(5, 3, 0)));
        let r = |s: &str| s.parse::<Release>().unwrap().rules();
        assert!(!r("9.10.0").any_pci_hostdev);
        assert!(r("10.5.0").any_pci_hostdev);
        assert!(!r("9.2.0").nvme_own_factor);
        assert!(r("9.3.0").nvme_own_factor);
        assert!(!r("9.7.0").vhost_vdpa_disks);
        assert!(r("9.8.0").vhost_vdpa_disks);
        assert!(!r("3.5.0").unreadable_group_not_isolated);
        assert_eq!("v10.7".parse(), Ok(Release::Version(10, 7, 0)));
        assert_eq!(" newest ".parse(), Ok(Release::Newest));
        assert_eq!("1.3.0".parse(), Ok(Release::Version(1, 3, 0)));
        for bad in [
            "",
            "5",
            "5.",
            ".5",
            "5.3.0.1",
            "5.x",
            "five",
            "5.3.-1",
            "99999999999.0",
        ] {
            assert!(
                matches!(bad.parse::<Release>(), Err(VersionError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            "1.2.21".parse::<Release>(),
            Err(VersionError::TooOld(_))
        ));
        assert_eq!(Release::Version(5, 3, 0).to_string(), "5.3.0");
        assert_eq!(Release::Newest.to_string(), "newest");
    }

    #[test]
    fn rules_switch_at_their_release() {
        let r = |s: &str| s.parse::<Release>().map(|v| v.rules()).ok();
        let before = |s: &str, f: fn(&Rules) -> bool| r(s).map(|x| f(&x));
        assert_eq!(before("2.0.0", |x| x.kvm_only), Some(false));
        assert_eq!(before("2.1.0", |x| x.kvm_only), Some(true));
        assert_eq!(before("3.1.0", |x| x.locked_unlimited), Some(false));
        assert_eq!(before("3.2.0", |x| x.locked_unlimited), Some(true));
        assert_eq!(before("3.5.0", |x| x.count_phbs), Some(false));
        assert_eq!(before("3.6.0", |x| x.count_phbs), Some(true));
        assert_eq!(before("5.2.0", |x| x.nvlink2), Some(false));
        assert_eq!(before("5.3.0", |x| x.nvlink2), Some(true));
        assert_eq!(before("5.10.0", |x| x.nvme), Some(false));
        assert_eq!(before("6.0.0", |x| x.nvme), Some(true));
        assert_eq!(before("7.1.0", |x| x.mdev_vdpa), Some(false));
        assert_eq!(before("7.2.0", |x| x.mdev_vdpa), Some(true));
        assert_eq!(before("8.6.0", |x| x.generic_factor), Some(false));
        assert_eq!(before("8.7.0", |x| x.generic_factor), Some(true));
        assert_eq!(before("10.4.0", |x| x.any_pci_hostdev), Some(false));
        assert_eq!(before("10.5.0", |x| x.any_pci_hostdev), Some(true));
        assert_eq!(before("9.2.0", |x| x.nvme_own_factor), Some(false));
        assert_eq!(before("9.3.0", |x| x.nvme_own_factor), Some(true));
        assert_eq!(before("9.7.0", |x| x.vhost_vdpa_disks), Some(false));
        assert_eq!(before("9.8.0", |x| x.vhost_vdpa_disks), Some(true));
    }
}
