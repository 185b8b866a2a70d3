//! The PCI hierarchy: domain → root bus → root port → switch → endpoint.

use std::collections::HashMap;

use crate::address::BusAddress;
use crate::device::{Device, Parent};

/// A root bus and the devices directly on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootBus {
    /// The bus (`pciDDDD:BB` in sysfs).
    pub bus: BusAddress,
    /// Indexes (into the device slice the tree was built from) of the devices on it, by
    /// address.
    pub devices: Vec<usize>,
}

/// The hierarchy of a device list, built from each device's [`Parent`].
///
/// Built in linear time: one pass to index devices by address, one to attach each to its
/// parent. A device whose parent bridge is not in the list, or whose parent is unknown, hangs
/// from a root bus named after its own bus, so every device appears exactly once.
///
/// ```
/// # use lsnvlink_pci::{Tree, Device};
/// # fn show(devices: &[Device]) {
/// let tree = Tree::build(devices);
/// for root in tree.roots() {
///     for &i in &root.devices {
///         println!("{} has {} children", devices[i].address, tree.children(i).len());
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    roots: Vec<RootBus>,
    children: Vec<Vec<usize>>,
}

impl Tree {
    /// Builds the tree of `devices`, which must be sorted by address (as
    /// [`Pci::read`](crate::Pci::read) returns them) for the children to come out sorted.
    pub fn build(devices: &[Device]) -> Tree {
        let index: HashMap<_, _> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.address, i))
            .collect();
        let mut children = vec![Vec::new(); devices.len()];
        let mut parent_of = vec![None; devices.len()];
        let mut roots: HashMap<BusAddress, Vec<usize>> = HashMap::new();
        for (i, device) in devices.iter().enumerate() {
            let bus = match device.parent {
                Parent::Bridge(bridge) => match index.get(&bridge) {
                    Some(&p) if p != i => {
                        if let (Some(list), Some(slot)) =
                            (children.get_mut(p), parent_of.get_mut(i))
                        {
                            list.push(i);
                            *slot = Some(p);
                        }
                        continue;
                    }
                    _ => device.address.bus_address(),
                },
                Parent::RootBus(bus) => bus,
                Parent::Unknown => device.address.bus_address(),
            };
            roots.entry(bus).or_default().push(i);
        }
        // A crafted capture can make two devices each other's parent: such a cycle is never
        // reached from a root. Cut each one at its first device, which becomes a root.
        let mut reached = vec![false; devices.len()];
        let mut stack: Vec<usize> = roots.values().flatten().copied().collect();
        mark(&children, &mut reached, &mut stack);
        for i in 0..devices.len() {
            if reached.get(i).copied().unwrap_or(true) {
                continue;
            }
            if let Some(p) = parent_of.get(i).copied().flatten()
                && let Some(list) = children.get_mut(p)
            {
                list.retain(|&c| c != i);
            }
            if let Some(device) = devices.get(i) {
                roots
                    .entry(device.address.bus_address())
                    .or_default()
                    .push(i);
            }
            stack.push(i);
            mark(&children, &mut reached, &mut stack);
        }
        for list in roots.values_mut() {
            list.sort_unstable();
        }
        let mut roots: Vec<RootBus> = roots
            .into_iter()
            .map(|(bus, devices)| RootBus { bus, devices })
            .collect();
        roots.sort_unstable_by_key(|r| r.bus);
        Tree { roots, children }
    }

    /// The root buses, by domain and bus number.
    pub fn roots(&self) -> &[RootBus] {
        &self.roots
    }

    /// The devices directly behind device `index` (empty for endpoints).
    pub fn children(&self, index: usize) -> &[usize] {
        self.children.get(index).map_or(&[], Vec::as_slice)
    }
}

/// Marks everything reachable from `stack` (iteratively: no recursion depth to exhaust).
fn mark(children: &[Vec<usize>], reached: &mut [bool], stack: &mut Vec<usize>) {
    while let Some(i) = stack.pop() {
        match reached.get_mut(i) {
            Some(seen) if !*seen => *seen = true,
            _ => continue,
        }
        if let Some(list) = children.get(i) {
            stack.extend(list.iter().copied());
        }
    }
}
