// Generated code is rebuilt from the .proto on every change; nothing generated is committed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=usactar/live/v1/live.proto");
    tonic_prost_build::configure().compile_protos(&["usactar/live/v1/live.proto"], &["."])?;
    Ok(())
}
