//! Renderers: they turn what the readers found into text, and never read files.

pub mod pci;
pub mod report;
