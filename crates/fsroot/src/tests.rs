//! Tests of the host roots (a copied root in a temporary directory, and the live system), run
//! both with `openat2` and with the path walk used where the kernel lacks it.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

/// A copied root with the shapes sysfs has: relative links between directories, an absolute
/// link (`/proc/device-tree`), a dangling link (a `driver` whose target was not copied).
fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let dev = r.join("sys/devices/pci0000:00/0000:00:00.0");
    fs::create_dir_all(&dev).unwrap();
    fs::write(dev.join("vendor"), "0x1014\n").unwrap();
    fs::write(dev.join("device"), "0x04c1\n").unwrap();
    symlink("../../../bus/pci/drivers/pcieport", dev.join("driver")).unwrap();
    fs::create_dir_all(r.join("sys/bus/pci/devices")).unwrap();
    symlink(
        "../../../devices/pci0000:00/0000:00:00.0",
        r.join("sys/bus/pci/devices/0000:00:00.0"),
    )
    .unwrap();
    fs::create_dir_all(r.join("sys/firmware/devicetree/base/cpus")).unwrap();
    fs::write(
        r.join("sys/firmware/devicetree/base/model"),
        "IBM,8335-GTH\0",
    )
    .unwrap();
    fs::create_dir_all(r.join("proc")).unwrap();
    symlink("/sys/firmware/devicetree/base", r.join("proc/device-tree")).unwrap();
    // Links that try to leave the root.
    symlink("/etc/passwd", r.join("passwd")).unwrap();
    symlink("../../../../../../../../etc/passwd", r.join("climb")).unwrap();
    symlink("/", r.join("top")).unwrap();
    // A loop, and a chain of exactly 40 links.
    symlink("loop-b", r.join("loop-a")).unwrap();
    symlink("loop-a", r.join("loop-b")).unwrap();
    fs::write(r.join("end"), "end").unwrap();
    for i in 1..=40 {
        let target = if i == 1 {
            "end".to_owned()
        } else {
            format!("chain{}", i - 1)
        };
        symlink(target, r.join(format!("chain{i}"))).unwrap();
    }
    symlink("chain40", r.join("chain41")).unwrap();
    dir
}

fn both_modes(check: impl Fn(&Root)) {
    let dir = sample();
    let root = Root::dir(dir.path()).unwrap();
    check(&root);
    let walked = Root::dir(dir.path()).unwrap();
    walked.force_walk();
    check(&walked);
}

#[test]
fn reads_files_through_relative_links() {
    both_modes(|root| {
        let vendor = root
            .read_attr_text("/sys/bus/pci/devices/0000:00:00.0/vendor")
            .unwrap();
        assert_eq!(vendor, "0x1014");
        assert_eq!(
            &root
                .read("sys/bus/pci/devices/0000:00:00.0/device")
                .unwrap()[..],
            b"0x04c1\n"
        );
    });
}

#[test]
fn absolute_links_start_at_the_root() {
    both_modes(|root| {
        assert_eq!(
            &root.read("/proc/device-tree/model").unwrap()[..],
            b"IBM,8335-GTH\0"
        );
        assert_eq!(
            root.resolve("/proc/device-tree").unwrap(),
            Path::new("/sys/firmware/devicetree/base")
        );
        assert_eq!(
            root.read_dir("/proc/device-tree").unwrap(),
            ["cpus", "model"]
        );
    });
}

#[test]
fn links_to_host_files_stay_inside() {
    both_modes(|root| {
        for path in ["/passwd", "/climb", "/top/etc/passwd", "/../../etc/passwd"] {
            let err = root.read(path).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{path}: {err}");
            assert_eq!(err.path(), Path::new(path));
        }
        assert_eq!(root.read_link("/passwd").unwrap(), Path::new("/etc/passwd"));
        assert_eq!(root.resolve("/top").unwrap(), Path::new("/"));
        assert_eq!(root.resolve("/sys/../../..").unwrap(), Path::new("/"));
        assert!(
            root.read_dir("/top/..")
                .unwrap()
                .contains(&"sys".to_owned())
        );
    });
}

#[test]
fn dangling_links_read_as_links() {
    both_modes(|root| {
        let link = "/sys/devices/pci0000:00/0000:00:00.0/driver";
        assert_eq!(root.kind(link).unwrap(), EntryKind::Symlink);
        assert_eq!(
            root.read_link(link).unwrap(),
            Path::new("../../../bus/pci/drivers/pcieport")
        );
        assert_eq!(root.read(link).unwrap_err().kind(), ErrorKind::NotFound);
        // A link read through a linked directory.
        assert_eq!(
            root.read_link("/sys/bus/pci/devices/0000:00:00.0/driver")
                .unwrap(),
            Path::new("../../../bus/pci/drivers/pcieport")
        );
    });
}

#[test]
fn loops_end_after_forty_links() {
    both_modes(|root| {
        let err = root.read("/loop-a").unwrap_err();
        assert!(err.is_symlink_loop(), "{err}");
        assert_eq!(&root.read("/chain40").unwrap()[..], b"end");
        assert!(root.read("/chain41").unwrap_err().is_symlink_loop());
    });
}

#[test]
fn kinds_and_errors() {
    both_modes(|root| {
        assert_eq!(root.kind("/").unwrap(), EntryKind::Dir);
        assert_eq!(root.kind("/sys").unwrap(), EntryKind::Dir);
        assert_eq!(root.kind("/proc/device-tree").unwrap(), EntryKind::Symlink);
        assert_eq!(
            root.kind("/proc/device-tree/model").unwrap(),
            EntryKind::File
        );
        assert_eq!(root.kind("/sys/..").unwrap(), EntryKind::Dir);
        assert!(root.kind("/nope").unwrap_err().is_not_found());
        assert_eq!(
            root.read_link("/sys").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            root.read("/end/x").unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        assert_eq!(
            root.read_dir("/end").unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        assert!(root.exists("/sys/devices/pci0000:00/0000:00:00.0/driver"));
        assert!(!root.exists("/sys/nothing"));
        assert!(!root.try_exists("/sys/nothing").unwrap());
        assert!(root.try_exists("/sys").unwrap());
        // A loop is an error, not an absent entry.
        assert!(root.try_exists("/loop-a/x").is_err());
    });
}

#[test]
fn host_reads_are_bounded() {
    let dir = sample();
    fs::write(dir.path().join("big"), vec![b'x'; 10_000]).unwrap();
    let root = Root::dir(dir.path()).unwrap().with_max_file_bytes(9_999);
    assert_eq!(
        root.read("/big").unwrap_err().kind(),
        ErrorKind::FileTooLarge
    );
    let root = Root::dir(dir.path()).unwrap().with_max_file_bytes(10_000);
    assert_eq!(root.read("/big").unwrap().len(), 10_000);
    // An attribute longer than a page is still read whole.
    assert_eq!(root.read_attr("/big").unwrap().len(), 10_000);
}

#[test]
fn prefixes_read_no_further() {
    both_modes(|root| {
        let path = "/sys/bus/pci/devices/0000:00:00.0/vendor";
        assert_eq!(&root.read_prefix(path, 4).unwrap()[..], b"0x10");
        assert_eq!(&root.read_prefix(path, 64).unwrap()[..], b"0x1014\n");
        assert!(root.read_prefix(path, 0).unwrap().is_empty());
        assert!(root.read_prefix("/nope", 4).unwrap_err().is_not_found());
    });
    let live = Root::live();
    assert_eq!(
        &live.read_prefix("/proc/version", 6).unwrap()[..],
        b"Linux "
    );
}

#[test]
fn fifo_in_a_copied_root_does_not_block() {
    let dir = sample();
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "mkfifo (coreutils) failed: {status:?}"
    );
    for walk in [false, true] {
        let root = Root::dir(dir.path()).unwrap();
        if walk {
            root.force_walk();
        }
        assert_eq!(root.kind("/fifo").unwrap(), EntryKind::Other);
        // Never opened for reading: refused as not a regular file.
        let err = root.read("/fifo").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(root.read_prefix("/fifo", 4).is_err());
    }
}

#[test]
fn device_nodes_in_a_copied_root_are_never_read() {
    // A symlink to the host's /dev/kmsg or a disk is kept inside the root; a device node
    // itself can only be made by root, so the live /dev stands in for a copied root holding
    // one (`c 1 11` is /dev/kmsg).
    for walk in [false, true] {
        let root = Root::dir("/dev").unwrap();
        if walk {
            root.force_walk();
        }
        for node in ["/null", "/zero", "/kmsg"] {
            if let Ok(kind) = root.kind(node) {
                assert_eq!(kind, EntryKind::Other, "{node}");
                let err = root.read(node).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidInput, "{node}: {err}");
                assert!(root.read_attr(node).is_err());
                assert!(root.read_prefix(node, 16).is_err());
            }
        }
    }
}

/// A root whose links make every lookup walk far: 40 links of `x/../` repeated.
fn costly_links(dir: &Path, repeat: usize) {
    fs::create_dir_all(dir.join("x")).unwrap();
    fs::write(dir.join("end"), "end").unwrap();
    let pad = "x/../".repeat(repeat);
    for i in 1..=40 {
        let target = if i == 1 {
            format!("{pad}end")
        } else {
            format!("{pad}l{}", i - 1)
        };
        symlink(target, dir.join(format!("l{i}"))).unwrap();
    }
}

#[test]
fn long_link_chains_cost_a_bounded_walk() {
    let dir = tempfile::tempdir().unwrap();
    // 40 links of 800 components each: 32,000 steps, over the 8,192 of one lookup.
    costly_links(dir.path(), 400);
    for walk in [false, true] {
        // With openat2 too: the kernel would follow the links without a bound on their work.
        let root = Root::dir(dir.path()).unwrap();
        if walk {
            root.force_walk();
        }
        let err = root.read("/l40").unwrap_err();
        assert!(err.is_symlink_loop(), "{err}");
        assert!(root.usage().walk_steps <= 8192 + 1, "{:?}", root.usage());
        // Short chains are fine.
        assert_eq!(&root.read("/l2").unwrap()[..], b"end");
    }
    // The run's budget ends repeated lookups with an error, not hours of walking.
    let limits = Limits {
        max_run_walk_steps: 100_000,
        ..Limits::default()
    };
    let root = Root::dir(dir.path()).unwrap().with_limits(limits);
    root.force_walk();
    let mut quota = false;
    for _ in 0..100 {
        if let Err(e) = root.read("/l40")
            && e.kind() == ErrorKind::QuotaExceeded
        {
            quota = true;
            break;
        }
    }
    assert!(quota, "{:?}", root.usage());
    assert!(
        root.read("/end").is_err(),
        "the budget is spent for every lookup"
    );
}

#[test]
fn paths_over_the_length_and_depth_limits_are_refused() {
    both_modes(|root| {
        let long = format!("/{}", "a".repeat(5000));
        assert!(root.read(&long).is_err());
        let deep = "/x".repeat(1100);
        assert!(root.kind(&deep).is_err());
        assert!(!root.read(&deep).unwrap_err().is_not_found());
    });
}

#[test]
fn total_bytes_read_from_a_root_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        fs::write(dir.path().join(format!("f{i}")), vec![b'x'; 1000]).unwrap();
    }
    let limits = Limits {
        max_read_bytes: 5_500,
        ..Limits::default()
    };
    let root = Root::dir(dir.path()).unwrap().with_limits(limits);
    let mut read = 0;
    let mut refused = None;
    for i in 0..10 {
        match root.read(format!("/f{i}")) {
            Ok(data) => read += data.len(),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert_eq!(read, 5000);
    assert_eq!(refused.unwrap().kind(), ErrorKind::QuotaExceeded);
}

#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed_by_a_no_follow_root() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("sys")).unwrap();
    fs::write(dir.path().join("sys/file"), "inside").unwrap();
    for walk in [false, true] {
        let root = Root::dir_no_follow(dir.path()).unwrap();
        if walk {
            root.force_walk();
        }
        assert_eq!(&root.read("/sys/file").unwrap()[..], b"inside");
        // The swap: sys becomes a symlink to a directory holding "file" elsewhere.
        fs::rename(dir.path().join("sys"), dir.path().join("sys.old")).unwrap();
        symlink(outside.path(), dir.path().join("sys")).unwrap();
        let err = root.read("/sys/secret").unwrap_err();
        assert!(err.is_symlink_loop(), "{err}");
        assert!(root.read_dir("/sys").is_err());
        assert_eq!(root.kind("/sys").unwrap(), EntryKind::Symlink);
        fs::remove_file(dir.path().join("sys")).unwrap();
        fs::rename(dir.path().join("sys.old"), dir.path().join("sys")).unwrap();
    }
}

#[test]
fn renames_elsewhere_never_make_an_entry_absent() {
    // openat2(RESOLVE_IN_ROOT) fails with EAGAIN when a rename races with a `..` lookup (with
    // 200 `..` and a renamer, within the first thousand lookups here); the open is retried,
    // then walked: an entry that is always there is always found.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("a/b")).unwrap();
    fs::write(dir.path().join("a/b/file"), "x").unwrap();
    fs::create_dir_all(dir.path().join("r0")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renamer = {
        let stop = std::sync::Arc::clone(&stop);
        let base = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (from, to) = if n.is_multiple_of(2) {
                    ("r0", "r1")
                } else {
                    ("r1", "r0")
                };
                let _ = fs::rename(base.join(from), base.join(to));
                n += 1;
            }
            n
        })
    };
    for walk in [false, true] {
        let root = Root::dir(dir.path()).unwrap();
        if walk {
            root.force_walk();
        }
        let path = format!("/a/b{}/file", "/../b".repeat(200));
        let lookups = if walk { 1_000 } else { 5_000 };
        for i in 0..lookups {
            let r = root.read(&path);
            assert!(
                r.is_ok(),
                "lookup {i} (walk {walk}): {}",
                r.err()
                    .map(|e| e.io_error().to_string())
                    .unwrap_or_default()
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(renamer.join().unwrap() > 0);
}

#[test]
fn live_root_reads_the_kernel() {
    let root = Root::live();
    assert!(root.is_live());
    let version = root.read_text("/proc/version").unwrap();
    assert!(version.starts_with("Linux"), "{version}");
    // /proc/self/status is longer than one read on some kernels: `read` takes it all.
    let status = root.read_text("proc/self/status").unwrap();
    assert!(
        status.contains("VmPeak") || status.contains("Name:"),
        "{status}"
    );
    assert_eq!(root.kind("/proc/self").unwrap(), EntryKind::Symlink);
    assert!(
        root.read_dir("/proc/self")
            .unwrap()
            .contains(&"status".to_owned())
    );
    let err = root.read("/proc/no-such-file").unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(root.origin(), &Origin::Live);
}

#[test]
fn roots_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Root>();
    shared::<Error>();
    shared::<OpenError>();
}
