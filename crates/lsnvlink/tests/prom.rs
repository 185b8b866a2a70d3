//! `--format prom`: snapshots for every capture, every output checked by a strict exposition
//! format parser (`prom_text_format_parser`: line grammar, escapes, HELP/TYPE/sample order),
//! label escaping round trips, and `--output` writes atomically.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;

use lsnvlink::render::prom::{MemlockNeed, prom};
use prom_text_format_parser::{Scrape, Type};

use common::{CAPTURES, capture, report as read};

/// Parses `text` strictly and checks what the parser does not: each metric's HELP and TYPE
/// come once, every metric is a gauge, and no sample line was skipped.
fn parse_strict(text: &str) -> Scrape {
    assert!(text.ends_with('\n'), "no final newline");
    assert!(!text.contains('\r'));
    let scrape = Scrape::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut names = BTreeSet::new();
    let mut samples = 0;
    for m in &scrape.metrics {
        assert!(names.insert(m.name.clone()), "{} twice", m.name);
        assert_eq!(m.kind, Type::Gauge, "{}", m.name);
        assert!(m.help_desc.is_some(), "{} has no HELP", m.name);
        assert!(m.name.starts_with("lsnvlink_"));
        samples += m.samples.len();
    }
    let lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert_eq!(samples, lines, "the parser skipped sample lines");
    scrape
}

fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let m = s.metrics.iter().find(|m| m.name == metric)?;
    m.samples
        .iter()
        .find(|sample| {
            labels
                .iter()
                .all(|(k, v)| sample.labels.iter().any(|l| l.key == *k && l.value == *v))
        })
        .map(|sample| sample.value.value.as_f64())
}

#[test]
fn every_capture_gives_valid_exposition_text_and_a_snapshot() {
    for name in CAPTURES {
        let text = prom(&read(name), &[]);
        parse_strict(&text);
        // The version label changes with every release; the snapshot does not.
        let version = format!("version=\"{}\"", lsnvlink::VERSION);
        assert!(text.contains(&version));
        let text = text.replace(&version, "version=\"[VERSION]\"");
        insta::assert_snapshot!(format!("{name}__prom"), text);
    }
}

#[test]
fn the_eeh_removed_host_counts_its_finding_and_missing_links() {
    let s = parse_strict(&prom(&read("ac922-4gpu-eeh-removed"), &[]));
    let gpu = [("gpu", "0035:04:00.0")];
    assert_eq!(value(&s, "lsnvlink_gpu_cpu_links", &gpu), Some(0.0));
    assert_eq!(value(&s, "lsnvlink_gpu_cpu_links_listed", &gpu), Some(3.0));
    let code = [("code", "link-missing"), ("severity", "error")];
    assert_eq!(value(&s, "lsnvlink_findings", &code), Some(1.0));
    let healthy = parse_strict(&prom(&read("ac922-4gpu-16gb-nvidia"), &[]));
    assert_eq!(value(&healthy, "lsnvlink_findings", &code), Some(0.0));
    assert_eq!(value(&healthy, "lsnvlink_nvlink2", &[]), Some(1.0));
}

#[test]
fn gpu_memory_numa_nodes_and_peer_links_are_exported() {
    let s = parse_strict(&prom(&read("ac922-6gpu-32gb-vfio"), &[]));
    let gpu0 = [("gpu", "0004:04:00.0")];
    assert_eq!(
        value(&s, "lsnvlink_gpu_memory_numa_node", &gpu0),
        Some(255.0)
    );
    let peer = [
        ("gpu", "0004:04:00.0"),
        ("peer", "0004:05:00.0"),
        ("inferred", "true"),
    ];
    assert_eq!(value(&s, "lsnvlink_gpu_peer_links", &peer), Some(2.0));
    let none = parse_strict(&prom(&read("x86-v100-pcie"), &[]));
    assert_eq!(value(&none, "lsnvlink_nvlink2", &[]), Some(0.0));
}

#[test]
fn hostile_label_values_are_escaped_and_parse_back() {
    let mut r = read("ac922-4gpu-16gb-nvidia");
    r.topology.platform.hostname = Some("we\"ird\\host\nname, a=b}".to_owned());
    let text = prom(&r, &[]);
    let s = parse_strict(&text);
    // The parser keeps escapes as written; unescaping them gives the original back.
    let m = s
        .metrics
        .iter()
        .find(|m| m.name == "lsnvlink_host_info")
        .unwrap();
    let host = m.samples[0]
        .labels
        .iter()
        .find(|l| l.key == "hostname")
        .unwrap();
    assert_eq!(host.value, r#"we\"ird\\host\nname, a=b}"#);
}

#[test]
fn memlock_needs_are_one_sample_per_guest_sorted() {
    let needs = [
        MemlockNeed {
            guest: "zeta".to_owned(),
            bytes: 2,
            hard_limit_bytes: Some(1),
        },
        MemlockNeed {
            guest: "alpha".to_owned(),
            bytes: 1 << 40,
            hard_limit_bytes: None,
        },
    ];
    let text = prom(&read("ac922-4gpu-16gb-nvidia"), &needs);
    let s = parse_strict(&text);
    let alpha = [("guest", "alpha")];
    assert_eq!(
        value(&s, "lsnvlink_memlock_need_bytes", &alpha),
        Some((1u64 << 40) as f64)
    );
    assert!(text.find("guest=\"alpha\"").unwrap() < text.find("guest=\"zeta\"").unwrap());
    let zeta = [("guest", "zeta")];
    assert_eq!(
        value(&s, "lsnvlink_memlock_hard_limit_bytes", &zeta),
        Some(1.0)
    );
    assert_eq!(value(&s, "lsnvlink_memlock_hard_limit_bytes", &alpha), None);
    assert!(!prom(&read("ac922-4gpu-16gb-nvidia"), &[]).contains("memlock"));
}

#[test]
fn output_file_is_written_whole_and_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lsnvlink.prom");
    std::fs::write(&out, "old\n").unwrap();
    let status = common::lsnvlink_command()
        .arg("--capture")
        .arg(capture("ac922-4gpu-eeh-removed"))
        .args(["--format", "prom", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    // The report's exit code is kept: the link-down host has an error finding.
    assert_eq!(status.status.code(), Some(1));
    assert!(status.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, prom(&read("ac922-4gpu-eeh-removed"), &[]));
    // Only the output is left in the directory: the temporary file was renamed.
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn output_into_a_missing_directory_fails_with_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nope/lsnvlink.prom");
    let o = common::lsnvlink_command()
        .arg("--capture")
        .arg(capture("ac922-4gpu-16gb-nvidia"))
        .args(["--format", "prom", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("temporary file"));
}

/// A pSeries guest of 64 GiB given the NVLink bridge 0006:00:00.0 (the memlock reference's
/// worked example (i)), with an optional `<memtune><hard_limit>`.
fn nv2_guest_xml(name: &str, hard_limit_kib: Option<u64>) -> String {
    let memtune = hard_limit_kib
        .map(|k| format!("<memtune><hard_limit unit='KiB'>{k}</hard_limit></memtune>"))
        .unwrap_or_default();
    format!(
        "<domain type='kvm'><name>{name}</name><memory unit='GiB'>64</memory>{memtune}\
         <os><type arch='ppc64le' machine='pseries-4.2'>hvm</type></os>\
         <devices><controller type='pci' index='0' model='pci-root'/>\
         <hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>\
         <source><address domain='0x0006' bus='0x00' slot='0x00' function='0x0'/></source>\
         <address type='pci' domain='0x0000' bus='0x0' slot='0x05' function='0x0'/></hostdev>\
         </devices></domain>"
    )
}

#[test]
fn the_memlock_need_of_a_guest_is_a_metric_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.xml");
    let b = dir.path().join("b.xml");
    std::fs::write(&a, nv2_guest_xml("gpu-guest", None)).unwrap();
    std::fs::write(&b, nv2_guest_xml("capped", Some(1_048_576))).unwrap();
    let cap = capture("ac922-4gpu-16gb-nvidia");
    let o = common::lsnvlink_command()
        .arg("--capture")
        .arg(&cap)
        .args(["--format", "prom", "--memlock-domain"])
        .arg(&b)
        .arg("--memlock-domain")
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    let s = parse_strict(&text);
    // The reference's worked example (i): 344,155,226,112 bytes (NVLink2 branch).
    let need = value(&s, "lsnvlink_memlock_need_bytes", &[("guest", "gpu-guest")]);
    assert_eq!(need, Some(344_155_226_112.0));
    // The same number `lsnvlink memlock` gives for that domain.
    let m = common::lsnvlink_command()
        .args(["memlock", "--capture"])
        .arg(&cap)
        .arg("--domain")
        .arg(&a)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    assert_eq!(need, v["limit_bytes"].as_f64());
    // The capped guest: the formula's need and its hard limit side by side.
    let capped = [("guest", "capped")];
    assert_eq!(value(&s, "lsnvlink_memlock_need_bytes", &capped), need);
    assert_eq!(
        value(&s, "lsnvlink_memlock_hard_limit_bytes", &capped),
        Some(1_073_741_824.0)
    );
    // Only with --format prom.
    let o = common::lsnvlink_command()
        .arg("--capture")
        .arg(&cap)
        .arg("--memlock-domain")
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
