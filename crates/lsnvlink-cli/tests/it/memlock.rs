//! `lsnvlink memlock` end to end: every worked example of the libvirt memlock reference (§6)
//! to the byte, the overrides, each passthrough trigger, PHB counting (explicit and isolation
//! PHBs from the host's IOMMU groups), the `--libvirt` switch, the NVLink2 branch against the
//! bundled captures, bad input, and snapshots of text and JSON.

use serde_json::Value;

use crate::common;

fn capture(name: &str) -> String {
    common::capture(name).display().to_string()
}

const AC922: &str = "ac922-4gpu-16gb-nvidia";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let o = common::lsnvlink_command()
        .arg("memlock")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: o.status.code(),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

/// Runs with `--format json` and checks exit `code`.
fn json(args: &[&str], code: i32) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let r = run(&all);
    assert_eq!(r.code, Some(code), "{args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// `--capture AC922 ARGS… --format json`, exit 0.
fn on_ac922(args: &[&str]) -> Value {
    let cap = capture(AC922);
    let mut all = vec!["--capture", cap.as_str()];
    all.extend(args);
    json(&all, 0)
}

/// A domain XML in a temp file.
fn domain_file(xml: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, xml.as_bytes()).unwrap();
    f
}

/// A pSeries KVM domain with `memory` and `extra` devices.
fn pseries(memory: &str, extra: &str) -> String {
    format!(
        "<domain type='kvm'><name>g</name>{memory}\
         <os><type arch='ppc64le' machine='pseries-4.2'>hvm</type></os>\
         <devices><controller type='pci' index='0' model='pci-root'/>{extra}</devices></domain>"
    )
}

/// A VFIO hostdev at host `addr`, placed by the user on guest bus `bus`.
fn hostdev_on_bus(addr: &str, bus: u32) -> String {
    let (dom, rest) = addr.split_once(':').unwrap();
    let (b, rest) = rest.split_once(':').unwrap();
    let (slot, func) = rest.split_once('.').unwrap();
    format!(
        "<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>\
         <source><address domain='0x{dom}' bus='0x{b}' slot='0x{slot}' function='0x{func}'/></source>\
         <address type='pci' domain='0x0000' bus='{bus:#x}' slot='0x05' function='0x0'/></hostdev>"
    )
}

fn on_ac922_domain(xml: &str, extra: &[&str], code: i32) -> Value {
    let f = domain_file(xml);
    let cap = capture(AC922);
    let path = f.path().display().to_string();
    let mut args = vec!["--capture", cap.as_str(), "--domain", path.as_str()];
    args.extend(extra);
    json(&args, code)
}

fn limit(v: &Value) -> u64 {
    v["limit_bytes"].as_u64().unwrap()
}

const GIB64: &str = "<memory unit='GiB'>64</memory>";
const GIB1: &str = "<memory unit='KiB'>1048576</memory>";

// ---- §6 (i): memory = maxMemory = 64 GiB, 1 PHB ----

#[test]
fn example_i_nvlink2_one_phb() {
    // The bridge sits on the default PHB by the user's choice: one PHB in all.
    let v = on_ac922_domain(&pseries(GIB64, &hostdev_on_bus("0006:00:00.0", 0)), &[], 0);
    assert_eq!(v["branch"], "nvlink2");
    assert_eq!(v["phbs"], 1);
    assert_eq!(v["terms_kib"]["base"], 536_576);
    assert_eq!(v["terms_kib"]["passthrough"], 335_552_512);
    assert_eq!(v["terms_kib"]["total"], 336_089_088);
    assert_eq!(limit(&v), 344_155_226_112);
    assert_eq!(v["limit_gib"], "320.52");
    assert_eq!(v["nv2_bridges"], serde_json::json!(["0006:00:00.0"]));
}

#[test]
fn example_i_plain_vfio_one_phb() {
    let v = on_ac922_domain(&pseries(GIB64, &hostdev_on_bus("0004:04:00.0", 0)), &[], 0);
    assert_eq!(v["branch"], "vfio");
    assert_eq!(v["phbs"], 1);
    assert_eq!(v["terms_kib"]["passthrough"], 67_248_128);
    assert_eq!(v["terms_kib"]["total"], 67_784_704);
    assert_eq!(limit(&v), 69_411_536_896);
    assert_eq!(v["limit_gib"], "64.64");
}

#[test]
fn example_i_no_vfio() {
    let v = json(&["--memory", "64GiB"], 0);
    assert_eq!(v["branch"], "base");
    assert_eq!(v["terms_kib"]["total"], 536_576);
    assert_eq!(limit(&v), 549_453_824);
}

// ---- §6 (ii): memory 256 GiB, maxMemory 512 GiB, 2 PHBs ----

#[test]
fn example_ii_nvlink2_two_phbs() {
    // One bridge, no guest address: libvirt adds its isolation PHB, 2 in all.
    let v = on_ac922(&[
        "--memory",
        "256GiB",
        "--max-memory",
        "512GiB",
        "--hostdev",
        "0006:00:00.0",
    ]);
    assert_eq!(v["branch"], "nvlink2");
    assert_eq!(v["phbs"], 2);
    assert_eq!(v["terms_kib"]["base"], 4_210_688);
    assert_eq!(v["terms_kib"]["passthrough"], 1_073_750_016);
    assert_eq!(v["terms_kib"]["total"], 1_077_960_704);
    assert_eq!(limit(&v), 1_103_831_760_896);
    assert_eq!(v["limit_gib"], "1028.02");
}

#[test]
fn example_ii_plain_vfio_uses_memory_not_max_memory() {
    let v = on_ac922(&[
        "--memory",
        "256GiB",
        "--max-memory",
        "512GiB",
        "--hostdev",
        "0004:04:00.0",
    ]);
    assert_eq!(v["branch"], "vfio");
    assert_eq!(v["phbs"], 2);
    assert_eq!(v["terms_kib"]["passthrough_guest_ram"], 268_435_456);
    assert_eq!(v["terms_kib"]["hash_table"], 4_194_304);
    assert_eq!(v["terms_kib"]["passthrough"], 269_492_224);
    assert_eq!(v["terms_kib"]["total"], 273_702_912);
    assert_eq!(limit(&v), 280_271_781_888);
    assert_eq!(v["limit_gib"], "261.02");
}

// ---- §6 (iii): 1 GiB ----

#[test]
fn example_iii_one_gib() {
    let v = json(&["--memory", "1GiB"], 0);
    assert_eq!(v["branch"], "base");
    assert_eq!(v["terms_kib"]["base"], 20_480);
    assert_eq!(limit(&v), 20_971_520);
    // The same guest from a domain XML with the default unit (KiB).
    let f = domain_file(&pseries(GIB1, ""));
    let v = json(&["--domain", f.path().to_str().unwrap()], 0);
    assert_eq!(limit(&v), 20_971_520);
}

#[test]
fn example_iii_branches_for_reference() {
    let nv = on_ac922_domain(&pseries(GIB1, &hostdev_on_bus("0006:00:00.1", 0)), &[], 0);
    assert_eq!(nv["branch"], "nvlink2");
    assert_eq!(nv["terms_kib"]["total"], 269_512_704);
    assert_eq!(limit(&nv), 275_981_008_896);
    let vfio = on_ac922_domain(&pseries(GIB1, &hostdev_on_bus("0004:05:00.0", 0)), &[], 0);
    assert_eq!(vfio["branch"], "vfio");
    assert_eq!(vfio["terms_kib"]["passthrough"], 2_097_152);
    assert_eq!(limit(&vfio), 2_168_455_168);
}

// ---- overrides ----

#[test]
fn hard_limit_wins_and_exit_1_when_below_the_formula() {
    let v = json(
        &["--memory", "64GiB", "--hard-limit", "512MiB", "--locked"],
        1,
    );
    assert_eq!(v["branch"], "hard_limit");
    assert_eq!(limit(&v), 512 << 20);
    assert_eq!(v["unlimited"], false);
    assert_eq!(v["formula_bytes"], 549_453_824);
    assert_eq!(v["hard_limit_covers"], false);
    assert_eq!(v["terms_kib"]["hard_limit"], 524_288);

    let v = json(&["--memory", "64GiB", "--hard-limit", "549453824"], 0);
    assert_eq!(v["hard_limit_covers"], true);
    let text = run(&["--memory", "64GiB", "--hard-limit", "100M"]);
    assert_eq!(text.code, Some(1));
    assert!(
        text.stdout
            .contains("is BELOW the formula's 549453824 bytes")
    );
}

#[test]
fn hard_limit_in_domain_xml() {
    let xml = pseries(
        &format!("{GIB64}<memtune><hard_limit unit='GiB'>100</hard_limit></memtune>"),
        &hostdev_on_bus("0006:00:00.0", 0),
    );
    let v = on_ac922_domain(&xml, &[], 1);
    assert_eq!(limit(&v), 100 << 30);
    assert_eq!(v["formula_bytes"], 344_155_226_112u64);
    // libvirt's own "unlimited" value means not set.
    let xml = pseries(
        &format!("{GIB64}<memtune><hard_limit>9007199254740991</hard_limit></memtune>"),
        "",
    );
    let v = on_ac922_domain(&xml, &[], 0);
    assert_eq!(v["branch"], "base");
}

#[test]
fn locked_means_unlimited_since_3_2_0() {
    let v = json(&["--memory", "64GiB", "--locked"], 0);
    assert_eq!(v["branch"], "locked");
    assert_eq!(v["limit_bytes"], Value::Null);
    assert_eq!(v["unlimited"], true);
    let v = json(&["--memory", "64GiB", "--locked", "--libvirt", "3.1.0"], 0);
    assert_eq!(v["branch"], "locked");
    assert_eq!(limit(&v), (65u64 << 30));
    let xml = pseries(GIB64, "").replace("<os>", "<memoryBacking><locked/></memoryBacking><os>");
    let f = domain_file(&xml);
    let v = json(&["--domain", f.path().to_str().unwrap()], 0);
    assert_eq!(v["unlimited"], true);
}

// ---- paths and triggers ----

#[test]
fn tcg_pseries_takes_the_generic_path() {
    let v = on_ac922(&[
        "--memory",
        "4GiB",
        "--domain-type",
        "qemu",
        "--hostdev",
        "0006:00:00.0",
    ]);
    assert_eq!(v["branch"], "generic");
    assert_eq!(v["path"], "generic");
    assert_eq!(v["nv2_bridges"], serde_json::json!([]));
    assert_eq!(limit(&v), 5u64 << 30);
    let v = json(&["--memory", "4GiB", "--domain-type", "qemu"], 0);
    assert_eq!(limit(&v), 0);
    // Before 2.1.0 the ppc64 formula applied to TCG guests too.
    let v = json(
        &[
            "--memory",
            "4GiB",
            "--domain-type",
            "qemu",
            "--libvirt",
            "2.0.0",
        ],
        0,
    );
    assert_eq!(v["branch"], "base");
    let xml = pseries(GIB64, "").replace("type='kvm'", "type='qemu'");
    let f = domain_file(&xml);
    let v = json(&["--domain", f.path().to_str().unwrap()], 0);
    assert_eq!(v["branch"], "generic");
}

#[test]
fn nvme_disk_triggers_vfio_from_6_0_0() {
    let v = json(&["--memory", "1GiB", "--nvme-disk"], 0);
    assert_eq!(v["branch"], "vfio");
    assert_eq!(v["phbs"], 1);
    assert_eq!(limit(&v), 2_168_455_168);
    let v = json(
        &["--memory", "1GiB", "--nvme-disk", "--libvirt", "5.10.0"],
        0,
    );
    assert_eq!(v["branch"], "base");
    let xml = pseries(
        GIB1,
        "<disk type='nvme' device='disk'><source type='pci' managed='yes' namespace='1'>\
         <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>\
         <target dev='vda' bus='virtio'/></disk>",
    );
    let f = domain_file(&xml);
    let v = json(&["--domain", f.path().to_str().unwrap()], 0);
    assert_eq!(v["branch"], "vfio");
}

#[test]
fn mdev_and_vdpa_trigger_vfio_from_7_2_0() {
    for flag in ["--mdev", "--vdpa-net"] {
        let v = json(&["--memory", "1GiB", flag], 0);
        assert_eq!(v["branch"], "vfio", "{flag}");
        let v = json(&["--memory", "1GiB", flag, "--libvirt", "7.1.0"], 0);
        assert_eq!(v["branch"], "base", "{flag}");
    }
    let xml = pseries(
        GIB1,
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>\
         <address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>\
         <interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>",
    );
    let f = domain_file(&xml);
    let v = json(&["--domain", f.path().to_str().unwrap()], 0);
    assert_eq!(v["branch"], "vfio");
    assert_eq!(v["guest"]["mdevs"], 1);
    assert_eq!(v["guest"]["vdpa_nets"], 1);
}

#[test]
fn generic_path_factor_from_8_7_0() {
    let x86 = |extra: &str| {
        format!(
            "<domain type='kvm'><memory unit='GiB'>4</memory>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>{extra}</devices></domain>"
        )
    };
    let two = format!(
        "{}{}<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>",
        hostdev_on_bus("0004:04:00.0", 1),
        hostdev_on_bus("0004:05:00.0", 2)
    );
    let v = on_ac922_domain(&x86(&two), &[], 0);
    assert_eq!(v["branch"], "generic");
    assert_eq!(v["generic_factor"], 2); // vDPA 1 + hostdevs without vIOMMU 1
    assert_eq!(limit(&v), 9u64 << 30);
    let v = on_ac922_domain(&x86(&format!("{two}<iommu model='intel'/>")), &[], 0);
    assert_eq!(v["generic_factor"], 3);
    assert_eq!(limit(&v), 13u64 << 30);
    let v = on_ac922_domain(&x86(&two), &["--libvirt", "8.6.0"], 0);
    assert_eq!(v["generic_factor"], 1);
    assert_eq!(limit(&v), 5u64 << 30);
    let v = on_ac922_domain(&x86(""), &[], 0);
    assert_eq!(limit(&v), 0);
    assert_eq!(v["phbs"], 0);
}

// ---- PHBs ----

#[test]
fn explicit_extra_phbs() {
    let v = json(&["--memory", "1GiB", "--phbs", "3"], 0);
    assert_eq!(v["phbs"], 3);
    assert_eq!(v["terms_kib"]["phb_windows"], 12_288);
    assert_eq!(limit(&v), 28_672 << 10);
    // An empty declared PHB takes the isolation group before libvirt adds one.
    let v = on_ac922(&[
        "--memory",
        "1GiB",
        "--phbs",
        "3",
        "--hostdev",
        "0004:04:00.0",
    ]);
    assert_eq!(v["phbs"], 3);
    let xml = pseries(
        GIB1,
        "<controller type='pci' index='1' model='pci-root'>\
         <model name='spapr-pci-host-bridge'/><target index='1'/></controller>\
         <controller type='pci' index='2' model='pci-root'/>",
    );
    let f = domain_file(&xml);
    let v = json(&["--domain", f.path().to_str().unwrap()], 0);
    assert_eq!(v["phbs"], 3);
    assert_eq!(v["terms_kib"]["base"], 8192 + 3 * 4096 + 8192);
}

#[test]
fn isolation_phbs_from_host_iommu_groups() {
    // Socket 0 (IOMMU group 5) and socket 1 (group 10): two isolation PHBs.
    let v = on_ac922(&[
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0004:05:00.0",
        "--hostdev",
        "0035:03:00.0",
    ]);
    assert_eq!(v["phbs"], 3);
    let groups: Vec<u64> = v["hostdevs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["iommu_group"].as_u64().unwrap())
        .collect();
    assert_eq!(groups, [5, 5, 10]);
    let buses: Vec<u64> = v["hostdevs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["guest_bus"].as_u64().unwrap())
        .collect();
    assert_eq!(buses, [1, 1, 2]);
    assert_eq!(v["phb_list"][2]["origin"], "isolation");
    // A device absent from the host: a warning, and no isolation PHB.
    let v = on_ac922(&[
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0009:01:00.0",
    ]);
    // Its group cannot be read: libvirt does not isolate it (no PHB of its own).
    assert_eq!(v["phbs"], 2);
    assert!(v["warnings"].as_array().unwrap().iter().any(|w| {
        w.as_str()
            .unwrap()
            .starts_with("0009:01:00.0 is not a PCI device")
    }));
    // Before 3.6.0: one PHB, whatever the devices.
    let v = on_ac922(&[
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0035:03:00.0",
        "--libvirt",
        "3.5.0",
    ]);
    assert_eq!(v["phbs"], 1);
}

// ---- the NVLink2 branch on the captures ----

#[test]
fn nvlink2_branch_end_to_end_on_captures() {
    let v = on_ac922(&[
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0006:00:00.0",
        "--hostdev",
        "0006:00:00.1",
        "--hostdev",
        "0006:00:00.2",
    ]);
    assert_eq!(v["branch"], "nvlink2");
    assert_eq!(
        v["nv2_bridges"],
        serde_json::json!(["0006:00:00.0", "0006:00:00.1", "0006:00:00.2"])
    );
    assert_eq!(v["phbs"], 2);
    // base 524288 + 8192 + 8192; NVLink2 67108864 + 2 * 268435456 + 8192.
    assert_eq!(limit(&v), (540_672 + 603_987_968) << 10);
    // The 6-GPU Summit capture (vfio-pci bound, older firmware) passes libvirt's test too.
    let cap = capture("ac922-6gpu-32gb-vfio");
    let v = json(
        &[
            "--capture",
            &cap,
            "--memory",
            "64GiB",
            "--hostdev",
            "0035:03:00.0",
            "--hostdev",
            "0007:00:00.0",
        ],
        0,
    );
    assert_eq!(v["branch"], "nvlink2");
    assert_eq!(v["nv2_bridges"], serde_json::json!(["0007:00:00.0"]));
}

#[test]
fn gpu_without_its_bridges_falls_into_the_vfio_branch() {
    let v = on_ac922(&["--memory", "64GiB", "--hostdev", "0004:04:00.0"]);
    assert_eq!(v["branch"], "vfio");
    assert_eq!(v["nv2_bridges"], serde_json::json!([]));
    assert_eq!(v["hostdevs"][0]["nv2_bridge"], false);
    assert!(v["warnings"].as_array().unwrap().iter().any(|w| {
        w.as_str()
            .unwrap()
            .contains("assigned without its NVLink bridges")
    }));
    // Without memory nodes the bridges still pass libvirt's file-existence test.
    let cap = capture("ac922-4gpu-no-gpu-memory");
    let v = json(
        &[
            "--capture",
            &cap,
            "--memory",
            "64GiB",
            "--hostdev",
            "0006:00:01.0",
        ],
        0,
    );
    assert_eq!(v["branch"], "nvlink2");
    // A host without NVLink2: the same address is no bridge.
    let cap = capture("power9-no-gpu");
    let v = json(
        &[
            "--capture",
            &cap,
            "--memory",
            "64GiB",
            "--hostdev",
            "0000:01:00.0",
        ],
        0,
    );
    assert_eq!(v["branch"], "vfio");
}

#[test]
fn guest_layout_per_vphb() {
    let v = on_ac922(&[
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0004:05:00.0",
        "--hostdev",
        "0006:00:00.0",
        "--hostdev",
        "0006:00:01.0",
        "--hostdev",
        "0035:03:00.0",
        "--hostdev",
        "0007:00:00.0",
    ]);
    let layout = v["layout"].as_array().unwrap();
    assert_eq!(layout.len(), 2);
    assert_eq!(layout[0]["vphb"], 1);
    assert_eq!(layout[0]["gpus"][0]["gpa"], "0x420000000000");
    assert_eq!(layout[0]["gpus"][1]["gpa"], "0x422000000000");
    assert_eq!(
        layout[0]["gpus"][1]["links"],
        serde_json::json!(["0006:00:01.0"])
    );
    assert_eq!(layout[0]["atsd"][1]["gpa"], "0x800000130000");
    assert_eq!(layout[1]["gpus"][0]["gpa"], "0x440000000000");
    assert_eq!(layout[1]["gpus"][0]["numa_node"], 3);
    assert_eq!(layout[1]["atsd"][0]["gpa"], "0x800000240000");
}

// ---- the host kernel and firmware (reference §7) ----

fn on(cap: &str, args: &[&str]) -> Value {
    let path = capture(cap);
    let mut all = vec!["--capture", path.as_str()];
    all.extend(args);
    json(&all, 0)
}

fn warns(v: &Value, needle: &str) -> bool {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains(needle))
}

#[test]
fn per_gpu_iommu_groups_give_a_phb_per_gpu() {
    // Linux 4.14: one IOMMU group per GPU PE (the GPU and its own two bridges), so two GPUs
    // of one socket need two isolation PHBs where a 5.x host needs one.
    let args = [
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0006:00:00.0",
        "--hostdev",
        "0004:05:00.0",
        "--hostdev",
        "0006:00:01.0",
    ];
    let old = on("ac922-6gpu-16gb-kernel-4.14", &args);
    let groups: Vec<u64> = old["hostdevs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["iommu_group"].as_u64().unwrap())
        .collect();
    assert_eq!(groups, [5, 5, 11, 11]);
    assert_eq!(old["phbs"], 3);
    // And that kernel has no vfio NVLink2: said, with the devices named.
    assert!(warns(&old, "older than 5.0"), "{old}");
    assert!(warns(&old, "0004:04:00.0, 0006:00:00.0"), "{old}");
    // The same devices on a 5.x host: one group per NPU, one isolation PHB.
    let new = on(AC922, &args);
    assert_eq!(new["phbs"], 2);
    assert!(!warns(&new, "older than 5.0"));
    assert!(!warns(&new, "does not expose NVLink2"));
}

#[test]
fn a_5_13_kernel_cannot_pass_nvlink2_through() {
    let v = on(
        "ac922-4gpu-kernel-5.14",
        &["--memory", "64GiB", "--hostdev", "0004:04:00.0"],
    );
    assert!(warns(&v, "does not expose NVLink2"), "{v}");
    // No bridge function on the bus: libvirt sees no NV2 bridge, so no NVLink2 branch.
    assert_eq!(v["nv2_bridges"], serde_json::json!([]));
    assert_eq!(v["branch"], "vfio");
}

#[test]
fn one_atsd_firmware_on_5_10_gets_the_fallback_windows() {
    let args = [
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0006:00:00.0",
        "--hostdev",
        "0006:00:00.1",
        "--hostdev",
        "0006:00:00.2",
    ];
    // 5.10 falls back to ibm,mmio-atsd[0]: three windows, two of them on register 0.
    let v = on("ac922-4gpu-5.10-one-atsd", &args);
    let atsd = v["layout"][0]["atsd"].as_array().unwrap();
    assert_eq!(atsd.len(), 3, "{v}");
    assert_eq!(atsd[0]["fallback"], false);
    assert_eq!(atsd[1]["fallback"], true);
    assert_eq!(atsd[1]["host_register"], atsd[0]["host_register"]);
    assert!(!warns(&v, "no ATSD register"));
    // 5.4 with the same one-register firmware: no fallback, one window.
    let v = on(
        "ac922-6gpu-32gb-vfio",
        &[
            "--memory",
            "64GiB",
            "--hostdev",
            "0004:04:00.0",
            "--hostdev",
            "0006:00:00.0",
            "--hostdev",
            "0006:00:00.1",
        ],
    );
    assert_eq!(v["layout"][0]["atsd"].as_array().unwrap().len(), 1, "{v}");
    assert!(warns(&v, "no fallback to register 0"), "{v}");
}

// ---- bad input ----

#[test]
fn bad_sizes_are_usage_errors() {
    for (size, says) in [
        ("64GB", "ambiguous"),
        ("64 parsecs", "unknown unit"),
        ("-1G", "cannot be negative"),
        ("99999999T", "too large"),
        ("1.5G", "not a whole number"),
        ("", "empty"),
    ] {
        let r = run(&["--memory", size]);
        assert_eq!(r.code, Some(2), "{size}");
        assert!(r.stderr.contains(says), "{size}: {}", r.stderr);
    }
    let r = run(&["--memory", "0"]);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("no memory"));
    let r = run(&["--memory", "1G", "--libvirt", "1.2.0"]);
    assert_eq!(r.code, Some(2));
    let r = run(&["--memory", "1G", "--phbs", "0"]);
    assert_eq!(r.code, Some(2));
    let r = run(&[]);
    assert_eq!(r.code, Some(2));
}

#[test]
fn bad_domain_xml_is_a_clear_error() {
    for (xml, says) in [
        ("<domain type='kvm'><memory>1", "malformed domain XML"),
        ("<network/>", "not a libvirt domain XML"),
        ("\u{feff}<<<", "malformed domain XML"),
        (
            "<domain type='kvm'><os><type arch='ppc64le'/></os><memory unit='furlong'>1</memory></domain>",
            "unknown unit",
        ),
        (
            "<domain type='kvm'><os><type arch='ppc64le'/></os><memory>-5</memory></domain>",
            "negative",
        ),
        (
            "<domain type='kvm'><os><type arch='ppc64le'/></os><memory unit='EiB'>16</memory></domain>",
            "too large",
        ),
        (
            "<domain type='kvm'><os><type arch='ppc64le'/></os><memory unit='b'>18446744073709551615</memory>\
             <devices><disk type='nvme'/></devices></domain>",
            "overflows",
        ),
        ("<domain type='kvm'><memory>1</memory></domain>", "arch"),
    ] {
        let f = domain_file(xml);
        let r = run(&["--domain", f.path().to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "{xml}: {}", r.stdout);
        assert!(r.stderr.contains(says), "{xml}: {}", r.stderr);
    }
    let r = run(&["--domain", "/nonexistent/guest.xml"]);
    assert_eq!(r.code, Some(2));
    let r = run(&["--domain", "/dev/null", "--memory", "1G"]);
    assert_eq!(r.code, Some(2));
}

#[test]
fn non_pseries_guest_takes_the_generic_path() {
    let v = on_ac922(&[
        "--memory",
        "4GiB",
        "--arch",
        "x86_64",
        "--hostdev",
        "0006:00:00.0",
    ]);
    assert_eq!(v["path"], "generic");
    assert_eq!(v["branch"], "generic");
    assert_eq!(v["phbs"], 0);
    assert_eq!(v["nv2_bridges"], serde_json::json!([]));
    assert_eq!(v["layout"], Value::Null);
    assert_eq!(limit(&v), 5u64 << 30);
    // An unreadable --root is a usage error, not a guess.
    let r = run(&["--memory", "4GiB", "--root", "/nonexistent-root-dir"]);
    assert_eq!(r.code, Some(2));
}

// ---- snapshots ----

fn nvlink2_args(cap: &str) -> Vec<&str> {
    vec![
        "--capture",
        cap,
        "--memory",
        "64GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0006:00:00.0",
        "--hostdev",
        "0006:00:00.1",
        "--hostdev",
        "0006:00:00.2",
        "--hostdev",
        "0035:03:00.0",
    ]
}

#[test]
fn snapshot_text_nvlink2() {
    let cap = capture(AC922);
    let r = run(&nvlink2_args(&cap));
    assert_eq!(r.code, Some(0));
    assert_snapshot!("memlock_text_nvlink2", r.stdout);
}

#[test]
fn snapshot_json_nvlink2() {
    let cap = capture(AC922);
    let r = run(&[nvlink2_args(&cap), vec!["--format", "json"]].concat());
    assert_eq!(r.code, Some(0));
    assert_snapshot!("memlock_json_nvlink2", r.stdout);
}

#[test]
fn snapshot_text_hard_limit_below() {
    let cap = capture("ac922-6gpu-32gb-vfio");
    let r = run(&[
        "--capture",
        &cap,
        "--memory",
        "128GiB",
        "--hard-limit",
        "300GiB",
        "--hostdev",
        "0004:04:00.0",
        "--hostdev",
        "0006:00:00.0",
        "--hostdev",
        "0006:00:00.1",
    ]);
    assert_eq!(r.code, Some(1));
    assert_snapshot!("memlock_text_hard_limit_6gpu", r.stdout);
}

#[test]
fn snapshot_json_base() {
    let r = run(&["--memory", "1GiB", "--format", "json"]);
    assert_eq!(r.code, Some(0));
    assert_snapshot!("memlock_json_base", r.stdout);
}

#[test]
fn copied_root_reads_like_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::open(capture(AC922)).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(dir.path())
        .unwrap();
    let root = dir.path().display().to_string();
    let args = [
        "--memory",
        "64GiB",
        "--hostdev",
        "0035:03:00.0",
        "--hostdev",
        "0007:00:00.2",
    ];
    let mut with_root = vec!["--root", root.as_str()];
    with_root.extend(args);
    let from_root = json(&with_root, 0);
    assert_eq!(from_root, on_ac922(&args));
    assert_eq!(from_root["branch"], "nvlink2");
    assert_eq!(from_root["hostdevs"][1]["iommu_group"], 10);
}

// ---- live guests, standard input, the hard_limit to paste (issue 15) ----

#[test]
fn domain_from_standard_input() {
    use std::io::Write;
    let xml = pseries("<memory unit='GiB'>64</memory>", "");
    let mut child = common::lsnvlink_command()
        .args(["memlock", "--domain", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = domain_file(&xml);
    let from_file = json(&["--domain", file.path().to_str().unwrap()], 0);
    assert_eq!(v["limit_bytes"], from_file["limit_bytes"]);
}

#[test]
fn a_hard_limit_to_paste() {
    let v = on_ac922(&["--memory", "64GiB"]);
    let kib = v["formula_bytes"].as_u64().unwrap().div_ceil(1024);
    assert_eq!(
        v["hard_limit_xml"],
        format!("<memtune><hard_limit unit='KiB'>{kib}</hard_limit></memtune>")
    );
    // Pasting it gives a hard_limit that covers the formula exactly.
    // <memtune> sits outside <devices>: put it beside <memory>.
    let xml = pseries(
        &format!(
            "<memory unit='GiB'>64</memory><memtune><hard_limit unit='KiB'>{kib}</hard_limit>\
             </memtune>"
        ),
        "",
    );
    let file = domain_file(&xml);
    let back = json(&["--domain", file.path().to_str().unwrap()], 0);
    assert_eq!(back["hard_limit_covers"], true);
    // <locked/>: no limit, nothing to paste.
    let v = on_ac922(&["--memory", "64GiB", "--locked"]);
    assert_eq!(v["hard_limit_xml"], Value::Null);
    let r = run(&["--memory", "64GiB"]);
    assert!(
        r.stdout.contains("<memtune><hard_limit unit='KiB'>"),
        "{}",
        r.stdout
    );
}

/// A copied AC922 root with two running guests: `short` (pid 100) given GPU0 and its three
/// bridges, whose QEMU has 64 GiB; `enough` (pid 200) with a 64 GiB plain guest and an
/// unlimited QEMU; plus a status file whose QEMU has no limits file.
fn running_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(capture(AC922)).unwrap());
    tar::Archive::new(gz).unpack(dir.path()).unwrap();
    let run_dir = dir.path().join("run/libvirt/qemu");
    std::fs::create_dir_all(&run_dir).unwrap();
    let dev = |d: &str, b: &str, s: &str, f: &str| {
        format!(
            "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='{d}' \
             bus='{b}' slot='{s}' function='{f}'/></source></hostdev>"
        )
    };
    let short = format!(
        "<domstatus state='running' reason='booted' pid='100'><domain type='kvm' id='1'>\
         <name>short</name><memory unit='GiB'>64</memory>\
         <os><type arch='ppc64le' machine='pseries'>hvm</type></os><devices>{}{}{}{}\
         <interface type='network'><source network='gpu-pool'/><actual type='hostdev'>\
         <source><address type='pci' domain='0x0001' bus='0x01' slot='0x00' function='0x0'/>\
         </source></actual></interface></devices></domain></domstatus>",
        dev("0x0004", "0x04", "0x00", "0x0"),
        dev("0x0006", "0x00", "0x00", "0x0"),
        dev("0x0006", "0x00", "0x00", "0x1"),
        dev("0x0006", "0x00", "0x00", "0x2"),
    );
    std::fs::write(run_dir.join("short.xml"), short).unwrap();
    std::fs::write(
        run_dir.join("enough.xml"),
        "<domstatus state='running' pid='200'><domain type='kvm'><name>enough</name>\
         <memory unit='GiB'>64</memory><os><type arch='ppc64le' machine='pseries'>hvm</type>\
         </os></domain></domstatus>",
    )
    .unwrap();
    std::fs::write(
        run_dir.join("gone.xml"),
        "<domstatus state='running' pid='300'><domain type='kvm'><name>gone</name>\
         <memory unit='GiB'>8</memory><os><type arch='ppc64le' machine='pseries'>hvm</type>\
         </os></domain></domstatus>",
    )
    .unwrap();
    for (pid, limit) in [(100, "68719476736"), (200, "unlimited")] {
        let p = dir.path().join(format!("proc/{pid}"));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("limits"),
            format!(
                "Limit                     Soft Limit           Hard Limit           Units     \n\
                 Max locked memory         {limit:<20} {limit:<20} bytes     \n"
            ),
        )
        .unwrap();
    }
    dir
}

#[test]
fn running_guests_against_their_qemu_limits() {
    let root = running_root();
    let r = root.path().to_str().unwrap();
    let o = run(&["--running", "--root", r, "--format", "json"]);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let guests = v["guests"].as_array().unwrap();
    let names: Vec<&str> = guests.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["enough", "gone", "short"]);
    let short = &guests[2];
    assert_eq!(short["pid"], 100);
    assert_eq!(short["branch"], "nvlink2");
    assert_eq!(short["qemu_limit_bytes"], 68_719_476_736u64);
    assert_eq!(short["ok"], false);
    assert!(short["need_bytes"].as_u64().unwrap() > 68_719_476_736);
    assert!(
        short["hard_limit_xml"]
            .as_str()
            .unwrap()
            .starts_with("<memtune>")
    );
    let enough = &guests[0];
    assert_eq!(enough["qemu_limit_unlimited"], true);
    assert_eq!(enough["ok"], true);
    let gone = &guests[1];
    assert_eq!(gone["ok"], Value::Null);
    assert!(
        gone["qemu_limit_error"]
            .as_str()
            .unwrap()
            .contains("/proc/300/limits")
    );
    // The hostdev network's function got an isolation PHB of its own: GPU group, network NIC
    // group, default PHB.
    let text = run(&["--running", "--root", r]);
    assert_eq!(text.code, Some(1));
    assert!(
        text.stdout.contains("short (pid 100): needs"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("BELOW"), "{}", text.stdout);
    assert!(text.stdout.contains("pin it: <memtune>"), "{}", text.stdout);
    // Without running guests: said, exit 0.
    let empty = run(&["--running", "--capture", &capture(AC922)]);
    assert_eq!(empty.code, Some(0));
    assert!(empty.stdout.contains("no running libvirt guest"));
}
