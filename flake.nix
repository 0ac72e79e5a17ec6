{
  # Usactar's Nix entry point. For now: a development shell with the local stack's tools.
  # The Kubernetes issue adds crane packages, OCI images and checks.
  description = "Usactar: a Rust kit for studying a distributed system under load and chaos";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
      in
      {
        devShells.default = pkgs.mkShell {
          packages = with pkgs; [
            cargo rustc clippy rustfmt
            cmake pkg-config protobuf curl zlib
            jdk17 maven go
            redis prometheus nginx toxiproxy
            prometheus-redis-exporter prometheus-nginx-exporter
            prometheus-node-exporter prometheus-process-exporter
            wrk nodejs_20
          ];
        };
      });
}
