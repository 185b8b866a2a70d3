//! `--sanitize`: drop the host name and serial numbers from a capture.

use super::Tree;

/// Device-tree properties that hold serial numbers or chip identities (op920-dts: `system-id`
/// on the root, `serial-number`, `ibm,vpd`, `ibm,module-vpd`, `ecid`, `wafer-id` on FRU and
/// chip nodes), dropped by [`sanitize`].
pub const SERIAL_PROPERTIES: &[&str] = &[
    "system-id",
    "serial-number",
    "ibm,vpd",
    "ibm,module-vpd",
    "ecid",
    "wafer-id",
];

const DT_BASE: &str = "sys/firmware/devicetree/base/";

/// PCI Express extended capability id of the Device Serial Number (PCIe base spec 7.9.3).
const DSN_CAP_ID: u16 = 0x0003;

/// Drops the host name and serial numbers from `tree`:
///
/// - `proc/sys/kernel/hostname`;
/// - device-tree properties named in [`SERIAL_PROPERTIES`];
/// - every other occurrence of those serials (4 characters or more) in device-tree
///   properties and `/proc/cpuinfo`, overwritten with `X` (location codes embed the system
///   serial: `UOPWR.7887E6A-Node0`);
/// - the Device Serial Number capability in each PCI `config` (zeroed, see
///   [`scrub_config_serial`]).
pub fn sanitize(tree: &mut Tree) {
    tree.remove("proc/sys/kernel/hostname");
    let mut serials: Vec<Vec<u8>> = Vec::new();
    let doomed: Vec<String> = tree
        .iter()
        .filter(|(path, _)| path.starts_with(DT_BASE))
        .filter(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or_default();
            SERIAL_PROPERTIES.contains(&name)
        })
        .map(|(path, entry)| {
            if let super::Entry::File(data) = entry {
                let name = path.rsplit('/').next().unwrap_or_default();
                if name == "system-id" || name == "serial-number" {
                    for s in data.split(|b| *b == 0) {
                        if s.len() >= 4 {
                            serials.push(s.to_vec());
                        }
                    }
                }
            }
            path.to_owned()
        })
        .collect();
    for path in doomed {
        tree.remove(&path);
    }
    for (path, data) in tree.files_mut() {
        if path.starts_with(DT_BASE) || path == "proc/cpuinfo" {
            for serial in &serials {
                mask(data, serial);
            }
        } else if path.starts_with("sys/devices/") && path.ends_with("/config") {
            scrub_config_serial(data);
        }
    }
}

/// Overwrites every occurrence of `needle` in `data` with `X`.
fn mask(data: &mut [u8], needle: &[u8]) {
    if needle.is_empty() || needle.len() > data.len() {
        return;
    }
    let mut i = 0;
    while i + needle.len() <= data.len() {
        if data.get(i..i + needle.len()) == Some(needle) {
            if let Some(hit) = data.get_mut(i..i + needle.len()) {
                hit.fill(b'X');
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

/// Zeroes the serial number of a PCI Express Device Serial Number capability in a copy of a
/// device's config space; returns whether one was found. Walks the extended capability list
/// from offset 0x100 (the PCI Express base specification, 7.6.3): any length, loops and
/// pointers out of range end the walk.
pub fn scrub_config_serial(config: &mut [u8]) -> bool {
    let mut offset = 0x100usize;
    let mut found = false;
    // At most (4096 - 256) / 4 capabilities fit; more means a loop.
    for _ in 0..960 {
        let Some(bytes) = config
            .get(offset..offset + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
        else {
            break;
        };
        let header = u32::from_le_bytes(bytes);
        if header == 0 || header == u32::MAX {
            break;
        }
        if (header & 0xffff) as u16 == DSN_CAP_ID
            && let Some(serial) = config.get_mut(offset + 4..offset + 12)
        {
            serial.fill(0);
            found = true;
        }
        let next = (header >> 20) as usize & !3;
        if next < 0x100 {
            break;
        }
        offset = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config_with_dsn() -> Vec<u8> {
        let mut c = vec![0u8; 4096];
        // AER at 0x100 -> DSN at 0x140 -> end.
        c[0x100..0x104].copy_from_slice(&(0x0001u32 | 1 << 16 | 0x140 << 20).to_le_bytes());
        c[0x140..0x144].copy_from_slice(&(0x0003u32 | 1 << 16).to_le_bytes());
        c[0x144..0x14c].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        c
    }

    #[test]
    fn dsn_is_zeroed_and_nothing_else_changes() {
        let mut c = config_with_dsn();
        let before = c.clone();
        assert!(scrub_config_serial(&mut c));
        assert_eq!(c[0x144..0x14c], [0; 8]);
        assert_eq!(c[..0x144], before[..0x144]);
        assert_eq!(c[0x14c..], before[0x14c..]);
        let mut short = vec![0u8; 64];
        assert!(!scrub_config_serial(&mut short));
    }

    #[test]
    fn a_capability_loop_ends() {
        let mut c = vec![0u8; 4096];
        c[0x100..0x104].copy_from_slice(&(0x0001u32 | 0x100 << 20).to_le_bytes());
        assert!(!scrub_config_serial(&mut c));
    }

    #[test]
    fn serials_are_dropped_and_masked() {
        let mut tree = Tree::new();
        let base = "sys/firmware/devicetree/base";
        tree.insert_file(&format!("{base}/system-id"), b"7887E6A\0".to_vec())
            .unwrap();
        tree.insert_file(
            &format!("{base}/ibm,io-base-loc-code"),
            b"UOPWR.7887E6A-Node0\0".to_vec(),
        )
        .unwrap();
        tree.insert_file(
            &format!("{base}/xscom@0/serial-number"),
            b"YA1934740459\0".to_vec(),
        )
        .unwrap();
        tree.insert_file("proc/sys/kernel/hostname", b"ltc-wspoon15\n".to_vec())
            .unwrap();
        tree.insert_file(
            "sys/devices/pci0000:00/0000:00:00.0/config",
            config_with_dsn(),
        )
        .unwrap();
        sanitize(&mut tree);
        assert_eq!(tree.get(&format!("{base}/system-id")), None);
        assert_eq!(tree.get(&format!("{base}/xscom@0/serial-number")), None);
        assert_eq!(tree.get("proc/sys/kernel/hostname"), None);
        assert_eq!(
            tree.get(&format!("{base}/ibm,io-base-loc-code")),
            Some(&super::super::Entry::File(
                b"UOPWR.XXXXXXX-Node0\0".to_vec()
            ))
        );
        let Some(super::super::Entry::File(config)) =
            tree.get("sys/devices/pci0000:00/0000:00:00.0/config")
        else {
            panic!("config missing");
        };
        assert_eq!(config[0x144..0x14c], [0; 8]);
    }

    proptest! {
        #[test]
        fn scrubbing_never_panics_and_keeps_the_length(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let mut copy = data.clone();
            scrub_config_serial(&mut copy);
            prop_assert_eq!(copy.len(), data.len());
            // Only bytes at or past 0x104 may change, and only to zero.
            for (i, (a, b)) in data.iter().zip(&copy).enumerate() {
                if a != b {
                    prop_assert!(i >= 0x104 && *b == 0);
                }
            }
        }
    }
}
