//! `lsnvlink dt`: snapshots of every output format, round trips through dtc, the directory
//! form through `--root` and `--capture`, exit codes.

use std::path::Path;

use lsnvlink_test_support::{dt as testdata, dtc};

use crate::common::{lsnvlink, stdout};

fn blob(name: &str) -> String {
    testdata(name).to_str().unwrap().to_owned()
}

/// A blob of the skiboot AC922 tree, compiled by dtc into `dir`.
fn op920(dir: &Path) -> String {
    let dts = std::fs::read(testdata("skiboot-op920.wsp.dts")).unwrap();
    let path = dir.join("op920.dtb");
    std::fs::write(&path, dtc(&["-q", "-I", "dts", "-O", "dtb", "-"], &dts)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn dump_round_trips_through_dtc() {
    let tmp = tempfile::tempdir().unwrap();
    for file in [blob("pseries.dtb"), blob("powernv9.dtb"), op920(tmp.path())] {
        let ours = stdout(&["dt", "dump", &file]);
        let recompiled = dtc(&["-q", "-I", "dts", "-O", "dtb", "-"], ours.as_bytes());
        let got = dtc(&["-q", "-I", "dtb", "-O", "dts", "-"], &recompiled);
        let expected = dtc(&["-q", "-I", "dtb", "-O", "dts", &file], &[]);
        assert!(
            got == expected,
            "{file}: differs from dtc after a round trip"
        );
    }
}

#[test]
fn dump_dts_snapshot() {
    assert_snapshot!(
        "dump_dts_snapshot",
        stdout(&["dt", "dump", &blob("pseries.dtb")])
    );
}

#[test]
fn dump_json_snapshot() {
    let out = stdout(&[
        "dt",
        "dump",
        "--blob",
        &blob("powernv9.dtb"),
        "--format",
        "json",
    ]);
    let out = out.replace(&blob("powernv9.dtb"), "[BLOB]");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_snapshot!("dump_json_snapshot", out);
}

#[test]
fn get_and_ls_snapshots() {
    let b = blob("pseries.dtb");
    let cpu = "/cpus/PowerPC,POWER9@0";
    let mut all = String::new();
    for args in [
        vec!["dt", "ls", "/cpus", "--blob", &b],
        vec!["dt", "ls", cpu, "--blob", &b, "--format", "json"],
        vec!["dt", "get", "/", "compatible", "--blob", &b],
        vec!["dt", "get", cpu, "reg", "--blob", &b],
        vec!["dt", "get", cpu, "ibm,pa-features", "--blob", &b],
        vec!["dt", "get", "/rtas", "--blob", &b],
        vec![
            "dt",
            "get",
            cpu,
            "ibm,pft-size",
            "--blob",
            &b,
            "--format",
            "json",
        ],
        vec!["dt", "get", "/chosen", "--blob", &b, "--format", "json"],
    ] {
        all.push_str(&format!(
            "$ lsnvlink {}\n",
            args.join(" ").replace(&b, "pseries.dtb")
        ));
        all.push_str(&stdout(&args));
    }
    assert_snapshot!("get_and_ls_snapshots", all);
}

/// Writes a blob out as a copied root, as the kernel shows the tree.
fn write_root(file: &str, root: &Path) {
    let blob = std::fs::read(file).unwrap();
    let tree = devtree::Tree::from_blob(&blob).unwrap();
    let base = root.join("sys/firmware/devicetree/base");
    for node in tree.nodes() {
        let dir = base.join(node.path().trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for p in node.properties() {
            std::fs::write(dir.join(p.name()), p.value()).unwrap();
        }
    }
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::os::unix::fs::symlink(
        "/sys/firmware/devicetree/base",
        root.join("proc/device-tree"),
    )
    .unwrap();
}

#[test]
fn directory_form_through_root_and_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_root(&blob("pseries.dtb"), &root);
    let sorted = |dts: &[u8]| {
        let b = dtc(&["-q", "-I", "dts", "-O", "dtb", "-"], dts);
        dtc(&["-q", "-s", "-I", "dtb", "-O", "dts", "-"], &b)
    };
    let expected = sorted(
        &std::fs::read(testdata("pseries.dtb"))
            .map(|b| dtc(&["-q", "-I", "dtb", "-O", "dts", "-"], &b))
            .unwrap(),
    );
    let from_root = stdout(&["dt", "dump", "--root", root.to_str().unwrap()]);
    assert!(sorted(from_root.as_bytes()) == expected, "--root differs");

    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", &root).unwrap();
    let capture = tmp.path().join("capture.tar");
    std::fs::write(&capture, builder.into_inner().unwrap()).unwrap();
    let from_capture = stdout(&["dt", "dump", "--capture", capture.to_str().unwrap()]);
    assert_eq!(from_capture, from_root);
    let ls = stdout(&["dt", "ls", "/", "--capture", capture.to_str().unwrap()]);
    assert!(ls.contains("cpus/\n"), "{ls}");
}

#[test]
fn errors_exit_with_2_and_name_the_problem() {
    let b = blob("pseries.dtb");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["dt", "get", "/nope", "--blob", &b],
            "no node \"/nope\"",
        ),
        (
            vec!["dt", "get", "/", "nope", "--blob", &b],
            "no property \"nope\"",
        ),
        (
            vec!["dt", "ls", "cpus", "--blob", &b],
            "must start with '/'",
        ),
        (
            vec!["dt", "dump", "/nonexistent.dtb"],
            "cannot read /nonexistent.dtb",
        ),
        (
            vec!["dt", "dump", "--root", "/nonexistent-root"],
            "nonexistent-root",
        ),
    ];
    for (args, message) in cases {
        let out = lsnvlink(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // A truncated blob: the error names the byte offset and what was expected.
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.dtb");
    let mut bytes = std::fs::read(&b).unwrap();
    bytes.truncate(30);
    std::fs::write(&cut, bytes).unwrap();
    let out = lsnvlink(&["dt", "dump", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("byte offset 0 (0x0): expected the header (32 bytes)"),
        "{err}"
    );
    // A blob and --root together is bad usage.
    let out = lsnvlink(&["dt", "dump", &b, "--root", "/"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn json_output_is_bounded_by_the_size_of_the_tree() {
    // A device tree 250 nodes deep: each node's path and indentation grow with its depth, so
    // pretty JSON is hundreds of times the tree's size.
    let mut tree = lsnvlink::capture::Tree::new();
    let mut path = String::from("sys/firmware/devicetree/base");
    for i in 0..250 {
        path.push_str(&format!("/n@{i:x}"));
        for p in 0..6 {
            tree.insert_file(&format!("{path}/p{p}"), vec![0, 0, 0, 1])
                .unwrap();
        }
    }
    tree.insert_symlink("proc/device-tree", "/sys/firmware/devicetree/base")
        .unwrap();
    let capture = lsnvlink::capture::Capture {
        tree,
        manifest: lsnvlink::capture::Manifest::fixed("test"),
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deep.tar.gz");
    std::fs::write(&file, capture.to_tar_gz().unwrap()).unwrap();
    let file = file.to_str().unwrap();
    let out = lsnvlink(&["dt", "dump", "--capture", file, "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--limits-scale"), "{stderr}");
    assert!(out.stdout.is_empty());
    // dts has no such growth, and --limits-scale lets the JSON through.
    assert!(
        lsnvlink(&["dt", "dump", "--capture", file])
            .status
            .success()
    );
    let out = lsnvlink(&[
        "dt",
        "dump",
        "--limits-scale",
        "64",
        "--capture",
        file,
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (Too deep for serde_json's parser to check: 500 levels.)
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with('{') && text.contains("\"schema_version\": 1"));
    assert!(text.len() > 1 << 20, "{}", text.len());
}
