//! Device-tree nodes as Linux exports them under `/sys/firmware/devicetree/base`: one
//! directory per node, one file per property (raw big-endian bytes), plus the `name` file
//! Linux adds to every node (§2.3: "Linux adds a `name` property file to every node").

use std::collections::BTreeMap;

use anyhow::Result;
use lsnvlink::capture::Tree;

/// Where the device tree lives in a capture.
pub const BASE: &str = "sys/firmware/devicetree/base";

/// Property values, big-endian (§2.3: "All properties are big-endian").
pub fn cells(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// u64 values, each as two big-endian cells.
pub fn u64s(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// A NUL-terminated string.
pub fn string(s: &str) -> Vec<u8> {
    strings(&[s])
}

/// A NUL-separated string list.
pub fn strings(list: &[&str]) -> Vec<u8> {
    list.iter()
        .flat_map(|s| s.bytes().chain(std::iter::once(0)))
        .collect()
}

/// One node's properties.
#[derive(Debug, Default)]
pub struct Node {
    props: BTreeMap<String, Vec<u8>>,
}

impl Node {
    /// Sets a raw property.
    pub fn raw(&mut self, name: &str, value: Vec<u8>) -> &mut Node {
        self.props.insert(name.to_owned(), value);
        self
    }
    /// Sets a cells property.
    pub fn cells(&mut self, name: &str, values: &[u32]) -> &mut Node {
        self.raw(name, cells(values))
    }
    /// Sets a u64 property.
    pub fn u64s(&mut self, name: &str, values: &[u64]) -> &mut Node {
        self.raw(name, u64s(values))
    }
    /// Sets a string property.
    pub fn string(&mut self, name: &str, value: &str) -> &mut Node {
        self.raw(name, string(value))
    }
    /// Sets a string-list property.
    pub fn strings(&mut self, name: &str, values: &[&str]) -> &mut Node {
        self.raw(name, strings(values))
    }
    /// Sets an empty (boolean) property.
    pub fn flag(&mut self, name: &str) -> &mut Node {
        self.raw(name, Vec::new())
    }
}

/// A device tree under construction, nodes by path ("" is the root).
#[derive(Debug, Default)]
pub struct Dt {
    nodes: BTreeMap<String, Node>,
}

impl Dt {
    /// The node at `path` (created with its `phandle`, §2.3: skiboot writes only `phandle`, on
    /// every node).
    pub fn node(&mut self, path: &str, phandle: u32) -> &mut Node {
        let node = self.nodes.entry(path.to_owned()).or_default();
        node.cells("phandle", &[phandle]);
        node
    }

    /// An existing node (or a new one without phandle).
    pub fn at(&mut self, path: &str) -> &mut Node {
        self.nodes.entry(path.to_owned()).or_default()
    }

    /// A property of the node at `path`, if both exist.
    pub fn prop(&self, path: &str, name: &str) -> Option<&[u8]> {
        self.nodes
            .get(path)
            .and_then(|n| n.props.get(name))
            .map(Vec::as_slice)
    }

    /// Writes every node as a directory and every property as a file.
    pub fn write(&self, tree: &mut Tree) -> Result<()> {
        for (path, node) in &self.nodes {
            let dir = if path.is_empty() {
                BASE.to_owned()
            } else {
                format!("{BASE}/{path}")
            };
            tree.insert_dir(&dir)?;
            let leaf = path.rsplit('/').next().unwrap_or_default();
            let name = leaf.split('@').next().unwrap_or_default();
            tree.insert_file(&format!("{dir}/name"), string(name))?;
            for (prop, value) in &node.props {
                tree.insert_file(&format!("{dir}/{prop}"), value.clone())?;
            }
        }
        Ok(())
    }
}
