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

    // The records-as-bytes view of the Ingest service (`wire`), for the
    // broker and the push agent. Only its own file is generated; the
    // messages it shares with concord.v1 are the generated `v1` types.
    let wire_file = "wire/ingest_bytes.proto";
    println!("cargo:rerun-if-changed={}", root.join(wire_file).display());
    let wire = protox::compile([wire_file], [&root])?;
    let wire_out = out.join("wire");
    fs::create_dir_all(&wire_out)?;
    let mut config = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(&wire_out);
    for shared in ["ExtractHeader", "ExtractReceipt", "GetExtractRequest"] {
        config = config.extern_path(
            format!(".concord.v1.{shared}"),
            format!("crate::v1::{shared}"),
        );
    }
    config.compile_fds(wire)?;
    Ok(())
}
