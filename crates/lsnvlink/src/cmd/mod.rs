//! One module per subcommand, and the options they share.

pub mod capture;
pub mod diff;
pub mod dt;
pub mod fleet;
pub mod memlock;
pub mod pci;
pub mod report;
pub mod source;
