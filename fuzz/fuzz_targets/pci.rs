//! Arbitrary bytes through every pci parser: addresses, attribute values, configuration
//! headers, `pci.ids`, and (when the bytes are a capture archive) the whole sysfs walk and tree.
#![no_main]

use fsroot::{Limits, Root};
use libfuzzer_sys::fuzz_target;
use pci::value::{parse_class, parse_hex, parse_i32, parse_id, parse_u8};
use pci::{BusAddress, ConfigHeader, Fields, Names, Pci, PciAddress, PciIds, Tree};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines().take(64) {
        if let Ok(address) = line.parse::<PciAddress>() {
            // Whatever parses prints back to the same address.
            assert_eq!(
                address.to_string().parse::<PciAddress>().ok(),
                Some(address)
            );
        }
        let _ = BusAddress::from_root_dir_name(line);
    }
    let _ = (
        parse_id(data),
        parse_u8(data),
        parse_class(data),
        parse_i32(data),
    );
    if let Ok(v) = parse_hex(data, 0xffff) {
        assert!(v <= 0xffff);
    }
    let _ = ConfigHeader::parse(data);
    let ids = PciIds::parse(&text, |_| true);
    let names = Names::with_ids(ids, None);
    let _ = (
        names.class_nn(0x068001),
        names.vendor_device_nn(0x1014, 0x04ea),
    );

    let mut limits = Limits::default();
    limits.max_total_bytes = 8 << 20;
    limits.max_file_bytes = 1 << 20;
    limits.max_entries = 20_000;
    let Ok(root) = Root::archive_from_bytes("fuzz", data, limits) else {
        return;
    };
    if let Ok(pci) = Pci::read(&root, &Fields::all()) {
        let tree = Tree::build(&pci.devices);
        // Every device hangs in the tree exactly once.
        let mut seen = vec![false; pci.devices.len()];
        let mut stack: Vec<usize> = tree
            .roots()
            .iter()
            .flat_map(|r| r.devices.clone())
            .collect();
        while let Some(i) = stack.pop() {
            assert!(
                !std::mem::replace(&mut seen[i], true),
                "device reached twice"
            );
            stack.extend(tree.children(i));
        }
        assert!(seen.iter().all(|&s| s), "device missing from the tree");
    }
});
