#!/usr/bin/env python3
"""Writes an OCI image archive (an OCI layout as a tar) from a root filesystem folder, with no
container engine: one uncompressed layer, an image config, a manifest and an index naming the
image, as `ctr -n k8s.io images import` takes it.

  oci-image.py --rootfs DIR --name registry.k8s.io/pause:3.10 --out pause.tar \
      [--entrypoint '["/pause"]'] [--cmd '[...]'] [--user 65532] [--env K=V ...] [--workdir /]

File modes, owners and file capabilities are taken from the folder as they are. The output is reproducible: entries
sorted, times fixed.
"""
import argparse
import hashlib
import io
import json
import os
import stat
import tarfile

EPOCH = 0


def layer_tar(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in [None] + sorted(filenames) + sorted(d for d in dirnames if os.path.islink(os.path.join(dirpath, d))):
                path = dirpath if name is None else os.path.join(dirpath, name)
                rel = os.path.relpath(path, rootfs)
                if rel == ".":
                    continue
                info = tar.gettarinfo(path, arcname=rel)
                info.mtime = EPOCH
                info.uname = info.gname = ""
                if info.isreg():
                    try:  # file capabilities (setcap), which containerd applies on unpack
                        cap = os.getxattr(path, "security.capability", follow_symlinks=False)
                        info.pax_headers = {"SCHILY.xattr.security.capability": cap.decode("utf-8", "surrogateescape")}
                    except OSError:
                        pass
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
            # symlinked directories were added above; os.walk does not descend into them
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return buf.getvalue()


def blob(tar, data, media_type, extra=None):
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    info.mtime = EPOCH
    tar.addfile(info, io.BytesIO(data))
    desc = {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
    if extra:
        desc.update(extra)
    return desc


def normalize(name):
    """The name as the CRI (and the kubelet) spell it: prom/prometheus:v1 is
    docker.io/prom/prometheus:v1, redis:7 is docker.io/library/redis:7. Imported under a
    shorter name, the kubelet would not find the image and would try to pull it."""
    first = name.split("/", 1)[0]
    if "/" not in name:
        return "docker.io/library/" + name
    if "." not in first and ":" not in first and first != "localhost":
        return "docker.io/" + name
    return name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rootfs", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--entrypoint", default=None)
    p.add_argument("--cmd", default=None)
    p.add_argument("--user", default="")
    p.add_argument("--workdir", default="/")
    p.add_argument("--env", action="append", default=[])
    a = p.parse_args()
    a.name = normalize(a.name)

    layer = layer_tar(a.rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + a.env
    config = {"Env": env, "WorkingDir": a.workdir}
    if a.entrypoint:
        config["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        config["Cmd"] = json.loads(a.cmd)
    if a.user:
        config["User"] = a.user
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "kind/sandbox/oci-image.py"}],
    }
    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        layer_desc = blob(tar, layer, "application/vnd.oci.image.layer.v1.tar")
        cfg_desc = blob(tar, json.dumps(image_config, sort_keys=True).encode(),
                        "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg_desc, "layers": [layer_desc]}
        tag = a.name.rsplit(":", 1)[1] if ":" in a.name.rsplit("/", 1)[-1] else "latest"
        man_desc = blob(tar, json.dumps(manifest, sort_keys=True).encode(),
                        "application/vnd.oci.image.manifest.v1+json",
                        {"platform": {"architecture": "amd64", "os": "linux"},
                         "annotations": {"io.containerd.image.name": a.name,
                                         "org.opencontainers.image.ref.name": tag}})
        for name, data in (("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                           ("index.json", json.dumps({"schemaVersion": 2, "manifests": [man_desc]}).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = EPOCH
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
