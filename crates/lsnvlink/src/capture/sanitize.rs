//! `--sanitize`: remove or mask everything in a capture that identifies the host or its
//! network (the list is in `docs/sanitize.md` and `lsnvlink capture --help`).

use super::{Entry, Tree};

/// Device-tree properties dropped by [`sanitize`] wherever they are: serial numbers and chip
/// identities (op920-dts: `system-id` on the root, `serial-number`, `ibm,vpd`,
/// `ibm,module-vpd`, `ecid`, `wafer-id` on FRU and chip nodes), MAC addresses
/// (`local-mac-address`, `mac-address`), partition and VM identities (`ibm,partition-uuid`,
/// `vm,uuid`, `ibm,partition-name`, `ibm,lpar-name`) and host names (`hostname`,
/// `ibm,hostname`). Any property whose name holds `uuid`, `serial` or `mac-address` is
/// dropped too.
pub const SERIAL_PROPERTIES: &[&str] = &[
    "system-id",
    "serial-number",
    "ibm,vpd",
    "ibm,module-vpd",
    "ecid",
    "wafer-id",
    "local-mac-address",
    "mac-address",
    "ibm,partition-uuid",
    "vm,uuid",
    "ibm,partition-name",
    "ibm,lpar-name",
    "hostname",
    "ibm,hostname",
];

/// Device-tree nodes dropped whole: `/chosen` holds the kernel command line (`bootargs`: host
/// name, root UUID, IP addresses, NFS paths), the boot console path and the RNG seed.
pub const DROPPED_NODES: &[&str] = &["chosen"];

/// Files dropped: the host name (recorded in the manifest only without `--sanitize`).
pub const DROPPED_FILES: &[&str] = &["proc/sys/kernel/hostname", "proc/sys/kernel/domainname"];

const DT_BASE: &str = "sys/firmware/devicetree/base/";

/// PCI Express extended capability id of the Device Serial Number (PCIe base spec 7.9.3).
const DSN_CAP_ID: u16 = 0x0003;

/// Whether the device-tree property `name` is one [`sanitize`] drops.
fn identifying(name: &str) -> bool {
    SERIAL_PROPERTIES.contains(&name)
        || name.contains("uuid")
        || name.contains("serial")
        || name.contains("mac-address")
}

/// Whether the device-tree property `name` holds location codes.
fn location_code(name: &str) -> bool {
    name.contains("loc-code") || name.contains("location-code")
}

/// Removes or masks what identifies the host or its network in `tree`:
///
/// - `proc/sys/kernel/hostname` and `domainname` ([`DROPPED_FILES`]);
/// - the device tree's `/chosen` ([`DROPPED_NODES`]: `bootargs` with host names, UUIDs, IP
///   addresses and NFS paths);
/// - device-tree properties that are serials, MAC addresses, UUIDs, partition or host names
///   ([`SERIAL_PROPERTIES`], and any name holding `uuid`, `serial`, `mac-address`);
/// - every other occurrence of those serials and of the host name (4 characters or more) in
///   device-tree properties and `/proc/cpuinfo`, overwritten with `X`;
/// - the serial part of location codes (`U78D2.001.WZS0001-P1-C1` becomes
///   `U78D2.XXX.XXXXXXX-P1-C1`: the slot path after the first `-` is kept);
/// - the Device Serial Number capability in each PCI `config` (zeroed, see
///   [`scrub_config_serial`]).
pub fn sanitize(tree: &mut Tree) {
    let mut needles: Vec<Vec<u8>> = Vec::new();
    if let Some(Entry::File(name)) = tree.get("proc/sys/kernel/hostname") {
        let host = String::from_utf8_lossy(name).trim().to_owned();
        // The short name too: `ltc-wspoon15` of `ltc-wspoon15.example.com`.
        for part in [host.as_str(), host.split('.').next().unwrap_or_default()] {
            if part.len() >= 4 {
                needles.push(part.as_bytes().to_vec());
            }
        }
    }
    for file in DROPPED_FILES {
        tree.remove(file);
    }
    let doomed: Vec<String> = tree
        .iter()
        .filter_map(|(path, entry)| {
            let rest = path.strip_prefix(DT_BASE)?;
            if DROPPED_NODES
                .iter()
                .any(|node| rest == *node || rest.starts_with(&format!("{node}/")))
            {
                return Some(path.to_owned());
            }
            let name = path.rsplit('/').next().unwrap_or_default();
            // Properties only: a node named `serial@3f8` (a UART) is not a serial number.
            let Entry::File(data) = entry else {
                return None;
            };
            if !identifying(name) {
                return None;
            }
            if name == "system-id" || name.contains("serial") {
                for s in data.split(|b| *b == 0) {
                    if s.len() >= 4 {
                        needles.push(s.to_vec());
                    }
                }
            }
            Some(path.to_owned())
        })
        .collect();
    for path in doomed {
        tree.remove(&path);
    }
    // Longest first, so that a serial holding another is masked whole.
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for (path, data) in tree.files_mut() {
        if path.starts_with(DT_BASE) || path == "proc/cpuinfo" {
            for needle in &needles {
                mask(data, needle);
            }
            let name = path.rsplit('/').next().unwrap_or_default();
            if path.starts_with(DT_BASE) && location_code(name) {
                mask_location_codes(data);
            }
        } else if path.starts_with("sys/devices/") && path.ends_with("/config") {
            scrub_config_serial(data);
        }
    }
}

/// Masks the serial part of each NUL-separated location code in `data`: in a code that
/// starts with `U`, everything between the first `.` and the first `-` (or the end) becomes
/// `X`, dots kept.
fn mask_location_codes(data: &mut [u8]) {
    for code in data.split_mut(|b| *b == 0) {
        if code.first() != Some(&b'U') {
            continue;
        }
        let end = code.iter().position(|b| *b == b'-').unwrap_or(code.len());
        let Some(start) = code.iter().position(|b| *b == b'.') else {
            continue;
        };
        if let Some(serial) = code.get_mut(start..end) {
            for b in serial.iter_mut().filter(|b| **b != b'.') {
                *b = b'X';
            }
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

    /// Every kind of identifying data `--sanitize` promises to remove, planted in one tree:
    /// none of it is left anywhere after.
    #[test]
    fn every_kind_of_host_identity_is_gone_after_sanitize() {
        let base = "sys/firmware/devicetree/base";
        let planted: &[(&str, &[u8])] = &[
            ("proc/sys/kernel/hostname", b"wsp-node17.lab.example.com\n"),
            ("proc/sys/kernel/domainname", b"lab.example.com\n"),
            (
                "sys/firmware/devicetree/base/chosen/bootargs",
                b"root=UUID=1b2c3d4e-aaaa-bbbb-cccc-0123456789ab ip=10.20.30.40::10.20.30.1 nfsroot=10.20.30.2:/exports/wsp-node17\0",
            ),
            ("sys/firmware/devicetree/base/chosen/linux,stdout-path", b"/ibm,opal/consoles/serial@0\0"),
            ("sys/firmware/devicetree/base/ethernet@1/local-mac-address", &[0x98, 0xbe, 0x94, 0x01, 0x02, 0x03]),
            ("sys/firmware/devicetree/base/ethernet@1/mac-address", &[0x98, 0xbe, 0x94, 0x04, 0x05, 0x06]),
            ("sys/firmware/devicetree/base/ibm,partition-uuid", b"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\0"),
            ("sys/firmware/devicetree/base/vm,uuid", b"11112222-3333-4444-5555-666677778888\0"),
            ("sys/firmware/devicetree/base/ibm,partition-name", b"wsp-node17-lpar\0"),
            ("sys/firmware/devicetree/base/system-id", b"7887E6A\0"),
            ("sys/firmware/devicetree/base/xscom@0/serial-number", b"YA1934740459\0"),
            ("sys/firmware/devicetree/base/vpd/ibm,vpd", b"SN WZS0001 PN 01AB\0"),
            ("sys/firmware/devicetree/base/ibm,io-base-loc-code", b"UOPWR.7887E6A-Node0\0"),
            ("sys/firmware/devicetree/base/gpu/ibm,loc-code", b"U78D2.001.WZS0002-P1-C9\0"),
            ("sys/firmware/devicetree/base/model-name", b"host wsp-node17 in rack\0"),
            ("proc/cpuinfo", b"machine : PowerNV 8335-GTH\nserial : 7887E6A\nhost : wsp-node17\n"),
        ];
        let secrets: &[&[u8]] = &[
            b"wsp-node17",
            b"example.com",
            b"1b2c3d4e",
            b"10.20.30",
            b"/exports",
            &[0x98, 0xbe, 0x94],
            b"0f1e2d3c",
            b"11112222",
            b"7887E6A",
            b"YA1934740459",
            b"WZS0001",
            b"WZS0002",
        ];
        let mut tree = Tree::new();
        for (path, data) in planted {
            tree.insert_file(path, data.to_vec()).unwrap();
        }
        tree.insert_dir(&format!("{base}/serial@3f8")).unwrap();
        sanitize(&mut tree);
        for (path, entry) in tree.iter() {
            for secret in secrets {
                assert!(
                    !path.as_bytes().windows(secret.len()).any(|w| w == *secret),
                    "{path}"
                );
                if let Entry::File(data) = entry {
                    assert!(
                        !data.windows(secret.len()).any(|w| w == *secret),
                        "{path} still holds {:?}: {:?}",
                        String::from_utf8_lossy(secret),
                        String::from_utf8_lossy(data)
                    );
                }
            }
        }
        assert!(tree.get(&format!("{base}/chosen")).is_none());
        // The slot path of a location code, and a UART node, stay.
        assert_eq!(
            tree.get(&format!("{base}/gpu/ibm,loc-code")),
            Some(&Entry::File(b"U78D2.XXX.XXXXXXX-P1-C9\0".to_vec()))
        );
        assert_eq!(tree.get(&format!("{base}/serial@3f8")), Some(&Entry::Dir));
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
