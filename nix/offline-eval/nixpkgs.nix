# A stand-in for nixpkgs, for nix/offline-eval: only the attributes flake.nix and nix/*.nix use,
# each one checked by name against nixpkgs' own sources (README.md, "Nix"). A misspelt or
# unlisted attribute is an evaluation error here, as it would be with nixpkgs. Builders return
# their arguments (so the evaluation can inspect them), not derivations.
{ system }:

let
  lib = import ./lib.nix;
  isLinux = lib.hasSuffix "-linux" system;
  drv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    meta = { };
  } // extra;
  pkg = name: drv name { };
  # A Go or Nix hash must be an SRI sha256, not a placeholder.
  sri = what: hash:
    if builtins.match "sha256-[A-Za-z0-9+/]{43}=" hash != null then hash
    else throw "${what}: ${hash} is not an SRI sha256 hash";
  names = [
    # Rust, builds and the shell's tools
    "cargo" "rustc" "clippy" "rustfmt" "rust-analyzer" "cmake" "pkg-config" "protobuf" "perl"
    "curl" "zlib" "go" "wrk" "nodejs_20" "kind" "kubectl" "kustomize" "linkerd"
    "kubernetes-helm" "step-cli" "openssl" "shellcheck" "yq-go" "jq" "azure-cli" "nixfmt"
    "unzip" "versionCheckHook" "cacert" "busybox" "envsubst" "nginx"
    # The stack's servers
    "redis" "prometheus" "toxiproxy" "prometheus-redis-exporter" "prometheus-nginx-exporter"
    "prometheus-node-exporter"
  ] ++ lib.optionals isLinux [ "prometheus-process-exporter" "chromium" ];
  plain = builtins.listToAttrs (map (n: lib.nameValuePair n (pkg n)) names);
  linuxOnly = what: if isLinux then what else throw "${what.name} is Linux-only in nixpkgs";
in
plain
// rec {
  inherit lib;
  stdenv = { inherit isLinux; isDarwin = !isLinux; };
  jdk17 = drv "openjdk-17" { home = "/nix/store/00000000000000000000000000000000-openjdk-17/lib/openjdk"; };
  apacheKafka_4_1 = drv "apache-kafka-2.13-4.1.1" { version = "2.13-4.1.1"; };
  google-cloud-sdk = drv "google-cloud-sdk" {
    components = { gke-gcloud-auth-plugin = pkg "gke-gcloud-auth-plugin"; };
    withExtraComponents = comps: drv "google-cloud-sdk-with-components" {
      components = map (c: c.name) comps;
    };
  };
  prometheus-process-exporter = linuxOnly (pkg "prometheus-process-exporter");
  chromium = linuxOnly (pkg "chromium");

  callPackage = f: overrides:
    let fn = if builtins.isFunction f then f else import f;
    in fn (builtins.intersectAttrs (builtins.functionArgs fn) pkgs // overrides);
  pkgs = plain // { inherit lib stdenv jdk17 apacheKafka_4_1 google-cloud-sdk fetchurl
    runCommand buildGoModule symlinkJoin; };

  fetchurl = { url, hash }: drv (baseNameOf url) { inherit url; hash = sri url hash; };
  runCommand = name: env: script: drv name { inherit env script; };
  symlinkJoin = { name, paths }: drv name { inherit paths; };
  buildGoModule = args:
    assert args ? src && args ? subPackages;
    drv "${args.pname}-${args.version}" {
      inherit (args) version src postPatch subPackages;
      vendorHash = sri "vendorHash" args.vendorHash;
      meta = args.meta;
    };
  buildNpmPackage = args: drv "${args.pname}-${args.version}" { inherit (args) src; };
  importNpmLock = {
    __functor = _: { npmRoot }: drv "npm-deps" { inherit npmRoot; };
    npmConfigHook = pkg "npm-config-hook";
  };
  mkShell = args: drv "nix-shell" { shellArgs = args; };
  dockerTools.buildLayeredImage = args: drv "${args.name}-image" { inherit (args) name tag config; };
}
