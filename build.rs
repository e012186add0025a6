//! Compiles the protocols daprd serves beyond the Dapr API (whose types come from the `dapr`
//! crate) into Rust with prost and tonic, with protox as the protobuf compiler so no `protoc`
//! is needed:
//! - `proto/durabletask.proto`: the Durable Task sidecar protocol of the workflow SDKs;
//! - `proto/dapr/proto/internals/v1/service_invocation.proto`: the official sidecar-to-sidecar
//!   protocol, its `common.v1` messages mapped onto the `dapr` crate's types.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(["proto/durabletask.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(files)?;
    let files = protox::compile(
        ["proto/dapr/proto/internals/v1/service_invocation.proto"],
        ["proto"],
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .extern_path(".dapr.proto.common.v1", "::dapr::dapr::proto::common::v1")
        .compile_fds(files)?;
    Ok(())
}
