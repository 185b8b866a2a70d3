//! The main report of a host: its NVLink2 topology and audit findings, as text
//! ([`write_text`]), as an nvidia-smi-style matrix ([`write_matrix`]), or as JSON
//! (`write_json`, schema `SCHEMA_VERSION`; feature `json`). Each writes to any [`std::io::Write`] as it
//! goes; [`text`], [`matrix`] and `json()` give the same as a `String`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # std::fs::create_dir_all(dir.path().join("sys/bus/pci/devices"))?;
//! use lsnvlink::audit::Report;
//! use lsnvlink::render::report;
//!
//! let root = fsroot::Root::open(dir.path())?;
//! let r = Report::read(&root, &pci::Names::builtin())?;
//! let mut out = Vec::new();
//! report::write_text(&mut out, &r)?;
//! assert!(out.starts_with(b"No NVLink2 hardware"));
//! assert!(report::json(&r).contains("\"schema_version\": 2"));
//! # Ok(()) }
//! ```

#[cfg(feature = "json")]
mod json;
mod matrix;
mod text;

use crate::topology::Topology;

#[cfg(feature = "json")]
pub use json::{SCHEMA_VERSION, json, write_json};
pub use matrix::{matrix, write_matrix};
pub use text::{text, write_text};

/// The one sentence a host without NVLink2 hardware gets.
pub fn no_nvlink2_sentence(t: &Topology) -> String {
    let gpus: Vec<String> = t.gpus.iter().map(|g| g.address.to_string()).collect();
    let why = if t.platform.device_tree {
        "no NVLink2 bridge function (1014:04ea) on the PCI bus and no GPU with NVLink bridges \
         in the device tree"
    } else {
        "no device tree (not a POWER host), so no NVLink2 bridges"
    };
    let gpu_part = match gpus.len() {
        0 => "; it has no NVIDIA GPU".to_owned(),
        1 => format!("; its NVIDIA GPU {} is on plain PCIe", gpus.join("")),
        _ => format!("; its NVIDIA GPUs {} are on plain PCIe", gpus.join(", ")),
    };
    format!("No NVLink2 hardware on this host: {why}{gpu_part}.")
}

/// `128 GiB`, or the byte count when not a whole number of GiB.
pub(crate) fn size_text(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    if bytes != 0 && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A memory amount in GiB with up to two decimals (`15 GiB`, `31.5 GiB`), or bytes below
/// 1 MiB.
pub(crate) fn gib_text(bytes: u64) -> String {
    const GIB: u128 = 1 << 30;
    if bytes < (1 << 20) {
        return if bytes == 0 {
            "0 GiB".to_owned()
        } else {
            format!("{bytes} bytes")
        };
    }
    // Hundredths of a GiB, rounded half up; u128 so that no u64 overflows.
    let hundredths = (u128::from(bytes) * 100 + GIB / 2) / GIB;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => format!("{whole} GiB"),
        f if f % 10 == 0 => format!("{whole}.{} GiB", f / 10),
        f => format!("{whole}.{f:02} GiB"),
    }
}

/// A GPU's memory as the reports word it: what is onlined beside the firmware's window
/// (`15 GiB onlined (128 GiB window)`).
pub(crate) fn memory_size_text(m: &crate::topology::GpuMemory) -> String {
    let window = size_text(m.size);
    match m.online_bytes {
        Some(0) => format!("none onlined ({window} window)"),
        Some(n) => format!("{} onlined ({window} window)", gib_text(n)),
        None => format!("{window} window, onlined unknown"),
    }
}

/// The `GPUn` label of each GPU: its index in address order, as nvidia-smi numbers them by
/// PCI bus id.
pub(crate) fn gpu_label(t: &Topology, address: pci::PciAddress) -> String {
    t.gpus
        .iter()
        .position(|g| g.address == address)
        .map_or_else(|| address.to_string(), |i| format!("GPU{i}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Platform;

    #[test]
    fn gib_text_rounds_to_two_decimals() {
        assert_eq!(gib_text(15_728_640 * 1024), "15 GiB");
        assert_eq!(gib_text(33_030_144 * 1024), "31.5 GiB");
        assert_eq!(gib_text(0x3_f000_0000), "15.75 GiB");
        assert_eq!(gib_text(0), "0 GiB");
        assert_eq!(gib_text(4096), "4096 bytes");
        assert_eq!(gib_text(u64::MAX), "17179869184 GiB");
    }

    #[test]
    fn sizes_print_in_gib_when_whole() {
        assert_eq!(size_text(0x20_0000_0000), "128 GiB");
        assert_eq!(size_text(1 << 30), "1 GiB");
        assert_eq!(size_text(1000), "1000 bytes");
        assert_eq!(size_text(0), "0 bytes");
    }

    #[test]
    fn the_no_nvlink2_sentence_says_why() {
        let mut t = Topology::default();
        assert_eq!(
            no_nvlink2_sentence(&t),
            "No NVLink2 hardware on this host: no device tree (not a POWER host), so no \
             NVLink2 bridges; it has no NVIDIA GPU."
        );
        t.platform = Platform {
            device_tree: true,
            ..Platform::default()
        };
        assert!(no_nvlink2_sentence(&t).contains("no NVLink2 bridge function (1014:04ea)"));
    }
}
