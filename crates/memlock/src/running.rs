//! Running libvirt guests against the limit their QEMU really has: libvirt keeps each running
//! guest's live XML as `/run/libvirt/qemu/NAME.xml` (a `<domstatus pid='…'>` wrapping the
//! `<domain>`), and the limit the QEMU process runs with is "Max locked memory" in
//! `/proc/PID/limits` (libvirt memlock reference §7.1). A guest whose QEMU has less than
//! libvirt's formula gives fails to map its memory for DMA when a device is hot-plugged or the
//! guest grows.
//!
//! This module parses those two files; reading them is the caller's (lsnvlink's
//! `memlock::running::read_running` reads them through its file root), so that this crate reads
//! no file. The live XML itself goes through [`crate::domain::parse_domain_bytes`], which
//! takes the `<domstatus>` wrapper.
//!
//! ```
//! use lsnvlink_memlock::running::{parse_limits, status_pid, Limit};
//!
//! let status = b"<domstatus state='running' pid='4242'><domain type='kvm'/></domstatus>";
//! assert_eq!(status_pid(status), Some(4242));
//! let limits = parse_limits("Max locked memory  69411536896  69411536896  bytes\n").unwrap();
//! assert_eq!(limits.soft, Limit::Bytes(69_411_536_896));
//! assert!(limits.soft.covers(Some(69_411_536_896)));
//! ```

use std::fmt;

use roxmltree::{Document, ParsingOptions};

/// Where libvirt's QEMU driver keeps the status XML of running guests.
pub const STATUS_DIR: &str = "/run/libvirt/qemu";

/// One side of a resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `unlimited`.
    Unlimited,
    /// A number of bytes.
    Bytes(u64),
}

impl Limit {
    /// Whether this limit allows locking `need` bytes (`None`: no limit needed).
    pub fn covers(self, need: Option<u64>) -> bool {
        match (self, need) {
            (Limit::Unlimited, _) => true,
            (Limit::Bytes(_), None) => false,
            (Limit::Bytes(have), Some(need)) => have >= need,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Unlimited => f.write_str("unlimited"),
            Limit::Bytes(b) => write!(f, "{b} bytes"),
        }
    }
}

/// RLIMIT_MEMLOCK of a process, as `/proc/PID/limits` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockLimits {
    /// The soft limit: what locking is checked against.
    pub soft: Limit,
    /// The hard limit.
    pub hard: Limit,
}

fn limit_value(word: &str) -> Option<Limit> {
    if word == "unlimited" {
        Some(Limit::Unlimited)
    } else {
        word.parse().ok().map(Limit::Bytes)
    }
}

/// The "Max locked memory" line of `/proc/PID/limits`
/// (`Max locked memory  65536  65536  bytes`; the kernel's `fs/proc/base.c` `proc_pid_limits`).
pub fn parse_limits(text: &str) -> Option<LockLimits> {
    let line = text.lines().find(|l| l.starts_with("Max locked memory"))?;
    let mut words = line.get("Max locked memory".len()..)?.split_whitespace();
    let soft = limit_value(words.next()?)?;
    let hard = limit_value(words.next()?)?;
    Some(LockLimits { soft, hard })
}

/// The `pid` of a status XML's `<domstatus>`.
pub fn status_pid(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(bytes).ok()?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: super::domain::MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).ok()?;
    let top = doc.root_element();
    top.has_tag_name("domstatus")
        .then(|| top.attribute("pid")?.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_lines() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max locked memory         69411536896          69411536896          bytes     \n";
        assert_eq!(
            parse_limits(text),
            Some(LockLimits {
                soft: Limit::Bytes(69_411_536_896),
                hard: Limit::Bytes(69_411_536_896)
            })
        );
        let unlimited =
            "Max locked memory         unlimited            unlimited            bytes\n";
        assert_eq!(parse_limits(unlimited).unwrap().soft, Limit::Unlimited);
        assert_eq!(parse_limits("Max locked memory  x y bytes"), None);
        assert_eq!(parse_limits(""), None);
    }

    #[test]
    fn cover() {
        assert!(Limit::Unlimited.covers(Some(5)));
        assert!(Limit::Unlimited.covers(None));
        assert!(Limit::Bytes(5).covers(Some(5)));
        assert!(!Limit::Bytes(4).covers(Some(5)));
        assert!(!Limit::Bytes(u64::MAX).covers(None));
    }

    #[test]
    fn pid_of_a_status_xml() {
        assert_eq!(
            status_pid(b"<domstatus state='running' pid='4242'><domain type='kvm'/></domstatus>"),
            Some(4242)
        );
        assert_eq!(status_pid(b"<domain type='kvm'/>"), None);
        assert_eq!(status_pid(b"<domstatus pid='x'/>"), None);
    }

    proptest::proptest! {
        #[test]
        fn limits_never_panic(text in "\\PC{0,120}") {
            let _ = parse_limits(&text);
            let _ = status_pid(text.as_bytes());
        }
    }
}
