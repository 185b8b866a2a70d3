//! A libvirt domain XML (inactive or live, as `virsh dumpxml` writes it) read into a
//! [`Guest`]: only what the memory-locking limit depends on. Input is bounded
//! ([`MAX_DOMAIN_XML_BYTES`], a node limit, no DTD), and nothing in it can make the reader
//! panic.
//!
//! ```
//! use lsnvlink_memlock::domain::parse_domain;
//!
//! let guest = parse_domain(r#"<domain type='kvm'>
//!   <memory unit='GiB'>64</memory>
//!   <os><type arch='ppc64le' machine='pseries'>hvm</type></os>
//!   <devices>
//!     <hostdev mode='subsystem' type='pci' managed='yes'>
//!       <source><address domain='0x0006' bus='0x00' slot='0x00' function='0x0'/></source>
//!     </hostdev>
//!   </devices>
//! </domain>"#)?;
//! assert_eq!(guest.memory_kib, 67_108_864);
//! assert_eq!(guest.pci_hostdevs.len(), 1);
//! assert!(guest.is_ppc64_kvm());
//! # Ok::<(), lsnvlink_memlock::domain::DomainError>(())
//! ```

use pci::PciAddress;
use roxmltree::{Document, Node, ParsingOptions};

use super::size::{KIB, SizeError, kib_ceil, parse_scaled};
use super::{Guest, GuestAddress, PciHostdev, Phb};

/// The largest domain XML accepted (real ones are a few KiB).
pub const MAX_DOMAIN_XML_BYTES: usize = 4 << 20;

/// At most this many XML nodes.
pub(crate) const MAX_NODES: u32 = 200_000;

/// At most this many attributes on one element (libvirt's elements have a handful). The XML
/// parser checks each attribute's name against every earlier one: 200,000 attributes on one
/// element took minutes before this bound.
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 256;

/// The most attributes (`=` outside quoted values) any one tag of `text` holds; comments,
/// processing instructions and CDATA sections are skipped. Linear in the length of `text`.
fn most_attributes(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut most, mut i) = (0usize, 0usize);
    while let Some(&b) = bytes.get(i) {
        i += 1;
        if b != b'<' {
            continue;
        }
        let rest = bytes.get(i..).unwrap_or_default();
        let end: &[u8] = if rest.starts_with(b"!--") {
            b"-->"
        } else if rest.starts_with(b"![CDATA[") {
            b"]]>"
        } else if rest.starts_with(b"?") {
            b"?>"
        } else {
            // A tag: count `=` outside quotes up to its `>`.
            let (mut count, mut quote) = (0usize, None);
            while let Some(&c) = bytes.get(i) {
                i += 1;
                match (quote, c) {
                    (None, b'"' | b'\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'=') => count += 1,
                    (None, b'>') => break,
                    _ => {}
                }
            }
            most = most.max(count);
            continue;
        };
        // Skip to the end marker.
        match rest.windows(end.len()).position(|w| w == end) {
            Some(at) => i += at + end.len(),
            None => break,
        }
    }
    most
}

/// Why a domain XML was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Larger than [`MAX_DOMAIN_XML_BYTES`].
    #[error("domain XML is {0} bytes, more than the {MAX_DOMAIN_XML_BYTES} accepted")]
    TooLarge(usize),
    /// Not UTF-8.
    #[error("domain XML is not UTF-8")]
    NotUtf8,
    /// An element has more than [`MAX_ATTRIBUTES_PER_ELEMENT`] attributes.
    #[error(
        "domain XML has an element with {0} attributes, more than the {MAX_ATTRIBUTES_PER_ELEMENT} accepted"
    )]
    TooManyAttributes(usize),
    /// Not well-formed XML (or has a DTD, or too many nodes).
    #[error("malformed domain XML")]
    Xml(#[from] roxmltree::Error),
    /// The root element is not `<domain>`.
    #[error("not a libvirt domain XML: the root element is <{0}>, not <domain>")]
    NotADomain(String),
    /// Something the limit depends on is missing.
    #[error("domain XML has no {0}")]
    Missing(&'static str),
    /// A size that cannot be read.
    #[error("domain XML: <{element}>")]
    Size {
        /// The element.
        element: String,
        /// What is wrong with it.
        #[source]
        source: SizeError,
    },
    /// A PCI address (or index) that cannot be read.
    #[error("domain XML: <{element}>: bad {attribute} {value:?}")]
    Number {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// Its text.
        value: String,
    },
    /// The memory devices are larger than `<memory>` (libvirt refuses the domain too).
    #[error(
        "domain XML: the memory devices ({dimms} KiB) exceed <memory> ({memory} KiB), which \
         includes them"
    )]
    DimmsExceedMemory {
        /// `<memory>` in KiB.
        memory: u64,
        /// The memory devices' total in KiB.
        dimms: u64,
    },
}

/// Parses the domain XML in `bytes` (checks the size and the encoding first).
pub fn parse_domain_bytes(bytes: &[u8]) -> Result<Guest, DomainError> {
    if bytes.len() > MAX_DOMAIN_XML_BYTES {
        return Err(DomainError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DomainError::NotUtf8)?;
    parse_domain(text)
}

/// Parses a domain XML.
pub fn parse_domain(text: &str) -> Result<Guest, DomainError> {
    if text.len() > MAX_DOMAIN_XML_BYTES {
        return Err(DomainError::TooLarge(text.len()));
    }
    let attributes = most_attributes(text);
    if attributes > MAX_ATTRIBUTES_PER_ELEMENT {
        return Err(DomainError::TooManyAttributes(attributes));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options)?;
    let top = doc.root_element();
    // A running guest's status XML (`/run/libvirt/qemu/NAME.xml`) wraps the live definition
    // in `<domstatus pid='…'>`.
    let domain = if top.has_tag_name("domstatus") {
        child(top, "domain").ok_or(DomainError::Missing("<domain> inside <domstatus>"))?
    } else {
        top
    };
    if !domain.has_tag_name("domain") {
        return Err(DomainError::NotADomain(domain.tag_name().name().to_owned()));
    }
    let virt_type = domain
        .attribute("type")
        .ok_or(DomainError::Missing("type attribute on <domain>"))?
        .to_owned();
    let os_type = child(domain, "os").and_then(|os| child(os, "type"));
    let arch = os_type
        .and_then(|t| t.attribute("arch"))
        .ok_or(DomainError::Missing(
            "<os><type arch='…'> (libvirt would fill in the host's architecture; write it)",
        ))?
        .to_owned();
    let machine = os_type
        .and_then(|t| t.attribute("machine"))
        .map(str::to_owned);

    let mut guest = Guest {
        name: child(domain, "name")
            .and_then(|n| n.text())
            .map(|s| s.trim().to_owned()),
        virt_type,
        arch,
        machine,
        ..Guest::default()
    };

    let memory = child(domain, "memory").map(memory_kib).transpose()?;
    guest.max_memory_kib = child(domain, "maxMemory").map(memory_kib).transpose()?;
    guest.current_memory_kib = child(domain, "currentMemory").map(memory_kib).transpose()?;
    guest.hard_limit_kib = child(domain, "memtune")
        .and_then(|m| child(m, "hard_limit"))
        .map(memory_kib)
        .transpose()?;
    guest.locked = child(domain, "memoryBacking").is_some_and(|m| child(m, "locked").is_some());

    let mut numa_kib = 0u64;
    if let Some(numa) = child(domain, "cpu").and_then(|c| child(c, "numa")) {
        for cell in elements(numa, "cell") {
            guest.numa_nodes = guest.numa_nodes.saturating_add(1);
            if let Some(value) = cell.attribute("memory") {
                let bytes = parse_scaled(value, cell.attribute("unit"), KIB).map_err(|source| {
                    DomainError::Size {
                        element: "cell".to_owned(),
                        source,
                    }
                })?;
                numa_kib = numa_kib.saturating_add(kib_ceil(bytes));
                guest.numa_cells_kib.push(kib_ceil(bytes));
            }
        }
    }

    let mut dimms_kib = 0u64;
    if let Some(devices) = child(domain, "devices") {
        for dev in devices.children().filter(Node::is_element) {
            match dev.tag_name().name() {
                "controller" => read_controller(dev, &mut guest)?,
                "hostdev" => read_hostdev(dev, &mut guest)?,
                "interface" => match dev.attribute("type") {
                    Some("vdpa") => guest.vdpa_nets = guest.vdpa_nets.saturating_add(1),
                    // A hostdev in disguise: libvirt adds it to the hostdev list too.
                    Some("hostdev") => read_pci_source(dev, &mut guest, true)?,
                    // A network interface: in a running guest's live XML, `<actual
                    // type='hostdev'>` says the network is a hostdev pool and which function it
                    // gave; in a definition nothing tells.
                    Some("network") => match child(dev, "actual") {
                        Some(actual) if actual.attribute("type") == Some("hostdev") => {
                            read_pci_source(actual, &mut guest, true)?;
                        }
                        Some(_) => {}
                        None => {
                            guest.unresolved_networks = guest.unresolved_networks.saturating_add(1);
                        }
                    },
                    _ => {}
                },
                "disk" => {
                    let nvme = dev.attribute("type") == Some("nvme")
                        || dev.descendants().any(|d| {
                            d.has_tag_name("backingStore") && d.attribute("type") == Some("nvme")
                        });
                    if nvme {
                        guest.nvme_disks = guest.nvme_disks.saturating_add(1);
                    }
                    if dev.attribute("type") == Some("vhostvdpa") {
                        guest.vhost_vdpa_disks = guest.vhost_vdpa_disks.saturating_add(1);
                    }
                }
                "iommu" => guest.viommu = true,
                "memory" => {
                    if let Some(size) = child(dev, "target").and_then(|t| child(t, "size")) {
                        let kib = memory_kib(size)?;
                        dimms_kib = dimms_kib.saturating_add(kib);
                        guest.dimms_kib.push(kib);
                    }
                }
                _ => {}
            }
            let is_hostdev = dev.has_tag_name("hostdev")
                || (dev.has_tag_name("interface") && dev.attribute("type") == Some("hostdev"));
            if !is_hostdev
                && !dev.has_tag_name("controller")
                && let Some(bus) = guest_address(dev)?.map(|a| a.bus)
            {
                guest.occupied_buses.insert(bus);
            }
        }
    }

    // `<memory>` is the total, DIMMs included; without it libvirt sums the NUMA cells and
    // adds the DIMMs (`virDomainDefPostParseMemory`, libvirt `src/conf/domain_conf.c`).
    guest.memory_kib = match memory {
        // With NUMA cells, libvirt rewrites <memory> on define as their sum plus the DIMMs
        // (the ABI-update parse, `virDomainDefPostParseMemory`): what the XML says then does
        // not count.
        Some(m) if numa_kib > 0 => {
            let sum = numa_kib.saturating_add(dimms_kib);
            if m != sum {
                guest.notes.push(format!(
                    "<memory> says {m} KiB, but libvirt takes the sum of the NUMA cells and \
                     DIMMs: {sum} KiB"
                ));
            }
            sum
        }
        Some(m) if m > 0 => {
            if dimms_kib > m {
                return Err(DomainError::DimmsExceedMemory {
                    memory: m,
                    dimms: dimms_kib,
                });
            }
            m
        }
        _ if numa_kib > 0 => numa_kib.saturating_add(dimms_kib),
        _ => return Err(DomainError::Missing("<memory> (nor NUMA cells to sum)")),
    };
    Ok(guest)
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn elements<'a, 'i: 'a>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| c.has_tag_name(name))
}

/// A memory element's value in KiB (text + `unit`, KiB without one), rounded up.
fn memory_kib(node: Node<'_, '_>) -> Result<u64, DomainError> {
    let text = node.text().unwrap_or("");
    parse_scaled(text, node.attribute("unit"), KIB)
        .map(kib_ceil)
        .map_err(|source| DomainError::Size {
            element: node.tag_name().name().to_owned(),
            source,
        })
}

/// An unsigned number as libvirt's `virStrToLong_uip` reads it with base 0: `0x` hex, a
/// leading `0` octal, else decimal.
pub fn parse_c_uint(text: &str) -> Option<u32> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        let oct = t.get(1..)?;
        oct.bytes()
            .all(|b| (b'0'..=b'7').contains(&b))
            .then(|| u32::from_str_radix(oct, 8).ok())
            .flatten()
    } else if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse().ok()
    } else {
        None
    }
}

fn number(
    node: Node<'_, '_>,
    element: &'static str,
    attribute: &'static str,
) -> Result<Option<u32>, DomainError> {
    node.attribute(attribute)
        .map(|v| {
            parse_c_uint(v).ok_or_else(|| DomainError::Number {
                element,
                attribute,
                value: v.to_owned(),
            })
        })
        .transpose()
}

fn read_controller(dev: Node<'_, '_>, guest: &mut Guest) -> Result<(), DomainError> {
    if dev.attribute("type") != Some("pci") || dev.attribute("model") != Some("pci-root") {
        return Ok(());
    }
    let index = number(dev, "controller", "index")?.unwrap_or(0);
    let model_name = child(dev, "model").and_then(|m| m.attribute("name"));
    let target_index = match child(dev, "target") {
        Some(t) => number(t, "target", "index")?,
        None => None,
    };
    // A pSeries pci-root without a model name gets spapr-pci-host-bridge during address
    // assignment (`qemuDomainPCIControllerSetDefaultModelName`, libvirt
    // `src/qemu/qemu_domain_address.c`), so it counts.
    let spapr = model_name.is_none_or(|n| n == "spapr-pci-host-bridge");
    if !spapr {
        guest.notes.push(format!(
            "pci-root controller {index} has model name {:?}: not a pSeries PHB, not counted",
            model_name.unwrap_or("")
        ));
    }
    if !guest.phbs.iter().any(|p| p.index == index) {
        guest.phbs.push(Phb {
            index,
            target_index,
            spapr,
        });
    }
    Ok(())
}

/// The guest PCI address of a device (its own `<address type='pci'>`, not its source's).
fn guest_address(dev: Node<'_, '_>) -> Result<Option<GuestAddress>, DomainError> {
    let Some(addr) = dev
        .children()
        .find(|c| c.has_tag_name("address") && c.attribute("type") == Some("pci"))
    else {
        return Ok(None);
    };
    Ok(Some(GuestAddress {
        bus: number(addr, "address", "bus")?.unwrap_or(0),
        slot: number(addr, "address", "slot")?.unwrap_or(0),
        function: number(addr, "address", "function")?.unwrap_or(0),
    }))
}

fn read_pci_source(dev: Node<'_, '_>, guest: &mut Guest, vfio: bool) -> Result<(), DomainError> {
    let Some(addr) = child(dev, "source").and_then(|s| child(s, "address")) else {
        guest
            .notes
            .push("a PCI hostdev without a source address is ignored".to_owned());
        return Ok(());
    };
    let get = |attribute| -> Result<u32, DomainError> {
        number(addr, "address", attribute)?.ok_or(DomainError::Number {
            element: "address",
            attribute,
            value: String::new(),
        })
    };
    let (domain, bus, slot, function) =
        (get("domain")?, get("bus")?, get("slot")?, get("function")?);
    // libvirt skips an address that fails `virPCIDeviceAddressIsValid` in the NVLink2 probe
    // and refuses it when it defines the domain.
    let host = u8::try_from(bus)
        .ok()
        .zip(u8::try_from(slot).ok())
        .zip(u8::try_from(function).ok())
        .and_then(|((b, s), f)| PciAddress::new(domain, b, s, f))
        .ok_or(DomainError::Number {
            element: "address",
            attribute: "bus/slot/function",
            value: format!("{domain:#x}:{bus:#x}:{slot:#x}.{function:#x}"),
        })?;
    guest.pci_hostdevs.push(PciHostdev {
        host,
        vfio_backend: vfio,
        guest: guest_address(dev)?,
    });
    Ok(())
}

fn read_hostdev(dev: Node<'_, '_>, guest: &mut Guest) -> Result<(), DomainError> {
    if dev.attribute("mode").unwrap_or("subsystem") != "subsystem" {
        return Ok(());
    }
    match dev.attribute("type") {
        Some("pci") => {
            // No <driver name>: the QEMU driver fills in VFIO. 'kvm' (legacy assignment) and
            // 'xen' are other backends.
            let backend = child(dev, "driver").and_then(|d| d.attribute("name"));
            let vfio = backend.is_none_or(|b| b == "vfio" || b == "default");
            read_pci_source(dev, guest, vfio)
        }
        Some("mdev") => {
            guest.mdevs = guest.mdevs.saturating_add(1);
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_attributes_on_one_element_are_refused_before_parsing() {
        let attrs: String = (0..200_000).map(|i| format!(" a{i}='x'")).collect();
        let xml = format!("<domain type='kvm'{attrs}><name>g</name></domain>");
        let err = parse_domain(&xml).unwrap_err();
        assert!(
            matches!(err, DomainError::TooManyAttributes(200_001)),
            "{err}"
        );
        // Quoted `=` and `>`, comments and CDATA are not attributes.
        assert_eq!(
            most_attributes("<a x='=>=' y=\"'\"><!-- a=b c=d --><![CDATA[e=f]]><?p q=r?></a>"),
            2
        );
    }

    #[test]
    fn c_numbers() {
        assert_eq!(parse_c_uint("0x0004"), Some(4));
        assert_eq!(parse_c_uint("0X1f"), Some(31));
        assert_eq!(parse_c_uint("010"), Some(8));
        assert_eq!(parse_c_uint("0"), Some(0));
        assert_eq!(parse_c_uint("12"), Some(12));
        assert_eq!(parse_c_uint("09"), None);
        assert_eq!(parse_c_uint("0x"), None);
        assert_eq!(parse_c_uint("-1"), None);
        assert_eq!(parse_c_uint("0x100000000"), None);
        assert_eq!(parse_c_uint(""), None);
    }

    #[test]
    fn memory_elements_and_units() {
        let g = parse_domain(
            "<domain type='kvm'><os><type arch='ppc64'/></os>\
             <memory>1048576</memory><currentMemory unit='MiB'>512</currentMemory>\
             <maxMemory slots='16' unit='G'>4</maxMemory>\
             <memtune><hard_limit unit='KB'>1025</hard_limit></memtune>\
             <memoryBacking><locked/></memoryBacking></domain>",
        )
        .unwrap();
        assert_eq!(g.memory_kib, 1_048_576);
        assert_eq!(g.current_memory_kib, Some(524_288));
        assert_eq!(g.max_memory_kib, Some(4_194_304));
        assert_eq!(g.hard_limit_kib, Some(1001)); // 1 025 000 bytes, rounded up to KiB
        assert!(g.locked);
    }

    #[test]
    fn memory_from_numa_cells_and_dimms() {
        let g = parse_domain(
            "<domain type='kvm'><os><type arch='ppc64le'/></os>\
             <cpu><numa><cell id='0' memory='2' unit='GiB'/><cell id='1' memory='1048576'/></numa></cpu>\
             <devices><memory model='dimm'><target><size unit='GiB'>1</size></target></memory></devices>\
             </domain>",
        )
        .unwrap();
        assert_eq!(g.memory_kib, 4 * 1_048_576);
        assert_eq!(g.numa_nodes, 2);
        let err = parse_domain(
            "<domain type='kvm'><os><type arch='ppc64le'/></os><memory unit='GiB'>1</memory>\
             <devices><memory model='dimm'><target><size unit='GiB'>2</size></target></memory></devices>\
             </domain>",
        );
        assert!(matches!(err, Err(DomainError::DimmsExceedMemory { .. })));
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse_domain("<domain"), Err(DomainError::Xml(_))));
        assert!(matches!(parse_domain(""), Err(DomainError::Xml(_))));
        assert!(matches!(
            parse_domain("<network/>"),
            Err(DomainError::NotADomain(n)) if n == "network"
        ));
        assert!(matches!(
            parse_domain("<domain><os><type arch='x86_64'/></os></domain>"),
            Err(DomainError::Missing(_))
        ));
        assert!(matches!(
            parse_domain("<domain type='kvm'><memory>1</memory></domain>"),
            Err(DomainError::Missing(_))
        ));
        assert!(matches!(
            parse_domain("<domain type='kvm'><os><type arch='ppc64'/></os></domain>"),
            Err(DomainError::Missing(_))
        ));
        assert!(matches!(
            parse_domain(
                "<domain type='kvm'><os><type arch='ppc64'/></os><memory unit='parsec'>1</memory></domain>"
            ),
            Err(DomainError::Size { .. })
        ));
        assert!(matches!(
            parse_domain(
                "<domain type='kvm'><os><type arch='ppc64'/></os><memory>-1</memory></domain>"
            ),
            Err(DomainError::Size { .. })
        ));
        assert!(matches!(
            parse_domain("<!DOCTYPE d [<!ENTITY a 'b'>]><domain type='kvm'/>"),
            Err(DomainError::Xml(_))
        ));
        let hostdev = "<domain type='kvm'><os><type arch='ppc64'/></os><memory>1</memory><devices>\
            <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x100' slot='0' function='0'/></source></hostdev>\
            </devices></domain>";
        assert!(matches!(
            parse_domain(hostdev),
            Err(DomainError::Number { .. })
        ));
        assert!(matches!(
            parse_domain_bytes(&vec![b' '; MAX_DOMAIN_XML_BYTES + 1]),
            Err(DomainError::TooLarge(_))
        ));
        assert!(matches!(
            parse_domain_bytes(&[0xff, 0xfe]),
            Err(DomainError::NotUtf8)
        ));
    }

    #[test]
    fn devices() {
        let g = parse_domain(
            "<domain type='kvm'><name> gpu-guest </name><os><type arch='ppc64le' machine='pseries-4.2'>hvm</type></os>\
             <memory unit='GiB'>8</memory><devices>\
             <controller type='pci' index='0' model='pci-root'/>\
             <controller type='pci' index='1' model='pci-root'><model name='spapr-pci-host-bridge'/><target index='1'/></controller>\
             <controller type='pci' index='2' model='pci-root'><model name='other'/></controller>\
             <controller type='usb' index='0'/>\
             <hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/>\
               <source><address domain='0x0004' bus='0x04' slot='0x00' function='0x0'/></source>\
               <address type='pci' domain='0x0000' bus='0x01' slot='0x01' function='0x0'/></hostdev>\
             <hostdev mode='subsystem' type='pci'><driver name='kvm'/>\
               <source><address domain='0x0006' bus='0x00' slot='0x00' function='0x1'/></source></hostdev>\
             <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>\
             <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>\
             <interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>\
             <interface type='hostdev'><source><address type='pci' domain='0x0003' bus='0x01' slot='0x00' function='0x2'/></source></interface>\
             <interface type='network'><address type='pci' domain='0' bus='0x02' slot='3' function='0'/></interface>\
             <disk type='nvme' device='disk'><source type='pci' namespace='1'><address domain='0x0001' bus='0x01' slot='0x00' function='0x0'/></source></disk>\
             <disk type='file'><backingStore type='nvme'/></disk>\
             <disk type='file'/>\
             <iommu model='intel'/>\
             </devices></domain>",
        )
        .unwrap();
        assert_eq!(g.name.as_deref(), Some("gpu-guest"));
        assert_eq!(g.machine.as_deref(), Some("pseries-4.2"));
        assert_eq!(g.phbs.len(), 3);
        assert_eq!(g.phbs.iter().filter(|p| p.spapr).count(), 2);
        assert_eq!(g.phbs.get(1).and_then(|p| p.target_index), Some(1));
        assert_eq!(g.pci_hostdevs.len(), 3);
        let h: Vec<String> = g.pci_hostdevs.iter().map(|h| h.host.to_string()).collect();
        assert_eq!(h, ["0004:04:00.0", "0006:00:00.1", "0003:01:00.2"]);
        assert_eq!(
            g.pci_hostdevs
                .iter()
                .map(|h| h.vfio_backend)
                .collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(
            g.pci_hostdevs.first().and_then(|h| h.guest),
            Some(GuestAddress {
                bus: 1,
                slot: 1,
                function: 0
            })
        );
        assert_eq!(g.mdevs, 1);
        assert_eq!(g.vdpa_nets, 1);
        assert_eq!(g.nvme_disks, 2);
        assert!(g.viommu);
        assert_eq!(g.occupied_buses.iter().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(g.notes.len(), 1);
    }
}
