//! Arbitrary bytes as a flattened device-tree blob: the reader must return a tree or a
//! `BlobError`, never panic; an accepted tree is then walked through every accessor and
//! written as dts.
#![no_main]

use devtree::Tree;
use devtree::power9::Power9Node;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tree) = Tree::from_blob(data) else {
        return;
    };
    let _ = devtree::dts::to_dts(&tree);
    for node in tree.nodes() {
        let _ = node.path();
        let _ = node.reg();
        let _ = node.phandle();
        let _ = node.nvlink_bridges();
        let _ = node.nvlink_gpu();
        let _ = node.nvlink_atsd();
        let _ = node.gpu_memory_range();
        let _ = node.nvlink_peers();
        let _ = node.associativity();
        let _ = node.strings("compatible");
        let _ = node.loc_code();
        if let Some(parent) = node.parent() {
            let _ = parent.child(node.name());
        }
    }
    let _ = tree.find("/cpus/PowerPC,POWER9@0");
});
