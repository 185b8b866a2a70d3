//! Typed POWER9 NVLink2 properties and the walks between GPU, NVLink bridge, link, NPU PHB and
//! GPU memory, on chip 0 of an AC922 built as skiboot lays it out (open-power/skiboot
//! `hw/npu2.c`, `core/pci.c`; the shape of `../shared`'s AC922 notes, §2.3).

use crate::common::*;
use devtree::power9::{NvlinkSpeed, Power9Node};
use devtree::{Phandle, PropProblem, RegEntry, Tree};

fn u64c(v: u64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn ac922_chip0() -> Vec<u8> {
    let mut items = vec![
        begin(""),
        prop("#address-cells", &cells(&[2])),
        prop("#size-cells", &cells(&[2])),
        begin("xscom@603fc00000000"),
        prop("ibm,chip-id", &cells(&[0])),
        prop("#address-cells", &cells(&[1])),
        prop("#size-cells", &cells(&[1])),
        begin("npu@5011000"),
        prop("phandle", &cells(&[0x173])),
        prop("compatible", &string("ibm,power9-npu")),
        prop("reg", &cells(&[0x501_1000, 0x2c])),
        prop("#address-cells", &cells(&[1])),
        prop("#size-cells", &cells(&[0])),
    ];
    for n in 0..6u32 {
        items.extend([
            begin(&format!("link@{n}")),
            prop("phandle", &cells(&[0x174 + n])),
            prop("compatible", &string("ibm,npu-link")),
            prop("reg", &cells(&[n])),
            prop("ibm,npu-link-index", &cells(&[n])),
            prop("ibm,npu-group-id", &cells(&[n / 3])),
            prop("ibm,slot-label", &string(&format!("GPU{}", n / 3))),
            prop("ibm,link-speed", &cells(&[0x6, 0xaea7d0])),
            Item::End,
        ]);
    }
    items.extend([Item::End, Item::End]);
    // NPU PHB with 8 ATSD registers, and the six NVLink bridges.
    let atsd: Vec<u8> = (0..8u64)
        .flat_map(|n| (0x0006_0302_0080_0000 + n * 0x10000).to_be_bytes())
        .collect();
    items.extend([
        begin("pciex@6030200000000"),
        prop("phandle", &cells(&[0x1a0])),
        prop("compatible", b"ibm,power9-npu-pciex\0ibm,ioda2-npu2-phb\0"),
        prop("reg", &cells(&[0x60302, 0, 0, 0x100_0000])),
        prop("ibm,chip-id", &cells(&[0])),
        prop("ibm,mmio-atsd", &atsd),
        prop("#address-cells", &cells(&[3])),
        prop("#size-cells", &cells(&[2])),
    ]);
    for n in 0..6u32 {
        let (dev, func) = (n / 3, n % 3);
        let name = if func == 0 {
            format!("unknown-bridge@{dev:x}")
        } else {
            format!("unknown-bridge@{dev:x},{func:x}")
        };
        let gpu = 0x1c5 + dev * 2;
        items.extend([
            begin(&name),
            prop("phandle", &cells(&[0x200 + n])),
            prop("reg", &cells(&[((dev << 3) | func) << 8, 0, 0, 0, 0])),
            prop("memory-region", &cells(&[0x210 + dev])),
            prop(
                "ibm,device-tgt-addr",
                &u64c(0x400_0000_0000 + u64::from(dev) * 0x20_0000_0000),
            ),
            prop("ibm,nvlink", &cells(&[0x174 + n])),
            prop("ibm,nvlink-speed", &cells(&[0x8])),
            prop("ibm,loc-code", &string(&format!("GPU{dev}"))),
            prop("ibm,gpu", &cells(&[gpu])),
            Item::End,
        ]);
    }
    items.push(Item::End);
    // The PHB4 with both GPUs below a switch.
    items.extend([
        begin("pciex@600c3c0400000"),
        prop("ibm,chip-id", &cells(&[0])),
        prop("ibm,associativity", &cells(&[4, 0, 0, 1, 0])),
        prop("#address-cells", &cells(&[3])),
        prop("#size-cells", &cells(&[2])),
    ]);
    for dev in 0..2u32 {
        let bridges: Vec<u32> = (0..3).map(|f| 0x200 + dev * 3 + f).collect();
        let peer = 0x1c5 + (1 - dev) * 2;
        let peers: Vec<u32> = bridges.iter().flat_map(|&b| [peer, b]).collect();
        items.extend([
            begin(&format!("3d-controller@{dev}")),
            prop("phandle", &cells(&[0x1c5 + dev * 2])),
            prop("reg", &cells(&[(0x400 + dev * 0x100) << 8, 0, 0, 0, 0])),
            prop("ibm,loc-code", &string(&format!("GPU{dev}"))),
            prop("ibm,npu", &cells(&bridges)),
            prop("ibm,nvlink-peers", &cells(&peers)),
            Item::End,
        ]);
    }
    items.push(Item::End);
    for dev in 0..2u32 {
        let base = 0x400_0000_0000u64 + u64::from(dev) * 0x20_0000_0000;
        let chip = 255 - dev;
        let mut reg = u64c(base);
        reg.extend(u64c(0x20_0000_0000));
        items.extend([
            begin(&format!("memory@{base:x}")),
            prop("phandle", &cells(&[0x210 + dev])),
            prop("device_type", &string("memory")),
            prop("compatible", &string("ibm,coherent-device-memory")),
            prop("reg", &reg),
            prop("ibm,chip-id", &cells(&[chip])),
            prop("ibm,associativity", &cells(&[4, chip, chip, chip, chip])),
            Item::End,
        ]);
    }
    items.push(Item::End);
    Fdt::new(items).build()
}

#[test]
fn gpu_to_bridges_to_memory_links_and_atsd() {
    let blob = ac922_chip0();
    let tree = Tree::from_blob(&blob).unwrap();
    assert_eq!(tree.problems(), &[]);
    let gpu1 = tree.find("/pciex@600c3c0400000/3d-controller@1").unwrap();
    let bridges = gpu1.nvlink_bridges().unwrap();
    let paths: Vec<String> = bridges.iter().map(|b| b.path()).collect();
    assert_eq!(
        paths,
        [
            "/pciex@6030200000000/unknown-bridge@1",
            "/pciex@6030200000000/unknown-bridge@1,1",
            "/pciex@6030200000000/unknown-bridge@1,2"
        ]
    );
    for (i, b) in bridges.iter().enumerate() {
        assert_eq!(b.nvlink_gpu().unwrap(), gpu1);
        assert_eq!(b.nvlink_speed().unwrap(), NvlinkSpeed::Gbps25_78125);
        assert_eq!(b.device_tgt_addr().unwrap(), 0x420_0000_0000);
        assert_eq!(b.loc_code().unwrap(), "GPU1");
        let link = &b.nvlink_links().unwrap()[0];
        let index = link.npu_link_index().unwrap();
        assert_eq!(index, 3 + i as u32);
        assert_eq!(link.npu_group_id().unwrap(), 1);
        assert_eq!(link.slot_label().unwrap(), "GPU1");
        assert_eq!(
            b.nvlink_atsd().unwrap(),
            Some(0x0006_0302_0080_0000 + u64::from(index) * 0x10000)
        );
        let mem = b.gpu_memory().unwrap();
        assert_eq!(mem.path(), "/memory@42000000000");
        assert_eq!(mem.chip_id().unwrap(), 254);
        assert_eq!(mem.associativity().unwrap().domain(4), Some(254));
        assert_eq!(
            b.gpu_memory_range().unwrap(),
            RegEntry {
                address: 0x420_0000_0000,
                size: 0x20_0000_0000
            }
        );
        // A PCI reg: 3 address cells from the PHB, bus/device/function in the top cell.
        let reg = b.reg().unwrap();
        assert_eq!(
            reg[0].address >> 64,
            u128::from(((1u32 << 3) | i as u32) << 8)
        );
    }
    let peers = gpu1.nvlink_peers().unwrap();
    assert_eq!(peers.len(), 6);
    assert_eq!(peers[0].path(), "/pciex@600c3c0400000/3d-controller@0");
    assert_eq!(peers[1], bridges[0]);
    let phb = tree.find("/pciex@6030200000000").unwrap();
    assert_eq!(phb.mmio_atsd().unwrap().len(), 8);
    assert!(phb.is_compatible("ibm,ioda2-npu2-phb"));
    assert_eq!(
        phb.reg().unwrap(),
        [RegEntry {
            address: 0x6_0302_0000_0000,
            size: 0x100_0000
        }]
    );
    let npu = tree.by_phandle(Phandle(0x173)).unwrap();
    assert_eq!(
        npu.reg().unwrap(),
        [RegEntry {
            address: 0x501_1000,
            size: 0x2c
        }]
    );
    assert_eq!(npu.address_cells().unwrap(), 1);
    assert_eq!(npu.size_cells().unwrap(), 0);
    assert_eq!(
        tree.find("/pciex@600c3c0400000")
            .unwrap()
            .associativity()
            .unwrap()
            .domains,
        [0, 0, 1, 0]
    );
}

#[test]
fn missing_wrong_and_dangling_properties_are_typed_errors() {
    let blob = Fdt::new(vec![
        begin(""),
        begin("bridge"),
        prop("ibm,gpu", &cells(&[0x999])),
        prop("ibm,nvlink-speed", &[0, 8]),
        prop("ibm,device-tgt-addr", &cells(&[1])),
        prop("ibm,associativity", &cells(&[5, 1, 2])),
        prop("ibm,loc-code", &[b'G', 0, b'x', 0]),
        prop("ibm,mmio-atsd", &cells(&[1, 2, 3])),
        prop("reg", &cells(&[1, 2, 3, 4, 5])),
        Item::End,
        Item::End,
    ])
    .build();
    let tree = Tree::from_blob(&blob).unwrap();
    let b = tree.find("/bridge").unwrap();
    let e = b.nvlink_gpu().unwrap_err();
    assert_eq!(e.problem, PropProblem::DanglingPhandle(0x999));
    assert_eq!(
        e.to_string(),
        "/bridge: property \"ibm,gpu\": phandle 0x999 does not name any node"
    );
    let e = b.nvlink_speed().unwrap_err();
    assert!(
        matches!(e.problem, PropProblem::Length { found: 2, .. }),
        "{e}"
    );
    assert!(b.device_tgt_addr().is_err());
    assert!(matches!(
        b.associativity().unwrap_err().problem,
        PropProblem::Encoding(_)
    ));
    assert!(b.loc_code().is_err());
    assert!(b.mmio_atsd().is_err());
    // Root defaults: 2 address cells, 1 size cell -> 3 cells per entry; 5 cells do not fit.
    assert!(b.reg().is_err());
    assert!(b.chip_id().unwrap_err().is_missing());
    assert!(b.nvlink_links().unwrap_err().is_missing());
    assert!(b.nvlink_bridges().unwrap_err().is_missing());
    assert!(b.memory_region_missing());
}

trait MissingRegion {
    fn memory_region_missing(&self) -> bool;
}

impl MissingRegion for devtree::Node<'_, '_> {
    fn memory_region_missing(&self) -> bool {
        self.gpu_memory().unwrap_err().is_missing()
    }
}
