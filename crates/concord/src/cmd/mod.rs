//! One module per subcommand.

pub mod demo;
pub mod keys;
pub mod link;
pub mod pki;
pub mod policy;
pub mod push;
pub mod serve;
pub mod synth;
pub mod tokenise;
