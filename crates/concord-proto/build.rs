//! Compiles `proto/concord/v1/*.proto` with protox, a pure-Rust protobuf
//! compiler, so no `protoc` is needed on the machine. The encoded
//! descriptor set is kept in OUT_DIR for gRPC server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "concord/v1/record.proto",
        "concord/v1/ingest.proto",
        "concord/v1/linkage.proto",
        "concord/v1/audit.proto",
        "concord/v1/lookup.proto",
        "concord/v1/insights.proto",
        "concord/v1/web.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("concord_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
