//! Property tests of the blob reader: random trees survive the trip through a blob in every
//! layout; random and mutated bytes never panic.

use crate::common::*;
use devtree::Tree;
use devtree::power9::Power9Node;
use proptest::prelude::*;

/// A random tree as builder items: nested nodes with random properties.
fn items() -> impl Strategy<Value = Vec<Item>> {
    let prop = (
        "[a-z#][a-z0-9,-]{0,10}",
        proptest::collection::vec(any::<u8>(), 0..24),
    );
    let leaf = proptest::collection::vec(prop.clone(), 0..5).prop_map(|props| {
        props
            .into_iter()
            .map(|(n, v)| Item::Prop(n, v))
            .collect::<Vec<_>>()
    });
    leaf.prop_recursive(4, 40, 4, move |inner| {
        (
            proptest::collection::vec(prop.clone(), 0..4),
            proptest::collection::vec(("[a-z][a-z0-9-]{0,8}(@[0-9a-f]{1,4})?", inner), 0..4),
        )
            .prop_map(|(props, children)| {
                let mut out: Vec<Item> = props.into_iter().map(|(n, v)| Item::Prop(n, v)).collect();
                for (i, (name, body)) in children.into_iter().enumerate() {
                    out.push(Item::Begin(format!("{name}{i}")));
                    out.extend(body);
                    out.push(Item::End);
                }
                out
            })
    })
}

proptest! {
    #[test]
    fn random_trees_round_trip(body in items(), order in 0usize..6, v16 in any::<bool>(), nops in any::<bool>(),
                               rsv in proptest::collection::vec((any::<u64>(), 1..u64::MAX), 0..3)) {
        let mut all = vec![Item::Begin(String::new())];
        all.extend(body.clone());
        all.push(Item::End);
        let mut f = Fdt::new(all);
        f.order = ORDERS[order];
        f.version = if v16 { 16 } else { 17 };
        f.nops = nops;
        f.reservations = rsv.clone();
        let blob = f.build();
        let tree = Tree::from_blob(&blob).unwrap();
        let got: Vec<(u64, u64)> = tree.reservations().iter().map(|r| (r.address, r.size)).collect();
        prop_assert_eq!(got, rsv);
        // Same properties, in the same order, as written.
        let written: Vec<&Item> = body.iter().filter(|i| matches!(i, Item::Prop(..))).collect();
        let read: Vec<(String, Vec<u8>)> = tree.nodes().flat_map(|n| n.properties().iter().map(|p| (p.name().to_owned(), p.value().to_vec())).collect::<Vec<_>>()).collect();
        prop_assert_eq!(written.len(), read.len());
        for (w, r) in written.iter().zip(&read) {
            prop_assert_eq!(*w, &Item::Prop(r.0.clone(), r.1.clone()));
        }
    }

    #[test]
    fn mutated_blobs_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                 cut in any::<prop::sample::Index>()) {
        let mut blob = sample().build();
        for (at, byte) in flips {
            let i = at.index(blob.len());
            blob[i] = byte;
        }
        let n = cut.index(blob.len() + 1);
        if let Ok(tree) = Tree::from_blob(&blob[..n]) {
            let _ = devtree::dts::to_dts(&tree);
            for node in tree.nodes() {
                let _ = node.reg();
                let _ = node.nvlink_atsd();
                let _ = node.nvlink_bridges();
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Tree::from_blob(&bytes);
    }
}
