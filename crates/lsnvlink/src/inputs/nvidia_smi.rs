//! `nvidia-smi` output a sosreport keeps (sos's `nvidia` plugin runs `nvidia-smi nvlink -s`
//! and `nvidia-smi -q` into `sos_commands/nvidia/`): the NVIDIA driver's view of each NVLink's
//! training state, the one thing sysfs and the device tree cannot show.
//!
//! `nvidia-smi nvlink -s` prints, per GPU in nvidia-smi's order (by PCI bus id):
//!
//! ```text
//! GPU 0: Tesla V100-SXM2-16GB (UUID: GPU-…)
//!          Link 0: 25.781 GB/s
//!          Link 1: <inactive>
//! ```
//!
//! `nvidia-smi -q` names each GPU's PCI address in the same order (`GPU 00000004:04:00.0`).

use std::collections::BTreeMap;

use pci::PciAddress;

/// One NVLink of a GPU as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkState {
    /// The GPU's link number (0–5 on a V100).
    pub link: u32,
    /// True when the driver gives the link a rate (trained and up); false for `<inactive>`
    /// and for anything else it prints (only a rate is evidence of a working link).
    pub active: bool,
    /// What the driver printed after `Link N:` (`25.781 GB/s`, `<inactive>`).
    pub status: String,
}

/// `nvidia-smi nvlink -s` parsed: links per GPU index. Lines that fit no known shape are
/// skipped.
pub fn parse_nvlink_status(text: &str) -> BTreeMap<u32, Vec<LinkState>> {
    let mut out: BTreeMap<u32, Vec<LinkState>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("GPU ") {
            current = rest
                .split_once(':')
                .and_then(|(n, _)| n.trim().parse::<u32>().ok());
            if let Some(i) = current {
                out.entry(i).or_default();
            }
            continue;
        }
        let Some(gpu) = current else { continue };
        let Some(rest) = t.strip_prefix("Link ") else {
            continue;
        };
        let Some((n, status)) = rest.split_once(':') else {
            continue;
        };
        let Ok(link) = n.trim().parse::<u32>() else {
            continue;
        };
        let status = status.trim().to_owned();
        let active = status
            .split_whitespace()
            .next()
            .is_some_and(|v| v.parse::<f64>().is_ok_and(|r| r > 0.0));
        out.entry(gpu).or_default().push(LinkState {
            link,
            active,
            status,
        });
    }
    out
}

/// The PCI addresses of `nvidia-smi -q`'s GPU sections, in order (`GPU 00000004:04:00.0`:
/// an 8-digit domain).
pub fn parse_query_addresses(text: &str) -> Vec<PciAddress> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("GPU ")?.trim();
            let (domain, bdf) = rest.split_once(':')?;
            let domain = u32::from_str_radix(domain, 16).ok()?;
            let short: PciAddress = format!("0000:{bdf}").parse().ok()?;
            PciAddress::new(domain, short.bus(), short.device(), short.function())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "GPU 0: Tesla V100-SXM2-16GB (UUID: GPU-1)\n\
         \t Link 0: 25.781 GB/s\n\
         \t Link 1: <inactive>\n\
         GPU 1: Tesla V100-SXM2-16GB (UUID: GPU-2)\n\
         \t Link 0: 25.781 GB/s\n\
         \t Link 1: some future status\n";

    #[test]
    fn status_per_gpu_and_link() {
        let s = parse_nvlink_status(STATUS);
        assert_eq!(s.len(), 2);
        assert_eq!(s[&0].len(), 2);
        assert!(s[&0][0].active);
        assert!(!s[&0][1].active);
        assert_eq!(s[&0][1].status, "<inactive>");
        // Only a rate is evidence of a working link.
        assert!(!s[&1][1].active);
    }

    #[test]
    fn query_addresses_in_order() {
        let q = "==============NVSMI LOG==============\n\nGPU 00000004:04:00.0\n    Product Name : x\n\nGPU 00000035:03:00.0\n";
        let a = parse_query_addresses(q);
        assert_eq!(
            a.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["0004:04:00.0", "0035:03:00.0"]
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,200}") {
            let _ = parse_nvlink_status(&text);
            let _ = parse_query_addresses(&text);
        }
    }
}
