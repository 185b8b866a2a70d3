//! Differential tests against dtc (Debian `device-tree-compiler`, installed by `.ci/run`): our
//! dts, compiled back by `dtc -I dts -O dtb` and decompiled, equals dtc's own decompile of the
//! input. dtc normalises both sides the same way (it drops `name` properties equal to the node
//! name in both), so the texts compare exactly.

use crate::common::*;
use devtree::Tree;

fn assert_same_as_dtc(what: &str, blob: &[u8]) {
    eprintln!("checking {what}");
    let tree = Tree::from_blob(blob).unwrap_or_else(|e| panic!("{what}: {e}"));
    let ours = devtree::dts::to_dts(&tree);
    let recompiled = compile(ours.as_bytes());
    let expected = decompile(blob);
    let got = decompile(&recompiled);
    assert!(
        got == expected,
        "{what}: our dts differs from dtc's after a round trip\n--- dtc\n{expected}\n--- ours\n{got}"
    );
    // The reservation map and header survive too.
    let back = Tree::from_blob(&recompiled).unwrap();
    assert_eq!(back.reservations(), tree.reservations(), "{what}");
}

#[test]
fn qemu_pseries_dump() {
    assert_same_as_dtc(
        "pseries.dtb",
        &std::fs::read(testdata("pseries.dtb")).unwrap(),
    );
}

#[test]
fn qemu_powernv9_dump() {
    assert_same_as_dtc(
        "powernv9.dtb",
        &std::fs::read(testdata("powernv9.dtb")).unwrap(),
    );
}

#[test]
fn skiboot_ac922_tree() {
    let dts = std::fs::read(testdata("skiboot-op920.wsp.dts")).unwrap();
    let blob = compile(&dts);
    assert_same_as_dtc("skiboot op920", &blob);
    let tree = Tree::from_blob(&blob).unwrap();
    // 386 nodes in the AC922 tree, with the NPU and its six links.
    let npu = tree.find("/xscom@603fc00000000/npu@5011000").unwrap();
    assert_eq!(npu.children().len(), 6);
    assert_eq!(npu.phandle(), Some(devtree::Phandle(0x173)));
}

#[test]
fn structural_variants() {
    for order in ORDERS {
        for version in [16, 17] {
            for nops in [false, true] {
                let mut f = sample();
                f.order = order;
                f.version = version;
                f.nops = nops;
                assert_same_as_dtc(&format!("{order} v{version} nops={nops}"), &f.build());
            }
        }
    }
}

#[test]
fn strings_with_escapes_and_byte_values() {
    let f = Fdt::new(vec![
        begin(""),
        prop("quote", b"say \"hi\"\\ \t\n\0second\0"),
        prop("bytes", &[0, 1, 2, 0xff, 0x80]),
        prop("cells-not-strings", &[0, 0, 0, 0]),
        prop("empty", &[]),
        prop("high", b"\xc3\xa9t\xc3\xa9\0"),
        Item::End,
    ]);
    assert_same_as_dtc("escapes", &f.build());
}

#[cfg(feature = "dir")]
#[test]
fn directory_form_matches_dtc_fs() {
    let blob = std::fs::read(testdata("pseries.dtb")).unwrap();
    let tree = Tree::from_blob(&blob).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_root(&tree, dir.path());
    let root = fsroot::Root::dir(dir.path()).unwrap();
    let from_dir = Tree::from_proc(&root).unwrap();
    let ours = compile(devtree::dts::to_dts(&from_dir).as_bytes());
    let got = String::from_utf8(dtc(&["-q", "-s", "-I", "dtb", "-O", "dts", "-"], &ours)).unwrap();
    let base = dir.path().join("sys/firmware/devicetree/base");
    let expected = String::from_utf8(dtc(
        &["-q", "-s", "-I", "fs", "-O", "dts", base.to_str().unwrap()],
        &[],
    ))
    .unwrap();
    assert!(
        got == expected,
        "--- dtc -I fs\n{expected}\n--- ours\n{got}"
    );
}
