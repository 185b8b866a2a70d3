//! Every JSON output has a JSON Schema in `docs/schema/`, and every JSON snapshot of the
//! tests validates against its output's schema: a key renamed, dropped or retyped fails here
//! (the schemas forbid unknown keys, so a key added must be added to its schema too).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    lsnvlink_test_support::workspace()
}

fn schema(name: &str) -> jsonschema::Validator {
    let path = repo().join(format!("docs/schema/{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&value)
        .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()))
}

/// The body of an insta snapshot (after its `---` header).
fn body(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut parts = text.splitn(3, "---\n");
    let (_, _, body) = (parts.next(), parts.next(), parts.next());
    body.unwrap_or(&text).to_owned()
}

/// Snapshot files whose names match `pred`.
fn snapshots(pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
        .filter(|p| pred(p.file_name().unwrap().to_str().unwrap()))
        .collect();
    out.sort();
    out
}

fn check(name: &str, instances: &[(String, Value)]) {
    assert!(!instances.is_empty(), "{name}: no snapshot to check");
    let v = schema(name);
    let mut failures = Vec::new();
    for (origin, doc) in instances {
        for e in v.iter_errors(doc) {
            failures.push(format!("{origin}: {} at {}", e, e.instance_path()));
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

fn documents(paths: Vec<PathBuf>) -> Vec<(String, Value)> {
    paths
        .into_iter()
        .map(|p| {
            let doc = serde_json::from_str(&body(&p))
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
            (p.display().to_string(), doc)
        })
        .collect()
}

#[test]
fn report() {
    check(
        "report",
        &documents(snapshots(|n| {
            (n.starts_with("report__") && n.ends_with("__json.snap"))
                || (n.starts_with("inputs__sosreport-") && n.ends_with("__json.snap"))
                || n == "powernv__json.snap"
        })),
    );
}

#[test]
fn pci() {
    check(
        "pci",
        &documents(snapshots(|n| {
            n == "pci__json.snap" || n == "powernv__pci_json.snap"
        })),
    );
}

#[test]
fn memlock() {
    check(
        "memlock",
        &documents(snapshots(|n| {
            n.starts_with("memlock__memlock_json_") || n == "powernv__memlock_json.snap"
        })),
    );
}

#[test]
fn diff() {
    check(
        "diff",
        &documents(snapshots(|n| {
            n.starts_with("diff__") && n.ends_with("__json.snap")
        })),
    );
}

#[test]
fn hwloc_and_capture_manifest_and_dt_dump() {
    check(
        "hwloc",
        &documents(snapshots(|n| n == "inputs__hwloc__json.snap")),
    );
    check(
        "capture-manifest",
        &documents(snapshots(|n| n == "capture__manifest_snapshot.snap")),
    );
    check(
        "dt-dump",
        &documents(snapshots(|n| n == "dt__dump_json_snapshot.snap")),
    );
}

#[test]
fn fleet_lines() {
    let mut hosts = Vec::new();
    let mut summaries = Vec::new();
    for p in snapshots(|n| n == "fleet__fleet_json.snap") {
        for (i, line) in body(&p)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            let v: Value = serde_json::from_str(line).unwrap();
            let origin = format!("{} line {}", p.display(), i + 1);
            match v["kind"].as_str() {
                Some("host") => hosts.push((origin, v)),
                Some("summary") => summaries.push((origin, v)),
                other => panic!("{origin}: kind {other:?}"),
            }
        }
    }
    check("fleet-host", &hosts);
    check("fleet-summary", &summaries);
}

#[test]
fn dt_get_and_ls() {
    let p = snapshots(|n| n == "dt__get_and_ls_snapshots.snap")
        .pop()
        .unwrap();
    let text = body(&p);
    let (mut get, mut ls) = (Vec::new(), Vec::new());
    for block in text.split("$ ").filter(|b| !b.trim().is_empty()) {
        let (cmd, rest) = block.split_once('\n').unwrap();
        if !cmd.contains("--format json") {
            continue;
        }
        let v: Value = serde_json::from_str(rest).unwrap();
        if cmd.starts_with("lsnvlink dt get") {
            get.push((cmd.to_owned(), v));
        } else if cmd.starts_with("lsnvlink dt ls") {
            ls.push((cmd.to_owned(), v));
        }
    }
    check("dt-get", &get);
    check("dt-ls", &ls);
}

/// The schemas catch what they are for: a retyped, a renamed and an unknown key.
#[test]
fn a_schema_refuses_a_changed_key() {
    let v = schema("report");
    let p = snapshots(|n| n == "report__ac922-4gpu-16gb-nvidia__json.snap");
    let good: Value = serde_json::from_str(&body(&p[0])).unwrap();
    assert!(v.is_valid(&good));
    let mut retyped = good.clone();
    retyped["gpus"][0]["vendor_id"] = Value::from(4318);
    assert!(!v.is_valid(&retyped));
    let mut renamed = good.clone();
    let g = good["gpus"][0].as_object().unwrap().clone();
    let mut g2 = g.clone();
    g2.remove("iommu_group");
    g2.insert("iommu_group_id".to_owned(), Value::from(5));
    renamed["gpus"][0] = Value::Object(g2);
    assert!(!v.is_valid(&renamed));
}
