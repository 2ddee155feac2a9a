//! The `concord.v1` wire contract, generated from `proto/concord/v1` at build
//! time. Proto types stop at the server boundary: domain crates never see them.

#![forbid(unsafe_code)]

pub mod checksum;

pub use prost;
pub use tonic;

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("concord.v1");
}

/// `concord.v1.Ingest` with every record of a batch kept as the bytes that
/// were sent (`proto/wire/ingest_bytes.proto`): the same wire format as
/// [`v1::PushExtractRequest`], so the extract checksum runs over exactly the
/// bytes on the wire. Served by the broker and used by the push agent.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod wire {
    include!(concat!(env!("OUT_DIR"), "/wire/concord.v1.rs"));
}

/// The encoded `FileDescriptorSet` of every `concord.v1` file, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/concord_descriptor.bin"));
