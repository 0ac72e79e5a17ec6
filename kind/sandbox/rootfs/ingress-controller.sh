#!/bin/sh
# The sandbox's ingress controller: Debian's NGINX, configured from the cluster's Ingresses of
# class $INGRESS_CLASS (nginx). Every few seconds it renders the Ingresses and Services into
# NGINX server blocks (ingress-render.jq) and reloads NGINX when they changed. Each path goes
# to its Service's cluster IP, as ingress-nginx does with `service-upstream: "true"` (every
# Ingress of this project asks for it): Linkerd's proxy in this pod then balances and measures
# the calls. kubectl talks to the API server with the pod's service account.
set -u
export HOME=/tmp
dir=/tmp/nginx
conf=$dir/conf.d/ingress.conf
# -e: NGINX's log until the configuration is read (Debian's default path is not writable here).
ngx() { nginx -e stderr -c /etc/sandbox-ingress/nginx.conf "$@"; }
mkdir -p "$dir/conf.d" "$dir/tmp"
# Only from a complete answer: when one of the two lists fails, kubectl prints the other and
# fails, and routes rendered from Services alone would drop every path (seen under load).
render() {
  kubectl get ingresses,services --all-namespaces -o json > "$dir/objects.json" &&
    jq -r --arg class "${INGRESS_CLASS:-nginx}" -f /etc/sandbox-ingress/render.jq "$dir/objects.json"
}
# NGINX starts with no routes (everything 404) until the first render succeeds.
: > "$conf"
ngx
trap 'ngx -s quit; exit 0' TERM INT
while :; do
  if render > "$conf.new" 2> "$dir/render.err"; then
    if ! cmp -s "$conf.new" "$conf"; then
      cp "$conf" "$conf.old"
      mv "$conf.new" "$conf"
      if ngx -t -q; then
        ngx -s reload
        echo "ingress-controller: routes now:"
        grep -E '^ *location|^ *server_name' "$conf"
      else
        echo "ingress-controller: the rendered configuration is invalid; kept the previous one" >&2
        mv "$conf.old" "$conf"
      fi
    fi
  else
    echo "ingress-controller: reading the Ingresses failed: $(cat "$dir/render.err")" >&2
  fi
  sleep 3 &
  wait $!
done
