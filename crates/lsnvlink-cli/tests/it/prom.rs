//! `--format prom`: snapshots for every capture, every output checked by a strict exposition
//! format parser (`prom_text_format_parser`: line grammar, escapes, HELP/TYPE/sample order)
//! and by Prometheus's own linter (`promtool check metrics`, from Debian's `prometheus`
//! package: this test fails without it), label escaping round trips, `--output` writes
//! atomically, and a run that cannot read the host still writes its failure.

use std::collections::BTreeSet;
use std::process::Command;

use lsnvlink::render::prom::{MemlockNeed, failed_run, nvml_bus_id, prom};
// promtool is required: CI installs Debian's `prometheus` package for it.
use lsnvlink_test_support::promtool_check_metrics as promtool_check;
use prom_text_format_parser::{Scrape, Type};

use crate::common::{self, CAPTURES, capture, report as read};

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

/// The run timestamp the tests use: in `prom` calls, and as `SOURCE_DATE_EPOCH` for the binary.
const T: u64 = 1_700_000_000;

/// `lsnvlink` with `SOURCE_DATE_EPOCH` set to [`T`], so that its output is reproducible.
fn lsnvlink_at_t() -> Command {
    let mut cmd = common::lsnvlink_command();
    cmd.env("SOURCE_DATE_EPOCH", T.to_string());
    cmd
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
        let text = prom(&read(name), &[], T);
        parse_strict(&text);
        promtool_check(&text);
        // The version label changes with every release; the snapshot does not.
        let version = format!("version=\"{}\"", lsnvlink::VERSION);
        assert!(text.contains(&version));
        let text = text.replace(&version, "version=\"[VERSION]\"");
        assert_snapshot!(format!("{name}__prom"), text);
    }
}

#[test]
fn the_eeh_removed_host_counts_its_finding_and_missing_links() {
    let s = parse_strict(&prom(&read("ac922-4gpu-eeh-removed"), &[], T));
    let gpu = [("gpu", "3"), ("pci_bus_id", "00000035:04:00.0")];
    assert_eq!(value(&s, "lsnvlink_gpu_cpu_links", &gpu), Some(0.0));
    assert_eq!(value(&s, "lsnvlink_gpu_cpu_links_listed", &gpu), Some(3.0));
    let code = [("code", "link-missing"), ("severity", "error")];
    assert_eq!(value(&s, "lsnvlink_findings", &code), Some(1.0));
    let healthy = parse_strict(&prom(&read("ac922-4gpu-16gb-nvidia"), &[], T));
    assert_eq!(value(&healthy, "lsnvlink_findings", &code), Some(0.0));
    assert_eq!(value(&healthy, "lsnvlink_nvlink2", &[]), Some(1.0));
}

#[test]
fn gpu_memory_numa_nodes_and_peer_links_are_exported() {
    let s = parse_strict(&prom(&read("ac922-6gpu-32gb-vfio"), &[], T));
    let gpu0 = [("gpu", "0"), ("pci_bus_id", "00000004:04:00.0")];
    assert_eq!(
        value(&s, "lsnvlink_gpu_memory_numa_node", &gpu0),
        Some(255.0)
    );
    let peer = [
        ("gpu", "0"),
        ("peer", "1"),
        ("peer_pci_bus_id", "00000004:05:00.0"),
        ("inferred", "true"),
    ];
    assert_eq!(value(&s, "lsnvlink_gpu_peer_links", &peer), Some(2.0));
    let none = parse_strict(&prom(&read("x86-v100-pcie"), &[], T));
    assert_eq!(value(&none, "lsnvlink_nvlink2", &[]), Some(0.0));
}

#[test]
fn hostile_label_values_are_escaped_and_parse_back() {
    let mut r = read("ac922-4gpu-16gb-nvidia");
    r.topology.platform.hostname = Some("we\"ird\\host\nname, a=b}".to_owned());
    let text = prom(&r, &[], T);
    let s = parse_strict(&text);
    promtool_check(&text);
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
    let text = prom(&read("ac922-4gpu-16gb-nvidia"), &needs, T);
    let s = parse_strict(&text);
    promtool_check(&text);
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
    assert!(!prom(&read("ac922-4gpu-16gb-nvidia"), &[], T).contains("memlock"));
}

#[test]
fn output_file_is_written_whole_and_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lsnvlink.prom");
    std::fs::write(&out, "old\n").unwrap();
    let status = lsnvlink_at_t()
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
    assert_eq!(written, prom(&read("ac922-4gpu-eeh-removed"), &[], T));
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
    let o = lsnvlink_at_t()
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

#[test]
fn gpus_carry_the_nvidia_smi_index_and_the_nvml_bus_id() {
    let a = |d, b, dev, f| pci::PciAddress::new(d, b, dev, f).unwrap();
    assert_eq!(nvml_bus_id(a(4, 4, 0, 0)), "00000004:04:00.0");
    assert_eq!(nvml_bus_id(a(0x35, 0x0d, 0x1f, 7)), "00000035:0D:1F.7");
    let s = parse_strict(&prom(&read("ac922-4gpu-16gb-nvidia"), &[], T));
    let info = s
        .metrics
        .iter()
        .find(|m| m.name == "lsnvlink_gpu_info")
        .unwrap();
    let label = |i: usize, k: &str| {
        info.samples[i]
            .labels
            .iter()
            .find(|l| l.key == k)
            .map(|l| l.value.clone())
            .unwrap()
    };
    // GPU0.. in PCI address order, as nvidia-smi numbers them.
    for (i, address) in [
        "0004:04:00.0",
        "0004:05:00.0",
        "0035:03:00.0",
        "0035:04:00.0",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(label(i, "gpu"), i.to_string());
        assert_eq!(label(i, "index"), format!("GPU{i}"));
        assert_eq!(label(i, "address"), *address);
        assert_eq!(label(i, "pci_bus_id"), format!("0000{address}"));
    }
    // A bridge names its GPU the same way.
    let bridge = [("bridge", "0007:00:01.2"), ("gpu", "3")];
    assert_eq!(value(&s, "lsnvlink_bridge_info", &bridge), Some(1.0));
    // 25.78125 Gbit/s lanes, in bytes per second.
    let speed = [("bridge", "0007:00:01.2")];
    assert_eq!(
        value(&s, "lsnvlink_bridge_link_speed_bytes_per_second", &speed),
        Some(3_222_656_250.0)
    );
    assert!(!prom(&read("ac922-4gpu-16gb-nvidia"), &[], T).contains("bits_per_second"));
}

#[test]
fn every_output_says_when_the_run_was_and_that_it_worked() {
    let s = parse_strict(&prom(&read("power9-no-gpu"), &[], T));
    assert_eq!(value(&s, "lsnvlink_last_run_success", &[]), Some(1.0));
    assert_eq!(
        value(&s, "lsnvlink_last_run_timestamp_seconds", &[]),
        Some(T as f64)
    );
    let failed = failed_run(T);
    let s = parse_strict(&failed);
    promtool_check(&failed);
    assert_eq!(value(&s, "lsnvlink_last_run_success", &[]), Some(0.0));
    assert_eq!(s.metrics.len(), 2);
}

#[test]
fn a_run_that_cannot_read_the_host_still_writes_success_0_and_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lsnvlink.prom");
    // The last good run's findings are in the file: they must not stay.
    std::fs::write(&out, prom(&read("ac922-4gpu-eeh-removed"), &[], T - 600)).unwrap();
    let o = lsnvlink_at_t()
        .arg("--capture")
        .arg(dir.path().join("missing.tar.gz"))
        .args(["--format", "prom", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(!o.stderr.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), failed_run(T));
    // Without SOURCE_DATE_EPOCH, the clock.
    let o = common::lsnvlink_command()
        .env_remove("SOURCE_DATE_EPOCH")
        .arg("--capture")
        .arg(dir.path().join("missing.tar.gz"))
        .args(["--format", "prom", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let s = parse_strict(&std::fs::read_to_string(&out).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    let t = value(&s, "lsnvlink_last_run_timestamp_seconds", &[]).unwrap();
    assert!((now - 600.0..=now + 1.0).contains(&t), "{t} vs {now}");
    // To standard output, nothing is written for a failed run.
    let o = lsnvlink_at_t()
        .arg("--capture")
        .arg(dir.path().join("missing.tar.gz"))
        .args(["--format", "prom"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn the_documented_alert_rules_pass_promtool_check_rules() {
    let doc =
        std::fs::read_to_string(lsnvlink_test_support::workspace().join("docs/prometheus.md"))
            .unwrap();
    let rules = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    assert!(rules.contains("lsnvlink_last_run_success"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lsnvlink.rules.yml");
    std::fs::write(&file, rules).unwrap();
    let o = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}): install it (Debian: apt-get install prometheus)")
        });
    assert!(
        o.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // Every metric the rules name is one lsnvlink writes (with --memlock-domain for memlock).
    let needs = [MemlockNeed {
        guest: "g".to_owned(),
        bytes: 2,
        hard_limit_bytes: Some(1),
    }];
    let text = prom(&read("ac922-4gpu-16gb-nvidia"), &needs, T);
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("lsnvlink_") {
            assert!(text.contains(&format!("\n{word}")), "{word}");
        }
    }
}
