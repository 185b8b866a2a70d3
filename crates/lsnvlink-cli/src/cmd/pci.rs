//! `lsnvlink pci`: the PCI devices, as a list (like `lspci -nnD`), a tree (like `lspci -t`),
//! `lspci -vmmnnDk`-style records, or JSON.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use pci::render::{self, Ids};
use pci::{ConfigRead, Fields, Names, Pci, Tree};

use super::source::SourceArgs;

/// Output formats of `lsnvlink pci`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per device, like `lspci -nnD` (or a tree with -t).
    #[default]
    Text,
    /// JSON with stable keys and a `schema_version`.
    Json,
    /// `Tag:<TAB>value` records like `lspci -vmmnnDk`.
    Vmm,
}

/// Options of `lsnvlink pci`.
#[derive(clap::Args, Debug)]
pub struct PciArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Show the bus tree, as `lspci -t` draws it (text format only).
    #[arg(short = 't', long = "tree")]
    tree: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Numeric ids only, no names (like `lspci -n`): pci.ids is not read.
    #[arg(short = 'n', long)]
    numeric: bool,
    /// The pci.ids file to take names from (default: /usr/share/misc/pci.ids, then
    /// /usr/share/hwdata/pci.ids; built-in names for the NVLink2 parts without one).
    #[arg(long, value_name = "FILE")]
    pci_ids: Option<PathBuf>,
}

/// Runs `lsnvlink pci`.
pub fn run(args: PciArgs) -> anyhow::Result<()> {
    if args.tree && args.format != Format::Text {
        bail!("-t draws a text tree; it cannot be combined with --format json or vmm");
    }
    let root = args.source.open()?;
    // Read only what the output shows: a listing needs four files per device.
    let fields = if args.tree {
        // The tree needs parents and the bus numbers of bridges; not the ids, and the class
        // only where it is the way to tell a bridge.
        let mut f = Fields::minimal();
        f.ids = false;
        f.class = false;
        f.parent = true;
        f.walk = true;
        f.config = ConfigRead::Bridges;
        f
    } else if args.format == Format::Text {
        Fields::minimal()
    } else {
        Fields::all()
    };
    // Every format streams its output: memory is the walk's, bounded by the input limits
    // (a capture of 49,000 device directories: 66 MB, 67 MB of JSON written as it goes).
    let pci = Pci::read(&root, &fields).with_context(|| format!("reading {}", root.origin()))?;
    let names_wanted = !args.numeric && !args.tree;
    let names = if names_wanted {
        let vendors: HashSet<u16> = pci
            .devices
            .iter()
            .flat_map(|d| [d.vendor_id, d.subsystem_vendor_id])
            .flatten()
            .collect();
        let limit = lsnvlink::limits::input().max_input_bytes;
        Names::load_bounded(args.pci_ids.as_deref(), &vendors, limit).with_context(
            || match &args.pci_ids {
                Some(path) => format!("cannot read {}", path.display()),
                None => format!(
                    "cannot read the system pci.ids ({})",
                    pci::names::SYSTEM_PCI_IDS.join(", ")
                ),
            },
        )?
    } else {
        Names::builtin()
    };
    let ids = if names_wanted {
        Ids::Named(&names)
    } else {
        Ids::Numeric
    };
    super::with_stdout(|out| match (args.format, args.tree) {
        (Format::Text, true) => render::write_tree(out, &pci, &Tree::build(&pci.devices)),
        (Format::Text, false) => render::write_list(out, &pci, ids),
        (Format::Vmm, _) => render::write_vmm(out, &pci, ids),
        (Format::Json, _) => render::write_json(out, &pci, ids, &root.origin().to_string()),
    })
    .context("cannot write to standard output")?;
    // Text formats carry no error fields: say on stderr what could not be read.
    // Buffered: a crafted capture can give a million of these lines.
    if args.format != Format::Json {
        let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
        for note in &pci.notes {
            let _ = writeln!(stderr, "lsnvlink: {note}");
        }
        for d in &pci.devices {
            for e in &d.errors {
                let _ = writeln!(stderr, "lsnvlink: {}: {e}", d.address);
            }
        }
        let _ = stderr.flush();
    }
    Ok(())
}
