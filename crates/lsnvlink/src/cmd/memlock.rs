//! `lsnvlink memlock`: the RLIMIT_MEMLOCK libvirt gives a KVM guest's QEMU, from flags or a
//! domain XML, with the host (live, `--root`, `--capture`) read for IOMMU groups and
//! libvirt's NV2-bridge test.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lsnvlink::memlock::domain::{MAX_DOMAIN_XML_BYTES, parse_domain_bytes};
use lsnvlink::memlock::size::{kib_ceil, parse_size};
use lsnvlink::memlock::version::Release;
use lsnvlink::memlock::{Guest, PciHostdev, Phb, budget, render};
use lsnvlink::topology::Topology;
use pci::{Names, PciAddress};

use super::source::SourceArgs;

/// Output formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemlockFormat {
    /// Each term, the limit in bytes and GiB, the guest layout of NVLink2 devices.
    #[default]
    Text,
    /// JSON with stable keys and a `schema_version`.
    Json,
}

/// Domain types.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DomainType {
    /// Hardware virtualization: the ppc64 formula.
    #[default]
    Kvm,
    /// TCG emulation: libvirt's generic path.
    Qemu,
}

/// Options of `lsnvlink memlock`.
#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("guest_flags").multiple(true)))]
pub struct MemlockArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// A libvirt domain XML (inactive or live) instead of the flags below.
    #[arg(long, value_name = "FILE.xml", conflicts_with = "guest_flags")]
    pub domain: Option<PathBuf>,
    /// Guest memory (<memory>): a number of bytes, or with B, K/KiB, M/MiB, G/GiB, T/TiB.
    #[arg(long, value_name = "SIZE", value_parser = size, group = "guest_flags", allow_hyphen_values = true,
          required_unless_present = "domain")]
    pub memory: Option<u64>,
    /// <maxMemory> (default: --memory).
    #[arg(long, value_name = "SIZE", value_parser = size, group = "guest_flags", allow_hyphen_values = true)]
    pub max_memory: Option<u64>,
    /// PHBs declared (holding no device), the default one included. Each host IOMMU group
    /// among the --hostdev devices takes an empty one, or libvirt adds a PHB for it.
    #[arg(long, value_name = "N", default_value_t = 1, group = "guest_flags",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub phbs: u32,
    /// An assigned host PCI device (DDDD:BB:DD.F); repeat for more.
    #[arg(long, value_name = "ADDR", group = "guest_flags")]
    pub hostdev: Vec<PciAddress>,
    /// An NVMe disk (<disk type='nvme'>); repeat for more.
    #[arg(long, action = clap::ArgAction::Count, group = "guest_flags")]
    pub nvme_disk: u8,
    /// An mdev hostdev; repeat for more.
    #[arg(long, action = clap::ArgAction::Count, group = "guest_flags")]
    pub mdev: u8,
    /// A vDPA interface; repeat for more.
    #[arg(long, action = clap::ArgAction::Count, group = "guest_flags")]
    pub vdpa_net: u8,
    /// <memtune><hard_limit>: overrides the formula; exit 1 when below it.
    #[arg(long, value_name = "SIZE", value_parser = size, group = "guest_flags", allow_hyphen_values = true)]
    pub hard_limit: Option<u64>,
    /// <memoryBacking><locked/>: no limit.
    #[arg(long, group = "guest_flags")]
    pub locked: bool,
    /// Domain type.
    #[arg(long, value_enum, default_value_t = DomainType::Kvm, group = "guest_flags")]
    pub domain_type: DomainType,
    /// Guest architecture (os/type@arch); not ppc64/ppc64le takes the generic path.
    #[arg(
        long,
        value_name = "ARCH",
        default_value = "ppc64le",
        group = "guest_flags"
    )]
    pub arch: String,
    /// A vIOMMU (<iommu>) device: the generic path's factor counts each hostdev.
    #[arg(long, group = "guest_flags")]
    pub viommu: bool,
    /// Apply the rules of this libvirt release (e.g. 5.3.0; default: the newest).
    #[arg(long, value_name = "VERSION", default_value = "newest")]
    pub libvirt: Release,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MemlockFormat::Text)]
    pub format: MemlockFormat,
}

/// What `lsnvlink memlock --help` says after the options.
pub const MEMLOCK_HELP: &str = "\
The host (live, --root DIR or --capture FILE) gives each --hostdev's IOMMU group (one isolation
PHB per group on a pSeries guest) and libvirt's NV2-bridge test (of_node has ibm,gpu,
ibm,nvlink, ibm,nvlink-speed and memory-region).

Exit codes:
  0  the limit was computed (and a hard_limit, if set, covers the formula)
  1  a hard_limit is set below what the formula gives
  2  bad usage, or unreadable input (domain XML, --root, --capture)

Examples:
  lsnvlink memlock --memory 64GiB
  lsnvlink memlock --capture ac922.tar.gz --memory 64GiB --hostdev 0004:04:00.0 \\
      --hostdev 0006:00:00.0 --hostdev 0006:00:00.1 --hostdev 0006:00:00.2
  lsnvlink memlock --domain guest.xml --libvirt 5.2.0 --format json";

fn size(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|e| e.to_string())
}

fn read_domain(path: &PathBuf) -> anyhow::Result<Guest> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_DOMAIN_XML_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_domain_bytes(&bytes).with_context(|| path.display().to_string())
}

fn flags_guest(args: &MemlockArgs, memory: u64) -> Guest {
    let mut guest = Guest::pseries_kvm(kib_ceil(memory));
    guest.arch.clone_from(&args.arch);
    if !guest.is_ppc64() {
        guest.machine = None;
        guest.phbs.clear();
    }
    guest.virt_type = match args.domain_type {
        DomainType::Kvm => "kvm",
        DomainType::Qemu => "qemu",
    }
    .to_owned();
    guest.max_memory_kib = args.max_memory.map(kib_ceil);
    guest.hard_limit_kib = args.hard_limit.map(kib_ceil);
    guest.locked = args.locked;
    guest.phbs = (0..args.phbs)
        .map(|index| Phb {
            index,
            target_index: None,
            spapr: true,
        })
        .collect();
    guest.pci_hostdevs = args
        .hostdev
        .iter()
        .map(|&host| PciHostdev {
            host,
            vfio_backend: true,
            guest: None,
        })
        .collect();
    guest.nvme_disks = args.nvme_disk.into();
    guest.mdevs = args.mdev.into();
    guest.vdpa_nets = args.vdpa_net.into();
    guest.viommu = args.viommu;
    guest
}

/// Computes and writes the budget; exit 1 when a hard_limit is below the formula.
pub fn run(args: &MemlockArgs) -> anyhow::Result<ExitCode> {
    let guest = match (&args.domain, args.memory) {
        (Some(path), _) => read_domain(path)?,
        (None, Some(memory)) => flags_guest(args, memory),
        (None, None) => anyhow::bail!("give --memory SIZE or --domain FILE.xml"),
    };
    let root = args.source.open()?;
    let mut topology_problem = None;
    let topology = if guest.pci_hostdevs.is_empty() || !guest.is_ppc64() {
        None
    } else {
        match Topology::read(&root, &Names::builtin()) {
            Ok(t) => Some(t),
            Err(e) => {
                topology_problem = Some(format!("no guest layout: {e}"));
                None
            }
        }
    };
    let mut result = budget(guest, args.libvirt, &root, topology.as_ref())?;
    result.warnings.extend(topology_problem);
    let text = match args.format {
        MemlockFormat::Text => render::text(&result),
        MemlockFormat::Json => render::json(&result),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(if result.computation.hard_limit_covers() == Some(false) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
