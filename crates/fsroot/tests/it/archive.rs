//! Capture archives: every compression, symlinks, hostile entry names, truncation, limits.

use std::io::ErrorKind;
use std::path::Path;

use fsroot::{ArchiveProblem, Compression, EntryKind, Limits, OpenError, Origin, Root};
use lsnvlink_test_support::archive::{Tar, bzip2, gzip, xz, zstd};

/// A small capture shaped like a POWER9 host's: a PCI device reached through a relative link,
/// `/proc/device-tree` as the absolute link real hosts have, a dangling `driver` link.
fn capture() -> Vec<u8> {
    Tar::default()
        .dir("sys/")
        .dir("sys/devices/pci0006:00/0006:00:00.0/")
        .file("sys/devices/pci0006:00/0006:00:00.0/vendor", b"0x1014\n")
        .file("sys/devices/pci0006:00/0006:00:00.0/device", b"0x04ea\n")
        .symlink(
            "sys/devices/pci0006:00/0006:00:00.0/driver",
            "../../../bus/pci/drivers/nvidia-npu",
        )
        .symlink(
            "sys/bus/pci/devices/0006:00:00.0",
            "../../../devices/pci0006:00/0006:00:00.0",
        )
        .file("sys/firmware/devicetree/base/model", b"IBM,8335-GTH\0")
        .file(
            "sys/firmware/devicetree/base/cpus/#address-cells",
            &[0, 0, 0, 1],
        )
        .symlink("proc/device-tree", "/sys/firmware/devicetree/base")
        .finish()
}

fn open(name: &str, bytes: &[u8]) -> Root {
    Root::archive_from_bytes(name, bytes, Limits::default()).unwrap()
}

fn check_capture(root: &Root) {
    assert_eq!(
        root.read_attr_text("/sys/bus/pci/devices/0006:00:00.0/device")
            .unwrap(),
        "0x04ea"
    );
    assert_eq!(
        &root.read("/proc/device-tree/model").unwrap()[..],
        b"IBM,8335-GTH\0"
    );
    assert_eq!(
        &root.read("proc/device-tree/cpus/#address-cells").unwrap()[..],
        &[0, 0, 0, 1]
    );
    assert_eq!(
        root.read_dir("/proc/device-tree").unwrap(),
        ["cpus", "model"]
    );
    assert_eq!(
        root.resolve("/sys/bus/pci/devices/0006:00:00.0").unwrap(),
        Path::new("/sys/devices/pci0006:00/0006:00:00.0")
    );
}

#[test]
fn every_compression_format_by_magic() {
    let tar = capture();
    let cases = [
        (Compression::None, tar.clone()),
        (Compression::Gzip, gzip(&tar).unwrap()),
        (Compression::Bzip2, bzip2(&tar).unwrap()),
        (Compression::Xz, xz(&tar).unwrap()),
        (Compression::Zstd, zstd(&tar).unwrap()),
    ];
    for (compression, bytes) in cases {
        // The name says nothing: the format is told by the first bytes.
        let root = open("capture.bin", &bytes);
        match root.origin() {
            Origin::Archive {
                compression: c,
                name,
            } => {
                assert_eq!(*c, compression);
                assert_eq!(name, "capture.bin");
            }
            other => panic!("{other:?}"),
        }
        check_capture(&root);
    }
}

#[test]
fn prefixes_of_archive_files() {
    let root = open("capture.tar", &capture());
    let model = "/proc/device-tree/model";
    assert_eq!(&root.read_prefix(model, 3).unwrap()[..], b"IBM");
    assert_eq!(
        &root.read_prefix(model, 1000).unwrap()[..],
        b"IBM,8335-GTH\0"
    );
    assert!(
        root.read_prefix("/proc/nothing", 3)
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn filtered_archives_hold_only_what_is_kept() {
    // A sosreport-like archive: a device tree beside a log far over the per-file limit.
    let mut limits = Limits::default();
    limits.max_file_bytes = 1000;
    limits.max_total_bytes = 2000;
    let tar = Tar::default()
        .file("sosreport-host/var/log/messages", &vec![b'x'; 5000])
        .file("sosreport-host/proc/device-tree/model", b"IBM,8335-GTH\0")
        .symlink("sosreport-host/dt", "proc/device-tree")
        .file("/../sosreport-host/var/log/other", &vec![b'y'; 5000])
        .finish();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sosreport.tar.gz");
    std::fs::write(&path, gzip(&tar).unwrap()).unwrap();
    // Unfiltered, the log is over the limit.
    assert!(Root::archive_with_limits(&path, limits).is_err());
    let seen = std::cell::RefCell::new(Vec::new());
    let root = Root::archive_filtered(&path, limits, |p| {
        seen.borrow_mut().push(p.to_owned());
        !p.contains("/var/log/")
    })
    .unwrap();
    assert_eq!(
        &root.read("/sosreport-host/dt/model").unwrap()[..],
        b"IBM,8335-GTH\0"
    );
    assert!(root.kind("/sosreport-host/var").unwrap_err().is_not_found());
    // The filter sees normalised paths.
    assert!(
        seen.borrow()
            .contains(&"sosreport-host/var/log/other".to_owned())
    );
}

#[test]
fn archive_files_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.tar.xz");
    std::fs::write(&path, xz(&capture()).unwrap()).unwrap();
    check_capture(&Root::archive(&path).unwrap());
    check_capture(&Root::open(&path).unwrap());
    let err = Root::archive(dir.path().join("missing.tar")).unwrap_err();
    assert!(
        matches!(err, OpenError::Io { ref source, .. } if source.kind() == ErrorKind::NotFound)
    );
}

#[test]
fn written_by_a_real_tar_writer() {
    // The `tar` crate writes GNU long names for paths over 100 bytes: read them back.
    let long = format!(
        "sys/devices/{}/vendor",
        "pci0006:00/0006:00:00.0/".repeat(8)
    );
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(7);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, &long, &b"0x1014\n"[..])
        .unwrap();
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    builder
        .append_link(
            &mut link,
            "proc/device-tree",
            "/sys/firmware/devicetree/base",
        )
        .unwrap();
    let bytes = builder.into_inner().unwrap();
    let root = open("gnu.tar", &bytes);
    assert_eq!(root.read_text(&long).unwrap(), "0x1014");
    assert_eq!(
        root.read_link("/proc/device-tree").unwrap(),
        Path::new("/sys/firmware/devicetree/base")
    );
}

#[test]
fn pax_path_records() {
    let name = "a/".repeat(60) + "file";
    let record = format!(" path={name}\n");
    let len = record.len() + 3; // three digits of length
    let record = format!("{len}{record}");
    assert_eq!(record.len(), len);
    let bytes = Tar::default()
        .raw("PaxHeader", b'x', record.len() as u64, "")
        .bytes(&{
            let mut r = record.into_bytes();
            r.resize(512, 0);
            r
        })
        .file("truncated-name", b"pax")
        .finish();
    let root = open("pax.tar", &bytes);
    assert_eq!(&root.read(&name).unwrap()[..], b"pax");
    assert!(root.read("truncated-name").unwrap_err().is_not_found());
}

#[test]
fn relative_and_absolute_symlinks() {
    let tar = Tar::default()
        .file("etc/real", b"inside")
        .symlink("abs", "/etc/real")
        .symlink("rel", "etc/real")
        .symlink("etc/up", "../etc/real")
        .symlink("dirlink", "/etc")
        .finish();
    let root = open("links.tar", &tar);
    for path in ["/abs", "/rel", "/etc/up", "/dirlink/real", "/dirlink/up"] {
        assert_eq!(&root.read(path).unwrap()[..], b"inside", "{path}");
    }
    assert_eq!(root.kind("/abs").unwrap(), EntryKind::Symlink);
    assert_eq!(root.kind("/dirlink/real").unwrap(), EntryKind::File);
    assert_eq!(root.resolve("/dirlink/up").unwrap(), Path::new("/etc/real"));
}

#[test]
fn dot_dot_is_clamped_at_the_root() {
    let tar = Tar::default()
        .file("etc/real", b"inside")
        .symlink("a/b/climb", "../../../../../../etc/real")
        .finish();
    let root = open("clamp.tar", &tar);
    assert_eq!(&root.read("/a/b/climb").unwrap()[..], b"inside");
    assert_eq!(&root.read("/../../../etc/real").unwrap()[..], b"inside");
    assert_eq!(
        &root.read("a/../../a/../etc/./real").unwrap()[..],
        b"inside"
    );
    assert_eq!(root.resolve("/..").unwrap(), Path::new("/"));
}

#[test]
fn symlink_loops_fail_with_eloop() {
    let mut tar = Tar::default()
        .symlink("loop-a", "loop-b")
        .symlink("loop-b", "/loop-a")
        .symlink("self", "self")
        .symlink("d/up", "../d/up")
        .file("end", b"end");
    for i in 1..=41 {
        let target = if i == 1 {
            "end".to_owned()
        } else {
            format!("chain{}", i - 1)
        };
        tar = tar.symlink(&format!("chain{i}"), &target);
    }
    let root = open("loops.tar", &tar.finish());
    for path in ["/loop-a", "/self", "/d/up", "/chain41", "/loop-a/x"] {
        let err = root.read(path).unwrap_err();
        assert!(err.is_symlink_loop(), "{path}: {err}");
    }
    assert_eq!(&root.read("/chain40").unwrap()[..], b"end");
    // The loop is still a link that can be read as one.
    assert_eq!(root.read_link("/self").unwrap(), Path::new("self"));
}

#[test]
fn entry_named_dot_dot_etc_passwd_stays_inside() {
    let tar = Tar::default()
        .file("../../etc/passwd", b"capture's passwd\n")
        .finish();
    let root = open("traversal.tar", &tar);
    assert_eq!(root.read_text("/etc/passwd").unwrap(), "capture's passwd");
    assert_eq!(root.read_dir("/").unwrap(), ["etc"]);
}

#[test]
fn entry_named_etc_shadow_stays_inside() {
    let tar = Tar::default()
        .file("/etc/shadow", b"capture's shadow\n")
        .finish();
    let root = open("absolute.tar", &tar);
    assert_eq!(root.read_text("/etc/shadow").unwrap(), "capture's shadow");
    assert_eq!(root.read_text("etc/shadow").unwrap(), "capture's shadow");
}

#[test]
fn link_to_etc_passwd_never_reads_the_host() {
    // The host has /etc/passwd; the capture does not.
    assert!(Path::new("/etc/passwd").exists());
    let tar = Tar::default()
        .symlink("sys/passwd", "/etc/passwd")
        .symlink("sys/climb", "../../../../../../../etc/passwd")
        .finish();
    let root = open("escape.tar", &tar);
    for path in ["/sys/passwd", "/sys/climb"] {
        let err = root.read(path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{path}: {err}");
        assert_eq!(root.kind(path).unwrap(), EntryKind::Symlink);
    }
    assert!(root.resolve("/sys/passwd").unwrap_err().is_not_found());
    assert!(root.read_dir("/etc").unwrap_err().is_not_found());
}

#[test]
fn dangling_link_reads_as_link() {
    let root = open("capture.tar", &capture());
    let driver = "/sys/bus/pci/devices/0006:00:00.0/driver";
    assert_eq!(root.kind(driver).unwrap(), EntryKind::Symlink);
    assert_eq!(
        root.read_link(driver).unwrap(),
        Path::new("../../../bus/pci/drivers/nvidia-npu")
    );
    assert!(root.read(driver).unwrap_err().is_not_found());
    assert_eq!(
        root.read_link("/sys/bus/pci/devices/0006:00:00.0/vendor")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn hard_links_and_device_nodes_are_absent_and_listed() {
    let tar = Tar::default()
        .file("etc/real", b"x")
        .raw("hard", b'1', 0, "etc/real")
        .raw("dev/sda", b'4', 0, "")
        .raw("dev/null", b'3', 0, "")
        .raw("fifo", b'6', 0, "")
        .finish();
    let root = open("odd.tar", &tar);
    for path in ["/hard", "/dev/sda", "/dev/null", "/fifo"] {
        assert!(root.kind(path).unwrap_err().is_not_found(), "{path}");
    }
    let skipped: Vec<_> = root.skipped().iter().map(|s| s.path.as_str()).collect();
    assert_eq!(skipped, ["hard", "dev/sda", "dev/null", "fifo"]);
    assert!(root.skipped()[0].reason.contains("hard link"));
}

#[test]
fn entries_under_a_file_are_refused() {
    let tar = Tar::default()
        .file("a", b"file")
        .file("a/b", b"under a file")
        .symlink("l", "/a")
        .file("l/c", b"through a link")
        .finish();
    let root = open("conflict.tar", &tar);
    assert_eq!(&root.read("/a").unwrap()[..], b"file");
    assert_eq!(root.skipped().len(), 2);
    assert_eq!(
        root.read("/l/c").unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let tar = Tar::default()
        .file("d/x", b"1")
        .dir("d/")
        .file("f", b"old")
        .file("f", b"new")
        .finish();
    let root = open("dup.tar", &tar);
    assert_eq!(&root.read("/d/x").unwrap()[..], b"1");
    assert_eq!(&root.read("/f").unwrap()[..], b"new");
}

/// Bytes that do not compress, so that cutting a compressed stream in half cuts the content.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

fn archive_error(bytes: &[u8], limits: Limits) -> (String, Option<String>, ArchiveProblem) {
    match Root::archive_from_bytes("bad.tar.gz", bytes, limits).unwrap_err() {
        OpenError::Archive {
            archive,
            entry,
            problem,
            ..
        } => (archive, entry, problem),
        other => panic!("{other}"),
    }
}

#[test]
fn truncated_tar_gz_names_archive_and_entry() {
    let tar = Tar::default()
        .file("sys/a", b"first")
        .file("sys/big", &noise(100_000))
        .finish();
    let gz = gzip(&tar).unwrap();
    // Cut the compressed stream in the middle of sys/big's content.
    let (archive, entry, problem) = archive_error(&gz[..gz.len() / 2], Limits::default());
    assert_eq!(archive, "bad.tar.gz");
    assert_eq!(entry.as_deref(), Some("sys/big"));
    assert!(matches!(problem, ArchiveProblem::Truncated(_)), "{problem}");
    // A plain tar cut inside a header, and inside content.
    let (_, _, problem) = archive_error(&tar[..700], Limits::default());
    assert!(matches!(problem, ArchiveProblem::Truncated(_)), "{problem}");
    let (_, entry, problem) = archive_error(&tar[..1700], Limits::default());
    assert_eq!(entry.as_deref(), Some("sys/big"));
    assert!(matches!(problem, ArchiveProblem::Truncated(_)), "{problem}");
    // The message says all of it.
    let err = Root::archive_from_bytes("bad.tar.gz", &gz[..gz.len() / 2], Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.tar.gz") && err.contains("sys/big"),
        "{err}"
    );
}

#[test]
fn corrupt_streams_are_errors() {
    let tar = capture();
    let mut gz = gzip(&tar).unwrap();
    let mid = gz.len() / 2;
    gz[mid] ^= 0xff;
    gz[mid + 1] ^= 0x55;
    assert!(Root::archive_from_bytes("x", &gz, Limits::default()).is_err());
    let (_, _, problem) = archive_error(b"this is not a tar archive at all", Limits::default());
    assert!(matches!(problem, ArchiveProblem::Truncated(_)), "{problem}");
    let (_, _, problem) = archive_error(&[b'x'; 1024], Limits::default());
    assert!(matches!(problem, ArchiveProblem::BadHeader(_)), "{problem}");
    // An empty archive is a valid, empty root.
    let root = open("empty.tar", &[0u8; 1024]);
    assert!(root.read_dir("/").unwrap().is_empty());
}

#[test]
fn limits_are_enforced_and_settable() {
    let tar = Tar::default()
        .file("a", &[1u8; 3000])
        .file("b", &[2u8; 3000])
        .file("c", &[3u8; 3000])
        .finish();
    let mut limits = Limits::default();
    limits.max_file_bytes = 2999;
    let (_, entry, problem) = archive_error(&tar, limits);
    assert_eq!(entry.as_deref(), Some("a"));
    assert_eq!(
        problem,
        ArchiveProblem::FileTooLarge {
            size: 3000,
            limit: 2999
        }
    );

    let mut limits = Limits::default();
    limits.max_total_bytes = 8000;
    let (_, entry, problem) = archive_error(&tar, limits);
    assert_eq!(entry.as_deref(), Some("c"));
    assert_eq!(
        problem,
        ArchiveProblem::TotalTooLarge {
            total: 9000,
            limit: 8000
        }
    );

    let mut limits = Limits::default();
    limits.max_entries = 2;
    let (_, _, problem) = archive_error(&tar, limits);
    assert_eq!(problem, ArchiveProblem::TooManyEntries { limit: 2 });

    let mut limits = Limits::default();
    limits.max_entries = 3;
    limits.max_total_bytes = 9000;
    limits.max_file_bytes = 3000;
    assert!(Root::archive_from_bytes("ok", &tar, limits).is_ok());
}

#[test]
fn hostile_decoder_windows_are_refused() {
    // A zstd frame header declaring a 2 TiB window (Window_Descriptor exponent 31): refused
    // when the frame is opened, before any window is allocated.
    let zstd_frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0x01, 0x00, 0x00];
    let (_, _, problem) = archive_error(&zstd_frame, Limits::default());
    assert!(
        matches!(problem, ArchiveProblem::Decompress { format: "zstd", .. }),
        "{problem}"
    );
    // An xz stream made with a 64 MiB dictionary (preset 9) is over the decoder's memory cap.
    let mut options = lzma_rust2::XzOptions::with_preset(9);
    options.lzma_options.dict_size = 64 << 20;
    let mut enc = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
    std::io::Write::write_all(&mut enc, &capture()).unwrap();
    let (_, _, problem) = archive_error(&enc.finish().unwrap(), Limits::default());
    assert!(
        matches!(problem, ArchiveProblem::Decompress { format: "xz", .. }),
        "{problem}"
    );
}

#[test]
fn directories_created_by_paths_count_as_entries() {
    // 20 entries whose paths create 20 × 50 directories nobody named.
    let mut tar = Tar::default();
    for i in 0..20 {
        let path = format!("{i}/{}f", "d/".repeat(50));
        tar = tar.file(&path, b"x");
    }
    let tar = tar.finish();
    let mut limits = Limits::default();
    limits.max_entries = 500;
    let (_, _, problem) = archive_error(&tar, limits);
    assert_eq!(problem, ArchiveProblem::TooManyEntries { limit: 500 });
    limits.max_entries = 2000;
    assert!(Root::archive_from_bytes("ok", &tar, limits).is_ok());
}

#[test]
fn paths_over_the_length_or_depth_limits_are_left_out() {
    let long = format!("sys/{}", "a/".repeat(1100));
    let tar = Tar::default()
        .gnu_long(b'L', &format!("{long}f"))
        .file("ignored", b"x")
        .file("sys/ok", b"y")
        .finish();
    let root = open("t", &tar);
    assert_eq!(&root.read("/sys/ok").unwrap()[..], b"y");
    assert_eq!(root.skipped().len(), 1);
    assert!(root.read_dir("/sys").unwrap() == ["ok"]);
}

#[test]
fn skipped_content_counts_against_the_decompressed_limit() {
    // A symlink entry declaring 1 MiB of content: never kept, still read past.
    let tar = Tar::default()
        .raw("sys/link", b'2', 1 << 20, "target")
        .bytes(&vec![0u8; 1 << 20])
        .file("sys/a", b"x")
        .finish();
    let mut limits = Limits::default();
    limits.max_decompressed_bytes = 512 << 10;
    let (_, _, problem) = archive_error(&gzip(&tar).unwrap(), limits);
    assert_eq!(
        problem,
        ArchiveProblem::DecompressedTooLarge { limit: 512 << 10 }
    );
    // Entries a filter leaves out count too.
    let tar = Tar::default()
        .file("logs/big", &vec![0u8; 1 << 20])
        .file("sys/a", b"x")
        .finish();
    let err = Root::archive_from_file(
        "f".into(),
        {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("a.tar");
            std::fs::write(&path, &tar).unwrap();
            fsroot::open_input(&path).unwrap()
        },
        limits,
        |p| p.starts_with("sys"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("decompressed"), "{err}");
    limits.max_decompressed_bytes = 2 << 20;
    assert!(Root::archive_from_bytes("ok", &tar, limits).is_ok());
}

#[test]
fn link_chains_in_archives_cost_a_bounded_walk() {
    // 40 links of 1,600 components each: one lookup would walk 64,000 components.
    let pad = "x/../".repeat(800);
    let mut tar = Tar::default().dir("x/").file("end", b"end");
    for i in 1..=40 {
        let target = if i == 1 {
            format!("{pad}end")
        } else {
            format!("{pad}l{}", i - 1)
        };
        tar = tar.gnu_long(b'K', &target).symlink(&format!("l{i}"), "");
    }
    let root = open("t", &tar.finish());
    for _ in 0..1000 {
        assert!(root.read("/l40").unwrap_err().is_symlink_loop());
    }
    // The cost is counted, not timed: each lookup stops at the per-lookup step budget.
    assert!(root.usage().walk_steps < 1000 * 8300, "{:?}", root.usage());
    // A link text over PATH_MAX is refused.
    let root = open(
        "t",
        &Tar::default()
            .file("end", b"end")
            .gnu_long(b'K', &format!("{}end", "./".repeat(2100)))
            .symlink("long", "")
            .finish(),
    );
    assert!(root.read("/long").is_err());
}

#[test]
fn errors_never_quote_the_bytes_of_a_file_that_is_no_archive() {
    // A host file (named through a symlink) read as a capture: its bytes at the offsets of
    // the size and checksum fields must not reach the message.
    let mut secret = b"root:$6$saltsalt$".repeat(40);
    secret.truncate(600);
    for (at, len) in [(124, 12), (148, 8)] {
        secret[at..at + len].copy_from_slice(&b"SECRETSECRET"[..len]);
    }
    let err = Root::archive_from_bytes("f", &secret, Limits::default())
        .unwrap_err()
        .to_string();
    assert!(!err.contains("SECRET") && !err.contains("salt"), "{err}");
}

#[test]
fn a_long_link_record_before_a_long_name_record_is_kept() {
    let path = format!("sys/{}", "p".repeat(120));
    let target = format!("../{}", "t".repeat(120));
    let tar = Tar::default()
        .gnu_long(b'K', &target)
        .gnu_long(b'L', &path)
        .symlink("short", "")
        .finish();
    let root = open("t", &tar);
    assert_eq!(
        root.read_link(format!("/{path}"))
            .unwrap()
            .to_str()
            .unwrap(),
        target
    );
}

#[test]
fn entries_a_filter_leaves_out_are_not_counted_kept_ones_are() {
    let mut tar = Tar::default();
    for i in 0..100 {
        tar = tar.file(&format!("logs/{i}"), b"x");
    }
    for i in 0..5 {
        tar = tar.dir(&format!("dt/n{i}/"));
    }
    let bytes = tar.finish();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.tar");
    std::fs::write(&path, &bytes).unwrap();
    let mut limits = Limits::default();
    limits.max_entries = 10;
    let root = Root::archive_filtered(&path, limits, |p| p.starts_with("dt")).unwrap();
    assert_eq!(root.read_dir("/dt").unwrap().len(), 5);
    // Kept entries and the directories they create count: 6 nodes over a limit of 5.
    limits.max_entries = 5;
    assert!(Root::archive_filtered(&path, limits, |p| p.starts_with("dt")).is_err());
}
