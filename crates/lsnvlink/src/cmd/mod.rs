//! One module per subcommand, and the options they share.

pub mod dt;
pub mod source;
