//! The directory form: equal to the blob it was written from, through a copied root and a
//! capture archive; unreadable entries recorded on their node.

use crate::common::*;
use devtree::Tree;
use fsroot::{Limits, Root};

fn inputs() -> Vec<(String, Vec<u8>)> {
    vec![
        ("sample".into(), sample().build()),
        (
            "pseries".into(),
            std::fs::read(testdata("pseries.dtb")).unwrap(),
        ),
        (
            "powernv9".into(),
            std::fs::read(testdata("powernv9.dtb")).unwrap(),
        ),
    ]
}

#[test]
fn blob_and_directory_readers_give_equal_trees() {
    for (name, blob) in inputs() {
        let from_blob = Tree::from_blob(&blob).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_root(&from_blob, dir.path());
        let root = Root::dir(dir.path()).unwrap();
        let from_dir = Tree::from_proc(&root).unwrap();
        assert_eq!(canon(&from_dir), canon(&from_blob), "{name}");
        assert_eq!(from_dir.len(), from_blob.len(), "{name}");
        assert_eq!(
            from_dir.phandle_count(),
            from_blob.phandle_count(),
            "{name}"
        );
        assert_eq!(from_dir.problems(), from_blob.problems(), "{name}");
        assert!(from_dir.header().is_none());
        // Children and properties of the directory form come sorted by name.
        for node in from_dir.nodes() {
            let names: Vec<&str> = node.children().map(|c| c.name()).collect();
            assert!(names.is_sorted(), "{name}: {}", node.path());
            let props: Vec<&str> = node.properties().iter().map(|p| p.name()).collect();
            assert!(props.is_sorted(), "{name}: {}", node.path());
        }
    }
}

#[test]
fn a_capture_archive_reads_the_same() {
    let blob = std::fs::read(testdata("pseries.dtb")).unwrap();
    let from_blob = Tree::from_blob(&blob).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_root(&from_blob, dir.path());
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir.path()).unwrap();
    let archive = builder.into_inner().unwrap();
    let root = Root::archive_from_bytes("capture.tar", &archive, Limits::default()).unwrap();
    let from_archive = Tree::from_proc(&root).unwrap();
    assert_eq!(canon(&from_archive), canon(&from_blob));
}

#[test]
fn name_and_phandle_files_stay_properties() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let cpu = base.join("cpus/PowerPC,POWER9@0");
    std::fs::create_dir_all(&cpu).unwrap();
    std::fs::write(cpu.join("name"), "PowerPC,POWER9\0").unwrap();
    std::fs::write(cpu.join("ibm,phandle"), cells(&[0x1000_0001])).unwrap();
    std::fs::write(cpu.join("linux,phandle"), cells(&[0x1000_0001])).unwrap();
    std::fs::write(cpu.join("phandle"), cells(&[0x1000_0001])).unwrap();
    let root = Root::dir(dir.path()).unwrap();
    let tree = Tree::from_root(&root, "/base").unwrap();
    let node = tree.find("/cpus/PowerPC,POWER9").unwrap();
    let names: Vec<&str> = node.properties().iter().map(|p| p.name()).collect();
    assert_eq!(names, ["ibm,phandle", "linux,phandle", "name", "phandle"]);
    assert_eq!(
        tree.by_phandle(devtree::Phandle(0x1000_0001)).unwrap(),
        node
    );
    assert_eq!(tree.problems(), &[]);
}

#[test]
fn unreadable_entries_are_recorded_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let node = base.join("node@1");
    std::fs::create_dir_all(node.join("child")).unwrap();
    std::fs::write(node.join("good"), cells(&[7])).unwrap();
    std::os::unix::fs::symlink("../elsewhere", node.join("a-link")).unwrap();
    std::os::unix::fs::symlink("..", node.join("loop")).unwrap();
    std::os::unix::fs::symlink("good", node.join("alias")).unwrap();
    let fifo = node.join("a-fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let root = Root::dir(dir.path()).unwrap();
    let tree = Tree::from_root(&root, "/base").unwrap();
    let n = tree.find("/node@1").unwrap();
    assert_eq!(n.u32("good").unwrap(), 7);
    // A link to a file reads as that file, inside the root.
    assert_eq!(n.u32("alias").unwrap(), 7);
    assert_eq!(n.children().len(), 1);
    let bad: Vec<(&str, &str)> = n
        .errors()
        .iter()
        .map(|e| (e.name.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert_eq!(bad[0].0, "a-fifo");
    // fsroot never opens it for reading: refused on the open handle.
    assert!(bad[0].1.starts_with("not a regular file"), "{bad:?}");
    assert_eq!(bad[1].0, "a-link");
    assert_eq!(bad[2].0, "loop");
    assert!(bad[2].1.starts_with("a symlink to a directory"), "{bad:?}");
    assert_eq!(tree.problems().len(), 3);
    let dts = devtree::dts::to_dts(&tree);
    assert!(
        dts.contains("/* loop: unreadable: a symlink to a directory"),
        "{dts}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::dir(dir.path()).unwrap();
    let e = Tree::from_proc(&root).unwrap_err();
    assert!(e.to_string().contains("/proc/device-tree"), "{e}");
}
