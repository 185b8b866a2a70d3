//! Test helpers: a flattened-blob writer that can make every structural variant (block order,
//! version 16 or 17, NOPs, reservations) and every malformation, a writer of a tree as a
//! `/proc/device-tree`-style directory, and a canonical form to compare trees.

use std::collections::BTreeMap;

use devtree::Tree;
// The inputs in `testdata/dt`, and dtc, the oracle.
pub use lsnvlink_test_support::{dt as testdata, dtc};

/// One token of the structure block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Begin(String),
    End,
    Prop(String, Vec<u8>),
    Nop,
    /// A raw word, for malformed blobs.
    Word(u32),
}

pub fn begin(name: &str) -> Item {
    Item::Begin(name.to_owned())
}
pub fn prop(name: &str, value: &[u8]) -> Item {
    Item::Prop(name.to_owned(), value.to_vec())
}
pub fn cells(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|c| c.to_be_bytes()).collect()
}
pub fn string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Block order, as dtc's test names spell it: m = reservation map, s = structure, t = strings.
pub const ORDERS: [&str; 6] = ["mst", "mts", "smt", "stm", "tms", "tsm"];

/// A blob to write.
#[derive(Debug, Clone)]
pub struct Fdt {
    pub items: Vec<Item>,
    pub reservations: Vec<(u64, u64)>,
    pub version: u32,
    pub last_comp_version: u32,
    pub boot_cpuid_phys: u32,
    pub order: &'static str,
    /// Put an FDT_NOP after every token but the last (the root's FDT_END_NODE, which only
    /// FDT_END may follow).
    pub nops: bool,
    pub magic: u32,
}

impl Fdt {
    pub fn new(items: Vec<Item>) -> Fdt {
        Fdt {
            items,
            reservations: Vec::new(),
            version: 17,
            last_comp_version: 16,
            boot_cpuid_phys: 0,
            order: "mst",
            nops: false,
            magic: 0xd00d_feed,
        }
    }

    /// The structure block and the strings block.
    pub fn blocks(&self) -> (Vec<u8>, Vec<u8>) {
        let mut s = Vec::new();
        let mut strings: Vec<u8> = Vec::new();
        let mut offsets: BTreeMap<String, u32> = BTreeMap::new();
        let word = |s: &mut Vec<u8>, w: u32| s.extend_from_slice(&w.to_be_bytes());
        let pad = |s: &mut Vec<u8>| {
            while !s.len().is_multiple_of(4) {
                s.push(0);
            }
        };
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Begin(name) => {
                    word(&mut s, 1);
                    s.extend_from_slice(name.as_bytes());
                    s.push(0);
                    pad(&mut s);
                }
                Item::End => word(&mut s, 2),
                Item::Prop(name, value) => {
                    let off = *offsets.entry(name.clone()).or_insert_with(|| {
                        let off = strings.len() as u32;
                        strings.extend_from_slice(name.as_bytes());
                        strings.push(0);
                        off
                    });
                    word(&mut s, 3);
                    word(&mut s, value.len() as u32);
                    word(&mut s, off);
                    s.extend_from_slice(value);
                    pad(&mut s);
                }
                Item::Nop => word(&mut s, 4),
                Item::Word(w) => word(&mut s, *w),
            }
            if self.nops && i + 1 < self.items.len() {
                word(&mut s, 4);
            }
        }
        word(&mut s, 9);
        (s, strings)
    }

    pub fn build(&self) -> Vec<u8> {
        let (structure, strings) = self.blocks();
        let mut memrsv = Vec::new();
        for &(a, sz) in &self.reservations {
            memrsv.extend_from_slice(&a.to_be_bytes());
            memrsv.extend_from_slice(&sz.to_be_bytes());
        }
        memrsv.extend_from_slice(&[0; 16]);
        let header = if self.version >= 17 { 40 } else { 36 };
        let mut blob = vec![0u8; header];
        let mut offs = [0u32; 3];
        for c in self.order.chars() {
            // Reservation map on 8 bytes, structure on 4, strings anywhere.
            let (i, data, align) = match c {
                'm' => (0, &memrsv, 8),
                's' => (1, &structure, 4),
                _ => (2, &strings, 1),
            };
            while !blob.len().is_multiple_of(align) {
                blob.push(0);
            }
            offs[i] = blob.len() as u32;
            blob.extend_from_slice(data);
        }
        let put = |blob: &mut Vec<u8>, at: usize, v: u32| {
            blob[at..at + 4].copy_from_slice(&v.to_be_bytes());
        };
        let total = blob.len() as u32;
        put(&mut blob, 0, self.magic);
        put(&mut blob, 4, total);
        put(&mut blob, 8, offs[1]);
        put(&mut blob, 12, offs[2]);
        put(&mut blob, 16, offs[0]);
        put(&mut blob, 20, self.version);
        put(&mut blob, 24, self.last_comp_version);
        put(&mut blob, 28, self.boot_cpuid_phys);
        put(&mut blob, 32, strings.len() as u32);
        if self.version >= 17 {
            put(&mut blob, 36, structure.len() as u32);
        }
        blob
    }
}

/// Sets header word `index` (0 = magic, 1 = totalsize, …) of a blob.
pub fn set_word(blob: &mut [u8], index: usize, value: u32) {
    blob[index * 4..index * 4 + 4].copy_from_slice(&value.to_be_bytes());
}

/// A small tree in the shape dtc's test_tree1 has: nested nodes, strings, cells, u64s, bytes,
/// phandles, an empty property, reservations outside.
pub fn sample_items() -> Vec<Item> {
    vec![
        begin(""),
        prop("compatible", b"test_tree1\0"),
        prop("prop-int", &cells(&[0xdeadbeef])),
        prop(
            "prop-int64",
            &[0xde, 0xad, 0xbe, 0xef, 0xab, 0xcd, 0xef, 0x01],
        ),
        prop("prop-str", &string("hello world")),
        prop("#address-cells", &cells(&[1])),
        prop("#size-cells", &cells(&[0])),
        begin("subnode@1"),
        prop("compatible", b"subnode1\0"),
        prop("reg", &cells(&[1])),
        prop("prop-int", &cells(&[0xdeadbeef])),
        begin("subsubnode"),
        prop("compatible", b"subsubnode1\0subsubnode\0"),
        prop("placeholder", b"this is a placeholder string\0string2\0"),
        prop("prop-int", &cells(&[0xdeadbeef])),
        Item::End,
        begin("ss1"),
        Item::End,
        Item::End,
        begin("subnode@2"),
        prop("reg", &cells(&[2])),
        prop("linux,phandle", &cells(&[0x2000])),
        prop("prop-int", &cells(&[123456789])),
        prop("bytes", &[1, 2, 3]),
        prop("empty", &[]),
        begin("subsubnode@0"),
        prop("reg", &cells(&[0])),
        prop("phandle", &cells(&[0x2001])),
        prop("compatible", b"subsubnode2\0subsubnode\0"),
        prop("prop-int", &cells(&[0o726746425])),
        Item::End,
        begin("ss2"),
        Item::End,
        Item::End,
        Item::End,
    ]
}

pub fn sample() -> Fdt {
    let mut f = Fdt::new(sample_items());
    f.reservations = vec![(0xdead_beef_0000_0000, 0x10_0000), (0x1234_5678, 0xabcd)];
    f
}

/// Canonical form of a tree: every node by path, with its properties by name, so that
/// trees read in a different order compare equal.
pub type Canon = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

pub fn canon(tree: &Tree<'_>) -> Canon {
    tree.nodes()
        .map(|n| {
            (
                n.path(),
                n.properties()
                    .iter()
                    .map(|p| (p.name().to_owned(), p.value().to_vec()))
                    .collect(),
            )
        })
        .collect()
}

/// Writes a tree out as the kernel shows it under /sys/firmware/devicetree/base: a directory
/// per node, a file per property.
#[cfg(feature = "dir")]
pub fn write_dir(tree: &Tree<'_>, top: &std::path::Path) {
    for node in tree.nodes() {
        let dir = top.join(node.path().trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for p in node.properties() {
            std::fs::write(dir.join(p.name()), p.value()).unwrap();
        }
    }
}

/// Writes a tree as a copied root: the tree under sys/firmware/devicetree/base and the
/// /proc/device-tree link real hosts have.
#[cfg(feature = "dir")]
pub fn write_root(tree: &Tree<'_>, root: &std::path::Path) {
    let base = root.join("sys/firmware/devicetree/base");
    write_dir(tree, &base);
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::os::unix::fs::symlink(
        "/sys/firmware/devicetree/base",
        root.join("proc/device-tree"),
    )
    .unwrap();
}

/// Compiles dts text to a blob with dtc.
pub fn compile(dts: &[u8]) -> Vec<u8> {
    dtc(&["-q", "-I", "dts", "-O", "dtb", "-"], dts)
}

/// dtc's own decompile of a blob.
pub fn decompile(blob: &[u8]) -> String {
    String::from_utf8(dtc(&["-q", "-I", "dtb", "-O", "dts", "-"], blob)).unwrap()
}
