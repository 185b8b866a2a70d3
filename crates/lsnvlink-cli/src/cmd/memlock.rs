//! `lsnvlink memlock`: the RLIMIT_MEMLOCK libvirt gives a KVM guest's QEMU, from flags or a
//! domain XML, with the host (live, `--root`, `--capture`) read for IOMMU groups and
//! libvirt's NV2-bridge test.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lsnvlink::facts::HostFacts;
use lsnvlink::memlock::domain::{MAX_DOMAIN_XML_BYTES, parse_domain_bytes};
use lsnvlink::memlock::size::{kib_ceil, parse_size};
use lsnvlink::memlock::version::Release;
use lsnvlink::memlock::{FactsHost, Guest, PciHostdev, Phb, budget, render};
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
    /// A libvirt domain XML (inactive or live; `-` reads standard input, as from `virsh
    /// dumpxml GUEST`) instead of the flags below.
    #[arg(long, value_name = "FILE.xml", conflicts_with = "guest_flags")]
    pub domain: Option<PathBuf>,
    /// Every running libvirt guest (/run/libvirt/qemu/*.xml) against the limit its QEMU really
    /// has (/proc/PID/limits); exit 1 when one is below what libvirt's formula needs.
    #[arg(long, conflicts_with_all = ["guest_flags", "domain"])]
    pub running: bool,
    /// Guest memory (<memory>): a number of bytes, or with B, K/KiB, M/MiB, G/GiB, T/TiB.
    #[arg(long, value_name = "SIZE", value_parser = size, group = "guest_flags", allow_hyphen_values = true,
          required_unless_present_any = ["domain", "running"])]
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

With --running, every running guest's live XML (/run/libvirt/qemu/NAME.xml) is computed with
this host's groups and bridges and held against the \"Max locked memory\" its QEMU process runs
with (/proc/PID/limits): a guest below its need fails to map memory for DMA (hot-plug of a GPU,
memory growth).

Exit codes:
  0  the limit was computed (and a hard_limit, if set, covers the formula; with --running,
     every guest's QEMU has what it needs)
  1  a hard_limit is set below what the formula gives (--running: a QEMU has less)
  2  bad usage, or unreadable input (domain XML, --root, --capture)

Examples:
  lsnvlink memlock --memory 64GiB
  lsnvlink memlock --capture ac922.tar.gz --memory 64GiB --hostdev 0004:04:00.0 \\
      --hostdev 0006:00:00.0 --hostdev 0006:00:00.1 --hostdev 0006:00:00.2
  lsnvlink memlock --domain guest.xml --libvirt 5.2.0 --format json
  virsh dumpxml guest1 | lsnvlink memlock --domain -
  lsnvlink memlock --running";

fn size(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|e| e.to_string())
}

fn read_domain(path: &std::path::Path) -> anyhow::Result<Guest> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_DOMAIN_XML_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .context("cannot read the domain XML from standard input")?;
        return parse_domain_bytes(&bytes).context("standard input");
    }
    let bytes = super::read_input(path, MAX_DOMAIN_XML_BYTES as u64)?;
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
    if args.running {
        return run_running(args);
    }
    let guest = match (&args.domain, args.memory) {
        (Some(path), _) => read_domain(path)?,
        (None, Some(memory)) => flags_guest(args, memory),
        (None, None) => anyhow::bail!("give --memory SIZE or --domain FILE.xml"),
    };
    let root = args.source.open()?;
    // The host is read only for a guest with assigned devices; its topology (the guest
    // layout, the kernel's NVLink2 support) only for a ppc64 guest.
    let (facts, topology, topology_problem) = if guest.pci_hostdevs.is_empty() {
        (HostFacts::default(), None, None)
    } else {
        match HostFacts::read(&root) {
            Ok(facts) => {
                let topology = guest
                    .is_ppc64()
                    .then(|| Topology::from_facts(&facts, &Names::builtin()));
                (facts, topology, None)
            }
            Err(e) => {
                let problem = guest.is_ppc64().then(|| format!("no guest layout: {e}"));
                (HostFacts::default(), None, problem)
            }
        }
    };
    let host = FactsHost::new(&facts, topology.as_ref());
    let mut result = budget(guest, args.libvirt, &host)?;
    result.warnings.extend(topology_problem);
    super::with_stdout(|out| match args.format {
        MemlockFormat::Text => render::write_text(out, &result),
        MemlockFormat::Json => render::write_json(out, &result),
    })
    .context("cannot write to standard output")?;
    Ok(if result.computation.hard_limit_covers() == Some(false) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--running`: every running guest against its QEMU's real limit.
fn run_running(args: &MemlockArgs) -> anyhow::Result<ExitCode> {
    use lsnvlink::memlock::running::read_running;
    let root = args.source.open()?;
    let guests = read_running(&root);
    let facts = HostFacts::read(&root).ok();
    let topology = facts
        .as_ref()
        .map(|f| Topology::from_facts(f, &Names::builtin()));
    let facts = facts.unwrap_or_default();
    let host = FactsHost::new(&facts, topology.as_ref());
    let mut rows = Vec::new();
    let mut below = false;
    for g in &guests {
        let result = match &g.guest {
            Ok(guest) => budget(guest.clone(), args.libvirt, &host).map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        let need = result.as_ref().ok().map(|b| b.computation.limit_bytes());
        let ok = match (&g.limits, need) {
            (Ok(l), Some(need)) => Some(l.soft.covers(need)),
            _ => None,
        };
        below |= ok == Some(false);
        rows.push((g, result, need, ok));
    }
    super::with_stdout(|out| match args.format {
        MemlockFormat::Text => running_text(out, &rows, &root),
        MemlockFormat::Json => {
            let doc = RunningJson {
                guests: rows.iter().map(RunningGuestJson::new).collect(),
                schema_version: render::SCHEMA_VERSION,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            out.write_all(b"\n")
        }
    })
    .context("cannot write to standard output")?;
    Ok(if below {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One running guest: its status, the budget libvirt's formula gives it (or why none), what it
/// needs (`Some(None)`: unlimited) and whether its QEMU's limit covers that.
type RunningRow<'g> = (
    &'g lsnvlink::memlock::running::Running,
    Result<lsnvlink::memlock::Budget, String>,
    Option<Option<u64>>,
    Option<bool>,
);

/// `memlock --running` as text: one line per guest, then how to pin a limit that is too low,
/// the budget's warnings or why there is none. Names, warnings and errors from the guests are
/// shown with their control characters escaped.
fn running_text(
    out: &mut dyn Write,
    rows: &[RunningRow<'_>],
    root: &fsroot::Root,
) -> std::io::Result<()> {
    use lsnvlink::render::escape::esc;
    if rows.is_empty() {
        writeln!(
            out,
            "no running libvirt guest ({}/*.xml) on {}",
            lsnvlink::memlock::running::STATUS_DIR,
            root.origin()
        )?;
    }
    for (g, result, need, ok) in rows {
        let pid = g.pid.map_or_else(|| "?".to_owned(), |p| p.to_string());
        let need_text = match need {
            Some(Some(n)) => format!("{n} bytes"),
            Some(None) => "unlimited".to_owned(),
            None => "unknown".to_owned(),
        };
        let have = match &g.limits {
            Ok(l) => l.soft.to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        let verdict = match ok {
            Some(true) => "ok",
            Some(false) => "BELOW what libvirt's formula needs",
            None => "cannot tell",
        };
        writeln!(
            out,
            "{} (pid {pid}): needs {need_text}, QEMU has {have}: {verdict}",
            esc(&g.name)
        )?;
        match result {
            Ok(b) => {
                if let Some(xml) = render::hard_limit_xml(b)
                    && *ok == Some(false)
                {
                    writeln!(out, "  pin it: {xml}")?;
                }
                for w in &b.warnings {
                    writeln!(out, "  - {}", esc(w))?;
                }
            }
            Err(e) => writeln!(out, "  cannot compute: {}", esc(e))?,
        }
    }
    Ok(())
}

/// `memlock --running --format json`. Keys in sorted order, as schema version 1 has them.
#[derive(serde::Serialize)]
struct RunningJson<'g> {
    guests: Vec<RunningGuestJson<'g>>,
    schema_version: u32,
}

/// One guest of [`RunningJson`]. Keys in sorted order.
#[derive(serde::Serialize)]
struct RunningGuestJson<'g> {
    branch: Option<&'static str>,
    error: Option<&'g str>,
    hard_limit_xml: Option<String>,
    name: &'g str,
    need_bytes: Option<u64>,
    need_unlimited: bool,
    ok: Option<bool>,
    pid: Option<u32>,
    qemu_limit_bytes: Option<u64>,
    qemu_limit_error: Option<&'g str>,
    qemu_limit_unlimited: bool,
    status_xml: &'g str,
    warnings: &'g [String],
}

impl<'g> RunningGuestJson<'g> {
    fn new((g, result, need, ok): &'g RunningRow<'g>) -> RunningGuestJson<'g> {
        use lsnvlink::memlock::running;
        let (limit, unlimited) = match &g.limits {
            Ok(l) => match l.soft {
                running::Limit::Bytes(b) => (Some(b), false),
                running::Limit::Unlimited => (None, true),
            },
            Err(_) => (None, false),
        };
        RunningGuestJson {
            branch: result.as_ref().ok().map(|b| b.computation.branch.as_str()),
            error: result.as_ref().err().map(String::as_str),
            hard_limit_xml: result.as_ref().ok().and_then(render::hard_limit_xml),
            name: &g.name,
            need_bytes: need.flatten(),
            need_unlimited: *need == Some(None),
            ok: *ok,
            pid: g.pid,
            qemu_limit_bytes: limit,
            qemu_limit_error: g.limits.as_ref().err().map(String::as_str),
            qemu_limit_unlimited: unlimited,
            status_xml: &g.status_path,
            warnings: result.as_ref().map_or(&[], |b| b.warnings.as_slice()),
        }
    }
}
