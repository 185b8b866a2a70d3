//! The report (`lsnvlink` without a subcommand): snapshots of text, matrix and JSON for every
//! capture in `testdata/captures`, the matrix an AC922 shows, and the exit-code contract.

use lsnvlink::audit::Code;
use lsnvlink::render::report;

use crate::common::{CAPTURES, capture, lsnvlink, report as read};

#[test]
fn snapshots_of_every_format_for_every_capture() {
    for name in CAPTURES {
        let r = read(name);
        assert_snapshot!(format!("{name}__text"), report::text(&r));
        assert_snapshot!(format!("{name}__matrix"), report::matrix(&r));
        assert_snapshot!(format!("{name}__json"), report::json(&r));
    }
}

/// The matrix row of `label`, split into cells.
fn row<'a>(matrix: &'a str, label: &str) -> Vec<&'a str> {
    matrix
        .lines()
        .skip(1) // the header
        .find(|l| l.split_whitespace().next() == Some(label))
        .unwrap_or_else(|| panic!("no row {label} in\n{matrix}"))
        .split_whitespace()
        .skip(1)
        .collect()
}

#[test]
fn four_gpu_matrix_is_what_a_real_ac922_shows() {
    // nvidia-smi topo -m on a real 4-GPU AC922: GPU0-GPU1 NV3, GPU2-GPU3 NV3, the rest SYS.
    let m = report::matrix(&read("ac922-4gpu-16gb-nvidia"));
    assert_eq!(row(&m, "GPU0")[..4], ["X", "NV3", "SYS", "SYS"]);
    assert_eq!(row(&m, "GPU1")[..4], ["NV3", "X", "SYS", "SYS"]);
    assert_eq!(row(&m, "GPU2")[..4], ["SYS", "SYS", "X", "NV3"]);
    assert_eq!(row(&m, "GPU3")[..4], ["SYS", "SYS", "NV3", "X"]);
    // CPU links, NUMA affinity, GPU memory NUMA node (255 counting down, 0006 before 0007).
    assert_eq!(row(&m, "GPU0")[4..], ["NV3", "0", "255"]);
    assert_eq!(row(&m, "GPU3")[4..], ["NV3", "8", "252"]);
    assert!(m.contains("NV#  = Connection traversing a bonded set of # NVLinks"));
}

#[test]
fn six_gpu_matrix_has_nv2_between_each_pair_on_a_socket() {
    let r = read("ac922-6gpu-32gb-vfio");
    let m = report::matrix(&r);
    for (i, label) in ["GPU0", "GPU1", "GPU2", "GPU3", "GPU4", "GPU5"]
        .iter()
        .enumerate()
    {
        let cells = row(&m, label);
        for (j, cell) in cells[..6].iter().enumerate() {
            let expected = if i == j {
                "X"
            } else if i / 3 == j / 3 {
                "NV2"
            } else {
                "SYS"
            };
            assert_eq!(*cell, expected, "{label} column {j}\n{m}");
        }
        assert_eq!(cells[6], "NV2", "2 links to the CPU");
    }
    // No ibm,nvlink-peers in this firmware: every GPU link is inferred, and says so.
    assert!(
        r.topology
            .gpus
            .iter()
            .all(|g| g.gpu_links.len() == 2 && g.gpu_links.iter().all(|l| l.inferred))
    );
    assert!(m.contains("inferred from the Witherspoon wiring (6-GPU Sequoia)"));
}

#[test]
fn four_gpu_links_come_from_nvlink_peers_not_inferred() {
    let r = read("ac922-4gpu-16gb-nvidia");
    for g in &r.topology.gpus {
        assert_eq!(g.gpu_links.len(), 1, "{}", g.address);
        assert!(!g.gpu_links[0].inferred);
        assert_eq!(g.gpu_links[0].count, 3);
    }
}

#[test]
fn join_follows_the_phandles() {
    let r = read("ac922-4gpu-16gb-nvidia");
    let t = &r.topology;
    assert_eq!(t.gpus.len(), 4);
    assert_eq!(t.bridges.len(), 12);
    let gpu4 = t.gpu("0035:04:00.0".parse().unwrap()).unwrap();
    assert_eq!(gpu4.slot.as_deref(), Some("GPU4"));
    assert_eq!(gpu4.chip_id, Some(8));
    let mem = gpu4.memory.clone().unwrap().unwrap();
    assert_eq!(mem.base, 0x2420_0000_0000);
    assert_eq!(mem.size, 0x20_0000_0000);
    // Coral address compression of the base (skiboot hw/npu2.c npu2_dn_fixup_gmb).
    assert_eq!(mem.tgt_addr, Some(0xc20_0000_0000));
    assert_eq!(mem.numa_node, Some(252));
    assert_eq!(mem.dt_path, "/memory@242000000000");
    let links: Vec<(String, Option<u32>)> = gpu4
        .cpu_links
        .iter()
        .map(|l| (l.bridge.to_string(), l.link_index))
        .collect();
    assert_eq!(
        links,
        [
            ("0007:00:01.0".to_owned(), Some(3)),
            ("0007:00:01.1".to_owned(), Some(4)),
            ("0007:00:01.2".to_owned(), Some(5)),
        ]
    );
    let b = t.bridge("0007:00:01.2".parse().unwrap()).unwrap();
    assert_eq!(b.gpu, Some(gpu4.address));
    assert_eq!(b.atsd, Some(0x0006_2302_0085_0000));
    assert_eq!(b.speed.map(|s| s.code()), Some(8));
    assert!(b.libvirt.is_nv2_bridge());
    assert!(b.vfio.is_empty(), "{:?}", b.vfio);
    let addrs: Vec<_> = t.bridges.iter().map(|b| b.address).collect();
    let mut sorted = addrs.clone();
    sorted.sort();
    assert_eq!(addrs, sorted);
}

#[test]
fn json_keys_are_the_contract() {
    let r = read("ac922-4gpu-16gb-nvidia");
    let v: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["platform"]["model"], "8335-GTH");
    let g = &v["gpus"][0];
    assert_eq!(g["address"], "0004:04:00.0");
    assert_eq!(g["vendor_id"], "10de");
    assert_eq!(g["device_id"], "1db1");
    assert_eq!(g["slot"], "GPU0");
    assert_eq!(g["chip_id"], 0);
    assert_eq!(g["numa_node"], 0);
    assert_eq!(g["driver"], "nvidia");
    assert_eq!(g["iommu_group"], 5);
    assert_eq!(g["memory"]["base"], 4_398_046_511_104_u64);
    assert_eq!(g["memory"]["size"], 137_438_953_472_u64);
    assert_eq!(g["memory"]["numa_node"], 255);
    assert_eq!(g["memory"]["tgt_addr"], 4_398_046_511_104_u64);
    assert_eq!(g["memory"]["dt_path"], "/memory@40000000000");
    assert_eq!(g["cpu_links"][0]["bridge"], "0006:00:00.0");
    assert_eq!(g["cpu_links"][0]["link_index"], 0);
    assert_eq!(g["cpu_links"][0]["speed_code"], 8);
    assert_eq!(g["gpu_links"][0]["peer"], "0004:05:00.0");
    assert_eq!(g["gpu_links"][0]["count"], 3);
    assert_eq!(g["gpu_links"][0]["inferred"], false);
    let b = &v["bridges"][0];
    assert_eq!(b["address"], "0006:00:00.0");
    assert_eq!(b["gpu"], "0004:04:00.0");
    assert_eq!(b["link_index"], 0);
    assert_eq!(b["nv2_bridge"], true);
    assert_eq!(b["driver"], "ibmnpu");
    assert_eq!(b["iommu_group"], 5);
    assert_eq!(v["findings"], serde_json::json!([]));

    let r = read("ac922-4gpu-eeh-removed");
    let v: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["severity"], "error");
    assert_eq!(f["code"], "link-missing");
    assert_eq!(f["subject"], "0035:04:00.0");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("unknown-bridge@1,2")
    );
    // The missing memory node is null, with the reason beside it.
    let r = read("ac922-4gpu-no-gpu-memory");
    let v: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
    assert!(v["gpus"][0]["memory"].is_null());
    assert!(
        v["gpus"][0]["memory_error"]
            .as_str()
            .unwrap()
            .contains("memory-region")
    );
}

#[test]
fn hosts_without_nvlink2_get_one_sentence() {
    for name in ["power9-no-gpu", "x86-v100-pcie"] {
        let r = read(name);
        assert!(!r.topology.has_nvlink2());
        assert!(r.findings.is_empty());
        for out in [report::text(&r), report::matrix(&r)] {
            assert_eq!(out.lines().count(), 1, "{name}: {out}");
            assert!(out.starts_with("No NVLink2 hardware on this host: "));
        }
        let v: serde_json::Value = serde_json::from_str(&report::json(&r)).unwrap();
        assert_eq!(v["platform"]["nvlink2"], false);
    }
    let out = lsnvlink(&["--capture", capture("x86-v100-pcie").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0000:01:00.0 is on plain PCIe"));
}

#[test]
fn exit_codes_follow_the_contract() {
    let path = |n| capture(n).to_str().unwrap().to_owned();
    let code = |args: &[&str]| lsnvlink(args).status.code();
    assert_eq!(
        code(&["--capture", &path("ac922-4gpu-16gb-nvidia")]),
        Some(0)
    );
    // Warnings only (atsd-missing on old firmware): still 0.
    assert_eq!(
        code(&[
            "--capture",
            &path("ac922-6gpu-32gb-vfio"),
            "--format",
            "json"
        ]),
        Some(0)
    );
    assert_eq!(
        code(&["--capture", &path("ac922-4gpu-eeh-removed")]),
        Some(1)
    );
    assert_eq!(
        code(&[
            "--capture",
            &path("ac922-4gpu-no-gpu-memory"),
            "--format",
            "matrix"
        ]),
        Some(1)
    );
    assert_eq!(code(&["--capture", "/nonexistent/capture.tar.gz"]), Some(2));
    assert_eq!(code(&["--format", "yaml"]), Some(2));
    // The report's own options do not mix with a subcommand; --capture, --root and
    // --limits-scale may stand before one (tests/cli.rs).
    assert_eq!(
        code(&[
            "--capture",
            &path("power9-no-gpu"),
            "--format",
            "matrix",
            "pci"
        ]),
        Some(2)
    );
    assert_eq!(code(&["--capture", &path("power9-no-gpu"), "pci"]), Some(0));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&["--root", dir.path().to_str().unwrap()]), Some(2));

    let help = lsnvlink(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("1  the report was written and at least one finding is an error"));
    assert!(help.contains("--format <FORMAT>"));
}

#[test]
fn the_binary_prints_what_the_library_renders() {
    let name = "ac922-4gpu-eeh-removed";
    let r = read(name);
    let out = lsnvlink(&[
        "--capture",
        capture(name).to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), report::json(&r));
    assert!(r.findings.iter().any(|f| f.code == Code::LinkMissing));
}
