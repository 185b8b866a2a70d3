//! What `lsnvlink capture` takes from a host: exactly the files the readers use.
//!
//! Each [`Rule`] is a root-relative path pattern, one glob per component (`*`, `?`, `[...]`,
//! matched by [`glob::Pattern`]; `*` never crosses a `/`), where a whole component `**` stands
//! for any number of directories, and the [`Kind`] of entry it takes. The walk enters a
//! directory only when a rule takes it, or when it lies on the fixed path before a rule's first
//! wildcard-directory `**`; symlinks are recorded and never followed. So `config` of a PCI
//! device is read, but never `power/`, `msi_irqs/`, `rom`, `vpd` or `reset` next to it.
//!
//! | what | for |
//! |---|---|
//! | `proc/cpuinfo`, `proc/meminfo`, `proc/sys/kernel/{osrelease,hostname}` | platform, model, kernel release, host name (dropped by `--sanitize`) |
//! | `proc/device-tree` (symlink), `sys/firmware/devicetree/base/**` | the whole device tree |
//! | `sys/bus/pci/devices/*` (symlinks), `sys/bus/pci/drivers/*/` and their device links, `sys/bus/pci/slots/*/address` | PCI enumeration as lspci does it |
//! | `sys/devices/pci*/**/DDDD:BB:DD.F/` with [`PCI_ATTRIBUTES`] and the links [`PCI_LINKS`] | every PCI function |
//! | `sys/kernel/iommu_groups/*/{type,devices/*}` | IOMMU groups |
//! | `sys/devices/system/node/{online,possible,has_cpu,has_memory,has_normal_memory}`, `node*/{cpulist,distance,meminfo}` | NUMA nodes, GPU memory nodes, the GPU memory really onlined |
//! | `proc/driver/nvidia/gpus/*/numa_status` | the NVIDIA driver's view of each GPU's memory (node, status, address, size) |

use super::CaptureError;

/// The kind of entry a rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file, read by content.
    File,
    /// A directory (entered, and kept even when empty).
    Dir,
    /// A symlink, kept as a link with its text.
    Symlink,
    /// A directory and everything below it (files and directories; symlinks kept as links).
    Tree,
}

/// One allowlist rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Root-relative pattern, `/`-separated, one glob per component, `**` for any directories.
    pub pattern: String,
    /// What the rule takes.
    pub kind: Kind,
}

/// A PCI function directory name: `DDDD:BB:DD.F` (domains may have more than 4 digits).
pub const PCI_FUNCTION: &str = "[0-9a-f]*:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]";

/// PCI function attributes read by lspci (pciutils `lib/sysfs.c`) and by lsnvlink's readers.
pub const PCI_ATTRIBUTES: &[&str] = &[
    "vendor",
    "device",
    "class",
    "revision",
    "subsystem_vendor",
    "subsystem_device",
    "irq",
    "resource",
    "config",
    "numa_node",
    "local_cpus",
    "local_cpulist",
    "modalias",
    "label",
    "devspec",
    "enable",
    "uevent",
    "driver_override",
    "current_link_speed",
    "current_link_width",
    "max_link_speed",
    "max_link_width",
    "secondary_bus_number",
    "subordinate_bus_number",
];

/// PCI function links kept as links.
pub const PCI_LINKS: &[&str] = &["driver", "iommu_group", "of_node", "subsystem", "physfn"];

/// The allowlist `lsnvlink capture` uses.
pub fn rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut add = |pattern: &str, kind| {
        rules.push(Rule {
            pattern: pattern.to_owned(),
            kind,
        })
    };
    for file in [
        "proc/cpuinfo",
        "proc/meminfo",
        "proc/sys/kernel/osrelease",
        "proc/sys/kernel/hostname",
    ] {
        add(file, Kind::File);
    }
    add("proc/device-tree", Kind::Symlink);
    add("sys/firmware/devicetree/base/**", Kind::Tree);
    add("sys/bus/pci/devices/*", Kind::Symlink);
    add("sys/bus/pci/drivers/*", Kind::Dir);
    add(
        &format!("sys/bus/pci/drivers/*/{PCI_FUNCTION}"),
        Kind::Symlink,
    );
    add("sys/bus/pci/slots/*", Kind::Dir);
    add("sys/bus/pci/slots/*/address", Kind::File);
    add("sys/devices/pci[0-9a-f]*:[0-9a-f]*", Kind::Dir);
    add(&format!("sys/devices/pci*/**/{PCI_FUNCTION}"), Kind::Dir);
    for attr in PCI_ATTRIBUTES {
        add(&format!("sys/devices/pci*/**/{attr}"), Kind::File);
    }
    for link in PCI_LINKS {
        add(&format!("sys/devices/pci*/**/{link}"), Kind::Symlink);
    }
    add("sys/kernel/iommu_groups/*", Kind::Dir);
    add("sys/kernel/iommu_groups/*/type", Kind::File);
    add("sys/kernel/iommu_groups/*/devices", Kind::Dir);
    add("sys/kernel/iommu_groups/*/devices/*", Kind::Symlink);
    for file in [
        "online",
        "possible",
        "has_cpu",
        "has_memory",
        "has_normal_memory",
    ] {
        add(&format!("sys/devices/system/node/{file}"), Kind::File);
    }
    add(
        &format!("proc/driver/nvidia/gpus/{PCI_FUNCTION}/numa_status"),
        Kind::File,
    );
    add("sys/devices/system/node/node[0-9]*", Kind::Dir);
    for file in ["cpulist", "distance", "meminfo"] {
        add(
            &format!("sys/devices/system/node/node[0-9]*/{file}"),
            Kind::File,
        );
    }
    rules
}

/// One pattern component.
#[derive(Debug, Clone)]
enum Component {
    /// `**`: any number of components.
    AnyDirs,
    Glob(glob::Pattern),
}

/// The allowlist, compiled for matching.
#[derive(Debug, Clone)]
pub struct Allowlist {
    rules: Vec<(Vec<Component>, Kind)>,
}

const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

impl Allowlist {
    /// Compiles `rules`.
    pub fn new(rules: &[Rule]) -> Result<Allowlist, CaptureError> {
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            let mut components = Vec::new();
            for part in rule.pattern.split('/') {
                if part == "**" {
                    components.push(Component::AnyDirs);
                } else {
                    let glob = glob::Pattern::new(part).map_err(|e| CaptureError::Pattern {
                        pattern: rule.pattern.clone(),
                        message: e.to_string(),
                    })?;
                    components.push(Component::Glob(glob));
                }
            }
            compiled.push((components, rule.kind));
        }
        Ok(Allowlist { rules: compiled })
    }

    /// The default allowlist ([`rules`]).
    pub fn default_rules() -> Result<Allowlist, CaptureError> {
        Allowlist::new(&rules())
    }

    /// Whether an entry of `kind` (never [`Kind::Tree`]) at `path` is taken.
    pub fn takes<S: AsRef<str>>(&self, path: &[S], kind: Kind) -> bool {
        self.rules.iter().any(|(pattern, rule_kind)| {
            let kind_ok = match rule_kind {
                Kind::Tree => true,
                other => *other == kind,
            };
            kind_ok && matches(pattern, path)
        })
    }

    /// Whether the walk enters the directory at `path`: it is taken, or it lies on the fixed
    /// path of some rule before that rule's first `**`.
    pub fn enters<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.takes(path, Kind::Dir)
            || self.rules.iter().any(|(pattern, _)| {
                let fixed = pattern
                    .iter()
                    .position(|c| matches!(c, Component::AnyDirs))
                    .unwrap_or(pattern.len().saturating_sub(1));
                path.len() <= fixed
                    && pattern
                        .iter()
                        .zip(path)
                        .all(|(c, name)| matches!(c, Component::Glob(g) if g.matches_with(name.as_ref(), OPTIONS)))
            })
    }
}

/// Whether `path` matches `pattern` as a whole.
fn matches<S: AsRef<str>>(pattern: &[Component], path: &[S]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Component::AnyDirs, rest)) => {
            (0..=path.len()).any(|skip| path.get(skip..).is_some_and(|tail| matches(rest, tail)))
        }
        Some((Component::Glob(glob), rest)) => match path.split_first() {
            Some((name, tail)) => glob.matches_with(name.as_ref(), OPTIONS) && matches(rest, tail),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(path: &str) -> Vec<&str> {
        path.split('/').collect()
    }

    #[test]
    fn pci_function_directories_and_attributes() {
        let list = Allowlist::default_rules().unwrap();
        let dev = "sys/devices/pci0004:00/0004:00:00.0/0004:01:00.0/0004:02:0a.0/0004:04:00.0";
        assert!(list.enters(&split(dev)));
        assert!(list.takes(&split(&format!("{dev}/config")), Kind::File));
        assert!(list.takes(&split(&format!("{dev}/of_node")), Kind::Symlink));
        assert!(!list.takes(&split(&format!("{dev}/of_node")), Kind::File));
        assert!(!list.takes(&split(&format!("{dev}/vpd")), Kind::File));
        assert!(!list.takes(&split(&format!("{dev}/rom")), Kind::File));
        assert!(!list.enters(&split(&format!("{dev}/power"))));
        assert!(!list.enters(&split(
            "sys/devices/pci0000:00/0000:00:01.0/0000:00:01.0:pcie001"
        )));
        assert!(list.enters(&split("sys/devices/pci0000:00")));
        assert!(list.enters(&split("sys/devices/pci10000:00/10000:00:02.0")));
        assert!(!list.enters(&split("sys/devices/platform")));
        assert!(!list.enters(&split("sys/devices/system/cpu")));
        assert!(list.enters(&split("sys/devices/system/node/node255")));
        assert!(list.enters(&split("sys")));
        assert!(!list.enters(&split("proc/1")));
        assert!(!list.enters(&split("proc/sys/net")));
    }

    #[test]
    fn the_device_tree_is_taken_whole() {
        let list = Allowlist::default_rules().unwrap();
        let base = "sys/firmware/devicetree/base";
        assert!(list.enters(&split(base)));
        assert!(list.enters(&split(&format!("{base}/pciex@6030200000000"))));
        assert!(list.takes(
            &split(&format!(
                "{base}/pciex@6030200000000/unknown-bridge@0/ibm,gpu"
            )),
            Kind::File
        ));
        assert!(list.takes(&split("proc/device-tree"), Kind::Symlink));
        assert!(!list.takes(&split("sys/firmware/acpi/tables/DSDT"), Kind::File));
    }

    #[test]
    fn double_star_matches_zero_or_more_components() {
        let list = Allowlist::new(&[Rule {
            pattern: "a/**/b".into(),
            kind: Kind::File,
        }])
        .unwrap();
        assert!(list.takes(&["a", "b"], Kind::File));
        assert!(list.takes(&["a", "x", "y", "b"], Kind::File));
        assert!(!list.takes(&["a", "x", "c"], Kind::File));
        assert!(!list.takes(&["b"], Kind::File));
    }

    #[test]
    fn a_bad_pattern_is_an_error() {
        let err = Allowlist::new(&[Rule {
            pattern: "a/[".into(),
            kind: Kind::File,
        }])
        .unwrap_err();
        assert!(err.to_string().contains("a/["), "{err}");
    }
}
