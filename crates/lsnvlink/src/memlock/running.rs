//! Running libvirt guests against the limit their QEMU really has: libvirt keeps each running
//! guest's live XML as `/run/libvirt/qemu/NAME.xml` (a `<domstatus pid='…'>` wrapping the
//! `<domain>`), and the limit the QEMU process runs with is "Max locked memory" in
//! `/proc/PID/limits` (libvirt memlock reference §7.1). A guest whose QEMU has less than
//! libvirt's formula gives fails to map its memory for DMA when a device is hot-plugged or the
//! guest grows.

use std::fmt;

use roxmltree::{Document, ParsingOptions};

use super::Guest;
use super::domain::{MAX_DOMAIN_XML_BYTES, parse_domain_bytes};

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

/// One running guest, as far as it could be read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Running {
    /// The status file's name without `.xml` (libvirt names it after the guest).
    pub name: String,
    /// The status file.
    pub status_path: String,
    /// QEMU's process id.
    pub pid: Option<u32>,
    /// The live definition, or why it cannot be read.
    pub guest: Result<Guest, String>,
    /// QEMU's RLIMIT_MEMLOCK, or why it cannot be read.
    pub limits: Result<LockLimits, String>,
}

/// Every running guest under `root` (sorted by name); none when the directory is absent.
pub fn read_running(root: &fsroot::Root) -> Vec<Running> {
    let mut out = Vec::new();
    let Ok(names) = root.read_dir(STATUS_DIR) else {
        return out;
    };
    for file in names {
        let Some(name) = file.strip_suffix(".xml") else {
            continue;
        };
        let path = format!("{STATUS_DIR}/{file}");
        let bytes = root.read(&path).map_err(|e| e.to_string());
        let bytes = bytes.and_then(|b| {
            if b.len() > MAX_DOMAIN_XML_BYTES {
                Err(format!("{} bytes, over {MAX_DOMAIN_XML_BYTES}", b.len()))
            } else {
                Ok(b)
            }
        });
        let pid = bytes.as_deref().ok().and_then(status_pid);
        let guest = bytes.and_then(|b| parse_domain_bytes(&b).map_err(|e| e.to_string()));
        let limits = match pid {
            None => Err("no pid in <domstatus>".to_owned()),
            Some(pid) => {
                let limits_path = format!("/proc/{pid}/limits");
                match root.read_text(&limits_path) {
                    Ok(text) => parse_limits(&text)
                        .ok_or_else(|| format!("{limits_path}: no \"Max locked memory\" line")),
                    Err(e) => Err(format!("{limits_path}: {e}")),
                }
            }
        };
        out.push(Running {
            name: name.to_owned(),
            status_path: path,
            pid,
            guest,
            limits,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
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
