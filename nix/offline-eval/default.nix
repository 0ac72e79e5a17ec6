# Evaluates flake.nix's outputs for every system with stand-ins for its inputs (nixpkgs, crane
# and flake-utils cannot be fetched where this was written): attribute names, which outputs
# exist on which system, the arguments of every check, the dev shell's contents, and the crane
# source filter run over the real tree. It builds nothing and writes nothing to the store.
# deploy/validate.sh runs it:
#
#   nix-instantiate --eval --strict --json nix/offline-eval
let
  flake = import ../../flake.nix;
  lib = import ./lib.nix;
  systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  # flake-utils' eachDefaultSystem (lib.nix): { <attr>.<system> = ... }.
  flake-utils.lib.eachDefaultSystem = f:
    builtins.foldl'
      (acc: system:
        let ret = f system;
        in builtins.foldl' (a: key: a // { ${key} = (a.${key} or { }) // { ${system} = ret.${key}; }; })
          acc (builtins.attrNames ret))
      { } systems;
  outputs = flake.outputs {
    self = outputs;
    nixpkgs = ./nixpkgs.nix;
    crane = import ./crane.nix;
    inherit flake-utils;
  };

  # Not in a flake's source (untracked, or git's own); skipped so the walk stays quick.
  untracked = [ ".git" "node_modules" "target" ".state" "dist" ];

  # The files a cleanSourceWith source keeps, relative to its root: the filter sees each
  # absolute path and its type, and a folder it drops is not entered.
  files = source:
    let
      root = toString source.src;
      go = rel:
        let entries = builtins.readDir (if rel == "" then source.src else source.src + "/${rel}");
        in builtins.concatLists (map (n:
          let
            p = if rel == "" then n else "${rel}/${n}";
            type = entries.${n};
          in
          if builtins.elem n untracked || !(source.filter "${root}/${p}" type) then [ ]
          else if type == "directory" then go p
          else [ p ]) (builtins.attrNames entries));
    in go "";

  linux = "x86_64-linux";
  darwin = "aarch64-darwin";
  shell = s: outputs.devShells.${s}.default.shellArgs;
  names = map (p: p.name);
  src = outputs.checks.${linux}.clippy.args.src;
  srcFiles = files src;
  # Read at build or test time (include_str!, build.rs, tests): every file of these folders
  # that the tree has (crates/stack/templates exists once the stack's templates are files).
  readAtBuild = [
    "proto/usactar/live/v1" "crates/stack/templates" "loadgen/data" "deploy/grafana"
    "chaos/tests/snapshots" "services/read-api/tests/snapshots" "experiments/tests/snapshots"
  ];
  inTree = dir:
    if builtins.pathExists (../.. + "/${dir}")
    then map (n: "${dir}/${n}") (builtins.attrNames (builtins.readDir (../.. + "/${dir}")))
    else [ ];
  mustHave = [ "Cargo.toml" "Cargo.lock" "proto/build.rs" "services/ingest/openapi.json" ]
    ++ builtins.concatMap inTree readAtBuild;
  missing = builtins.filter (f: !(builtins.elem f srcFiles)) mustHave;
  checkArgs = s: builtins.mapAttrs (_: c: c.args.cargoTestExtraArgs or c.args.cargoClippyExtraArgs or "")
    outputs.checks.${s};
  # nix flake check must need no server: every test check names its packages, and none runs
  # the tests that start kube-apiserver or Prometheus.
  testChecks = s: lib.filterAttrs (_: c: c.args ? cargoTestExtraArgs) outputs.checks.${s};
  serverTests = s: builtins.filter
    (a: !(lib.hasInfix "-p " a) || lib.hasInfix "--workspace" a
      || lib.hasInfix "--test apiserver" a || lib.hasInfix "--test prometheus" a)
    (map (c: c.args.cargoTestExtraArgs) (builtins.attrValues (testChecks s)));
  images = s: builtins.filter (lib.hasSuffix "-image") (builtins.attrNames outputs.packages.${s});
  fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
in
assert missing == [ ] || throw "the crane source filter drops ${toString missing}";
assert builtins.all (s: serverTests s == [ ]) systems
  || throw "a check runs tests that need servers: ${toString (serverTests linux)}";
assert images darwin == [ ] && images linux != [ ] || throw "images must be built on Linux only";
assert outputs.packages.${linux}.ferretdb.vendorHash != fakeHash || throw "FerretDB's vendorHash is a placeholder";
{
  version = outputs.packages.${linux}.default.name;
  packages = builtins.mapAttrs (_: builtins.attrNames) outputs.packages;
  checks = { ${linux} = checkArgs linux; ${darwin} = checkArgs darwin; };
  devShell = {
    ${linux} = {
      packages = names (shell linux).packages;
      env = { inherit (shell linux) JAVA_HOME USACTAR_KAFKA_LIBS USACTAR_CHROMIUM PROTOC; };
    };
    ${darwin}.packages = names (shell darwin).packages;
  };
  ferretdb = { inherit (outputs.packages.${linux}.ferretdb) name vendorHash postPatch; };
  # What the filter keeps besides Rust and Cargo files.
  sourceExtras = builtins.filter
    (f: !(lib.hasSuffix ".rs" f || lib.hasSuffix ".toml" f || f == "Cargo.lock")) srcFiles;
}
