{
  # Usactar's Nix entry point: the service binaries (crane), their OCI images, the frontend's
  # Cloud Run image, checks, and a development shell with the local stack's and the cluster
  # path's tools. See docs/deploy.md.
  description = "Usactar: a Rust kit for studying a distributed system under load and chaos";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
    crane.url = "github:ipetkov/crane";
  };

  outputs = { self, nixpkgs, flake-utils, crane }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
        inherit (pkgs) lib;
        craneLib = crane.mkLib pkgs;
        version = "0.1.0";

        # Cargo sources plus what the crates read at build or test time, which crane's default
        # filter (Rust and Cargo files only) would drop.
        src = lib.cleanSourceWith {
          src = ./.;
          name = "usactar-source";
          filter = path: type:
            (craneLib.filterCargoSources path type)
            # tonic-prost-build compiles proto/usactar/live/v1/live.proto.
            || lib.hasSuffix ".proto" path
            # include_str!: ingest's OpenAPI document, loadgen's match data.
            || lib.hasSuffix "/services/ingest/openapi.json" path
            || lib.hasInfix "/loadgen/data" path
            # insta snapshots, and the dashboards chaos's tests compare with its PromQL.
            || lib.hasSuffix ".snap" path
            || lib.hasInfix "/deploy/grafana" path;
        };

        commonArgs = {
          inherit src version;
          pname = "usactar";
          strictDeps = true;
          # protoc for tonic-prost-build; cmake, pkg-config, curl and zlib for rdkafka's
          # cmake-build of librdkafka (and cmake for aws-lc-sys).
          nativeBuildInputs = with pkgs; [ protobuf cmake pkg-config perl ];
          buildInputs = with pkgs; [ curl zlib ];
          PROTOC = "${pkgs.protobuf}/bin/protoc";
        };

        # Every dependency of the workspace, compiled once and shared by all packages/checks.
        cargoArtifacts = craneLib.buildDepsOnly commonArgs;

        # One package per binary: an image rebuilds only when its own binary changes.
        mkBin = { pname, cargoPackage, bin ? pname }:
          craneLib.buildPackage (commonArgs // {
            inherit cargoArtifacts pname;
            cargoExtraArgs = "--locked -p ${cargoPackage} --bin ${bin}";
            # The tests run once, in checks.tests, not per binary.
            doCheck = false;
            meta.mainProgram = bin;
          });

        bins = {
          ingest = mkBin { pname = "ingest"; cargoPackage = "ingest"; };
          logs-writer = mkBin { pname = "logs-writer"; cargoPackage = "consumer"; };
          live-forwarder = mkBin { pname = "live-forwarder"; cargoPackage = "consumer"; };
          live-store = mkBin { pname = "live-store"; cargoPackage = "live-store"; };
          read-api = mkBin { pname = "read-api"; cargoPackage = "read-api"; };
          experiments = mkBin { pname = "experiments"; cargoPackage = "experiments"; };
          loadgen = mkBin { pname = "loadgen"; cargoPackage = "loadgen"; };
        };

        # A non-root user for images that have no /etc/passwd of their own (some libraries
        # look the user up). 65532 is the "nonroot" id of distroless images; the manifests'
        # securityContext runs as the same id.
        nonRoot = pkgs.runCommand "usactar-nonroot" { } ''
          mkdir -p $out/etc
          echo 'root:x:0:0:root:/root:/sbin/nologin' > $out/etc/passwd
          echo 'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin' >> $out/etc/passwd
          echo 'root:x:0:' > $out/etc/group
          echo 'nonroot:x:65532:' >> $out/etc/group
        '';

        # usactar/<name>:dev, the names and tag the kind overlays use; `kind load
        # image-archive result` loads the archive nix build leaves behind.
        mkImage = name: drv: pkgs.dockerTools.buildLayeredImage {
          name = "usactar/${name}";
          tag = "dev";
          # The binary (by reference from Entrypoint), CA certificates for TLS to the cloud
          # databases, the user: nothing else, no shell.
          contents = [ pkgs.cacert nonRoot ];
          fakeRootCommands = ''
            mkdir -p tmp
            chmod 1777 tmp
          '';
          config = {
            Entrypoint = [ (lib.getExe drv) ];
            User = "65532:65532";
            WorkingDir = "/tmp";
            Env = [
              "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
              "RUST_LOG=info"
            ];
            Labels = {
              "org.opencontainers.image.source" = "https://github.com/usactar/usactar";
              "org.opencontainers.image.version" = version;
            };
          };
        };

        serviceImages = lib.genAttrs
          [ "ingest" "logs-writer" "live-forwarder" "live-store" "read-api" ]
          (name: mkImage name bins.${name});

        # The frontend's static build (Vite), from package-lock.json without a hand-kept hash.
        frontendDist = pkgs.buildNpmPackage {
          pname = "usactar-frontend";
          inherit version;
          src = ./frontend;
          npmDeps = pkgs.importNpmLock { npmRoot = ./frontend; };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;
          installPhase = ''
            runHook preInstall
            cp -r dist $out
            runHook postInstall
          '';
        };

        # Cloud Run image: NGINX serving frontend/dist; frontend/deploy/entrypoint.sh writes
        # /config.js from USACTAR_API_BASE and renders the NGINX config for $PORT at start.
        frontendImage = pkgs.dockerTools.buildLayeredImage {
          name = "usactar/frontend";
          tag = "dev";
          contents = [ pkgs.cacert nonRoot ];
          fakeRootCommands = ''
            mkdir -p tmp var/log/nginx var/cache/nginx
            chmod 1777 tmp var/log/nginx var/cache/nginx
          '';
          config = {
            Entrypoint = [ "${pkgs.busybox}/bin/sh" "${./frontend/deploy/entrypoint.sh}" ];
            User = "65532:65532";
            ExposedPorts = { "8080/tcp" = { }; };
            Env = [
              "PATH=${lib.makeBinPath [ pkgs.busybox pkgs.envsubst pkgs.nginx ]}"
              "PORT=8080"
              "USACTAR_API_BASE="
              "USACTAR_WEB_ROOT=${frontendDist}"
              "USACTAR_RUNTIME_DIR=/tmp/usactar"
              "USACTAR_NGINX_TEMPLATE=${./frontend/deploy/nginx.conf.template}"
              "NGINX_MIME_TYPES=${pkgs.nginx}/conf/mime.types"
            ];
          };
        };
      in
      {
        packages = bins // {
          default = pkgs.symlinkJoin {
            name = "usactar-${version}";
            paths = builtins.attrValues bins;
          };
          frontend = frontendDist;
          frontend-image = frontendImage;
        } // lib.mapAttrs' (name: image: lib.nameValuePair "${name}-image" image) serviceImages;

        checks = {
          clippy = craneLib.cargoClippy (commonArgs // {
            inherit cargoArtifacts;
            cargoClippyExtraArgs = "--workspace --all-targets -- -D warnings";
          });
          fmt = craneLib.cargoFmt { inherit src; pname = "usactar"; inherit version; };
          # Unit tests of every crate. The integration tests (tests/*.rs) of ingest, consumer,
          # live-store, read-api, loadgen and experiments start Kafka, FerretDB and Redis: they
          # run from scripts/test, not in the sandbox.
          tests = craneLib.cargoTest (commonArgs // {
            inherit cargoArtifacts;
            cargoTestExtraArgs = "--workspace --lib";
          });
          # All of chaos's tests: its PromQL test starts a real Prometheus on loopback, which
          # the build sandbox allows.
          chaos-tests = craneLib.cargoTest (commonArgs // {
            inherit cargoArtifacts;
            pname = "chaos";
            nativeCheckInputs = [ pkgs.prometheus ];
            cargoTestExtraArgs = "-p chaos";
          });
        } // bins;

        devShells.default = pkgs.mkShell {
          inputsFrom = [ cargoArtifacts ];
          PROTOC = "${pkgs.protobuf}/bin/protoc";
          packages = with pkgs; [
            # Rust
            cargo rustc clippy rustfmt rust-analyzer
            cmake pkg-config protobuf curl zlib
            # The local stack (services the project starts itself)
            jdk17 apacheKafka ferretdb redis prometheus nginx toxiproxy
            prometheus-redis-exporter prometheus-nginx-exporter
            prometheus-node-exporter prometheus-process-exporter
            wrk go maven
            # Frontend
            nodejs_20
            # The cluster path: kind, kubectl, Linkerd, Helm, trust anchors, validation
            kind kubectl kustomize linkerd kubernetes-helm step-cli openssl
            shellcheck yq-go jq
            # The clouds (docs/deploy.md)
            google-cloud-sdk azure-cli
          ];
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
