//! The tree model shared by both forms: nodes in an arena, lookup by path, parents and
//! children, the phandle index and `#address-cells` / `#size-cells`.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::{EntryError, Problem, PropError, PropProblem};
use crate::names;
use crate::prop::Property;

/// Index of a node inside its [`Tree`]. The root is always `NodeId(0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The root node's id.
    pub const ROOT: NodeId = NodeId(0);

    /// The id as an index (the root is 0; blob trees are numbered in pre-order).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A phandle: the 32-bit value by which one node refers to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phandle(pub u32);

impl Phandle {
    /// True for the values that can name a node (not 0, not 0xffffffff).
    pub fn is_valid(self) -> bool {
        self.0 != 0 && self.0 != u32::MAX
    }
}

impl std::fmt::Display for Phandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// The header of a flattened blob (absent for the directory form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `totalsize`.
    pub totalsize: u32,
    /// `off_dt_struct`.
    pub off_dt_struct: u32,
    /// `off_dt_strings`.
    pub off_dt_strings: u32,
    /// `off_mem_rsvmap`.
    pub off_mem_rsvmap: u32,
    /// `version` (16 or 17, or later and compatible with 17).
    pub version: u32,
    /// `last_comp_version`.
    pub last_comp_version: u32,
    /// `boot_cpuid_phys`: the physical id of the boot CPU.
    pub boot_cpuid_phys: u32,
    /// `size_dt_strings`.
    pub size_dt_strings: u32,
    /// `size_dt_struct` as the header gives it (version 17), or as measured by walking to
    /// `FDT_END` (version 16, whose header has no such field).
    pub size_dt_struct: u32,
}

/// One entry of the memory reservation map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// Physical address.
    pub address: u64,
    /// Size in bytes.
    pub size: u64,
}

static EMPTY: NodeData<'static> = NodeData {
    name: Cow::Borrowed(""),
    parent: None,
    children: Vec::new(),
    props: Vec::new(),
    errors: Vec::new(),
};

#[derive(Debug, Clone)]
pub(crate) struct NodeData<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) parent: Option<NodeId>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) props: Vec<Property<'a>>,
    pub(crate) errors: Vec<EntryError>,
}

/// A device tree read from a flattened blob ([`Tree::from_blob`]) or from the directory form
/// (`Tree::from_root`, feature `dir`). Names and values of a blob's tree borrow from the blob (`'a`).
#[derive(Debug, Clone)]
pub struct Tree<'a> {
    pub(crate) nodes: Vec<NodeData<'a>>,
    pub(crate) phandles: HashMap<u32, NodeId>,
    pub(crate) header: Option<Header>,
    pub(crate) reservations: Vec<Reservation>,
    pub(crate) problems: Vec<Problem>,
}

impl<'a> Tree<'a> {
    /// A tree holding only an empty root node.
    pub(crate) fn with_root(capacity: usize) -> Tree<'a> {
        let mut nodes = Vec::with_capacity(capacity.max(1));
        nodes.push(NodeData {
            name: Cow::Borrowed(""),
            parent: None,
            children: Vec::new(),
            props: Vec::new(),
            errors: Vec::new(),
        });
        Tree {
            nodes,
            phandles: HashMap::new(),
            header: None,
            reservations: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn add_child(&mut self, parent: NodeId, name: Cow<'a, str>) -> NodeId {
        let id = NodeId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(NodeData {
            name,
            parent: Some(parent),
            children: Vec::new(),
            props: Vec::new(),
            errors: Vec::new(),
        });
        if let Some(p) = self.nodes.get_mut(parent.index()) {
            p.children.push(id);
        }
        id
    }

    pub(crate) fn data_mut(&mut self, id: NodeId) -> Option<&mut NodeData<'a>> {
        self.nodes.get_mut(id.index())
    }

    /// Records property names that break the naming rules, found by the blob reader.
    pub(crate) fn bad_property_names(&mut self, bad: Vec<(NodeId, String, String)>) {
        for (id, name, reason) in bad {
            let node = self.path_of(id);
            self.problems.push(Problem::BadName {
                node,
                property: Some(name),
                reason,
            });
        }
    }

    /// Builds the phandle index and checks node names (and property names when
    /// `check_props`); called once the nodes are in place.
    pub(crate) fn finish(&mut self, check_props: bool) {
        let mut problems = Vec::new();
        let mut index: HashMap<u32, NodeId> = HashMap::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            let id = NodeId(u32::try_from(i).unwrap_or(u32::MAX));
            let mut seen: Option<u32> = None;
            for prop in &node.props {
                let name = prop.name();
                if name != "phandle" && name != "linux,phandle" {
                    continue;
                }
                let Some(value) = prop.value_u32() else {
                    problems.push(Problem::BadPhandle {
                        node: self.path_of(id),
                        property: name.to_owned(),
                        reason: format!("expected 4 bytes, found {}", prop.value().len()),
                    });
                    continue;
                };
                if !Phandle(value).is_valid() {
                    problems.push(Problem::BadPhandle {
                        node: self.path_of(id),
                        property: name.to_owned(),
                        reason: format!("{value:#x} is not a valid phandle"),
                    });
                    continue;
                }
                match seen {
                    Some(v) if v == value => continue,
                    Some(v) => problems.push(Problem::PhandleMismatch {
                        node: self.path_of(id),
                        phandle: if name == "phandle" { value } else { v },
                        linux_phandle: if name == "phandle" { v } else { value },
                    }),
                    None => seen = Some(value),
                }
                match index.get(&value) {
                    Some(&first) if first != id => problems.push(Problem::DuplicatePhandle {
                        phandle: value,
                        first: self.path_of(first),
                        second: self.path_of(id),
                    }),
                    Some(_) => {}
                    None => {
                        index.insert(value, id);
                    }
                }
            }
            if i != 0
                && let Err(reason) = names::check_node_name(&node.name)
            {
                problems.push(Problem::BadName {
                    node: self.path_of(id),
                    property: None,
                    reason,
                });
            }
            if check_props {
                for prop in &node.props {
                    if let Err(reason) = names::check_property_name(prop.name()) {
                        problems.push(Problem::BadName {
                            node: self.path_of(id),
                            property: Some(prop.name().to_owned()),
                            reason,
                        });
                    }
                }
            }
            for e in &node.errors {
                problems.push(Problem::Unreadable {
                    node: self.path_of(id),
                    entry: e.name.clone(),
                    reason: e.message.clone(),
                });
            }
        }
        self.phandles = index;
        self.problems.extend(problems);
    }

    /// The root node.
    pub fn root(&self) -> Node<'_, 'a> {
        Node {
            tree: self,
            id: NodeId::ROOT,
        }
    }

    /// The node with this id, if the id belongs to this tree.
    pub fn node(&self, id: NodeId) -> Option<Node<'_, 'a>> {
        (id.index() < self.nodes.len()).then_some(Node { tree: self, id })
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a tree has at least its root.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, in pre-order (the root first, then each subtree in child order).
    pub fn nodes(&self) -> impl Iterator<Item = Node<'_, 'a>> + '_ {
        let mut stack = vec![NodeId::ROOT];
        std::iter::from_fn(move || {
            let id = stack.pop()?;
            if let Some(data) = self.nodes.get(id.index()) {
                stack.extend(data.children.iter().rev().copied());
            }
            Some(Node { tree: self, id })
        })
    }

    /// The node at `path` (`/pciex@6030200000000/unknown-bridge@0`). A component without a
    /// unit address (`cpus`, `memory`) also matches the first child whose name without its
    /// `@unit` equals it, as libfdt's path lookup does. Empty components are skipped.
    pub fn find(&self, path: &str) -> Option<Node<'_, 'a>> {
        let mut node = self.root();
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            node = node.child(comp)?;
        }
        Some(node)
    }

    /// The node whose `phandle` or `linux,phandle` is `phandle`.
    pub fn by_phandle(&self, phandle: Phandle) -> Option<Node<'_, 'a>> {
        self.phandles
            .get(&phandle.0)
            .map(|&id| Node { tree: self, id })
    }

    /// Number of phandles in the index.
    pub fn phandle_count(&self) -> usize {
        self.phandles.len()
    }

    /// The blob header, for a tree read from a blob.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// The memory reservation map (empty for the directory form).
    pub fn reservations(&self) -> &[Reservation] {
        &self.reservations
    }

    /// What is readable but not right: bad names, duplicate or malformed phandles, unreadable
    /// directory entries. Empty for a clean tree.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    fn path_of(&self, id: NodeId) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            let Some(data) = self.nodes.get(c.index()) else {
                break;
            };
            if data.parent.is_some() {
                parts.push(data.name.as_ref());
            }
            cur = data.parent;
        }
        if parts.is_empty() {
            return "/".to_owned();
        }
        let mut path = String::new();
        for p in parts.iter().rev() {
            path.push('/');
            path.push_str(p);
        }
        path
    }

    /// A copy that owns all its data (no longer borrows the blob).
    pub fn into_owned(self) -> Tree<'static> {
        Tree {
            nodes: self
                .nodes
                .into_iter()
                .map(|n| NodeData {
                    name: Cow::Owned(n.name.into_owned()),
                    parent: n.parent,
                    children: n.children,
                    props: n.props.into_iter().map(Property::into_owned).collect(),
                    errors: n.errors,
                })
                .collect(),
            phandles: self.phandles,
            header: self.header,
            reservations: self.reservations,
            problems: self.problems,
        }
    }
}

/// A node of a [`Tree`]: a cheap handle (tree reference and id).
#[derive(Debug, Clone, Copy)]
pub struct Node<'t, 'a> {
    pub(crate) tree: &'t Tree<'a>,
    pub(crate) id: NodeId,
}

impl PartialEq for Node<'_, '_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.tree, other.tree) && self.id == other.id
    }
}

impl Eq for Node<'_, '_> {}

impl<'t, 'a> Node<'t, 'a> {
    fn data(&self) -> &'t NodeData<'a> {
        // Ids handed out by a tree always index it; the fallback is never taken.
        self.tree.nodes.get(self.id.index()).unwrap_or(&EMPTY)
    }

    /// The node's id in its tree.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The tree the node belongs to.
    pub fn tree(&self) -> &'t Tree<'a> {
        self.tree
    }

    /// The node's full name (`unknown-bridge@0,1`; empty for the root).
    pub fn name(&self) -> &'t str {
        &self.data().name
    }

    /// The name without its `@unit` part.
    pub fn base_name(&self) -> &'t str {
        let name = self.name();
        name.split_once('@').map_or(name, |(base, _)| base)
    }

    /// The unit address (after `@`), if the name has one.
    pub fn unit_address(&self) -> Option<&'t str> {
        self.name().split_once('@').map(|(_, unit)| unit)
    }

    /// The node's path from the root (`/` for the root).
    pub fn path(&self) -> String {
        self.tree.path_of(self.id)
    }

    /// The parent node (none for the root).
    pub fn parent(&self) -> Option<Node<'t, 'a>> {
        self.data().parent.map(|id| Node {
            tree: self.tree,
            id,
        })
    }

    /// The child nodes, in blob order (directory form: sorted by name).
    pub fn children(&self) -> impl ExactSizeIterator<Item = Node<'t, 'a>> + 't {
        let tree = self.tree;
        self.data()
            .children
            .iter()
            .map(move |&id| Node { tree, id })
    }

    /// The child called `name`: an exact match, else the first child whose name without its
    /// `@unit` is `name` (when `name` has no `@`).
    pub fn child(&self, name: &str) -> Option<Node<'t, 'a>> {
        let mut children = self.children();
        if let Some(exact) = self.children().find(|c| c.name() == name) {
            return Some(exact);
        }
        if name.contains('@') {
            return None;
        }
        children.find(|c| c.base_name() == name)
    }

    /// The properties, in blob order (directory form: sorted by name).
    pub fn properties(&self) -> &'t [Property<'a>] {
        &self.data().props
    }

    /// The property called `name`.
    pub fn property(&self, name: &str) -> Option<&'t Property<'a>> {
        self.data().props.iter().find(|p| p.name() == name)
    }

    /// Entries of the directory form that could not be read (empty for a blob).
    pub fn errors(&self) -> &'t [EntryError] {
        &self.data().errors
    }

    /// The property `name`, or a [`PropError`] saying it is missing.
    pub fn require(&self, name: &str) -> Result<&'t Property<'a>, PropError> {
        self.property(name)
            .ok_or_else(|| self.prop_error(name, PropProblem::Missing))
    }

    pub(crate) fn prop_error(&self, name: &str, problem: PropProblem) -> PropError {
        PropError {
            node: self.path(),
            property: name.to_owned(),
            problem,
        }
    }

    /// The node's own phandle (`phandle`, else `linux,phandle`), if it has a valid one.
    pub fn phandle(&self) -> Option<Phandle> {
        ["phandle", "linux,phandle"]
            .iter()
            .filter_map(|n| self.property(n)?.value_u32())
            .map(Phandle)
            .find(|p| p.is_valid())
    }

    /// `#address-cells` that applies to this node's children's `reg`: this node's own value,
    /// else the nearest ancestor's (as Linux's `of_n_addr_cells` looks it up), else 2, the
    /// default of the Devicetree Specification (v0.4, §2.3.5).
    pub fn address_cells(&self) -> Result<u32, PropError> {
        self.cell_count("#address-cells", 2)
    }

    /// `#size-cells` for this node's children: own value, else the nearest ancestor's, else 1
    /// (Devicetree Specification v0.4, §2.3.5).
    pub fn size_cells(&self) -> Result<u32, PropError> {
        self.cell_count("#size-cells", 1)
    }

    fn cell_count(&self, which: &'static str, default: u32) -> Result<u32, PropError> {
        let mut cur = Some(*self);
        while let Some(node) = cur {
            if let Some(p) = node.property(which) {
                let v = node.u32(which)?;
                if v > 4 {
                    return Err(PropError {
                        node: node.path(),
                        property: p.name().to_owned(),
                        problem: PropProblem::Cells { which, value: v },
                    });
                }
                return Ok(v);
            }
            cur = node.parent();
        }
        Ok(default)
    }
}
