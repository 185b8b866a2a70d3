//! lsnvlink: the NVLink2 topology of an IBM POWER9 host with NVIDIA V100 GPUs, its hardware
//! audit, and the memory-locking budget of KVM guests that get those GPUs.
//!
//! This crate joins [`pci`] and [`devtree`] (both reading through [`fsroot`]) into the
//! topology model; later issues fill it with the audit findings, the memlock budget as libvirt
//! computes it, and the renderers behind the `lsnvlink` command (which is the package
//! `lsnvlink-cli`: this library has no command line of its own).
#![forbid(unsafe_code)]

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
pub mod fleet;
pub mod inputs;
pub mod limits;
pub mod memlock;
pub mod render;
pub mod topology;

/// The version of lsnvlink, as recorded in reports and captures.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
