//! One module per subcommand.

pub mod keys;
pub mod pki;
pub mod policy;
pub mod push;
pub mod serve;
