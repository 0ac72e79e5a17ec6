{
  # Usactar's Nix entry point: a development shell with every server the local stack runs (the
  # front door: `nix develop`, then `cargo run -p experiments -- podkill`), the service binaries
  # (crane), their OCI images and the frontend's Cloud Run image (Linux only), and checks that
  # need no external server. See README.md ("Nix") for what was evaluated and what only written.
  description = "Usactar: a Rust kit for studying a distributed system under load and chaos";

  inputs = {
    # nixpkgs-unstable: the branch flake.lock's revision was taken from (see README.md, "Nix").
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    flake-utils.url = "github:numtide/flake-utils";
    crane.url = "github:ipetkov/crane";
  };

  outputs =
    {
      self,
      nixpkgs,
      flake-utils,
      crane,
    }:
    flake-utils.lib.eachDefaultSystem (
      system:
      let
        pkgs = import nixpkgs { inherit system; };
        inherit (pkgs) lib;
        craneLib = crane.mkLib pkgs;
        version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;

        # Cargo sources plus what the crates read at build or test time, which crane's filter
        # (Rust and TOML files, Cargo.lock) would drop.
        src = lib.cleanSourceWith {
          src = ./.;
          name = "usactar-source";
          filter =
            path: type:
            (craneLib.filterCargoSources path type)
            # tonic-prost-build compiles proto/usactar/live/v1/live.proto.
            || lib.hasSuffix ".proto" path
            # include_str!: the stack's configuration templates, ingest's OpenAPI document,
            # the fixture list (model) and loadgen's predictions.
            || lib.hasInfix "/crates/stack/templates/" path
            || lib.hasSuffix "/services/ingest/openapi.json" path
            || lib.hasInfix "/loadgen/data/" path
            || lib.hasInfix "/crates/model/data/" path
            # insta snapshots, and the dashboards chaos's tests compare with its PromQL.
            || lib.hasSuffix ".snap" path
            || lib.hasInfix "/deploy/grafana/" path;
        };

        commonArgs = {
          inherit src version;
          pname = "usactar";
          strictDeps = true;
          # protoc for tonic-prost-build; cmake, pkg-config, curl and zlib for rdkafka's
          # cmake-build of librdkafka; cmake and perl for aws-lc-sys.
          nativeBuildInputs = with pkgs; [
            protobuf
            cmake
            pkg-config
            perl
          ];
          buildInputs = with pkgs; [
            curl
            zlib
          ];
          PROTOC = "${pkgs.protobuf}/bin/protoc";
        };

        # Every dependency of the workspace, compiled once and shared by all packages/checks.
        cargoArtifacts = craneLib.buildDepsOnly commonArgs;

        # One package per binary: an image rebuilds only when its own binary changes.
        mkBin =
          {
            pname,
            cargoPackage,
            bin ? pname,
          }:
          craneLib.buildPackage (
            commonArgs
            // {
              inherit cargoArtifacts pname;
              cargoExtraArgs = "--locked -p ${cargoPackage} --bin ${bin}";
              # The tests run once, in the checks below, not per binary.
              doCheck = false;
              meta.mainProgram = bin;
            }
          );

        # Each binary and the package that holds it.
        bins = lib.mapAttrs (pname: cargoPackage: mkBin { inherit pname cargoPackage; }) {
          ingest = "ingest";
          logs-writer = "consumer";
          live-forwarder = "consumer";
          live-store = "live-store";
          read-api = "read-api";
          experiments = "experiments";
          loadgen = "loadgen";
        };

        # Tests that start no server of their own: they run in the build sandbox. Every other
        # test (Kafka, FerretDB, Redis, Prometheus, kube-apiserver, Chromium) runs from
        # scripts/test, where the servers are.
        offlineTests =
          name: cargoTestExtraArgs:
          craneLib.cargoTest (
            commonArgs
            // {
              inherit cargoArtifacts cargoTestExtraArgs;
              pname = "usactar-${name}";
              # Snapshots are checked, never written.
              INSTA_UPDATE = "no";
              # loadgen's tests serve HTTP on 127.0.0.1 inside the test process.
              __darwinAllowLocalNetworking = true;
            }
          );

        ferretdb = pkgs.callPackage ./nix/ferretdb.nix { };
        stackServers = import ./nix/stack-servers.nix { inherit pkgs lib ferretdb; };

        frontendDist = pkgs.buildNpmPackage {
          pname = "usactar-frontend";
          inherit version;
          src = ./frontend;
          # From package-lock.json, without a hand-kept hash.
          npmDeps = pkgs.importNpmLock { npmRoot = ./frontend; };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;
          installPhase = ''
            runHook preInstall
            cp -r dist $out
            runHook postInstall
          '';
        };

        # OCI images hold Linux binaries: built on Linux systems only.
        images = lib.optionalAttrs pkgs.stdenv.isLinux (
          import ./nix/images.nix {
            inherit
              pkgs
              lib
              version
              bins
              frontendDist
              ;
          }
        );
      in
      {
        packages =
          bins
          // {
            default = pkgs.symlinkJoin {
              name = "usactar-${version}";
              paths = builtins.attrValues bins;
            };
            frontend = frontendDist;
            inherit ferretdb;
            inherit (stackServers) kafkaLibs;
          }
          // images;

        checks = {
          clippy = craneLib.cargoClippy (
            commonArgs
            // {
              inherit cargoArtifacts;
              cargoClippyExtraArgs = "--workspace --all-targets -- -D warnings";
            }
          );
          fmt = craneLib.cargoFmt {
            inherit src version;
            pname = "usactar";
          };
          # Unit tests (src/) of the crates whose unit tests start nothing and look for nothing
          # installed (stack's unit tests check where Debian installs the servers).
          unit-tests = offlineTests "unit-tests" (
            "--lib -p model -p retry -p service-kit -p read-api -p chaos -p experiments"
          );
          # All of loadgen's tests: their HTTP server is an axum router inside the test.
          loadgen-tests = offlineTests "loadgen-tests" "-p loadgen";
          # chaos's rendering, schema and dashboard tests; not `apiserver` (kube-apiserver and
          # etcd) nor `prometheus` (a real Prometheus).
          chaos-tests = offlineTests "chaos-tests" (
            "-p chaos --test snapshots --test schema --test dashboards"
          );
        }
        // bins;

        # Environment variables are plain attributes: nix develop exports every one.
        devShells.default = pkgs.mkShell (
          {
          inputsFrom = [ cargoArtifacts ];
          packages =
            with pkgs;
            [
              # Rust and what the crates' builds need
              cargo
              rustc
              clippy
              rustfmt
              rust-analyzer
              cmake
              pkg-config
              protobuf
              perl
              curl
              zlib
              # chaos/envtest/build.sh builds kube-apiserver and etcd with Go; bench/ uses wrk.
              go
              wrk
              # The web pages
              nodejs_20
              # The cluster path: kind, kubectl, Linkerd, Helm, trust anchors, validation
              kind
              kubectl
              kustomize
              linkerd
              kubernetes-helm
              step-cli
              openssl
              shellcheck
              yq-go
              jq
              # The clouds (docs/deploy.md); GKE credentials go through the auth plugin.
              (google-cloud-sdk.withExtraComponents [ google-cloud-sdk.components.gke-gcloud-auth-plugin ])
              azure-cli
            ]
            # The servers of the local stack, found on PATH by `experiments up`.
            ++ stackServers.packages
            # The browser tests drive Chromium (frontend/scripts/test.sh); nixpkgs builds it
            # for Linux only.
            ++ lib.optionals stdenv.isLinux [ chromium ];

          PROTOC = "${pkgs.protobuf}/bin/protoc";
          }
          # JAVA_HOME, and USACTAR_KAFKA_LIBS for the JMX exporter agent beside Kafka's jars.
          // stackServers.env
          // lib.optionalAttrs pkgs.stdenv.isLinux {
            USACTAR_CHROMIUM = "${pkgs.chromium}/bin/chromium";
          }
        );

        formatter = pkgs.nixfmt;
      }
    );
}
