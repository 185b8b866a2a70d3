//! Renderers: they turn what the readers found into text, and never read files.

pub mod dot;
pub mod prom;
pub mod report;

/// Terminal escaping of untrusted text, shared with the `pci` crate's `lspci`-style renderers
/// and the memlock budget's, so that every text output of lsnvlink shows the same escape for
/// the same control character.
pub use ::pci::render::escape;
