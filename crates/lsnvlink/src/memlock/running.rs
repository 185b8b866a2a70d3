//! Running libvirt guests read from a root: each one's live XML
//! (`/run/libvirt/qemu/NAME.xml`) and the RLIMIT_MEMLOCK its QEMU runs with
//! (`/proc/PID/limits`), parsed by [`lsnvlink_memlock::running`] (re-exported here whole).

pub use lsnvlink_memlock::running::*;

use lsnvlink_memlock::Guest;
use lsnvlink_memlock::domain::{MAX_DOMAIN_XML_BYTES, parse_domain_bytes};

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
    fn guests_from_status_files_and_proc_limits() {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("run/libvirt/qemu");
        std::fs::create_dir_all(&status).unwrap();
        std::fs::create_dir_all(dir.path().join("proc/4242")).unwrap();
        std::fs::write(
            status.join("b.xml"),
            "<domstatus state='running' pid='4242'><domain type='kvm'><memory>1048576</memory>\
             <os><type arch='ppc64le' machine='pseries'>hvm</type></os></domain></domstatus>",
        )
        .unwrap();
        std::fs::write(status.join("a.xml"), "<domain type='kvm'/>").unwrap();
        std::fs::write(status.join("a.xml.lock"), "").unwrap();
        std::fs::write(
            dir.path().join("proc/4242/limits"),
            "Max locked memory         65536                unlimited            bytes\n",
        )
        .unwrap();
        let root = fsroot::Root::dir(dir.path()).unwrap();
        let guests = read_running(&root);
        let names: Vec<&str> = guests.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let (a, b) = (&guests[0], &guests[1]);
        assert_eq!(a.pid, None);
        assert!(a.guest.is_err());
        assert_eq!(a.limits, Err("no pid in <domstatus>".to_owned()));
        assert_eq!(b.pid, Some(4242));
        assert_eq!(b.status_path, "/run/libvirt/qemu/b.xml");
        assert_eq!(b.guest.as_ref().map(|g| g.memory_kib), Ok(1_048_576));
        assert_eq!(
            b.limits,
            Ok(LockLimits {
                soft: Limit::Bytes(65_536),
                hard: Limit::Unlimited
            })
        );
        assert!(read_running(&fsroot::Root::dir(dir.path().join("proc")).unwrap()).is_empty());
    }
}
