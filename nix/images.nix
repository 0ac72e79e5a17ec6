# The OCI images: one per service, usactar/<name>:dev (the names and tag the kind overlays use;
# `kind load image-archive result` loads what `nix build .#<name>-image` leaves), and the
# frontend's Cloud Run image. Linux binaries, so the flake builds them on Linux systems only.
{
  pkgs,
  lib,
  version,
  bins,
  frontendDist,
}:

let
  # A non-root user for images that have no /etc/passwd of their own (some libraries look the
  # user up). 65532 is the "nonroot" id of distroless images; the manifests' securityContext
  # runs as the same id.
  nonRoot = pkgs.runCommand "usactar-nonroot" { } ''
    mkdir -p $out/etc
    echo 'root:x:0:0:root:/root:/sbin/nologin' > $out/etc/passwd
    echo 'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin' >> $out/etc/passwd
    echo 'root:x:0:' > $out/etc/group
    echo 'nonroot:x:65532:' >> $out/etc/group
  '';

  mkImage =
    name: drv:
    pkgs.dockerTools.buildLayeredImage {
      name = "usactar/${name}";
      tag = "dev";
      # The binary (by reference from Entrypoint), CA certificates for TLS to the cloud
      # databases, the user: nothing else, no shell.
      contents = [
        pkgs.cacert
        nonRoot
      ];
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

  serviceImages = lib.genAttrs [
    "ingest"
    "logs-writer"
    "live-forwarder"
    "live-store"
    "read-api"
  ] (name: mkImage name bins.${name});

  # Cloud Run image: NGINX serving the frontend's build; frontend/deploy/entrypoint.sh writes
  # /config.js from USACTAR_API_BASE and renders the NGINX config for $PORT at start.
  frontendImage = pkgs.dockerTools.buildLayeredImage {
    name = "usactar/frontend";
    tag = "dev";
    contents = [
      pkgs.cacert
      nonRoot
    ];
    fakeRootCommands = ''
      mkdir -p tmp var/log/nginx var/cache/nginx
      chmod 1777 tmp var/log/nginx var/cache/nginx
    '';
    config = {
      Entrypoint = [
        "${pkgs.busybox}/bin/sh"
        "${../frontend/deploy/entrypoint.sh}"
      ];
      User = "65532:65532";
      ExposedPorts = {
        "8080/tcp" = { };
      };
      Env = [
        "PATH=${
          lib.makeBinPath [
            pkgs.busybox
            pkgs.envsubst
            pkgs.nginx
          ]
        }"
        "PORT=8080"
        "USACTAR_API_BASE="
        "USACTAR_WEB_ROOT=${frontendDist}"
        "USACTAR_RUNTIME_DIR=/tmp/usactar"
        "USACTAR_NGINX_TEMPLATE=${../frontend/deploy/nginx.conf.template}"
        "NGINX_MIME_TYPES=${pkgs.nginx}/conf/mime.types"
      ];
    };
  };
in
lib.mapAttrs' (name: image: lib.nameValuePair "${name}-image" image) serviceImages
// {
  frontend-image = frontendImage;
}
