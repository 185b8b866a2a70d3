//! One module per subcommand, and the options they share.

pub mod pci;
pub mod source;
