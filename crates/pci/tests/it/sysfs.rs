//! Enumeration of synthetic sysfs trees: every attribute, broken ones, vanishing devices.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use fsroot::Root;
use lsnvlink_pci::{
    Attribute, BusAddress, Fields, Note, Parent, Pci, PciAddress, Problem, Tree, Vanished,
};
use lsnvlink_test_support::synth::{self, Dev, Synth};

fn addr(s: &str) -> PciAddress {
    s.parse().unwrap()
}

fn read(dir: &Path) -> Pci {
    Pci::read(&Root::dir(dir).unwrap(), &Fields::all()).unwrap()
}

/// A GPU behind a root port, and an NVLink bridge on its own domain.
fn small(dir: &Path) -> Synth {
    let mut s = Synth::new(dir).unwrap();
    let mut rp = Dev::new(4, 0, 0, 0)
        .ids(0x1014, 0x04c1, 0x060400, 0)
        .bridge(1, 1);
    rp.driver = Some("pcieport".into());
    rp.numa_node = Some(0);
    s.add(&rp, None).unwrap();
    let mut gpu = Dev::new(4, 1, 0, 0).ids(0x10de, 0x1db1, 0x030200, 0xa1);
    gpu.subsystem = (0x10de, 0x1212);
    gpu.driver = Some("nvidia".into());
    gpu.numa_node = Some(0);
    gpu.iommu_group = Some(5);
    gpu.of_node = Some("pciex@600c3c0400000/pci@0/3d-controller@0".into());
    gpu.slot = Some("GPU0".into());
    s.add(&gpu, Some("0004:00:00.0")).unwrap();
    let mut npu = Dev::new(6, 0, 0, 1).ids(0x1014, 0x04ea, 0x068001, 1);
    npu.header_type = 0x80;
    npu.iommu_group = Some(5);
    npu.of_node = Some("pciex@6030200000000/unknown-bridge@0,1".into());
    s.add(&npu, None).unwrap();
    s
}

#[test]
fn reads_every_attribute() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    let pci = read(dir.path());
    assert!(pci.notes.is_empty(), "{:?}", pci.notes);
    let addrs: Vec<String> = pci.devices.iter().map(|d| d.address.to_string()).collect();
    assert_eq!(addrs, ["0004:00:00.0", "0004:01:00.0", "0006:00:00.1"]);

    let rp = &pci.devices[0];
    assert!(rp.errors.is_empty(), "{:?}", rp.errors);
    assert_eq!(rp.parent, Parent::RootBus(BusAddress { domain: 4, bus: 0 }));
    let buses = rp.bridge_buses().unwrap();
    assert_eq!((buses.secondary, buses.subordinate), (1, 1));
    assert_eq!(rp.driver.as_deref(), Some("pcieport"));

    let gpu = &pci.devices[1];
    assert!(gpu.errors.is_empty(), "{:?}", gpu.errors);
    assert_eq!((gpu.vendor_id, gpu.device_id), (Some(0x10de), Some(0x1db1)));
    assert_eq!(
        (gpu.subsystem_vendor_id, gpu.subsystem_device_id),
        (Some(0x10de), Some(0x1212))
    );
    assert_eq!(gpu.class.unwrap().code(), 0x030200);
    assert_eq!(gpu.revision, Some(0xa1));
    assert_eq!(gpu.numa_node, Some(0));
    assert_eq!(gpu.iommu_group, Some(5));
    assert_eq!(gpu.driver.as_deref(), Some("nvidia"));
    assert_eq!(
        gpu.of_node.as_deref(),
        Some("/pciex@600c3c0400000/pci@0/3d-controller@0")
    );
    assert_eq!(
        gpu.devspec.as_deref(),
        Some("/pciex@600c3c0400000/pci@0/3d-controller@0")
    );
    assert_eq!(gpu.parent, Parent::Bridge(addr("0004:00:00.0")));
    assert_eq!(
        gpu.sysfs_path.as_deref(),
        Some("/sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0")
    );
    assert_eq!(gpu.slot.as_deref(), Some("GPU0"));
    // An endpoint's configuration space is not read by default.
    assert_eq!(gpu.config, None);

    let npu = &pci.devices[2];
    assert!(npu.errors.is_empty(), "{:?}", npu.errors);
    assert_eq!(npu.numa_node, None, "-1 means no node");
    assert_eq!(npu.driver, None);
    assert_eq!(npu.class.unwrap().base_sub(), 0x0680);
}

#[test]
fn minimal_fields_read_only_ids() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    let pci = Pci::read(&Root::dir(dir.path()).unwrap(), &Fields::minimal()).unwrap();
    let gpu = &pci.devices[1];
    assert_eq!(gpu.revision, Some(0xa1));
    assert_eq!(
        (gpu.driver.as_ref(), gpu.numa_node, gpu.config),
        (None, None, None)
    );
    assert_eq!(
        gpu.parent,
        Parent::Unknown,
        "the link is not read for a listing"
    );
    assert!(gpu.errors.is_empty());

    // A listing takes the ids from `uevent`; without it, from their own files.
    let gpu_dir = dir
        .path()
        .join("sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0");
    fs::remove_file(gpu_dir.join("vendor")).unwrap();
    let pci = Pci::read(&Root::dir(dir.path()).unwrap(), &Fields::minimal()).unwrap();
    assert_eq!(pci.devices[1].vendor_id, Some(0x10de));
    assert!(pci.devices[1].errors.is_empty());
    fs::remove_file(gpu_dir.join("uevent")).unwrap();
    let pci = Pci::read(&Root::dir(dir.path()).unwrap(), &Fields::minimal()).unwrap();
    assert_eq!(pci.devices[1].vendor_id, None);
    assert_eq!(pci.devices[1].device_id, Some(0x1db1));
    assert_eq!(pci.devices[1].errors[0].to_string(), "vendor: missing");

    // What a tree needs: parents, classes, bridge headers; no ids.
    let mut fields = Fields::minimal();
    fields.ids = false;
    fields.parent = true;
    fields.config = lsnvlink_pci::ConfigRead::Bridges;
    let pci = Pci::read(&Root::dir(dir.path()).unwrap(), &fields).unwrap();
    let (rp, gpu) = (&pci.devices[0], &pci.devices[1]);
    assert_eq!((gpu.vendor_id, gpu.revision), (None, None));
    assert_eq!(gpu.parent, Parent::Bridge(addr("0004:00:00.0")));
    assert_eq!(rp.bridge_buses().unwrap().secondary, 1);
    assert!(rp.errors.is_empty() && gpu.errors.is_empty());
}

#[test]
fn dangling_driver_link_still_names_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    // A capture without /sys/bus/pci/drivers (hwloc's captures lack it).
    fs::remove_dir_all(dir.path().join("sys/bus/pci/drivers")).unwrap();
    let pci = read(dir.path());
    assert_eq!(pci.devices[1].driver.as_deref(), Some("nvidia"));
    assert!(pci.devices[1].errors.is_empty());
}

#[test]
fn missing_vendor_file_is_an_error_on_that_device_only() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    fs::remove_file(
        dir.path()
            .join("sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0/vendor"),
    )
    .unwrap();
    let pci = read(dir.path());
    assert_eq!(pci.devices.len(), 3);
    let gpu = &pci.devices[1];
    assert_eq!(gpu.vendor_id, None);
    assert_eq!(gpu.errors.len(), 1, "{:?}", gpu.errors);
    assert_eq!(gpu.errors[0].attribute, Attribute::Vendor);
    assert_eq!(gpu.errors[0].problem, Problem::Missing);
    assert_eq!(gpu.device_id, Some(0x1db1), "the rest is still read");
    assert!(pci.devices[0].errors.is_empty() && pci.devices[2].errors.is_empty());
}

#[test]
fn malformed_numbers_are_reported_per_attribute() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    let gpu = dir
        .path()
        .join("sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0");
    fs::write(gpu.join("vendor"), "0xzz\n").unwrap();
    fs::write(gpu.join("device"), "").unwrap();
    fs::write(gpu.join("class"), "0x1000000\n").unwrap();
    fs::write(gpu.join("numa_node"), "99999999999\n").unwrap();
    fs::write(gpu.join("subsystem_vendor"), "0x10000\n").unwrap();
    fs::write(gpu.join("revision"), "0x100\n").unwrap();
    let pci = read(dir.path());
    let gpu = &pci.devices[1];
    let got: Vec<String> = gpu.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "vendor: \"0xzz\" is not a hex number like 0x10de",
            "device: empty",
            "class: \"0x1000000\" is larger than 0xffffff",
            "revision: \"0x100\" is larger than 0xff",
            "subsystem_vendor: \"0x10000\" is larger than 0xffff",
            "numa_node: \"99999999999\" is larger than 0x7fffffff",
        ]
    );
    assert_eq!(
        (gpu.vendor_id, gpu.device_id, gpu.class, gpu.numa_node),
        (None, None, None, None)
    );
    assert_eq!(gpu.subsystem_device_id, Some(0x1212));
    assert_eq!(gpu.driver.as_deref(), Some("nvidia"));
}

#[test]
fn a_32_bit_domain() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Synth::new(dir.path()).unwrap();
    let vmd = Dev::new(0x10000, 0xe1, 0, 0).ids(0x8086, 0x0a54, 0x010802, 0);
    s.add(&vmd, None).unwrap();
    let pci = read(dir.path());
    let d = &pci.devices[0];
    assert_eq!(d.address.domain(), 0x10000);
    assert_eq!(d.address.to_string(), "10000:e1:00.0");
    assert_eq!(
        d.parent,
        Parent::RootBus(BusAddress {
            domain: 0x10000,
            bus: 0xe1
        })
    );
}

#[test]
fn a_device_that_vanishes_between_listing_and_reading() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    let root = Root::dir(dir.path()).unwrap();
    let mut notes = Vec::new();
    let listed = lsnvlink_pci::list(&root, &mut notes).unwrap();
    assert_eq!(listed.len(), 3);
    // Hot unplug: the kernel removes the directory and the bus link.
    fs::remove_dir_all(dir.path().join("sys/devices/pci0006:00")).unwrap();
    fs::remove_file(dir.path().join("sys/bus/pci/devices/0006:00:00.1")).unwrap();
    assert_eq!(
        lsnvlink_pci::read_device(&root, listed[2], &Fields::all()),
        Err(Vanished)
    );
    // The link still there but the directory gone (the kernel removes them one after the
    // other): also vanished, not a device full of errors.
    fs::remove_dir_all(
        dir.path()
            .join("sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0"),
    )
    .unwrap();
    assert_eq!(
        lsnvlink_pci::read_device(&root, listed[1], &Fields::all()),
        Err(Vanished)
    );
    let pci = Pci::read(&root, &Fields::all()).unwrap();
    assert_eq!(pci.devices.len(), 1);
    assert_eq!(pci.notes, [Note::Vanished(addr("0004:01:00.0"))]);
}

#[test]
fn odd_bus_entries() {
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    let bus = dir.path().join("sys/bus/pci/devices");
    fs::write(bus.join("README"), "").unwrap();
    // A copy made without -P: the device is a directory, not a link.
    let copied = bus.join("0007:00:00.0");
    fs::create_dir(&copied).unwrap();
    for (f, v) in [
        ("vendor", "0x1014"),
        ("device", "0x04ea"),
        ("class", "0x068001"),
        ("revision", "0x01"),
    ] {
        fs::write(copied.join(f), v).unwrap();
    }
    // A link pointing at another device's directory.
    symlink(
        "../../../devices/pci0006:00/0006:00:00.1",
        bus.join("0008:00:00.0"),
    )
    .unwrap();
    let pci = read(dir.path());
    assert_eq!(pci.devices.len(), 5);
    assert!(matches!(&pci.notes[..], [Note::NotAnAddress { name, .. }] if name == "README"));
    let copied = pci.get(addr("0007:00:00.0")).unwrap();
    assert_eq!(copied.vendor_id, Some(0x1014));
    assert_eq!(copied.parent, Parent::Unknown);
    assert_eq!(
        copied.error(Attribute::Link).unwrap().to_string(),
        "link: link \"\" is a directory, not a link: parent unknown"
    );
    let wrong = pci.get(addr("0008:00:00.0")).unwrap();
    assert!(matches!(
        wrong.error(Attribute::Link).unwrap().problem,
        Problem::BadLink { .. }
    ));
    // Every device appears once in the tree, whatever its parent.
    let tree = Tree::build(&pci.devices);
    let mut seen = 0;
    let mut stack: Vec<usize> = tree
        .roots()
        .iter()
        .flat_map(|r| r.devices.clone())
        .collect();
    while let Some(i) = stack.pop() {
        seen += 1;
        stack.extend(tree.children(i));
    }
    assert_eq!(seen, pci.devices.len());
}

#[test]
fn generated_trees_have_the_expected_shape() {
    let dir = tempfile::tempdir().unwrap();
    let written = synth::generate(dir.path(), 200).unwrap();
    assert_eq!(written.len(), 200);
    let pci = read(dir.path());
    assert_eq!(pci.devices.len(), 200);
    for d in &pci.devices {
        assert!(d.errors.is_empty(), "{}: {:?}", d.address, d.errors);
    }
    let tree = Tree::build(&pci.devices);
    // Domain 0: root port → switch upstream → 8 downstream ports → endpoints.
    let first = &tree.roots()[0];
    assert_eq!(first.bus, BusAddress { domain: 0, bus: 0 });
    assert_eq!(first.devices, [0]);
    let upstream = tree.children(0);
    assert_eq!(upstream.len(), 1);
    let downstream = tree.children(upstream[0]);
    assert_eq!(downstream.len(), 8);
    assert!(downstream.iter().all(|&p| !tree.children(p).is_empty()));
    assert!(tree.roots().iter().any(|r| r.bus.domain > 0xffff));
}

#[test]
fn parent_cycles_in_a_crafted_tree_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let bus = dir.path().join("sys/bus/pci/devices");
    fs::create_dir_all(&bus).unwrap();
    let a = "sys/devices/pci0000:00/0000:00:01.0/0000:00:00.0";
    let b = "sys/devices/pci0000:00/0000:00:00.0/0000:00:01.0";
    for p in [a, b] {
        fs::create_dir_all(dir.path().join(p)).unwrap();
    }
    symlink(format!("../../../{}", &a[4..]), bus.join("0000:00:00.0")).unwrap();
    symlink(format!("../../../{}", &b[4..]), bus.join("0000:00:01.0")).unwrap();
    let pci = read(dir.path());
    assert_eq!(pci.devices.len(), 2);
    let tree = Tree::build(&pci.devices);
    assert_eq!(tree.roots().len(), 1);
    assert_eq!(tree.roots()[0].devices, [0]);
    assert_eq!(tree.children(0), [1]);
    assert!(tree.children(1).is_empty());
}

#[test]
fn walking_finds_the_same_parents_as_the_links() {
    let dir = tempfile::tempdir().unwrap();
    synth::generate(dir.path(), 120).unwrap();
    // A root bus below a platform device, as Hyper-V and some ARM hosts have: the walk of
    // /sys/devices/pci* does not reach it, its bus link still does.
    let mut s = Synth::new(dir.path()).unwrap();
    let odd = Dev::new(0x20, 0, 0, 0).ids(0x1af4, 0x1000, 0x020000, 0);
    let made = s.add(&odd, None).unwrap();
    let deep = dir.path().join("sys/devices/platform/vmbus/pci0020:00");
    fs::create_dir_all(deep.parent().unwrap()).unwrap();
    fs::rename(made.parent().unwrap(), &deep).unwrap();
    let link = dir.path().join("sys/bus/pci/devices/0020:00:00.0");
    fs::remove_file(&link).unwrap();
    symlink(
        "../../../devices/platform/vmbus/pci0020:00/0020:00:00.0",
        &link,
    )
    .unwrap();

    // Its bus is not in /sys/class/pci_bus either: found through its link there too.
    fs::remove_file(dir.path().join("sys/class/pci_bus/0020:00")).unwrap();

    let root = Root::dir(dir.path()).unwrap();
    let mut fields = Fields::all();
    let by_links = Pci::read(&root, &fields).unwrap();
    fields.walk = true;
    let by_buses = Pci::read(&root, &fields).unwrap();
    assert_eq!(by_links.devices.len(), 121);
    assert_eq!(by_links.devices, by_buses.devices);
    // Without /sys/class/pci_bus (as in most captures): the walk of /sys/devices.
    fs::remove_dir_all(dir.path().join("sys/class/pci_bus")).unwrap();
    let by_walk = Pci::read(&root, &fields).unwrap();
    assert_eq!(by_links.devices, by_walk.devices);
    // What a tree reads: no ids, no class; parents and bridge bus numbers all the same.
    let mut tree_fields = Fields::minimal();
    (
        tree_fields.ids,
        tree_fields.class,
        tree_fields.parent,
        tree_fields.walk,
    ) = (false, false, true, true);
    tree_fields.config = lsnvlink_pci::ConfigRead::Bridges;
    let shape = |pci: &Pci| -> Vec<_> {
        pci.devices
            .iter()
            .map(|d| (d.address, d.parent, d.bridge_buses()))
            .collect()
    };
    let tree_walk = Pci::read(&root, &tree_fields).unwrap();
    assert_eq!(shape(&tree_walk), shape(&by_links));
    let again = tempfile::tempdir().unwrap();
    synth::generate(again.path(), 120).unwrap();
    let again_root = Root::dir(again.path()).unwrap();
    let tree_buses = Pci::read(&again_root, &tree_fields).unwrap();
    let links_again = Pci::read(&again_root, &Fields::all()).unwrap();
    assert_eq!(shape(&tree_buses), shape(&links_again));
    // From /sys/class/pci_bus, bridges are known without their class: none was read.
    assert!(tree_buses.devices.iter().all(|d| d.class.is_none()));
    let odd = by_walk.get(addr("0020:00:00.0")).unwrap();
    assert_eq!(
        odd.parent,
        Parent::RootBus(BusAddress {
            domain: 0x20,
            bus: 0
        })
    );
    assert_eq!(
        odd.sysfs_path.as_deref(),
        Some("/sys/devices/platform/vmbus/pci0020:00/0020:00:00.0")
    );
}
