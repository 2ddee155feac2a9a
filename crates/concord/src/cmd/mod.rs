//! One module per subcommand.

pub mod audit;
pub mod dashboard_link;
pub mod demo;
pub mod keys;
pub mod link;
pub mod lookup;
pub mod pki;
pub mod policy;
pub mod push;
pub mod report;
pub mod review;
pub mod serve;
pub mod synth;
pub mod tokenise;
