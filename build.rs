//! Compiles `proto/durabletask.proto` (the Durable Task sidecar protocol of the workflow
//! SDKs) into Rust with prost and tonic, with protox as the protobuf compiler so no
//! `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/durabletask.proto");
    let files = protox::compile(["proto/durabletask.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(files)?;
    Ok(())
}
