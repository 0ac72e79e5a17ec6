"""Validates rendered manifests (multi-document YAML on stdin) offline.

1. Every object of a Kubernetes built-in kind against the Kubernetes OpenAPI schema of
   --k8s-version, strictly (unknown fields are errors), with kubernetes-validate, which ships the
   schemas. Custom resources (Chaos Mesh, Linkerd, Prometheus Operator, Knative...) have no
   schema there: they are listed as skipped, never silently passed.
2. The project's own rules for its workloads (probes, limits, securityContext, PDBs, the
   consumer pod's two containers, the exported live-store, the mirror URL).

Exit status 1 on any error.
"""

import argparse
import re
import sys

import kubernetes_validate
import yaml

# API groups that are not built into Kubernetes.
CRD_GROUPS = (
    "chaos-mesh.org",
    "linkerd.io",
    "multicluster.linkerd.io",
    "policy.linkerd.io",
    "monitoring.coreos.com",
    "serving.knative.dev",
)
APP_NAMESPACES = ("usactar-ingest", "usactar-pipeline", "usactar-live", "usactar-api")


def group_of(obj):
    api = obj.get("apiVersion", "")
    return api.split("/")[0] if "/" in api else ""


def name_of(obj):
    meta = obj.get("metadata", {})
    return f'{obj.get("kind")} {meta.get("namespace", "-")}/{meta.get("name")}'


def check_workload(obj, errors):
    """The rules every Usactar service follows (docs/deploy.md, "What the manifests promise")."""
    ns = obj["metadata"].get("namespace")
    spec = obj["spec"]["template"]["spec"]
    where = name_of(obj)
    app = ns in APP_NAMESPACES
    pod_sc = spec.get("securityContext", {})
    if not pod_sc.get("runAsNonRoot"):
        errors.append(f"{where}: pod securityContext.runAsNonRoot is not true")
    for c in spec["containers"]:
        cw = f"{where} container {c['name']}"
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            if not res.get(k, {}).get("cpu") or not res.get(k, {}).get("memory"):
                errors.append(f"{cw}: resources.{k} needs cpu and memory")
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{cw}: allowPrivilegeEscalation must be false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            errors.append(f"{cw}: capabilities must drop ALL")
        if app:
            if sc.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{cw}: readOnlyRootFilesystem must be true")
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                if got != path:
                    errors.append(f"{cw}: {probe} must GET {path} on the admin port, has {got}")


VAR_REFERENCE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def check_env_references(obj, errors):
    """Kubernetes expands $(NAME) in a variable only from variables listed before it (else the
    text stays as it is: a broker whose JAAS line holds "$(USACTAR_PASSWORD_ADMIN)", found in
    deploy/components/kafka-sasl). Every $(NAME) must name an earlier variable of its container."""
    spec = (obj.get("spec", {}).get("template") or {}).get("spec") or obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        seen = set()
        for var in c.get("env", []):
            for ref in sorted(set(VAR_REFERENCE.findall(var.get("value") or ""))):
                if ref not in seen:
                    errors.append(f"{name_of(obj)} container {c['name']}: {var['name']} uses $({ref}), "
                                  f"which is not a variable listed before it (Kubernetes leaves it unexpanded)")
            seen.add(var["name"])


def check_project(objs, errors):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.get("kind"), []).append(o)
    deployments = [d for d in by_kind.get("Deployment", []) if d["metadata"].get("namespace") in APP_NAMESPACES]
    pdbs = by_kind.get("PodDisruptionBudget", [])
    for d in deployments:
        labels = d["spec"]["selector"]["matchLabels"]
        ns = d["metadata"]["namespace"]
        if not any(p["metadata"].get("namespace") == ns and p["spec"]["selector"].get("matchLabels") == labels for p in pdbs):
            errors.append(f"{name_of(d)}: no PodDisruptionBudget selects it")
        if d["spec"]["template"]["metadata"].get("annotations", {}).get("linkerd.io/inject") != "enabled":
            errors.append(f"{name_of(d)}: pod template lacks linkerd.io/inject: enabled")
        if d["metadata"]["name"] == "consumer":
            names = [c["name"] for c in d["spec"]["template"]["spec"]["containers"]]
            if sorted(names) != ["live-forwarder", "logs-writer"]:
                errors.append(f"{name_of(d)}: containers are {names}, want logs-writer and live-forwarder")
            for c in d["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    if e["name"] == "USACTAR_LIVE_STORE_URL":
                        host = e["value"].split("//")[1].split(".")[0]
                        if not host.startswith("live-store-") or host == "live-store-CLUSTER":
                            errors.append(f"{name_of(d)}: live-forwarder calls {host}, want the mirror live-store-<cluster>")
    for s in by_kind.get("Service", []):
        if s["metadata"]["name"] == "live-store" and s["metadata"].get("labels", {}).get("mirror.linkerd.io/exported") != "true":
            errors.append(f"{name_of(s)}: not exported (mirror.linkerd.io/exported)")
    for s in by_kind.get("Secret", []):
        if s["metadata"].get("namespace") in APP_NAMESPACES + ("usactar-data",) and "PRIMARY_KEY" not in str(s) and "ACCESS_KEY" not in str(s):
            for v in list(s.get("stringData", {}).values()) + list(s.get("data", {}).values()):
                if "@" in v and ("cosmos" in v or "windows.net" in v):
                    errors.append(f"{name_of(s)}: looks like a real cloud credential: never commit it")


def check_redis_urls(objs, errors):
    """The Redis URL reaches live-store and read-api only through the Secret usactar-redis (on AKS
    it carries Azure's access key), and a URL for Azure Cache for Redis is TLS on 6380: its plain
    port 6379 is off by default, and the services speak TLS only for rediss://."""
    for o in objs:
        if o.get("kind") in ("Deployment", "StatefulSet"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    if e["name"] != "USACTAR_REDIS_URL":
                        continue
                    ref = e.get("valueFrom", {}).get("secretKeyRef", {})
                    if (ref.get("name"), ref.get("key")) != ("usactar-redis", "url"):
                        errors.append(f"{name_of(o)}/{c['name']}: USACTAR_REDIS_URL must come from Secret usactar-redis, key url")
        if o.get("kind") == "Secret" and o["metadata"].get("name") == "usactar-redis":
            url = o.get("stringData", {}).get("url", "")
            host = url.split("@")[-1].split(":")[0]
            if host.endswith(".redis.cache.windows.net") and not (url.startswith("rediss://") and url.endswith(":6380")):
                errors.append(f"{name_of(o)}: Azure Cache for Redis takes rediss://...:6380 (TLS), has {url.split('://')[0]}://...@{url.split('@')[-1]}")  # never the key


def selects(policy, labels):
    """Whether a NetworkPolicy's podSelector selects pods carrying `labels`."""
    sel = policy["spec"].get("podSelector", {})
    if any(labels.get(k) != v for k, v in sel.get("matchLabels", {}).items()):
        return False
    for e in sel.get("matchExpressions", []):
        if e["operator"] == "In" and labels.get(e["key"]) not in e["values"]:
            return False
        if e["operator"] not in ("In",):
            return False  # the project uses In only; anything else is a new rule to write here
    return True


def check_network_edges(objs, errors, require_tls):
    """Issue 15 M4 and M7: every namespace holding a workload (the data one too) denies ingress
    by default and a policy admits each workload's callers (else the deploy is broken); no
    ingress lets any origin call it from a browser; on the clouds every ingress has TLS."""
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    for w in objs:
        if w.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        ns = w["metadata"].get("namespace")
        if ns not in APP_NAMESPACES + ("usactar-data",):
            continue
        mine = [p for p in policies if p["metadata"].get("namespace") == ns]
        if not any(p["spec"].get("podSelector") == {} and "Ingress" in p["spec"].get("policyTypes", []) for p in mine):
            errors.append(f"{name_of(w)}: namespace {ns} has no default-deny ingress NetworkPolicy")
        labels = w["spec"]["template"]["metadata"].get("labels", {})
        if not any(p["spec"].get("podSelector") != {} and p["spec"].get("ingress") and selects(p, labels) for p in mine):
            errors.append(f"{name_of(w)}: no NetworkPolicy admits anything to its pods (the default deny would cut it off)")
    for i in (o for o in objs if o.get("kind") == "Ingress"):
        ann = i["metadata"].get("annotations", {})
        if ann.get("nginx.ingress.kubernetes.io/enable-cors") == "true":
            origin = ann.get("nginx.ingress.kubernetes.io/cors-allow-origin", "*")
            if "*" in origin:
                errors.append(f"{name_of(i)}: CORS allows any origin ({origin!r}); name the frontend's origin")
        if require_tls and not i["spec"].get("tls"):
            errors.append(f"{name_of(i)}: no TLS on a public ingress")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--k8s-version", default="1.33.0")
    parser.add_argument("--label", default="stdin")
    parser.add_argument("--no-project-rules", action="store_true")
    parser.add_argument("--require-tls", action="store_true", help="every Ingress must have TLS (the clouds' overlays)")
    args = parser.parse_args()
    objs = [o for o in yaml.safe_load_all(sys.stdin) if o]
    errors, skipped, checked = [], [], 0
    for obj in objs:
        if group_of(obj) in CRD_GROUPS or group_of(obj).endswith(".chaos-mesh.org"):
            skipped.append(name_of(obj))
            continue
        try:
            kubernetes_validate.validate(obj, args.k8s_version, strict=True)
            checked += 1
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{name_of(obj)}: {e.message} at {'.'.join(str(p) for p in e.path)}")
        except kubernetes_validate.InvalidSchemaError as e:
            errors.append(f"{name_of(obj)}: no schema ({e})")
        if obj.get("kind") in ("Deployment", "StatefulSet") and not args.no_project_rules:
            check_workload(obj, errors)
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
            check_env_references(obj, errors)
    check_redis_urls(objs, errors)
    if not args.no_project_rules:
        check_project(objs, errors)
        check_network_edges(objs, errors, args.require_tls)
    for s in skipped:
        print(f"  skipped (custom resource, no Kubernetes schema): {s}")
    for e in errors:
        print(f"  ERROR {e}")
    print(f"{args.label}: {checked} objects valid against Kubernetes {args.k8s_version}, {len(skipped)} skipped, {len(errors)} errors")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
