# FerretDB 1.24.2 with its SQLite backend: the version the local stack runs. nixpkgs packages
# FerretDB 2.x, which needs PostgreSQL with the DocumentDB extension, so this builds 1.24.2 the
# way scripts/setup does: from the module source on the Go module proxy, with
# build/version/version.txt written (the module ships none, and the binary panics without it).
{
  lib,
  buildGoModule,
  fetchurl,
  runCommand,
  unzip,
  versionCheckHook,
}:

let
  version = "1.24.2";

  # The source at tag v1.24.2 as the Go module proxy serves it (the same bytes sum.golang.org
  # vouches for). Its hash was computed from the zip `go mod download` fetched, because GitHub's
  # tarball could not be fetched where this was written.
  moduleZip = fetchurl {
    url = "https://proxy.golang.org/github.com/!ferret!d!b/!ferret!d!b/@v/v${version}.zip";
    hash = "sha256-qUZb8DoSimoZN80ml/1+NoH4F2KJQNUDAQi19QiFWsM=";
  };
in
buildGoModule {
  pname = "ferretdb";
  inherit version;

  src = runCommand "ferretdb-${version}-source" { nativeBuildInputs = [ unzip ]; } ''
    unzip -q ${moduleZip}
    mv "github.com/FerretDB/FerretDB@v${version}" $out
  '';

  # `go mod vendor` on that source (Go 1.26), hashed with `nix hash path vendor`.
  vendorHash = "sha256-DNqQXvVFbvOf15V+a+1Y2flvEXbr7vb/35v4yirrT8U=";

  postPatch = ''
    echo v${version} > build/version/version.txt
    echo nix > build/version/package.txt
  '';

  # The SQLite backend is modernc.org/sqlite, pure Go.
  env.CGO_ENABLED = 0;
  subPackages = [ "cmd/ferretdb" ];
  # Its tests need a running FerretDB and backends.
  doCheck = false;

  # `ferretdb --version` panics when version.txt is missing or malformed.
  doInstallCheck = true;
  nativeInstallCheckInputs = [ versionCheckHook ];
  versionCheckProgramArg = "--version";

  meta = {
    description = "MongoDB-compatible database on SQLite (FerretDB 1.x)";
    homepage = "https://www.ferretdb.com/";
    license = lib.licenses.asl20;
    mainProgram = "ferretdb";
  };
}
