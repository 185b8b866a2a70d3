//! The in-memory tree of a capture.

use std::collections::BTreeMap;

use super::CaptureError;

/// One entry of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory (its children are the entries whose paths start with its path and `/`).
    Dir,
    /// A regular file and its content, as read (sysfs sizes on `stat` are never used).
    File(Vec<u8>),
    /// A symbolic link and its text, kept as it is (relative or absolute).
    Symlink(String),
}

/// The entries of a capture by root-relative path (`sys/bus/pci`), sorted by path bytes, so a
/// directory always comes before what it holds.
///
/// Inserting an entry inserts its missing ancestors as directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds a directory (and its ancestors).
    pub fn insert_dir(&mut self, path: &str) -> Result<(), CaptureError> {
        let path = normalize(path)?;
        self.ensure_parents(&path)?;
        match self.entries.get(&path) {
            Some(Entry::Dir) => {}
            Some(_) => {
                return Err(CaptureError::NotADirectory {
                    blocker: path.clone(),
                    path,
                });
            }
            None => {
                self.entries.insert(path, Entry::Dir);
            }
        }
        Ok(())
    }

    /// Adds (or replaces) a file with its content.
    pub fn insert_file(&mut self, path: &str, content: Vec<u8>) -> Result<(), CaptureError> {
        self.insert_leaf(path, Entry::File(content))
    }

    /// Adds (or replaces) a symlink with its text.
    pub fn insert_symlink(&mut self, path: &str, target: &str) -> Result<(), CaptureError> {
        self.insert_leaf(path, Entry::Symlink(target.to_owned()))
    }

    fn insert_leaf(&mut self, path: &str, entry: Entry) -> Result<(), CaptureError> {
        let path = normalize(path)?;
        self.ensure_parents(&path)?;
        if matches!(self.entries.get(&path), Some(Entry::Dir)) && self.has_children(&path) {
            return Err(CaptureError::NotADirectory {
                blocker: path.clone(),
                path,
            });
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    fn has_children(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.entries
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    fn ensure_parents(&mut self, path: &str) -> Result<(), CaptureError> {
        let mut end = 0;
        while let Some(pos) = path.get(end..).and_then(|rest| rest.find('/')) {
            let parent = path.get(..end + pos).unwrap_or_default();
            match self.entries.get(parent) {
                Some(Entry::Dir) => {}
                Some(_) => {
                    return Err(CaptureError::NotADirectory {
                        path: path.to_owned(),
                        blocker: parent.to_owned(),
                    });
                }
                None => {
                    self.entries.insert(parent.to_owned(), Entry::Dir);
                }
            }
            end += pos + 1;
        }
        Ok(())
    }

    /// The entry at `path` (leading `/` allowed).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path.trim_start_matches('/'))
    }

    /// Removes the entry at `path` and everything below it; returns whether it was there.
    pub fn remove(&mut self, path: &str) -> bool {
        let path = path.trim_start_matches('/');
        let prefix = format!("{path}/");
        let below: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for key in below {
            self.entries.remove(&key);
        }
        self.entries.remove(path).is_some()
    }

    /// Every entry, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every file, mutably, sorted by path (to rewrite content in place).
    pub fn files_mut(&mut self) -> impl Iterator<Item = (&str, &mut Vec<u8>)> {
        self.entries.iter_mut().filter_map(|(k, v)| match v {
            Entry::File(data) => Some((k.as_str(), data)),
            _ => None,
        })
    }

    /// How many entries the tree holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Counts of (directories, files, symlinks).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.entries
            .values()
            .fold((0, 0, 0), |(d, f, l), entry| match entry {
                Entry::Dir => (d + 1, f, l),
                Entry::File(_) => (d, f + 1, l),
                Entry::Symlink(_) => (d, f, l + 1),
            })
    }
}

/// `path` without leading or trailing `/`, refused when empty or holding `.`, `..` or `//`.
fn normalize(path: &str) -> Result<String, CaptureError> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let bad = trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        || trimmed.contains('\0')
        // What a replay accepts (fsroot's path limits): a longer path would be written and
        // then left out of the replay.
        || trimmed.len() as u64 >= fsroot::Limits::default().max_path_bytes
        || trimmed.split('/').count() as u64 > fsroot::Limits::default().max_depth;
    if bad {
        return Err(CaptureError::BadPath(path.to_owned()));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_are_added_and_sorted_before_children() {
        let mut tree = Tree::new();
        tree.insert_file("/sys/bus/pci/devices/x", vec![1]).unwrap();
        tree.insert_symlink("sys/bus-x", "a").unwrap();
        let paths: Vec<&str> = tree.iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "sys",
                "sys/bus",
                "sys/bus-x",
                "sys/bus/pci",
                "sys/bus/pci/devices",
                "sys/bus/pci/devices/x"
            ]
        );
        assert_eq!(tree.counts(), (4, 1, 1));
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut tree = Tree::new();
        for bad in ["", "/", "a/../b", "a//b", "./a", "a/\0"] {
            assert!(
                matches!(tree.insert_file(bad, vec![]), Err(CaptureError::BadPath(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_file_cannot_hold_children() {
        let mut tree = Tree::new();
        tree.insert_file("a/b", vec![]).unwrap();
        assert!(matches!(
            tree.insert_file("a/b/c", vec![]),
            Err(CaptureError::NotADirectory { .. })
        ));
        tree.insert_file("a/c/d", vec![]).unwrap();
        assert!(tree.insert_file("a/c", vec![]).is_err());
        assert!(tree.remove("a/c"));
        assert_eq!(tree.get("a/c/d"), None);
        tree.insert_file("a/c", vec![2]).unwrap();
        assert_eq!(tree.get("/a/c"), Some(&Entry::File(vec![2])));
    }
}
