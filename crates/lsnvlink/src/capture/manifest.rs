//! `lsnvlink-capture.json`: what a capture holds and what could not be read.

/// The manifest's file name, at the top of every capture archive.
pub const MANIFEST_NAME: &str = "lsnvlink-capture.json";

/// The manifest's schema version; bumped when a key changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// A file or directory the capture could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct Unreadable {
    /// Absolute path inside the captured root (`/sys/...`).
    pub path: String,
    /// The error, as the operating system gave it.
    pub error: String,
}

/// The manifest stored in a capture as [`MANIFEST_NAME`]. Keys are stable; new keys may be
/// added without changing [`SCHEMA_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What wrote the capture: `lsnvlink capture`, or the test-capture generator.
    pub tool: String,
    /// The writer's version.
    pub tool_version: String,
    /// The captured host's kernel release (`/proc/sys/kernel/osrelease`), when readable.
    pub kernel_release: Option<String>,
    /// The captured host's name; `null` when sanitized or unreadable.
    pub hostname: Option<String>,
    /// When the capture was taken, RFC 3339 in UTC.
    pub time: String,
    /// Whether host name and serial numbers were dropped (`--sanitize`).
    pub sanitized: bool,
    /// Number of directories, files and symlinks captured (the manifest not counted).
    pub entries: EntryCounts,
    /// The allowlist patterns the capture was taken with.
    pub allowlist: Vec<String>,
    /// What could not be read, sorted by path.
    pub unreadable: Vec<Unreadable>,
}

/// Entry counts of a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(serde::Serialize, serde::Deserialize))]
pub struct EntryCounts {
    /// Directories.
    pub dirs: usize,
    /// Regular files.
    pub files: usize,
    /// Symlinks.
    pub symlinks: usize,
}

impl Manifest {
    /// A manifest with fixed, reproducible values (time at the Unix epoch, no host name), for
    /// generated captures: the generator fills in the rest.
    pub fn fixed(tool: &str) -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            tool: tool.to_owned(),
            tool_version: crate::VERSION.to_owned(),
            kernel_release: None,
            hostname: None,
            time: rfc3339_utc(0),
            sanitized: false,
            entries: EntryCounts::default(),
            allowlist: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    /// The manifest as pretty JSON, ending in a newline.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        Ok(json)
    }

    /// Reads a manifest from JSON.
    #[cfg(feature = "json")]
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`
/// algorithm, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // 2019-07-10T12:34:56Z, the day of the AC922 boot log.
        assert_eq!(rfc3339_utc(1_562_762_096), "2019-07-10T12:34:56Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[cfg(feature = "json")]
    #[test]
    fn manifest_round_trips_through_json() {
        let mut m = Manifest::fixed("t");
        m.unreadable.push(Unreadable {
            path: "/sys/x".into(),
            error: "denied".into(),
        });
        let json = m.to_json().unwrap();
        assert_eq!(Manifest::from_json(&json).unwrap(), m);
        assert!(Manifest::from_json(b"{").is_err());
    }
}
