//! Renderers: they turn what the readers found into text, and never read files.

pub mod dot;
pub mod escape;
pub mod pci;
pub mod prom;
pub mod report;
