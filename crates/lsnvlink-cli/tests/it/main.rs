//! The lsnvlink command's integration tests, as one binary (one link instead of one per file):
//! each module was a test file of its own, and keeps its name.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap, index or assertion is a failed test"
)]

/// `insta::assert_snapshot!(name, value)`, the snapshot file named as when each module was a
/// test binary of its own: `tests/snapshots/<module>__<name>.snap` (insta would prefix the
/// module path, `it__<module>__`). The files keep their names, and `schemas` finds them.
macro_rules! assert_snapshot {
    ($name:expr, $value:expr $(,)?) => {{
        let module = module_path!().rsplit("::").next().unwrap_or_default();
        insta::with_settings!(
            {
                snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"),
                prepend_module_to_snapshot => false,
            },
            { insta::assert_snapshot!(format!("{module}__{}", $name), $value) }
        );
    }};
}

mod capture;
mod cli;
mod common;
mod diff;
mod dot;
mod dt;
mod escape;
mod fleet;
mod inputs;
mod inputs_hostile;
mod memlock;
mod nhc;
mod output_files;
mod pci;
mod powernv;
mod prom;
mod report;
mod schemas;
mod systemd;
