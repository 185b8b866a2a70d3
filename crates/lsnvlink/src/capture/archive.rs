//! The deterministic capture tarball: entries sorted by path, every header with the same
//! time (0), owner (`root`, 0:0) and modes (0755 directories, 0644 files, 0777 links), gzip
//! with no file name and time 0. The same tree always gives the same bytes.

use std::io::{self, Read, Write};

use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

use super::manifest::{EntryCounts, MANIFEST_NAME};
use super::{Capture, CaptureError, Entry};

impl Capture {
    /// The capture as a `.tar.gz`, manifest included (its entry counts filled in).
    pub fn to_tar_gz(&self) -> Result<Vec<u8>, CaptureError> {
        let mut out = Vec::new();
        self.write_tar_gz(&mut out)?;
        Ok(out)
    }

    /// Writes the capture as a `.tar.gz` to `out`.
    pub fn write_tar_gz<W: Write>(&self, out: W) -> Result<(), CaptureError> {
        let mut manifest = self.manifest.clone();
        let (dirs, files, symlinks) = self.tree.counts();
        manifest.entries = EntryCounts {
            dirs,
            files,
            symlinks,
        };
        let manifest_json = manifest.to_json()?;
        let gz = GzBuilder::new().mtime(0).write(out, Compression::best());
        let mut builder = tar::Builder::new(gz);
        let mut manifest_written = false;
        for (path, entry) in self.tree.iter() {
            if !manifest_written && path > MANIFEST_NAME {
                append_file(&mut builder, MANIFEST_NAME, &manifest_json)?;
                manifest_written = true;
            }
            if path == MANIFEST_NAME {
                continue; // the manifest written here replaces any copy in the tree
            }
            match entry {
                Entry::Dir => append(
                    &mut builder,
                    &format!("{path}/"),
                    EntryType::Directory,
                    0o755,
                    &[],
                )?,
                Entry::File(data) => append_file(&mut builder, path, data)?,
                Entry::Symlink(target) => append_symlink(&mut builder, path, target)?,
            }
        }
        if !manifest_written {
            append_file(&mut builder, MANIFEST_NAME, &manifest_json)?;
        }
        builder.into_inner()?.finish()?;
        Ok(())
    }
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    // Both names are short ASCII: setting them cannot fail.
    let _ = header.set_username("root");
    let _ = header.set_groupname("root");
    header
}

/// A symlink whose text is kept byte for byte (the `tar` crate's `append_link` turns `a//b`
/// into `a/b` and drops a trailing `/`: found by fuzzing the writer). A text longer than the
/// header's 100 bytes goes first in a GNU long-link (`K`) record, as GNU tar writes it.
fn append_symlink<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    target: &str,
) -> io::Result<()> {
    let bytes = target.as_bytes();
    let mut header = header(EntryType::Symlink, 0o777, 0);
    if bytes.len() > 100 {
        // The record `append_link` writes, byte for byte (the committed captures stay the
        // same); the link's own header keeps an empty link name.
        let mut long = Header::new_gnu();
        if let Some(gnu) = long.as_gnu_mut()
            && let Some(name) = gnu.name.get_mut(..13)
        {
            name.copy_from_slice(b"././@LongLink");
        }
        long.set_mode(0o644);
        long.set_uid(0);
        long.set_gid(0);
        long.set_mtime(0);
        long.set_size(bytes.len() as u64 + 1);
        long.set_entry_type(EntryType::GNULongLink);
        long.set_cksum();
        builder.append(&long, bytes.chain(&[0u8][..]))?;
    } else {
        header.set_link_name_literal(bytes)?;
    }
    builder.append_data(&mut header, path, io::empty())
}

fn append_file<W: Write>(builder: &mut tar::Builder<W>, path: &str, data: &[u8]) -> io::Result<()> {
    append(builder, path, EntryType::Regular, 0o644, data)
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    kind: EntryType,
    mode: u32,
    data: &[u8],
) -> io::Result<()> {
    let mut header = header(kind, mode, data.len() as u64);
    builder.append_data(&mut header, path, data)
}

#[cfg(test)]
mod tests {
    use super::super::{Manifest, Tree};
    use super::*;

    fn sample() -> Capture {
        let mut tree = Tree::new();
        let long = format!("sys/{}/file", "d".repeat(150));
        tree.insert_file(&long, b"long".to_vec()).unwrap();
        tree.insert_symlink("proc/device-tree", "/sys/firmware/devicetree/base")
            .unwrap();
        tree.insert_symlink("a/link", &format!("../{}", "t".repeat(120)))
            .unwrap();
        tree.insert_dir("empty").unwrap();
        Capture {
            tree,
            manifest: Manifest::fixed("test"),
        }
    }

    #[test]
    fn the_archive_is_byte_identical_on_a_rerun_and_gzip_has_no_name_or_time() {
        let capture = sample();
        let a = capture.to_tar_gz().unwrap();
        let b = capture.clone().to_tar_gz().unwrap();
        assert_eq!(a, b);
        // gzip header: magic, CM 8, FLG 0 (no name), MTIME 0.
        assert_eq!(a[..8], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn headers_are_fixed_and_entries_sorted() {
        let bytes = sample().to_tar_gz().unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut paths = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.mtime().unwrap(), 0);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.username().unwrap(), Some("root"));
            paths.push(
                entry
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_owned(),
            );
        }
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert!(paths.iter().any(|p| p == MANIFEST_NAME));
        assert!(paths.iter().any(|p| p.ends_with(&"d".repeat(150))));
    }

    #[test]
    fn link_texts_are_kept_byte_for_byte() {
        let mut tree = Tree::new();
        let long = format!("..//{}//x/", "t".repeat(150));
        for (name, text) in [
            ("a", "a//b"),
            ("b", "./x/"),
            ("c", "/abs//path/."),
            ("d", &long),
        ] {
            tree.insert_symlink(name, text).unwrap();
        }
        let bytes = Capture {
            tree,
            manifest: Manifest::fixed("test"),
        }
        .to_tar_gz()
        .unwrap();
        let root =
            fsroot::Root::archive_from_bytes("t", &bytes, fsroot::Limits::default()).unwrap();
        for (name, text) in [
            ("/a", "a//b"),
            ("/b", "./x/"),
            ("/c", "/abs//path/."),
            ("/d", &long),
        ] {
            assert_eq!(root.read_link(name).unwrap().to_str().unwrap(), text);
        }
    }

    #[test]
    fn fsroot_replays_long_names_links_and_the_manifest() {
        let bytes = sample().to_tar_gz().unwrap();
        let root =
            fsroot::Root::archive_from_bytes("t", &bytes, fsroot::Limits::default()).unwrap();
        let long = format!("/sys/{}/file", "d".repeat(150));
        assert_eq!(&root.read(&long).unwrap()[..], b"long");
        assert_eq!(
            root.read_link("/a/link").unwrap(),
            std::path::PathBuf::from(format!("../{}", "t".repeat(120)))
        );
        assert_eq!(root.kind("/empty").unwrap(), fsroot::EntryKind::Dir);
        let manifest = Manifest::from_json(&root.read(MANIFEST_NAME).unwrap()).unwrap();
        assert_eq!(manifest.entries.symlinks, 2);
        assert_eq!(manifest.entries.files, 1);
    }
}
