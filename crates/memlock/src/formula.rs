//! The arithmetic: libvirt's `getPPC64MemLockLimitBytes`, its generic path and the overrides
//! in front of both (`qemuDomainGetMemLockLimitBytes`), in KiB with integer division, each
//! step checked (libvirt `src/qemu/qemu_domain.c`; the NVLink2 branch is `1a922648f6`).
//!
//! ```
//! use lsnvlink_memlock::formula::{compute, Branch, Inputs, Path};
//!
//! // The reference's example (i): 64 GiB, one PHB, an NVLink2 bridge assigned.
//! let inputs = Inputs {
//!     memory_kib: 67_108_864,
//!     path: Path::Ppc64 { phbs: 1, nvlink2: true, vfio: true },
//!     ..Inputs::default()
//! };
//! let result = compute(&inputs)?;
//! assert_eq!(result.branch, Branch::Nvlink2);
//! assert_eq!(result.limit_bytes(), Some(344_155_226_112));
//! # Ok::<(), lsnvlink_memlock::formula::FormulaError>(())
//! ```

use std::collections::BTreeMap;

/// libvirt's "no limit" (`VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`, 2^53 - 1): `<locked/>` returns
/// it, and a `hard_limit` at or above it counts as not set (`virMemoryLimitIsSet`).
pub const UNLIMITED: u64 = 9_007_199_254_740_991;

/// KiB constants of the formula (libvirt `src/qemu/qemu_domain.c`, `getPPC64MemLockLimitBytes`).
pub mod kib {
    /// 1 GiB in KiB: the generic path's fixed term.
    pub const GIB_1: u64 = 1_048_576;
    /// 2 GiB in KiB: the 32-bit DMA window per PHB (pre-DDW accounting).
    pub const GIB_2: u64 = 2_097_152;
    /// 4 MiB in KiB: TCE table of one PHB's 2 GiB 32-bit window.
    pub const MIB_4: u64 = 4096;
    /// 8 MiB in KiB: TCE index, spapr-vlan/vscsi and the like; also the passthrough slack.
    pub const MIB_8: u64 = 8192;
    /// `128 TiB / 512` in KiB (256 GiB): the 64-bit DMA window's TCE table per PHB when an
    /// NVLink2 bridge is assigned (QEMU puts V100 RAM below 128 TiB of guest space).
    pub const NVLINK2_TCE_PER_PHB: u64 = 268_435_456;
    /// 4 KiB IOMMU pages: one 8-byte TCE per 4 KiB is 1/512 of the RAM.
    pub const TCE_RATIO: u64 = 512;
    /// The hashed page table is 1/128 of the maximum memory.
    pub const HPT_RATIO: u64 = 128;
}

/// Which rule decided the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Branch {
    /// `<memtune><hard_limit>` is set: it wins over everything.
    HardLimit,
    /// `<memoryBacking><locked/>`: no limit.
    Locked,
    /// ppc64 KVM with an NVLink2 bridge assigned.
    Nvlink2,
    /// ppc64 KVM with VFIO (or, by release, mdev, NVMe, vDPA).
    Vfio,
    /// ppc64 KVM without passthrough: the base term alone.
    Base,
    /// Everything else (x86, TCG pseries): the generic path.
    Generic,
}

impl Branch {
    /// The name in the JSON `branch` key.
    pub fn as_str(&self) -> &'static str {
        match self {
            Branch::HardLimit => "hard_limit",
            Branch::Locked => "locked",
            Branch::Nvlink2 => "nvlink2",
            Branch::Vfio => "vfio",
            Branch::Base => "base",
            Branch::Generic => "generic",
        }
    }
}

/// Which formula applies after the overrides, with what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// ppc64 and KVM (before 2.1.0: any ppc64 guest).
    Ppc64 {
        /// Number of PHBs, the default one included.
        phbs: u64,
        /// An assigned device passed libvirt's NV2-bridge test.
        nvlink2: bool,
        /// The passthrough trigger of the release (VFIO PCI hostdev; NVMe, mdev, vDPA later).
        vfio: bool,
    },
    /// The generic path: `factor × memory + 1 GiB`, or 0 when the factor is 0 (before 8.7.0
    /// the factor is 1 or 0).
    Generic {
        /// Devices that multiply the guest RAM.
        factor: u64,
    },
}

impl Default for Path {
    fn default() -> Path {
        Path::Ppc64 {
            phbs: 1,
            nvlink2: false,
            vfio: false,
        }
    }
}

/// What the formula reads from the guest, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Inputs {
    /// Total guest memory (`<memory>`, DIMMs included).
    pub memory_kib: u64,
    /// `<maxMemory>`; `None` (or 0) means `memory`.
    pub max_memory_kib: Option<u64>,
    /// `<memtune><hard_limit>`, when set below [`UNLIMITED`].
    pub hard_limit_kib: Option<u64>,
    /// `<memoryBacking><locked/>`.
    pub locked: bool,
    /// Before 3.2.0, `<locked/>` gave `memory + 1 GiB` instead of no limit.
    pub locked_is_memory_plus_1g: bool,
    /// The formula after the overrides.
    pub path: Path,
}

/// The passthrough term of the ppc64 formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// No passthrough device: 0.
    None,
    /// `maxMemory + 256 GiB × PHBs + 8 MiB`.
    Nvlink2 {
        /// maxMemory.
        guest_ram: u64,
        /// 256 GiB × PHBs.
        tce_windows: u64,
        /// 8 MiB.
        fixed: u64,
        /// The sum.
        total: u64,
    },
    /// `max(2 GiB × PHBs, memory + memory/512 × PHBs + 8 MiB)`.
    Vfio {
        /// 2 GiB × PHBs.
        dma_floor: u64,
        /// memory.
        guest_ram: u64,
        /// memory/512 × PHBs.
        tce_tables: u64,
        /// 8 MiB.
        fixed: u64,
        /// memory + memory/512 × PHBs + 8 MiB.
        ddw: u64,
        /// The larger of `dma_floor` and `ddw`.
        total: u64,
    },
}

impl Passthrough {
    /// The term's value in KiB.
    pub fn total(&self) -> u64 {
        match self {
            Passthrough::None => 0,
            Passthrough::Nvlink2 { total, .. } | Passthrough::Vfio { total, .. } => *total,
        }
    }
}

/// Each term of the formula, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    /// The ppc64 formula.
    Ppc64 {
        /// maxMemory (memory when not set).
        max_memory: u64,
        /// PHBs counted.
        phbs: u64,
        /// maxMemory/128: the hashed page table.
        hash_table: u64,
        /// 4 MiB × PHBs: TCE tables of the 32-bit DMA windows.
        phb_windows: u64,
        /// 8 MiB.
        base_fixed: u64,
        /// The three above.
        base: u64,
        /// The passthrough term.
        passthrough: Passthrough,
        /// base + passthrough.
        total: u64,
    },
    /// The generic path.
    Generic {
        /// The device factor.
        factor: u64,
        /// factor × memory.
        guest_ram: u64,
        /// 1 GiB (0 when the factor is 0).
        fixed: u64,
        /// The sum (0 when the factor is 0).
        total: u64,
    },
}

impl Terms {
    /// The formula's result in KiB.
    pub fn total(&self) -> u64 {
        match self {
            Terms::Ppc64 { total, .. } | Terms::Generic { total, .. } => *total,
        }
    }

    /// The branch the formula took, overrides aside.
    pub fn branch(&self) -> Branch {
        match self {
            Terms::Ppc64 { passthrough, .. } => match passthrough {
                Passthrough::None => Branch::Base,
                Passthrough::Nvlink2 { .. } => Branch::Nvlink2,
                Passthrough::Vfio { .. } => Branch::Vfio,
            },
            Terms::Generic { .. } => Branch::Generic,
        }
    }

    /// The terms by name, for the JSON `terms_kib` object.
    pub fn by_name(&self) -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        match *self {
            Terms::Ppc64 {
                max_memory,
                hash_table,
                phb_windows,
                base_fixed,
                base,
                passthrough,
                total,
                ..
            } => {
                m.insert("max_memory", max_memory);
                m.insert("hash_table", hash_table);
                m.insert("phb_windows", phb_windows);
                m.insert("base_fixed", base_fixed);
                m.insert("base", base);
                m.insert("passthrough", passthrough.total());
                match passthrough {
                    Passthrough::None => {}
                    Passthrough::Nvlink2 {
                        guest_ram,
                        tce_windows,
                        fixed,
                        ..
                    } => {
                        m.insert("passthrough_guest_ram", guest_ram);
                        m.insert("passthrough_tce_windows", tce_windows);
                        m.insert("passthrough_fixed", fixed);
                    }
                    Passthrough::Vfio {
                        dma_floor,
                        guest_ram,
                        tce_tables,
                        fixed,
                        ddw,
                        ..
                    } => {
                        m.insert("passthrough_dma_floor", dma_floor);
                        m.insert("passthrough_guest_ram", guest_ram);
                        m.insert("passthrough_tce_tables", tce_tables);
                        m.insert("passthrough_fixed", fixed);
                        m.insert("passthrough_ddw", ddw);
                    }
                }
                m.insert("total", total);
            }
            Terms::Generic {
                guest_ram,
                fixed,
                total,
                ..
            } => {
                m.insert("guest_ram", guest_ram);
                m.insert("fixed", fixed);
                m.insert("total", total);
            }
        }
        m
    }
}

/// The limit libvirt sets on the QEMU process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// RLIMIT_MEMLOCK in bytes (0: libvirt leaves the limit alone).
    Bytes(u64),
    /// No limit (`RLIM_INFINITY`).
    Unlimited,
}

/// The result: the limit, the rule that decided it, and the formula's own value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Computation {
    /// The rule that decided the limit.
    pub branch: Branch,
    /// The limit.
    pub limit: Limit,
    /// The formula after the overrides (what the guest would get without `hard_limit` and
    /// `<locked/>`).
    pub terms: Terms,
    /// The formula's value in bytes.
    pub formula_bytes: u64,
}

impl Computation {
    /// The limit in bytes, `None` when unlimited.
    pub fn limit_bytes(&self) -> Option<u64> {
        match self.limit {
            Limit::Bytes(b) => Some(b),
            Limit::Unlimited => None,
        }
    }

    /// With a `hard_limit`: whether it covers what the formula gives. `None` without one.
    pub fn hard_limit_covers(&self) -> Option<bool> {
        match (self.branch, self.limit) {
            (Branch::HardLimit, Limit::Bytes(b)) => Some(b >= self.formula_bytes),
            _ => None,
        }
    }
}

/// A step of the arithmetic left 64 bits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("memlock arithmetic overflows 64 bits at {0} (the sizes are too large)")]
pub struct FormulaError(pub &'static str);

fn add(a: u64, b: u64, what: &'static str) -> Result<u64, FormulaError> {
    a.checked_add(b).ok_or(FormulaError(what))
}

fn mul(a: u64, b: u64, what: &'static str) -> Result<u64, FormulaError> {
    a.checked_mul(b).ok_or(FormulaError(what))
}

/// The ppc64 formula (V1, `1a922648f6`; unchanged in every later release).
fn ppc64(inputs: &Inputs, phbs: u64, nvlink2: bool, vfio: bool) -> Result<Terms, FormulaError> {
    let memory = inputs.memory_kib;
    let max_memory = match inputs.max_memory_kib {
        Some(m) if m > 0 => m,
        _ => memory,
    };
    let hash_table = max_memory / kib::HPT_RATIO;
    let phb_windows = mul(kib::MIB_4, phbs, "4 MiB x PHBs")?;
    let base = add(
        add(hash_table, phb_windows, "the base term")?,
        kib::MIB_8,
        "the base term",
    )?;
    let passthrough = if nvlink2 {
        let tce_windows = mul(kib::NVLINK2_TCE_PER_PHB, phbs, "256 GiB x PHBs")?;
        let total = add(
            add(max_memory, tce_windows, "the NVLink2 term")?,
            kib::MIB_8,
            "the NVLink2 term",
        )?;
        Passthrough::Nvlink2 {
            guest_ram: max_memory,
            tce_windows,
            fixed: kib::MIB_8,
            total,
        }
    } else if vfio {
        let dma_floor = mul(kib::GIB_2, phbs, "2 GiB x PHBs")?;
        let tce_tables = mul(memory / kib::TCE_RATIO, phbs, "memory/512 x PHBs")?;
        let ddw = add(
            add(memory, tce_tables, "the VFIO term")?,
            kib::MIB_8,
            "the VFIO term",
        )?;
        Passthrough::Vfio {
            dma_floor,
            guest_ram: memory,
            tce_tables,
            fixed: kib::MIB_8,
            ddw,
            total: dma_floor.max(ddw),
        }
    } else {
        Passthrough::None
    };
    let total = add(base, passthrough.total(), "base + passthrough")?;
    Ok(Terms::Ppc64 {
        max_memory,
        phbs,
        hash_table,
        phb_windows,
        base_fixed: kib::MIB_8,
        base,
        passthrough,
        total,
    })
}

fn generic(memory: u64, factor: u64) -> Result<Terms, FormulaError> {
    if factor == 0 {
        return Ok(Terms::Generic {
            factor,
            guest_ram: 0,
            fixed: 0,
            total: 0,
        });
    }
    let guest_ram = mul(factor, memory, "factor x memory")?;
    let total = add(guest_ram, kib::GIB_1, "the generic term")?;
    Ok(Terms::Generic {
        factor,
        guest_ram,
        fixed: kib::GIB_1,
        total,
    })
}

/// The limit, in the order `qemuDomainGetMemLockLimitBytes` decides it: `hard_limit`, then
/// `<locked/>`, then the ppc64 formula or the generic path.
pub fn compute(inputs: &Inputs) -> Result<Computation, FormulaError> {
    let terms = match inputs.path {
        Path::Ppc64 {
            phbs,
            nvlink2,
            vfio,
        } => ppc64(inputs, phbs, nvlink2, vfio)?,
        Path::Generic { factor } => generic(inputs.memory_kib, factor)?,
    };
    let formula_bytes = mul(terms.total(), 1024, "KiB to bytes")?;
    let (branch, limit) = if let Some(hard) = inputs.hard_limit_kib {
        (
            Branch::HardLimit,
            Limit::Bytes(mul(hard, 1024, "hard_limit KiB to bytes")?),
        )
    } else if inputs.locked && inputs.locked_is_memory_plus_1g {
        let kib = add(inputs.memory_kib, kib::GIB_1, "memory + 1 GiB")?;
        (
            Branch::Locked,
            Limit::Bytes(mul(kib, 1024, "KiB to bytes")?),
        )
    } else if inputs.locked {
        (Branch::Locked, Limit::Unlimited)
    } else {
        (terms.branch(), Limit::Bytes(formula_bytes))
    };
    Ok(Computation {
        branch,
        limit,
        terms,
        formula_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1_048_576;

    fn ppc(memory: u64, max: Option<u64>, phbs: u64, nvlink2: bool, vfio: bool) -> Computation {
        let inputs = Inputs {
            memory_kib: memory,
            max_memory_kib: max,
            path: Path::Ppc64 {
                phbs,
                nvlink2,
                vfio,
            },
            ..Inputs::default()
        };
        compute(&inputs).unwrap()
    }

    #[test]
    fn example_i_64g_one_phb() {
        let nv = ppc(64 * GIB, None, 1, true, true);
        assert_eq!(nv.branch, Branch::Nvlink2);
        let t = nv.terms.by_name();
        assert_eq!(t["base"], 536_576);
        assert_eq!(t["passthrough"], 335_552_512);
        assert_eq!(t["total"], 336_089_088);
        assert_eq!(nv.limit_bytes(), Some(344_155_226_112));

        let vfio = ppc(64 * GIB, None, 1, false, true);
        assert_eq!(vfio.branch, Branch::Vfio);
        assert_eq!(vfio.terms.by_name()["passthrough"], 67_248_128);
        assert_eq!(vfio.terms.by_name()["total"], 67_784_704);
        assert_eq!(vfio.limit_bytes(), Some(69_411_536_896));

        let none = ppc(64 * GIB, None, 1, false, false);
        assert_eq!(none.branch, Branch::Base);
        assert_eq!(none.limit_bytes(), Some(549_453_824));
    }

    #[test]
    fn example_ii_max_memory_two_phbs() {
        let nv = ppc(256 * GIB, Some(512 * GIB), 2, true, true);
        let t = nv.terms.by_name();
        assert_eq!(t["base"], 4_210_688);
        assert_eq!(t["passthrough"], 1_073_750_016);
        assert_eq!(t["total"], 1_077_960_704);
        assert_eq!(nv.limit_bytes(), Some(1_103_831_760_896));

        let vfio = ppc(256 * GIB, Some(512 * GIB), 2, false, true);
        let t = vfio.terms.by_name();
        assert_eq!(t["passthrough_ddw"], 269_492_224);
        assert_eq!(t["passthrough"], 269_492_224);
        assert_eq!(t["total"], 273_702_912);
        assert_eq!(vfio.limit_bytes(), Some(280_271_781_888));
    }

    #[test]
    fn example_iii_one_gib() {
        let base = ppc(GIB, None, 1, false, false);
        assert_eq!(base.terms.by_name()["base"], 20_480);
        assert_eq!(base.limit_bytes(), Some(20_971_520));
        // For reference only in the example: the branches if they applied.
        assert_eq!(
            ppc(GIB, None, 1, true, false).limit_bytes(),
            Some(275_981_008_896)
        );
        let vfio = ppc(GIB, None, 1, false, true);
        assert_eq!(vfio.terms.by_name()["passthrough"], 2_097_152); // the 2 GiB floor wins
        assert_eq!(vfio.limit_bytes(), Some(2_168_455_168));
    }

    #[test]
    fn nvlink2_wins_over_vfio_and_uses_max_memory() {
        let both = ppc(GIB, Some(4 * GIB), 1, true, true);
        assert_eq!(both.branch, Branch::Nvlink2);
        assert_eq!(both.terms.by_name()["passthrough_guest_ram"], 4 * GIB);
        let vfio = ppc(GIB, Some(4 * GIB), 1, false, true);
        assert_eq!(vfio.terms.by_name()["passthrough_guest_ram"], GIB);
        assert_eq!(vfio.terms.by_name()["hash_table"], 4 * GIB / 128);
    }

    #[test]
    fn division_floors_before_multiplying() {
        // 1023 KiB / 512 = 1, times 3 PHBs = 3 (not 1023*3/512 = 5).
        let t = ppc(1023, None, 3, false, true).terms.by_name();
        assert_eq!(t["passthrough_tce_tables"], 3);
        assert_eq!(t["hash_table"], 7);
    }

    #[test]
    fn overrides_in_order() {
        let mut inputs = Inputs {
            memory_kib: 64 * GIB,
            hard_limit_kib: Some(GIB),
            locked: true,
            path: Path::Ppc64 {
                phbs: 1,
                nvlink2: true,
                vfio: true,
            },
            ..Inputs::default()
        };
        let hard = compute(&inputs).unwrap();
        assert_eq!(hard.branch, Branch::HardLimit);
        assert_eq!(hard.limit_bytes(), Some(1 << 30));
        assert_eq!(hard.formula_bytes, 344_155_226_112);
        assert_eq!(hard.hard_limit_covers(), Some(false));
        inputs.hard_limit_kib = None;
        let locked = compute(&inputs).unwrap();
        assert_eq!(locked.branch, Branch::Locked);
        assert_eq!(locked.limit, Limit::Unlimited);
        assert_eq!(locked.hard_limit_covers(), None);
        inputs.locked_is_memory_plus_1g = true;
        assert_eq!(
            compute(&inputs).unwrap().limit_bytes(),
            Some((65 * GIB) << 10)
        );
        inputs.hard_limit_kib = Some(336_089_088);
        assert_eq!(compute(&inputs).unwrap().hard_limit_covers(), Some(true));
    }

    #[test]
    fn generic_path() {
        let g = |factor| {
            compute(&Inputs {
                memory_kib: 4 * GIB,
                path: Path::Generic { factor },
                ..Inputs::default()
            })
            .unwrap()
        };
        assert_eq!(g(0).limit_bytes(), Some(0));
        assert_eq!(g(0).branch, Branch::Generic);
        assert_eq!(g(1).limit_bytes(), Some((5 * GIB) << 10));
        assert_eq!(g(3).limit_bytes(), Some((13 * GIB) << 10));
    }

    #[test]
    fn overflow_is_an_error() {
        let huge = Inputs {
            memory_kib: u64::MAX,
            path: Path::Ppc64 {
                phbs: 1,
                nvlink2: true,
                vfio: true,
            },
            ..Inputs::default()
        };
        assert!(compute(&huge).is_err());
        let bytes = Inputs {
            memory_kib: 1 << 60,
            path: Path::Ppc64 {
                phbs: 1,
                nvlink2: false,
                vfio: false,
            },
            ..Inputs::default()
        };
        // 2^53 KiB of hash table: the bytes still fit in 64 bits.
        assert_eq!(
            compute(&bytes).map(|c| c.formula_bytes),
            Ok(((1 << 53) + 12_288) << 10)
        );
        let phbs = Inputs {
            memory_kib: GIB,
            path: Path::Ppc64 {
                phbs: u64::MAX,
                nvlink2: false,
                vfio: false,
            },
            ..Inputs::default()
        };
        assert_eq!(compute(&phbs), Err(FormulaError("4 MiB x PHBs")));
        let generic = Inputs {
            memory_kib: u64::MAX / 2,
            path: Path::Generic { factor: 3 },
            ..Inputs::default()
        };
        assert_eq!(compute(&generic), Err(FormulaError("factor x memory")));
        let to_bytes = Inputs {
            memory_kib: 1 << 55,
            path: Path::Generic { factor: 1 },
            ..Inputs::default()
        };
        assert_eq!(compute(&to_bytes), Err(FormulaError("KiB to bytes")));
    }
}
