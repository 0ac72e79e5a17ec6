# The few nixpkgs `lib` functions flake.nix and nix/*.nix call, written on builtins with the
# meaning nixpkgs gives them, for nix/offline-eval.
rec {
  hasSuffix = suffix: s:
    let ls = builtins.stringLength s; lx = builtins.stringLength suffix;
    in ls >= lx && builtins.substring (ls - lx) lx s == suffix;
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  hasInfix = infix: s: builtins.match ".*${escapeRegex infix}.*" s != null;
  escapeRegex = builtins.replaceStrings
    [ "." "+" "*" "?" "(" ")" "[" "]" "{" "}" "|" "^" "$" "\\" ]
    [ "\\." "\\+" "\\*" "\\?" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\|" "\\^" "\\$" "\\\\" ];
  any = builtins.any;
  optionals = cond: xs: if cond then xs else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: as: if cond then as else { };
  nameValuePair = name: value: { inherit name value; };
  filterAttrs = pred: set: builtins.listToAttrs (map (n: nameValuePair n set.${n})
    (builtins.filter (n: pred n set.${n}) (builtins.attrNames set)));
  genAttrs = names: f: builtins.listToAttrs (map (n: nameValuePair n (f n)) names);
  mapAttrs = builtins.mapAttrs;
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  getExe = drv: "${drv.outPath}/bin/${drv.meta.mainProgram or drv.name}";
  makeBinPath = paths: builtins.concatStringsSep ":" (map (p: "${p.outPath}/bin") paths);
  licenses.asl20 = "asl20";
  # Keeps its arguments: nix/offline-eval walks the tree with the filter as cleanSourceWith
  # would (a folder the filter drops is not entered), without copying it into the store.
  cleanSourceWith = { src, filter, name }: {
    inherit src filter name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
}
