//! The bundled captures and the report of one. (The tests that run the `lsnvlink` binary are in
//! `crates/lsnvlink-cli`.)

use lsnvlink::audit::Report;
pub use lsnvlink_test_support::capture;

/// The report of the bundled capture `name`, with the built-in PCI names.
pub fn report(name: &str) -> Report {
    let root = fsroot::Root::archive(capture(name)).unwrap();
    Report::read(&root, &pci::Names::builtin()).unwrap()
}
