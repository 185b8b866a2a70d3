//! lsnvlink: the NVLink2 topology of an IBM POWER9 host with NVIDIA V100 GPUs, its hardware
//! audit, and the memory-locking budget of KVM guests that get those GPUs.
//!
//! [`topology`] joins the PCI devices ([`pci`]) and the device tree ([`devtree`]), both read
//! through [`fsroot`] from the live system, a copied root or a capture archive; [`audit`] turns
//! what is missing or inconsistent into findings; [`memlock`] computes the limit libvirt gives
//! a guest; [`render`] writes the report as text, a matrix, JSON, Prometheus metrics or a
//! Graphviz graph. [`capture`] writes captures, [`fleet`] reads many, [`diff`] compares two,
//! [`inputs`] reads sosreports, hwloc tarballs and `nvidia-smi` output. The `lsnvlink` command
//! is the package `lsnvlink-cli`: this library has no command line of its own.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use lsnvlink::{audit::Report, fsroot, pci};
//!
//! let dir = tempfile::tempdir()?; // a copied root with an empty PCI bus
//! std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! let report = Report::read(&fsroot::Root::open(dir.path())?, &pci::Names::builtin())?;
//! assert!(report.topology.gpus.is_empty());
//! assert!(!report.has_errors());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use devtree;
pub use fsroot;
pub use pci;

/// The README's example, run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// `writeln!` for text bound for a terminal: the formatted line is written through
/// [`render::escape::line`], so control characters in it (a newline or an escape sequence
/// inside a host name) are shown as escapes.
macro_rules! wln {
    ($out:expr, $($arg:tt)*) => {
        {
            use $crate::render::escape::LineWrite as _;
            $out.write_line(format_args!($($arg)*))
        }
    };
}

pub mod audit;
pub mod capture;
pub mod diff;
pub mod facts;
pub mod fleet;
pub mod inputs;
pub mod limits;
pub mod memlock;
pub mod render;
pub mod topology;

/// The version of lsnvlink, as recorded in reports and captures.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
