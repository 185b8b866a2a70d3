//! The blob reader: structural variants, every malformed class, truncation at every offset.

use crate::common::*;
use devtree::{BlobError, BlobProblem, Block, Problem, Reservation, Tree};

fn problem(blob: &[u8]) -> BlobError {
    match Tree::from_blob(blob) {
        Ok(t) => panic!("blob accepted: {} nodes", t.len()),
        Err(e) => e,
    }
}

#[test]
fn every_block_order_version_and_nops_give_the_same_tree() {
    let reference = sample().build();
    let reference = canon(&Tree::from_blob(&reference).unwrap());
    for order in ORDERS {
        for version in [16, 17] {
            for nops in [false, true] {
                let mut f = sample();
                f.order = order;
                f.version = version;
                f.nops = nops;
                let blob = f.build();
                let tree = Tree::from_blob(&blob)
                    .unwrap_or_else(|e| panic!("{order} v{version} nops={nops}: {e}"));
                assert_eq!(canon(&tree), reference, "{order} v{version} nops={nops}");
                assert_eq!(tree.reservations().len(), 2);
                let h = tree.header().unwrap();
                assert_eq!(h.version, version);
                // Version 16 has no size_dt_struct field: it is measured by the walk.
                assert_eq!(h.size_dt_struct as usize, f.blocks().0.len());
            }
        }
    }
}

#[test]
fn header_fields_and_reservations_are_available() {
    let mut f = sample();
    f.boot_cpuid_phys = 0x20;
    let blob = f.build();
    let tree = Tree::from_blob(&blob).unwrap();
    let h = tree.header().unwrap();
    assert_eq!((h.version, h.last_comp_version), (17, 16));
    assert_eq!(h.boot_cpuid_phys, 0x20);
    assert_eq!(h.totalsize as usize, blob.len());
    assert_eq!(
        tree.reservations(),
        &[
            Reservation {
                address: 0xdead_beef_0000_0000,
                size: 0x10_0000
            },
            Reservation {
                address: 0x1234_5678,
                size: 0xabcd
            }
        ]
    );
    assert_eq!(devtree::check_header(&blob).unwrap(), *h);
}

#[test]
fn names_and_values_borrow_from_an_unaligned_buffer() {
    let blob = sample().build();
    // Shift the blob by one byte: no alignment of the buffer is assumed.
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&blob);
    let tree = Tree::from_blob(&shifted[1..]).unwrap();
    let node = tree.find("/subnode@2/subsubnode").unwrap();
    assert_eq!(node.path(), "/subnode@2/subsubnode@0");
    assert_eq!(node.u32("prop-int").unwrap(), 0o726746425);
    let value = node.property("prop-int").unwrap().value();
    let range = shifted.as_ptr_range();
    assert!(range.contains(&value.as_ptr()), "value was copied");
}

#[test]
fn bytes_after_totalsize_are_ignored() {
    let mut blob = sample().build();
    blob.extend_from_slice(b"trailing garbage");
    assert!(Tree::from_blob(&blob).is_ok());
}

#[test]
fn truncated_at_every_offset_is_an_error() {
    for blob in [
        sample().build(),
        {
            let mut f = sample();
            f.version = 16;
            f.order = "tsm";
            f.build()
        },
        std::fs::read(testdata("powernv9.dtb")).unwrap(),
    ] {
        assert!(Tree::from_blob(&blob).is_ok());
        for n in 0..blob.len() {
            assert!(
                Tree::from_blob(&blob[..n]).is_err(),
                "accepted at length {n}"
            );
        }
    }
}

#[test]
fn truncated_at_every_offset_with_totalsize_adjusted_is_an_error() {
    // The header claims only the bytes present: the walk itself must find the cut.
    let blob = sample().build();
    let off_struct = u32::from_be_bytes(blob[8..12].try_into().unwrap()) as usize;
    let (structure, _) = sample().blocks();
    for n in off_struct..off_struct + structure.len() {
        let mut cut = blob[..n].to_vec();
        set_word(&mut cut, 1, n as u32);
        let s = (n - off_struct) as u32;
        set_word(&mut cut, 9, s);
        // Strings block after the structure block in "mst": it no longer fits.
        set_word(&mut cut, 3, n as u32);
        set_word(&mut cut, 8, 0);
        assert!(Tree::from_blob(&cut).is_err(), "accepted at {n}");
    }
}

#[test]
fn truncated_property() {
    // A property whose length field runs past the end of the structure block.
    let f = Fdt::new(vec![
        begin(""),
        Item::Word(3),
        Item::Word(64),
        Item::Word(0),
        Item::End,
    ]);
    let mut blob = f.build();
    // Give the property a name in the strings block.
    let e = problem(&blob);
    assert!(
        matches!(
            e.problem,
            BlobProblem::Truncated {
                expected: "a property value as long as its length field says",
                needed: 64,
                ..
            }
        ),
        "{e}"
    );
    // header, reservation terminator, root (tag + empty name), tag, len, nameoff
    assert_eq!(e.offset, 40 + 16 + 8 + 12, "{e}");
    blob.truncate(blob.len() - 1);
    assert!(Tree::from_blob(&blob).is_err());
}

#[test]
fn truncated_string() {
    // The last property name loses its NUL: it runs to the end of the strings block.
    let f = Fdt::new(vec![begin(""), prop("abc", &[]), Item::End]);
    let mut blob = f.build();
    let last = blob.len() - 1;
    assert_eq!(blob[last], 0);
    blob[last] = b'x';
    let e = problem(&blob);
    assert_eq!(
        e.problem,
        BlobProblem::UnterminatedPropertyName { nameoff: 0 },
        "{e}"
    );
    // The name offset is reported where the property's nameoff field is.
    assert_eq!(e.offset, 40 + 16 + 8 + 8);
}

#[test]
fn name_offset_outside_the_strings_block() {
    let f = Fdt::new(vec![
        begin(""),
        Item::Word(3),
        Item::Word(0),
        Item::Word(1000),
        Item::End,
    ]);
    let e = problem(&f.build());
    assert!(
        matches!(e.problem, BlobProblem::NameOffset { nameoff: 1000, .. }),
        "{e}"
    );
}

#[test]
fn truncated_reservation_map() {
    // Reservation map last, cut before its terminator.
    let mut f = sample();
    f.order = "stm";
    let mut blob = f.build();
    blob.truncate(blob.len() - 8);
    let total = blob.len() as u32;
    set_word(&mut blob, 1, total);
    let e = problem(&blob);
    assert_eq!(e.problem, BlobProblem::UnterminatedReservations, "{e}");
    let off_memrsv = u32::from_be_bytes(blob[16..20].try_into().unwrap()) as usize;
    assert_eq!(e.offset, off_memrsv + 2 * 16, "the terminator's place");
}

#[test]
fn two_roots() {
    let f = Fdt::new(vec![begin(""), Item::End, begin(""), Item::End]);
    let e = problem(&f.build());
    assert_eq!(e.problem, BlobProblem::SecondRoot);
    assert_eq!(e.offset, 40 + 16 + 8 + 4);
}

#[test]
fn named_root() {
    let f = Fdt::new(vec![begin("fake"), Item::End]);
    let e = problem(&f.build());
    assert_eq!(
        e.problem,
        BlobProblem::NamedRoot {
            name: "fake".into()
        }
    );
}

#[test]
fn strings_size_overflow() {
    let mut blob = sample().build();
    set_word(&mut blob, 8, u32::MAX);
    let e = problem(&blob);
    assert!(
        matches!(
            e.problem,
            BlobProblem::BlockOutOfBounds {
                block: Block::Strings,
                size: 0xffff_ffff,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.offset, 12);
}

#[test]
fn struct_size_past_totalsize() {
    let mut blob = sample().build();
    set_word(&mut blob, 9, 0x10_0000);
    let e = problem(&blob);
    assert!(
        matches!(
            e.problem,
            BlobProblem::BlockOutOfBounds {
                block: Block::Struct,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn sequential_write_magic() {
    let mut f = sample();
    f.magic = 0x2ff2_0112;
    let e = problem(&f.build());
    assert_eq!(e.problem, BlobProblem::SequentialWrite);
    assert_eq!(e.offset, 0);
}

#[test]
fn bad_magic_and_versions() {
    let mut f = sample();
    f.magic = 0x1234_5678;
    assert_eq!(
        problem(&f.build()).problem,
        BlobProblem::BadMagic { found: 0x1234_5678 }
    );
    for (version, last) in [(15, 15), (17, 18), (16, 17)] {
        let mut blob = sample().build();
        set_word(&mut blob, 5, version);
        set_word(&mut blob, 6, last);
        let e = problem(&blob);
        assert!(
            matches!(e.problem, BlobProblem::UnsupportedVersion { .. }),
            "{version}/{last}: {e}"
        );
        assert_eq!(e.offset, 20);
    }
    // A later version that stays compatible with 17 is read.
    let mut blob = sample().build();
    set_word(&mut blob, 5, 18);
    assert!(Tree::from_blob(&blob).is_ok());
}

#[test]
fn totalsize_and_buffer() {
    let mut blob = sample().build();
    set_word(&mut blob, 1, 20);
    assert!(matches!(
        problem(&blob).problem,
        BlobProblem::BadTotalSize { .. }
    ));
    let mut blob = sample().build();
    set_word(&mut blob, 1, 0x8000_0000);
    assert!(matches!(
        problem(&blob).problem,
        BlobProblem::BadTotalSize { .. }
    ));
    let mut blob = sample().build();
    let len = blob.len() as u32;
    set_word(&mut blob, 1, len + 1);
    assert!(matches!(
        problem(&blob).problem,
        BlobProblem::ShorterThanTotalSize { .. }
    ));
}

#[test]
fn misaligned_blocks() {
    let mut blob = sample().build();
    let off = u32::from_be_bytes(blob[16..20].try_into().unwrap());
    set_word(&mut blob, 4, off + 4);
    assert!(matches!(
        problem(&blob).problem,
        BlobProblem::Misaligned {
            block: Block::MemReserve,
            align: 8,
            ..
        }
    ));
    let mut blob = sample().build();
    let off = u32::from_be_bytes(blob[8..12].try_into().unwrap());
    set_word(&mut blob, 2, off + 2);
    assert!(matches!(
        problem(&blob).problem,
        BlobProblem::Misaligned {
            block: Block::Struct,
            align: 4,
            ..
        }
    ));
}

#[test]
fn structure_errors() {
    type Check = fn(&BlobProblem) -> bool;
    let cases: Vec<(Vec<Item>, Check)> = vec![
        (vec![begin(""), begin("a")], |p| {
            matches!(p, BlobProblem::EndInsideNode { depth: 2 })
        }),
        (vec![], |p| matches!(p, BlobProblem::NoRoot)),
        (vec![Item::End], |p| {
            matches!(
                p,
                BlobProblem::OutsideRoot {
                    found: "FDT_END_NODE"
                }
            )
        }),
        (vec![prop("a", &[])], |p| {
            matches!(p, BlobProblem::OutsideRoot { found: "FDT_PROP" })
        }),
        (vec![begin(""), Item::End, prop("a", &[])], |p| {
            matches!(p, BlobProblem::AfterRoot { found: "FDT_PROP" })
        }),
        (vec![begin(""), Item::End, Item::End], |p| {
            matches!(
                p,
                BlobProblem::AfterRoot {
                    found: "FDT_END_NODE"
                }
            )
        }),
        (vec![begin(""), Item::Word(7), Item::End], |p| {
            matches!(p, BlobProblem::UnknownTag { found: 7 })
        }),
    ];
    for (items, check) in cases {
        let e = problem(&Fdt::new(items.clone()).build());
        assert!(check(&e.problem), "{items:?}: {e}");
    }
}

#[test]
fn nops_are_read_before_the_root_ends_and_refused_after() {
    let mut f = sample();
    f.items.insert(0, Item::Nop);
    f.nops = true;
    assert!(Tree::from_blob(&f.build()).is_ok());
    // Between the root's FDT_END_NODE and FDT_END: libfdt's fdt_check_full refuses it (dtc's
    // noppy.test_tree1 has one there), and so does dtc.
    let mut f = sample();
    f.items.push(Item::Nop);
    let e = problem(&f.build());
    assert_eq!(
        e.problem,
        BlobProblem::AfterRoot { found: "FDT_NOP" },
        "{e}"
    );
    // Anything after FDT_END inside a version 17 structure block: the block does not end
    // with FDT_END.
    let mut items = sample_items();
    items.push(Item::Word(9)); // FDT_END, then the builder's own FDT_END is left over
    let e = problem(&Fdt::new(items).build());
    assert!(matches!(e.problem, BlobProblem::DataAfterEnd { .. }), "{e}");
}

#[test]
fn unterminated_node_name() {
    let mut blob = Fdt::new(vec![begin(""), begin("abc"), Item::End, Item::End]).build();
    // Overwrite everything after "abc" in the structure block with letters.
    let start = 40 + 16 + 8 + 4;
    let size = u32::from_be_bytes(blob[36..40].try_into().unwrap()) as usize;
    for b in &mut blob[start..40 + 16 + size] {
        *b = b'x';
    }
    assert_eq!(problem(&blob).problem, BlobProblem::UnterminatedNodeName);
}

#[test]
fn depth_limit() {
    let deep = devtree::MAX_DEPTH + 1;
    let mut items = vec![begin("")];
    items.extend((1..deep).map(|i| begin(&format!("n{i}"))));
    items.extend((0..deep).map(|_| Item::End));
    let e = problem(&Fdt::new(items).build());
    assert_eq!(
        e.problem,
        BlobProblem::TooDeep {
            limit: devtree::MAX_DEPTH
        }
    );
    let mut items = vec![begin("")];
    items.extend((1..deep - 1).map(|i| begin(&format!("n{i}"))));
    items.extend((0..deep - 1).map(|_| Item::End));
    assert!(Tree::from_blob(&Fdt::new(items).build()).is_ok());
}

#[test]
fn bad_names_are_reported_not_refused() {
    let blob = Fdt::new(vec![
        begin(""),
        prop("prop$erty", &[]),
        begin("sub$node"),
        Item::End,
        begin("subnode@1@2"),
        Item::End,
        Item::End,
    ])
    .build();
    let tree = Tree::from_blob(&blob).unwrap();
    let problems: Vec<String> = tree.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "/sub$node: node name: character '$' is not allowed in a node name",
            "/subnode@1@2: node name: more than one '@' in the node name",
            "/: property name \"prop$erty\": character '$' is not allowed in a property name",
        ]
    );
}

#[test]
fn phandles_index_duplicates_and_bad_values() {
    let blob = Fdt::new(vec![
        begin(""),
        begin("a"),
        prop("phandle", &cells(&[1])),
        Item::End,
        begin("b"),
        prop("linux,phandle", &cells(&[2])),
        Item::End,
        begin("c"),
        prop("phandle", &cells(&[1])),
        Item::End,
        begin("d"),
        prop("phandle", &[0, 1]),
        Item::End,
        begin("e"),
        prop("phandle", &cells(&[0xffff_ffff])),
        Item::End,
        begin("f"),
        prop("phandle", &cells(&[5])),
        prop("linux,phandle", &cells(&[6])),
        Item::End,
        Item::End,
    ])
    .build();
    let tree = Tree::from_blob(&blob).unwrap();
    use devtree::Phandle;
    assert_eq!(tree.by_phandle(Phandle(1)).unwrap().path(), "/a");
    assert_eq!(tree.by_phandle(Phandle(2)).unwrap().path(), "/b");
    assert_eq!(tree.by_phandle(Phandle(5)).unwrap().path(), "/f");
    assert!(tree.by_phandle(Phandle(3)).is_none());
    let p = tree.problems();
    assert!(p.contains(&Problem::DuplicatePhandle {
        phandle: 1,
        first: "/a".into(),
        second: "/c".into()
    }));
    assert!(
        p.iter()
            .any(|p| matches!(p, Problem::BadPhandle { node, .. } if node == "/d"))
    );
    assert!(
        p.iter()
            .any(|p| matches!(p, Problem::BadPhandle { node, .. } if node == "/e"))
    );
    assert!(p.contains(&Problem::PhandleMismatch {
        node: "/f".into(),
        phandle: 5,
        linux_phandle: 6
    }));
    // name, phandle and linux,phandle stay ordinary properties.
    assert!(tree.find("/b").unwrap().property("linux,phandle").is_some());
}

#[test]
fn qemu_dumps_parse_cleanly() {
    for name in ["pseries.dtb", "powernv9.dtb"] {
        let blob = std::fs::read(testdata(name)).unwrap();
        let tree = Tree::from_blob(&blob).unwrap();
        assert_eq!(tree.problems(), &[], "{name}");
        assert!(tree.find("/cpus").unwrap().children().len() >= 1, "{name}");
    }
}
