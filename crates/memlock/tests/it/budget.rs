//! Budgets through the public API alone, with no file and no topology: the worked examples of
//! the libvirt memlock reference (§6), the overrides, the generic path, the per-release
//! switches, and the NVLink2 guest layout, on a host given as plain facts (an AC922 with four
//! GPUs: socket 0 is IOMMU group 5, socket 1 group 10). The numbers are those the
//! `lsnvlink memlock` tests (crates/lsnvlink-cli/tests/it/memlock.rs) check in its JSON, here
//! read from `Budget` and `Computation`.

use std::collections::BTreeMap;

use lsnvlink_memlock::formula::{Branch, Limit, Passthrough, Terms};
use lsnvlink_memlock::layout::AtsdPlacement;
use lsnvlink_memlock::size::gib;
use lsnvlink_memlock::version::Release;
use lsnvlink_memlock::{
    AtsdRegister, Budget, GpuRam, GroupProblem, Guest, GuestAddress, Host, NoHost, Nvlink2Bridge,
    Nvlink2Device, Nvlink2Gpu, Nvlink2Passthrough, PciHostdev, Phb, PhbOrigin, budget, render,
};
use pci::PciAddress;

const GIB: u64 = 1_048_576; // KiB

fn addr(s: &str) -> PciAddress {
    s.parse().unwrap()
}

/// One device of the test host.
struct Device {
    group: Result<u32, GroupProblem>,
    nv2_bridge: bool,
    nvlink2: Option<Nvlink2Device>,
}

/// A host given as facts: address → device, and what its kernel does with NVLink2.
struct FactHost {
    devices: BTreeMap<PciAddress, Device>,
    passthrough: Nvlink2Passthrough,
}

impl Host for FactHost {
    fn iommu_group(&self, address: PciAddress) -> Result<u32, GroupProblem> {
        self.devices
            .get(&address)
            .map_or(Err(GroupProblem::Absent), |d| d.group.clone())
    }

    fn is_nv2_bridge(&self, address: PciAddress) -> bool {
        self.devices.get(&address).is_some_and(|d| d.nv2_bridge)
    }

    fn nvlink2_device(&self, address: PciAddress) -> Option<Nvlink2Device> {
        self.devices.get(&address)?.nvlink2.clone()
    }

    fn nvlink2_passthrough(&self) -> Nvlink2Passthrough {
        self.passthrough.clone()
    }
}

/// 128 GiB: the GPU RAM region of an AC922 (skiboot `hw/phys-map.c`).
const GPU_RAM: u64 = 128 << 30;

/// An AC922 with four V100s on a 5.x kernel: per socket two GPUs and three bridges per GPU;
/// a GPU and its bridges share a target address; each NPU has ATSD registers 64 KiB apart.
fn ac922() -> FactHost {
    let mut devices = BTreeMap::new();
    let sockets = [
        // (group, GPU domain, its GPUs' buses, NPU domain, ATSD register 0)
        (5, "0004", [4, 5], "0006", 0x6_0302_0080_0000u64),
        (10, "0035", [3, 4], "0007", 0x6_0302_0380_0000u64),
    ];
    for (group, gpu_domain, buses, npu_domain, atsd0) in sockets {
        for (gpu, bus) in (0..2u64).zip(buses) {
            let tgt = Some(0x1000 * (u64::from(group) + 1) + gpu);
            devices.insert(
                addr(&format!("{gpu_domain}:{bus:02x}:00.0")),
                Device {
                    group: Ok(group),
                    nv2_bridge: false,
                    nvlink2: Some(Nvlink2Device::Gpu(Nvlink2Gpu {
                        ram: Some(GpuRam {
                            size: GPU_RAM,
                            tgt_addr: tgt,
                        }),
                    })),
                },
            );
            for link in 0..3u64 {
                devices.insert(
                    addr(&format!("{npu_domain}:00:0{gpu}.{link}")),
                    Device {
                        group: Ok(group),
                        nv2_bridge: true,
                        nvlink2: Some(Nvlink2Device::Bridge(Nvlink2Bridge {
                            tgt_addr: tgt,
                            vfio_refuses: false,
                            atsd: Some(AtsdRegister {
                                address: atsd0 + 0x1_0000 * (gpu * 3 + link),
                                fallback: false,
                            }),
                        })),
                    },
                );
            }
        }
    }
    // A plain PCIe device (a USB controller, say) in a group of its own.
    devices.insert(
        addr("0001:01:00.0"),
        Device {
            group: Ok(1),
            nv2_bridge: false,
            nvlink2: None,
        },
    );
    FactHost {
        devices,
        passthrough: Nvlink2Passthrough::Vfio,
    }
}

/// `guest` with these VFIO hostdevs, each at a guest bus when one is given.
fn with(mut guest: Guest, devices: &[(&str, Option<u32>)]) -> Guest {
    guest.pci_hostdevs = devices
        .iter()
        .map(|&(host, bus)| PciHostdev {
            host: addr(host),
            vfio_backend: true,
            guest: bus.map(|bus| GuestAddress {
                bus,
                slot: 5,
                function: 0,
            }),
        })
        .collect();
    guest
}

fn on_ac922(guest: Guest) -> Budget {
    budget(guest, Release::Newest, &ac922()).unwrap()
}

fn at(release: &str, guest: &Guest) -> Budget {
    budget(guest.clone(), release.parse().unwrap(), &ac922()).unwrap()
}

/// The ppc64 terms: (base, passthrough, total), in KiB.
fn ppc64(b: &Budget) -> (u64, u64, u64) {
    match b.computation.terms {
        Terms::Ppc64 {
            base,
            passthrough,
            total,
            ..
        } => (base, passthrough.total(), total),
        Terms::Generic { .. } => panic!("generic path: {b:?}"),
    }
}

fn limit(b: &Budget) -> u64 {
    b.computation.limit_bytes().unwrap()
}

fn warns(b: &Budget, needle: &str) -> bool {
    b.warnings.iter().any(|w| w.contains(needle))
}

fn x86(memory_kib: u64) -> Guest {
    let mut g = Guest::pseries_kvm(memory_kib);
    g.arch = "x86_64".to_owned();
    g.machine = Some("q35".to_owned());
    g.phbs.clear();
    g
}

// ---- §6 (i): memory = maxMemory = 64 GiB, 1 PHB ----

#[test]
fn example_i_nvlink2_one_phb() {
    // The bridge sits on the default PHB by the user's choice: one PHB in all.
    let b = on_ac922(with(
        Guest::pseries_kvm(64 * GIB),
        &[("0006:00:00.0", Some(0))],
    ));
    assert_eq!(b.computation.branch, Branch::Nvlink2);
    assert_eq!(b.phb_count, 1);
    assert_eq!(ppc64(&b), (536_576, 335_552_512, 336_089_088));
    assert_eq!(limit(&b), 344_155_226_112);
    assert_eq!(gib(limit(&b)), "320.52");
    assert_eq!(b.nv2_bridges, [addr("0006:00:00.0")]);
    assert!(b.ppc64_path);
    assert_eq!(b.generic_factor, None);
}

#[test]
fn example_i_plain_vfio_one_phb() {
    let b = on_ac922(with(
        Guest::pseries_kvm(64 * GIB),
        &[("0004:04:00.0", Some(0))],
    ));
    assert_eq!(b.computation.branch, Branch::Vfio);
    assert_eq!(b.phb_count, 1);
    assert_eq!(ppc64(&b), (536_576, 67_248_128, 67_784_704));
    assert_eq!(limit(&b), 69_411_536_896);
    assert_eq!(gib(limit(&b)), "64.64");
    let Terms::Ppc64 {
        passthrough: Passthrough::Vfio { dma_floor, ddw, .. },
        ..
    } = b.computation.terms
    else {
        panic!("{b:?}")
    };
    assert_eq!((dma_floor, ddw), (2_097_152, 67_248_128));
}

#[test]
fn example_i_no_vfio() {
    let b = budget(Guest::pseries_kvm(64 * GIB), Release::Newest, &NoHost).unwrap();
    assert_eq!(b.computation.branch, Branch::Base);
    assert_eq!(ppc64(&b), (536_576, 0, 536_576));
    assert_eq!(limit(&b), 549_453_824);
    assert_eq!(b.computation.formula_bytes, 549_453_824);
}

// ---- §6 (ii): memory 256 GiB, maxMemory 512 GiB, 2 PHBs ----

fn example_ii(device: &str) -> Budget {
    let mut g = with(Guest::pseries_kvm(256 * GIB), &[(device, None)]);
    g.max_memory_kib = Some(512 * GIB);
    on_ac922(g)
}

#[test]
fn example_ii_nvlink2_two_phbs() {
    // One bridge, no guest address: libvirt adds its isolation PHB, 2 in all.
    let b = example_ii("0006:00:00.0");
    assert_eq!(b.computation.branch, Branch::Nvlink2);
    assert_eq!(b.phb_count, 2);
    assert_eq!(ppc64(&b), (4_210_688, 1_073_750_016, 1_077_960_704));
    assert_eq!(limit(&b), 1_103_831_760_896);
    assert_eq!(gib(limit(&b)), "1028.02");
}

#[test]
fn example_ii_plain_vfio_uses_memory_not_max_memory() {
    let b = example_ii("0004:04:00.0");
    assert_eq!(b.computation.branch, Branch::Vfio);
    assert_eq!(b.phb_count, 2);
    let terms = b.computation.terms.by_name();
    assert_eq!(terms["passthrough_guest_ram"], 268_435_456);
    assert_eq!(terms["hash_table"], 4_194_304);
    assert_eq!(ppc64(&b), (4_210_688, 269_492_224, 273_702_912));
    assert_eq!(limit(&b), 280_271_781_888);
    assert_eq!(gib(limit(&b)), "261.02");
}

// ---- §6 (iii): 1 GiB ----

#[test]
fn example_iii_one_gib() {
    let b = budget(Guest::pseries_kvm(GIB), Release::Newest, &NoHost).unwrap();
    assert_eq!(b.computation.branch, Branch::Base);
    assert_eq!(ppc64(&b), (20_480, 0, 20_480));
    assert_eq!(limit(&b), 20_971_520);
    assert_eq!(b.computation.limit, Limit::Bytes(20 << 20));
    assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    assert_eq!(b.layout, None);
}

#[test]
fn example_iii_branches_for_reference() {
    let nv = on_ac922(with(Guest::pseries_kvm(GIB), &[("0006:00:00.1", Some(0))]));
    assert_eq!(nv.computation.branch, Branch::Nvlink2);
    assert_eq!(ppc64(&nv).2, 269_512_704);
    assert_eq!(limit(&nv), 275_981_008_896);
    let vfio = on_ac922(with(Guest::pseries_kvm(GIB), &[("0004:05:00.0", Some(0))]));
    assert_eq!(vfio.computation.branch, Branch::Vfio);
    assert_eq!(ppc64(&vfio).1, 2_097_152);
    assert_eq!(limit(&vfio), 2_168_455_168);
}

// ---- overrides ----

#[test]
fn hard_limit_wins_over_the_formula_and_locked() {
    let mut g = Guest::pseries_kvm(64 * GIB);
    g.hard_limit_kib = Some(524_288); // 512 MiB
    g.locked = true;
    let b = budget(g.clone(), Release::Newest, &NoHost).unwrap();
    assert_eq!(b.computation.branch, Branch::HardLimit);
    assert_eq!(limit(&b), 512 << 20);
    assert_eq!(b.computation.formula_bytes, 549_453_824);
    assert_eq!(b.computation.hard_limit_covers(), Some(false));
    assert_eq!(
        render::hard_limit_xml(&b).as_deref(),
        Some("<memtune><hard_limit unit='KiB'>536576</hard_limit></memtune>")
    );
    // Exactly the formula: covered.
    g.hard_limit_kib = Some(536_576);
    g.locked = false;
    let b = budget(g, Release::Newest, &NoHost).unwrap();
    assert_eq!(b.computation.hard_limit_covers(), Some(true));
}

#[test]
fn hard_limit_over_an_nvlink2_guest() {
    let mut g = with(Guest::pseries_kvm(64 * GIB), &[("0006:00:00.0", Some(0))]);
    g.hard_limit_kib = Some(100 * GIB);
    let b = on_ac922(g);
    assert_eq!(b.computation.branch, Branch::HardLimit);
    assert_eq!(limit(&b), 100 << 30);
    assert_eq!(b.computation.formula_bytes, 344_155_226_112);
    assert_eq!(b.computation.terms.branch(), Branch::Nvlink2);
}

#[test]
fn libvirts_unlimited_hard_limit_is_not_set() {
    let mut g = Guest::pseries_kvm(64 * GIB);
    g.hard_limit_kib = Some(9_007_199_254_740_991);
    let b = budget(g, Release::Newest, &NoHost).unwrap();
    assert_eq!(b.computation.branch, Branch::Base);
    assert_eq!(b.computation.hard_limit_covers(), None);
    assert!(warns(&b, "'unlimited' value"));
}

#[test]
fn locked_means_unlimited_since_3_2_0() {
    let mut g = Guest::pseries_kvm(64 * GIB);
    g.locked = true;
    let b = budget(g.clone(), Release::Newest, &NoHost).unwrap();
    assert_eq!(b.computation.branch, Branch::Locked);
    assert_eq!(b.computation.limit, Limit::Unlimited);
    assert_eq!(b.computation.limit_bytes(), None);
    assert_eq!(render::hard_limit_xml(&b), None);
    let old = budget(g, "3.1.0".parse().unwrap(), &NoHost).unwrap();
    assert_eq!(old.computation.branch, Branch::Locked);
    assert_eq!(limit(&old), 65 << 30);
}

// ---- the generic path ----

#[test]
fn tcg_pseries_takes_the_generic_path() {
    let mut g = with(Guest::pseries_kvm(4 * GIB), &[("0006:00:00.0", None)]);
    g.virt_type = "qemu".to_owned();
    let b = on_ac922(g.clone());
    assert_eq!(b.computation.branch, Branch::Generic);
    assert!(!b.ppc64_path);
    assert!(b.nv2_bridges.is_empty());
    assert_eq!(b.generic_factor, Some(1));
    assert_eq!(limit(&b), 5 << 30);
    assert!(warns(&b, "not KVM"));
    // Without a device the generic path gives 0: libvirt leaves the limit alone.
    g.pci_hostdevs.clear();
    let b = on_ac922(g.clone());
    assert_eq!(limit(&b), 0);
    assert!(warns(&b, "a limit of 0"));
    assert_eq!(render::hard_limit_xml(&b), None);
    // Before 2.1.0 the ppc64 formula applied to TCG guests too.
    assert_eq!(at("2.0.0", &g).computation.branch, Branch::Base);
}

#[test]
fn generic_factor_from_8_7_0() {
    let mut g = with(
        x86(4 * GIB),
        &[("0004:04:00.0", Some(1)), ("0004:05:00.0", Some(2))],
    );
    g.vdpa_nets = 1;
    let b = on_ac922(g.clone());
    assert_eq!(b.computation.branch, Branch::Generic);
    assert_eq!(b.generic_factor, Some(2)); // vDPA 1 + hostdevs without vIOMMU 1
    assert_eq!(limit(&b), 9 << 30);
    assert_eq!(b.phb_count, 0);
    assert!(b.phbs.is_empty());
    g.viommu = true;
    let b = on_ac922(g.clone());
    assert_eq!(b.generic_factor, Some(3));
    assert_eq!(limit(&b), 13 << 30);
    g.viommu = false;
    let b = at("8.6.0", &g);
    assert_eq!(b.generic_factor, Some(1));
    assert_eq!(limit(&b), 5 << 30);
    let b = on_ac922(x86(4 * GIB));
    assert_eq!(b.generic_factor, Some(0));
    assert_eq!(limit(&b), 0);
}

#[test]
fn generic_terms() {
    let b = on_ac922(with(x86(4 * GIB), &[("0001:01:00.0", None)]));
    assert_eq!(
        b.computation.terms,
        Terms::Generic {
            factor: 1,
            guest_ram: 4 * GIB,
            fixed: GIB,
            total: 5 * GIB
        }
    );
}

// ---- per-release switches ----

#[test]
fn nvme_disk_asks_for_vfio_from_6_0_0() {
    let mut g = Guest::pseries_kvm(GIB);
    g.nvme_disks = 1;
    let b = at("6.0.0", &g);
    assert_eq!(b.computation.branch, Branch::Vfio);
    assert_eq!(b.phb_count, 1);
    assert_eq!(limit(&b), 2_168_455_168);
    assert_eq!(at("5.10.0", &g).computation.branch, Branch::Base);
}

#[test]
fn mdev_and_vdpa_ask_for_vfio_from_7_2_0() {
    let mut mdev = Guest::pseries_kvm(GIB);
    mdev.mdevs = 1;
    let mut vdpa = Guest::pseries_kvm(GIB);
    vdpa.vdpa_nets = 1;
    for g in [mdev, vdpa] {
        assert_eq!(at("7.2.0", &g).computation.branch, Branch::Vfio);
        assert_eq!(at("7.1.0", &g).computation.branch, Branch::Base);
    }
}

#[test]
fn nvlink2_branch_from_5_3_0() {
    let g = with(
        Guest::pseries_kvm(64 * GIB),
        &[("0004:04:00.0", None), ("0006:00:00.0", None)],
    );
    assert_eq!(at("5.3.0", &g).computation.branch, Branch::Nvlink2);
    let old = at("5.2.0", &g);
    assert_eq!(old.computation.branch, Branch::Vfio);
    assert!(old.nv2_bridges.is_empty());
    assert!(warns(&old, "no NVLink2 branch"));
}

#[test]
fn phbs_counted_from_3_6_0() {
    let g = with(
        Guest::pseries_kvm(64 * GIB),
        &[("0004:04:00.0", None), ("0035:03:00.0", None)],
    );
    assert_eq!(at("3.6.0", &g).phb_count, 3);
    let old = at("3.5.0", &g);
    assert_eq!(old.phb_count, 1);
    assert!(old.phbs.is_empty());
}

#[test]
fn any_pci_hostdev_counts_from_10_5_0() {
    let mut g = with(
        Guest::pseries_kvm(64 * GIB),
        &[("0004:04:00.0", None), ("0006:00:00.0", None)],
    );
    for h in &mut g.pci_hostdevs {
        h.vfio_backend = false; // <driver name='kvm'/>
    }
    let old = at("10.4.0", &g);
    assert_eq!(old.computation.branch, Branch::Base);
    assert!(old.hostdevs.iter().all(|h| !h.counted));
    assert_eq!(at("10.5.0", &g).computation.branch, Branch::Nvlink2);
}

#[test]
fn nvme_own_factor_and_vhost_vdpa_disks_on_the_generic_path() {
    let mut g = x86(GIB);
    g.nvme_disks = 2;
    assert_eq!(at("9.0.0", &g).generic_factor, Some(1));
    assert_eq!(at("9.3.0", &g).generic_factor, Some(2));
    g.nvme_disks = 0;
    g.vhost_vdpa_disks = 1;
    assert_eq!(at("9.7.0", &g).generic_factor, Some(0));
    assert_eq!(at("9.8.0", &g).generic_factor, Some(1));
}

// ---- PHBs from the host's IOMMU groups ----

#[test]
fn isolation_phbs_from_host_iommu_groups() {
    let b = on_ac922(with(
        Guest::pseries_kvm(64 * GIB),
        &[
            ("0004:04:00.0", None),
            ("0004:05:00.0", None),
            ("0035:03:00.0", None),
        ],
    ));
    assert_eq!(b.phb_count, 3);
    let groups: Vec<Option<u32>> = b.hostdevs.iter().map(|h| h.iommu_group).collect();
    assert_eq!(groups, [Some(5), Some(5), Some(10)]);
    let buses: Vec<Option<u32>> = b.hostdevs.iter().map(|h| h.guest_bus).collect();
    assert_eq!(buses, [Some(1), Some(1), Some(2)]);
    let origins: Vec<PhbOrigin> = b.phbs.iter().map(|p| p.origin).collect();
    assert_eq!(
        origins,
        [
            PhbOrigin::Default,
            PhbOrigin::Isolation,
            PhbOrigin::Isolation
        ]
    );
    assert_eq!(
        b.phbs[1].hostdevs,
        [addr("0004:04:00.0"), addr("0004:05:00.0")]
    );
}

#[test]
fn declared_phbs_take_isolation_groups_first() {
    let mut g = Guest::pseries_kvm(GIB);
    g.phbs.extend((1..3).map(|index| Phb {
        index,
        target_index: None,
        spapr: true,
    }));
    let b = on_ac922(g.clone());
    assert_eq!(b.phb_count, 3);
    assert_eq!(ppc64(&b).0, 8192 + 3 * 4096 + 8192);
    let b = on_ac922(with(g, &[("0004:04:00.0", None)]));
    assert_eq!(b.phb_count, 3);
    assert_eq!(b.phbs[1].origin, PhbOrigin::Declared);
}

#[test]
fn absent_and_unreadable_devices_are_warned_and_not_isolated() {
    let mut host = ac922();
    host.devices.insert(
        addr("0002:01:00.0"),
        Device {
            group: Err(GroupProblem::Unreadable("link text \u{1b}[2J".to_owned())),
            nv2_bridge: false,
            nvlink2: None,
        },
    );
    let g = with(
        Guest::pseries_kvm(64 * GIB),
        &[
            ("0004:04:00.0", None),
            ("0009:01:00.0", None),
            ("0002:01:00.0", None),
        ],
    );
    let b = budget(g, Release::Newest, &host).unwrap();
    assert_eq!(b.phb_count, 2);
    assert!(warns(&b, "0009:01:00.0 is not a PCI device"));
    assert!(warns(&b, "0002:01:00.0: IOMMU group unreadable"));
    // The text shows the host's control characters as escapes.
    let text = render::text(&b);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("link text \\x1b[2J"), "{text}");
}

// ---- NVLink2 and the guest layout ----

fn nvlink2_guest() -> Guest {
    with(
        Guest::pseries_kvm(64 * GIB),
        &[
            ("0004:04:00.0", None),
            ("0006:00:00.0", None),
            ("0006:00:00.1", None),
            ("0006:00:00.2", None),
            ("0035:03:00.0", None),
        ],
    )
}

#[test]
fn nvlink2_branch_with_a_gpu_and_its_bridges() {
    let b = on_ac922(with(
        Guest::pseries_kvm(64 * GIB),
        &[
            ("0004:04:00.0", None),
            ("0006:00:00.0", None),
            ("0006:00:00.1", None),
            ("0006:00:00.2", None),
        ],
    ));
    assert_eq!(b.computation.branch, Branch::Nvlink2);
    assert_eq!(
        b.nv2_bridges,
        [
            addr("0006:00:00.0"),
            addr("0006:00:00.1"),
            addr("0006:00:00.2")
        ]
    );
    assert_eq!(b.phb_count, 2);
    // base 524288 + 8192 + 8192; NVLink2 67108864 + 2 * 268435456 + 8192.
    assert_eq!(limit(&b), (540_672 + 603_987_968) << 10);
}

#[test]
fn guest_layout_per_vphb() {
    let b = on_ac922(nvlink2_guest());
    assert_eq!(b.phb_count, 3);
    assert_eq!(limit(&b), 893_919_428_608);
    let layout = b.layout.as_ref().unwrap();
    assert_eq!(layout.vphbs.len(), 2);
    let v1 = &layout.vphbs[0];
    assert_eq!(v1.vphb, 1);
    assert_eq!(v1.ram_window, 0x4200_0000_0000);
    assert_eq!(v1.atsd_window, 0x8000_0012_0000);
    assert_eq!(v1.gpus.len(), 1);
    assert_eq!(v1.gpus[0].address, addr("0004:04:00.0"));
    assert_eq!(v1.gpus[0].gpa, 0x4200_0000_0000);
    assert_eq!(v1.gpus[0].size, GPU_RAM);
    assert_eq!(v1.gpus[0].numa_node, 1);
    assert_eq!(
        v1.gpus[0].links,
        [
            addr("0006:00:00.0"),
            addr("0006:00:00.1"),
            addr("0006:00:00.2")
        ]
    );
    let atsd: Vec<(u64, u64)> = v1.atsd.iter().map(|a| (a.gpa, a.host_register)).collect();
    assert_eq!(
        atsd,
        [
            (0x8000_0012_0000, 0x6_0302_0080_0000),
            (0x8000_0013_0000, 0x6_0302_0081_0000),
            (0x8000_0014_0000, 0x6_0302_0082_0000)
        ]
    );
    let v2 = &layout.vphbs[1];
    assert_eq!((v2.vphb, v2.ram_window), (2, 0x4400_0000_0000));
    assert_eq!(v2.gpus[0].numa_node, 2);
    assert!(v2.gpus[0].links.is_empty());
    assert!(warns(
        &b,
        "0035:03:00.0: assigned without its NVLink bridges"
    ));
    // The text shows it as `lsnvlink memlock` does.
    let text = render::text(&b);
    assert!(
        text.contains(
            "    GPU 0004:04:00.0 RAM 0x420000000000-0x421fffffffff (128.00 GiB), guest NUMA \
             node 1, links 0006:00:00.0 0006:00:00.1 0006:00:00.2\n"
        ),
        "{text}"
    );
    assert!(text.contains("limit: 893919428608 bytes (832.53 GiB), branch nvlink2\n"));
}

#[test]
fn no_layout_without_nvlink2_facts() {
    // The same guest on a host that answers only libvirt's two questions.
    struct Groups;
    impl Host for Groups {
        fn iommu_group(&self, address: PciAddress) -> Result<u32, GroupProblem> {
            ac922().iommu_group(address)
        }
        fn is_nv2_bridge(&self, address: PciAddress) -> bool {
            ac922().is_nv2_bridge(address)
        }
    }
    let b = budget(nvlink2_guest(), Release::Newest, &Groups).unwrap();
    assert_eq!(b.layout, None);
    assert_eq!(limit(&b), 893_919_428_608);
    assert!(!warns(&b, "assigned without its NVLink bridges"));
}

#[test]
fn old_machine_types_get_no_nvlink2_windows() {
    let mut g = nvlink2_guest();
    g.machine = Some("pseries-4.0".to_owned());
    let b = on_ac922(g);
    let layout = b.layout.unwrap();
    assert!(layout.vphbs.is_empty());
    assert!(layout.notes[0].contains("pseries-4.0 and older"));
}

#[test]
fn atsd_fallback_missing_register_refused_bridge_and_gpu_without_ram() {
    let mut host = ac922();
    let set = |host: &mut FactHost, a: &str, f: &dyn Fn(&mut Nvlink2Device)| {
        if let Some(d) = host
            .devices
            .get_mut(&addr(a))
            .and_then(|d| d.nvlink2.as_mut())
        {
            f(d);
        }
    };
    set(&mut host, "0006:00:00.1", &|d| {
        if let Nvlink2Device::Bridge(b) = d {
            b.atsd = Some(AtsdRegister {
                address: 0x6_0302_0080_0000,
                fallback: true,
            });
        }
    });
    set(&mut host, "0006:00:00.2", &|d| {
        if let Nvlink2Device::Bridge(b) = d {
            b.atsd = None;
        }
    });
    set(&mut host, "0007:00:00.0", &|d| {
        if let Nvlink2Device::Bridge(b) = d {
            b.vfio_refuses = true;
        }
    });
    set(&mut host, "0035:03:00.0", &|d| {
        *d = Nvlink2Device::Gpu(Nvlink2Gpu { ram: None });
    });
    let mut g = nvlink2_guest();
    g.pci_hostdevs
        .extend(with(Guest::default(), &[("0007:00:00.0", None)]).pci_hostdevs);
    let b = budget(g, Release::Newest, &host).unwrap();
    let layout = b.layout.as_ref().unwrap();
    assert_eq!(
        layout.vphbs[0].atsd,
        [
            AtsdPlacement {
                bridge: addr("0006:00:00.0"),
                gpa: 0x8000_0012_0000,
                host_register: 0x6_0302_0080_0000,
                fallback: false,
            },
            AtsdPlacement {
                bridge: addr("0006:00:00.1"),
                gpa: 0x8000_0013_0000,
                host_register: 0x6_0302_0080_0000,
                fallback: true,
            }
        ]
    );
    assert!(warns(&b, "0006:00:00.2: no ATSD register"));
    assert!(warns(&b, "0007:00:00.0: the host's vfio refuses"));
    assert!(warns(
        &b,
        "0035:03:00.0: the host's vfio gives no GPU RAM region"
    ));
    assert!(layout.vphbs[1].gpus.is_empty());
    // The budget itself does not change: libvirt does not look at any of it.
    assert_eq!(b.computation.branch, Branch::Nvlink2);
}

#[test]
fn a_kernel_without_nvlink2_passthrough_is_warned() {
    let g = with(
        Guest::pseries_kvm(64 * GIB),
        &[("0004:04:00.0", None), ("0006:00:00.0", None)],
    );
    let mut host = ac922();
    host.passthrough = Nvlink2Passthrough::NoVfio {
        kernel: Some("4.14.0".to_owned()),
    };
    let b = budget(g.clone(), Release::Newest, &host).unwrap();
    assert!(warns(&b, "the host kernel 4.14.0 is older than 5.0"));
    assert!(warns(&b, "(0004:04:00.0, 0006:00:00.0)"));
    host.passthrough = Nvlink2Passthrough::Unsupported { kernel: None };
    let b = budget(g.clone(), Release::Newest, &host).unwrap();
    assert!(warns(&b, "the host kernel unknown does not expose NVLink2"));
    // No NVLink2 device assigned: nothing to say.
    let plain = with(Guest::pseries_kvm(64 * GIB), &[("0001:01:00.0", None)]);
    let b = budget(plain, Release::Newest, &host).unwrap();
    assert!(!warns(&b, "host kernel"));
    host.passthrough = Nvlink2Passthrough::Vfio;
    let b = budget(g, Release::Newest, &host).unwrap();
    assert!(!warns(&b, "host kernel"));
}

// ---- what stops a budget ----

#[test]
fn no_memory_and_overflow_are_errors() {
    use lsnvlink_memlock::MemlockError;
    let err = budget(Guest::pseries_kvm(0), Release::Newest, &NoHost).unwrap_err();
    assert!(matches!(err, MemlockError::NoMemory));
    let mut g = Guest::pseries_kvm(u64::MAX / 2);
    g.nvme_disks = 1;
    let err = budget(g, Release::Newest, &NoHost).unwrap_err();
    assert!(matches!(err, MemlockError::Formula(_)), "{err}");
}

#[cfg(feature = "json")]
#[test]
fn json_keys() {
    let b = on_ac922(nvlink2_guest());
    let json = render::json(&b);
    for key in [
        "\"limit_bytes\": 893919428608,",
        "\"branch\": \"nvlink2\",",
        "\"phbs\": 3,",
        "\"schema_version\": 1,",
        "\"ram_window\": \"0x420000000000\",",
    ] {
        assert!(json.contains(key), "{key}: {json}");
    }
    assert!(json.ends_with("}\n"));
}
