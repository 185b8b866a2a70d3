//! The comparisons `cargo xtask powernv` makes on the build host, as functions of text and
//! JSON (no QEMU needed, so each is unit-tested here, including that a mismatch fails). Each
//! returns `Err(why)` in words on a mismatch.

use std::collections::{BTreeMap, BTreeSet};

use prom_text_format_parser::{Scrape, Type};
use serde_json::Value;

use super::guest::Function;

/// `ours` and `theirs` are the same text; on a difference, the first differing line of each.
pub fn same_text(what: &str, ours: &str, theirs: &str) -> Result<(), String> {
    if ours == theirs {
        return Ok(());
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            return Err(format!(
                "{what}: line {} differs:\n    ours:   {}\n    theirs: {}",
                i + 1,
                x.map_or("(no line)", |s| s),
                y.map_or("(no line)", |s| s),
            ));
        }
    }
    Err(format!(
        "{what}: differs in line endings or the final newline ({} vs {} bytes)",
        ours.len(),
        theirs.len()
    ))
}

/// lspci's `-vmmnnDk` records as lsnvlink writes them: without the `Module:` lines (lsnvlink
/// does not read modules.alias) and with `DTNode:` paths relative to `root` (lspci prints the
/// realpath, which starts with the directory the capture was extracted into).
pub fn lspci_vmm_as_ours(theirs: &str, root: &str) -> String {
    theirs
        .lines()
        .filter(|l| !l.starts_with("Module:"))
        .map(|l| l.replace(&format!("DTNode:\t{root}"), "DTNode:\t") + "\n")
        .collect()
}

/// The functions of a `-vmmnnDk` listing: (`Slot`, `vvvv:dddd`, `Driver`).
fn vmm_functions(vmm: &str) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for record in vmm.split("\n\n") {
        let tag = |name: &str| {
            record
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
                .map(str::to_owned)
        };
        // `Vendor:\tName [8086]` -> `8086`.
        let id = |name: &str| {
            tag(name).and_then(|v| {
                let open = v.rfind('[')?;
                v.get(open + 1..v.len().checked_sub(1)?).map(str::to_owned)
            })
        };
        if let Some(slot) = tag("Slot") {
            let vendor = id("Vendor").unwrap_or_default();
            let device = id("Device").unwrap_or_default();
            out.push((slot, format!("{vendor}:{device}"), tag("Driver")));
        }
    }
    out
}

/// The guest shows exactly `expected` (address, ids and bound driver of each function) in its
/// `lsnvlink pci --format vmm` output, and `count` functions in all.
pub fn devices(vmm: &str, expected: &[Function], count: usize) -> Result<(), String> {
    let found = vmm_functions(vmm);
    if found.len() != count {
        return Err(format!(
            "expected {count} PCI functions, the guest shows {}: {}",
            found.len(),
            found
                .iter()
                .map(|(a, _, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    for f in expected {
        let Some((_, id, driver)) = found.iter().find(|(a, _, _)| a == f.address) else {
            return Err(format!("{} ({}) is missing", f.address, f.id));
        };
        if id != f.id {
            return Err(format!("{} is {id}, expected {}", f.address, f.id));
        }
        if driver.as_deref() != f.driver {
            return Err(format!(
                "{}: driver {driver:?}, expected {:?}",
                f.address, f.driver
            ));
        }
    }
    Ok(())
}

/// The memlock JSON's isolation is the host's: every assigned device's `iommu_group` is the
/// group `groups` (address → group, from the capture) gives it; devices share a guest PHB
/// exactly when they share a host IOMMU group; each group of assigned devices has one
/// `isolation` PHB (the guest XML declares only the default PHB, which takes none), so `phbs`
/// (the count libvirt uses) is one more than the number of groups.
pub fn isolation(memlock: &Value, groups: &BTreeMap<String, u32>) -> Result<(), String> {
    let hostdevs = memlock["hostdevs"]
        .as_array()
        .ok_or("memlock JSON has no hostdevs")?;
    if hostdevs.is_empty() {
        return Err("memlock JSON lists no assigned device".into());
    }
    let mut wanted_groups = BTreeSet::new();
    for h in hostdevs {
        let addr = h["address"].as_str().ok_or("a hostdev has no address")?;
        let host = groups.get(addr).copied();
        let theirs = h["iommu_group"]
            .as_u64()
            .and_then(|g| u32::try_from(g).ok());
        if theirs != host {
            return Err(format!(
                "{addr}: memlock says IOMMU group {theirs:?}, the capture {host:?}"
            ));
        }
        if let Some(g) = host {
            wanted_groups.insert(g);
        }
    }
    let phbs = memlock["phb_list"]
        .as_array()
        .ok_or("memlock JSON has no phb_list")?;
    let mut seen_groups = BTreeSet::new();
    let mut isolation_phbs = 0;
    for p in phbs {
        let devs: Vec<&str> = p["hostdevs"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if p["origin"] == "isolation" {
            isolation_phbs += 1;
        }
        let on_phb: BTreeSet<Option<u32>> = devs.iter().map(|a| groups.get(*a).copied()).collect();
        if on_phb.len() > 1 {
            return Err(format!(
                "PHB {} holds devices of different IOMMU groups: {devs:?}",
                p["index"]
            ));
        }
        if let Some(Some(g)) = on_phb.into_iter().next()
            && !seen_groups.insert(g)
        {
            return Err(format!("IOMMU group {g} is spread over more than one PHB"));
        }
    }
    if isolation_phbs != wanted_groups.len() {
        return Err(format!(
            "{isolation_phbs} isolation PHBs for {} IOMMU groups {wanted_groups:?}",
            wanted_groups.len()
        ));
    }
    let counted = memlock["phbs"].as_u64();
    if counted != u64::try_from(wanted_groups.len() + 1).ok() {
        return Err(format!(
            "phbs is {counted:?}, expected the default PHB and one per IOMMU group: {}",
            wanted_groups.len() + 1
        ));
    }
    Ok(())
}

/// The IOMMU groups of a capture's `/sys/kernel/iommu_groups/*/devices/*`: address → group.
pub fn iommu_groups(root: &fsroot::Root) -> Result<BTreeMap<String, u32>, String> {
    let mut out = BTreeMap::new();
    let base = "/sys/kernel/iommu_groups";
    for group in root.read_dir(base).map_err(|e| format!("{base}: {e}"))? {
        let Ok(n) = group.parse::<u32>() else {
            continue;
        };
        let dir = format!("{base}/{group}/devices");
        for addr in root.read_dir(&dir).map_err(|e| format!("{dir}: {e}"))? {
            out.insert(addr, n);
        }
    }
    Ok(out)
}

/// `text` is valid Prometheus exposition text (strictly: every metric a gauge with HELP, named
/// `lsnvlink_…`, no sample line skipped by the parser) and `lsnvlink_host_info` names
/// `kernel`.
pub fn prom(text: &str, kernel: &str) -> Result<(), String> {
    if !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    let scrape = Scrape::parse(text).map_err(|e| format!("not exposition text: {e:?}"))?;
    let mut names = BTreeSet::new();
    let mut samples = 0;
    for m in &scrape.metrics {
        if !names.insert(m.name.as_str()) {
            return Err(format!("{} comes twice", m.name));
        }
        if m.kind != Type::Gauge || m.help_desc.is_none() || !m.name.starts_with("lsnvlink_") {
            return Err(format!("{}: not a documented lsnvlink gauge", m.name));
        }
        samples += m.samples.len();
    }
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    if samples != lines {
        return Err(format!("{lines} sample lines, the parser read {samples}"));
    }
    let info = scrape
        .metrics
        .iter()
        .find(|m| m.name == "lsnvlink_host_info")
        .ok_or("no lsnvlink_host_info")?;
    let names_kernel = info.samples.iter().any(|s| {
        s.labels
            .iter()
            .any(|l| l.key == "kernel" && l.value == kernel)
    });
    if !names_kernel {
        return Err(format!(
            "lsnvlink_host_info does not name kernel {kernel:?}"
        ));
    }
    Ok(())
}

/// The JSON `value` without its top-level `key` (where a live run and a replay differ by
/// nature, e.g. the source description).
pub fn without(mut value: Value, key: &str) -> Value {
    if let Some(map) = value.as_object_mut() {
        map.remove(key);
    }
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::powernv::guest::FUNCTIONS;
    use serde_json::json;

    #[test]
    fn same_text_names_the_first_differing_line() {
        assert!(same_text("x", "a\nb\n", "a\nb\n").is_ok());
        let e = same_text("pci", "a\nb\n", "a\nc\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("b") && e.contains("c"),
            "{e}"
        );
        let e = same_text("pci", "a\n", "a\nb\n").unwrap_err();
        assert!(e.contains("(no line)"), "{e}");
        assert!(same_text("pci", "a\n", "a").is_err());
    }

    #[test]
    fn lspci_vmm_loses_modules_and_the_root() {
        let theirs = "Slot:\t0001:01:00.0\nDriver:\te1000e\nModule:\te1000e\nDTNode:\t/tmp/x/sys/firmware/devicetree/base/pciex@1\n\n";
        assert_eq!(
            lspci_vmm_as_ours(theirs, "/tmp/x"),
            "Slot:\t0001:01:00.0\nDriver:\te1000e\nDTNode:\t/sys/firmware/devicetree/base/pciex@1\n\n"
        );
    }

    fn vmm_of(functions: &[Function]) -> String {
        functions
            .iter()
            .map(|f| {
                let (v, d) = f.id.split_once(':').unwrap();
                let mut r = format!(
                    "Slot:\t{}\nClass:\tThing [0200]\nVendor:\tV [{v}]\nDevice:\tD [{d}]\n",
                    f.address
                );
                if let Some(drv) = f.driver {
                    r.push_str(&format!("Driver:\t{drv}\n"));
                }
                r + "\n"
            })
            .collect()
    }

    #[test]
    fn devices_pass_on_the_guest_and_fail_on_a_wrong_expectation() {
        let vmm = vmm_of(FUNCTIONS);
        assert_eq!(devices(&vmm, FUNCTIONS, FUNCTIONS.len()), Ok(()));
        // A wrong count (what `--expect-devices` injects).
        let e = devices(&vmm, FUNCTIONS, FUNCTIONS.len() + 1).unwrap_err();
        assert!(e.contains("expected 13 PCI functions"), "{e}");
        // A function missing, a driver not bound, a wrong id.
        let e = devices(&vmm_of(&FUNCTIONS[1..]), FUNCTIONS, FUNCTIONS.len() - 1).unwrap_err();
        assert!(e.contains("0000:00:00.0"), "{e}");
        let mut unbound = FUNCTIONS.to_vec();
        unbound[2].driver = None;
        assert!(devices(&vmm_of(&unbound), FUNCTIONS, FUNCTIONS.len()).is_err());
        let mut other = FUNCTIONS.to_vec();
        other[2].id = "8086:100e";
        assert!(devices(&vmm_of(&other), FUNCTIONS, FUNCTIONS.len()).is_err());
    }

    fn memlock(groups: &[(&str, u64)], phbs: &[(&str, &[&str])]) -> Value {
        json!({
            "phbs": phbs.len(),
            "hostdevs": groups.iter().map(|(a, g)| json!({"address": a, "iommu_group": g})).collect::<Vec<_>>(),
            "phb_list": phbs.iter().enumerate().map(|(i, (o, d))| json!({"index": i, "origin": o, "hostdevs": d})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn isolation_follows_the_host_groups() {
        let host: BTreeMap<String, u32> = [("0001:01:00.0", 0), ("0003:01:00.0", 2)]
            .iter()
            .map(|(a, g)| ((*a).to_owned(), *g))
            .collect();
        let good = memlock(
            &[("0001:01:00.0", 0), ("0003:01:00.0", 2)],
            &[
                ("default", &[]),
                ("isolation", &["0001:01:00.0"]),
                ("isolation", &["0003:01:00.0"]),
            ],
        );
        assert_eq!(isolation(&good, &host), Ok(()));
        // A PHB count that is not the default one plus one per group.
        let mut miscounted = good.clone();
        miscounted["phbs"] = json!(4);
        assert!(isolation(&miscounted, &host).is_err());
        // A group that is not the host's.
        let wrong_group = memlock(
            &[("0001:01:00.0", 1), ("0003:01:00.0", 2)],
            &[
                ("default", &[]),
                ("isolation", &["0001:01:00.0"]),
                ("isolation", &["0003:01:00.0"]),
            ],
        );
        assert!(isolation(&wrong_group, &host).is_err());
        // Two groups on one PHB.
        let shared = memlock(
            &[("0001:01:00.0", 0), ("0003:01:00.0", 2)],
            &[
                ("default", &[]),
                ("isolation", &["0001:01:00.0", "0003:01:00.0"]),
            ],
        );
        assert!(isolation(&shared, &host).is_err());
        // One PHB too few.
        let few = memlock(
            &[("0001:01:00.0", 0), ("0003:01:00.0", 2)],
            &[
                ("isolation", &["0001:01:00.0"]),
                ("default", &["0003:01:00.0"]),
            ],
        );
        assert!(isolation(&few, &host).is_err());
        assert!(isolation(&json!({}), &host).is_err());
    }

    #[test]
    fn prom_text_is_parsed_strictly() {
        let good = "# HELP lsnvlink_host_info The host.\n# TYPE lsnvlink_host_info gauge\n\
                    lsnvlink_host_info{kernel=\"6.1.0\"} 1\n";
        assert_eq!(prom(good, "6.1.0"), Ok(()));
        assert!(prom(good, "5.15.0").is_err());
        assert!(prom(good.trim_end(), "6.1.0").is_err());
        assert!(prom("lsnvlink_host_info{kernel=\"6.1.0\" 1\n", "6.1.0").is_err());
        let untyped = "lsnvlink_host_info{kernel=\"6.1.0\"} 1\n";
        assert!(prom(untyped, "6.1.0").is_err());
    }

    #[test]
    fn without_drops_one_key() {
        assert_eq!(without(json!({"a": 1, "b": 2}), "a"), json!({"b": 2}));
    }
}
