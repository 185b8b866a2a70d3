//! `lsnvlink diff` between bundled captures: snapshots of text and JSON, the exit codes, and
//! the library's changes checked one by one.

use crate::common::{self, capture, lsnvlink, report};
use lsnvlink::diff::{self, Change};

fn find<'c>(changes: &'c [Change], section: &str, subject: &str, field: &str) -> &'c Change {
    changes
        .iter()
        .find(|c| c.section == section && c.subject == subject && c.field == field)
        .unwrap_or_else(|| panic!("no change {section} {subject} {field} in {changes:#?}"))
}

#[test]
fn a_host_equals_itself() {
    let r = report("ac922-4gpu-16gb-nvidia");
    assert_eq!(diff::diff(&r, &r.clone()), []);
    let path = capture("ac922-4gpu-16gb-nvidia");
    let p = path.to_str().unwrap();
    let o = lsnvlink(&["diff", p, p]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no differences"));
}

#[test]
fn an_eeh_removed_pe_shows_in_bridges_links_and_findings() {
    let a = report("ac922-4gpu-16gb-nvidia");
    let b = report("ac922-4gpu-eeh-removed");
    let changes = diff::diff(&a, &b);
    let on_bus = find(&changes, "bridge", "0007:00:01.0", "on_bus");
    assert_eq!(on_bus.a.as_deref(), Some("true"));
    assert_eq!(on_bus.b.as_deref(), Some("false"));
    let f = find(&changes, "finding", "0035:04:00.0", "link-missing");
    assert_eq!((f.a.as_deref(), f.b.as_deref()), (None, Some("error")));
    // The host name is not a difference.
    assert!(!changes.iter().any(|c| c.field == "hostname"));
}

#[test]
fn a_kernel_upgrade_to_5_14_shows_the_kernel_and_the_lost_bridges() {
    let changes = diff::diff(
        &report("ac922-4gpu-16gb-nvidia"),
        &report("ac922-4gpu-kernel-5.14"),
    );
    let k = find(&changes, "platform", "host", "kernel_nvlink2");
    assert_eq!(
        (k.a.as_deref(), k.b.as_deref()),
        (Some("vfio"), Some("unsupported"))
    );
    find(&changes, "platform", "host", "kernel");
    let d = find(&changes, "gpu", "0004:04:00.0", "memory_online_bytes");
    assert_eq!(d.b.as_deref(), Some("0"));
    find(&changes, "finding", "host", "nvlink2-kernel-unsupported");
}

#[test]
fn snapshots_and_exit_codes() {
    for (a, b) in [
        ("ac922-4gpu-16gb-nvidia", "ac922-4gpu-eeh-removed"),
        ("ac922-4gpu-16gb-nvidia", "ac922-4gpu-kernel-5.14"),
        ("ac922-6gpu-32gb-vfio", "ac922-6gpu-16gb-kernel-4.14"),
    ] {
        let (pa, pb) = (capture(a), capture(b));
        // Relative names keep the snapshots free of the checkout's path.
        let dir = pa.parent().unwrap();
        let (na, nb) = (format!("{a}.tar.gz"), format!("{b}.tar.gz"));
        for format in ["text", "json"] {
            let o = common::lsnvlink_command()
                .current_dir(dir)
                .args(["diff", &na, &nb, "--format", format])
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(1), "{a} {b}");
            let out = String::from_utf8(o.stdout).unwrap();
            if format == "json" {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(v["schema_version"], 1);
                assert_eq!(v["same"], false);
                assert!(v["changes"].as_array().unwrap().iter().all(|c| {
                    c["section"].is_string() && c["subject"].is_string() && c["field"].is_string()
                }));
            }
            assert_snapshot!(format!("{a}__{b}__{format}"), out);
        }
        let _ = pb;
    }
}

#[test]
fn an_unreadable_side_exits_2() {
    let p = capture("ac922-4gpu-16gb-nvidia");
    let o = lsnvlink(&["diff", p.to_str().unwrap(), "/nonexistent/capture.tar.gz"]);
    assert_eq!(o.status.code(), Some(2));
}
