//! Captures are replayed within `lsnvlink::capture::replay_limits` (tighter than fsroot's
//! defaults, so that a hostile archive stays within tens of MB), and the join reads a bounded
//! number of `ibm,npu` entries. `cargo xtask hostile` checks the same as whole processes.

use std::path::Path;

use fsroot::{EntryKind, Root};
use lsnvlink::audit::Report;
use lsnvlink::capture::{Capture, MANIFEST_NAME, Manifest, Tree, open_replay};

use crate::common;

const GPU: &str =
    "sys/firmware/devicetree/base/pciex@600c3c0400000/pci@0/pci@0/pci@a/3d-controller@0";

/// The bundled 4-GPU capture as a capture tree, to be changed and written again.
fn bundled_tree() -> Tree {
    fn walk(root: &Root, dir: &str, tree: &mut Tree) {
        for name in root
            .read_dir(if dir.is_empty() { "/" } else { dir })
            .unwrap()
        {
            let path = format!("{dir}/{name}");
            let rel = path.trim_start_matches('/');
            if rel == MANIFEST_NAME {
                continue;
            }
            match root.kind(&path).unwrap() {
                EntryKind::Dir => {
                    tree.insert_dir(rel).unwrap();
                    walk(root, &path, tree);
                }
                EntryKind::File => tree
                    .insert_file(rel, root.read(&path).unwrap().into_owned())
                    .unwrap(),
                EntryKind::Symlink => {
                    let target = root.read_link(&path).unwrap();
                    tree.insert_symlink(rel, &target.to_string_lossy()).unwrap();
                }
                EntryKind::Other => panic!("{path}: unexpected entry kind"),
            }
        }
    }
    let root = Root::archive(common::capture("ac922-4gpu-16gb-nvidia")).unwrap();
    let mut tree = Tree::new();
    walk(&root, "", &mut tree);
    tree
}

fn write(tree: Tree, path: &Path) {
    let capture = Capture {
        tree,
        manifest: Manifest::fixed("test"),
    };
    std::fs::write(path, capture.to_tar_gz().unwrap()).unwrap();
}

#[test]
fn a_file_over_the_replay_limit_is_refused_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = bundled_tree();
    let big = lsnvlink::capture::MAX_FILE_BYTES as usize + 1;
    tree.insert_file(&format!("{GPU}/big"), vec![0; big])
        .unwrap();
    let path = dir.path().join("big.tar.gz");
    write(tree, &path);
    // fsroot's defaults take it; the replay limits do not.
    assert!(Root::archive(&path).is_ok());
    let err = open_replay(&path).unwrap_err().to_string();
    assert!(err.contains(&big.to_string()), "{err}");
}

#[test]
fn a_long_ibm_npu_list_is_read_up_to_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = bundled_tree();
    let root = Root::archive(common::capture("ac922-4gpu-16gb-nvidia")).unwrap();
    let listed = root.read(format!("{GPU}/ibm,npu")).unwrap().into_owned();
    // The GPU's own bridges first, then one of them again 100,000 times.
    let mut long = listed.clone();
    for _ in 0..100_000 {
        long.extend_from_slice(&listed[..4]);
    }
    tree.remove(&format!("{GPU}/ibm,npu"));
    tree.insert_file(&format!("{GPU}/ibm,npu"), long).unwrap();
    let path = dir.path().join("npu.tar.gz");
    write(tree, &path);
    let report = Report::read(&open_replay(&path).unwrap(), &pci::Names::builtin()).unwrap();
    let gpu = report
        .topology
        .gpus
        .iter()
        .find(|g| g.problems.iter().any(|p| p.to_string().contains("ibm,npu")))
        .expect("the GPU with the long list");
    assert_eq!(gpu.npu.as_ref().map(Vec::len), Some(64));
    assert!(
        gpu.problems.iter().any(|p| p
            .to_string()
            .contains("lists 100003 phandles; only the first 64 are read")),
        "{:?}",
        gpu.problems
    );
}

#[test]
fn a_report_on_every_bundled_capture_stays_far_within_the_cost_limits() {
    let limits = lsnvlink::limits::replay();
    for name in [
        "ac922-4gpu-16gb-nvidia",
        "ac922-6gpu-32gb-vfio",
        "ac922-4gpu-eeh-removed",
        "powernv9-qemu-live",
        "power9-no-gpu",
    ] {
        let root = open_replay(&common::capture(name)).unwrap();
        Report::read(&root, &pci::Names::builtin()).unwrap();
        let used = root.usage();
        assert!(
            used.walk_steps * 50 < limits.max_run_walk_steps,
            "{name}: {used:?}"
        );
        eprintln!("{name}: {used:?}");
    }
}
