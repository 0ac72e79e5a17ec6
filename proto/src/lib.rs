//! The gRPC contract between live-forwarder and live-store, generated from
//! `proto/usactar/live/v1/live.proto` at build time.

pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("usactar.live.v1");
}
