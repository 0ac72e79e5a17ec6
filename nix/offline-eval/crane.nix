# A stand-in for crane (ipetkov/crane), for nix/offline-eval: `mkLib` and the functions
# flake.nix calls, with the arguments crane's lib/*.nix declare. filterCargoSources is crane's
# own logic (lib/filterCargoSources.nix); the builders check their arguments and return them.
{
  mkLib = pkgs:
    let
      inherit (pkgs) lib;
      drv = kind: args: {
        type = "derivation";
        name = "${args.pname or "crate"}-${kind}";
        outPath = "/nix/store/00000000000000000000000000000000-${args.pname or "crate"}-${kind}";
        inherit args;
        meta = args.meta or { };
      };
      needsArtifacts = kind: args:
        assert args ? cargoArtifacts || throw "crane ${kind}: cargoArtifacts is required";
        drv kind args;
    in
    {
      filterCargoSources = orig_path: type:
        let
          path = toString orig_path;
          base = baseNameOf path;
          parentDir = baseNameOf (dirOf path);
          matchesSuffix = lib.any (suffix: lib.hasSuffix suffix base) [ ".rs" ".toml" ];
          isCargoFile = base == "Cargo.lock";
          isCargoConfig = parentDir == ".cargo" && base == "config";
        in
        type == "directory" || matchesSuffix || isCargoFile || isCargoConfig;
      buildDepsOnly = args: drv "deps" args;
      buildPackage = args: drv "package" args;
      cargoClippy = needsArtifacts "clippy";
      cargoTest = needsArtifacts "test";
      cargoFmt = args: drv "fmt" args;
    };
}
