//! One module per subcommand.

pub mod pki;
pub mod policy;
pub mod push;
pub mod serve;
