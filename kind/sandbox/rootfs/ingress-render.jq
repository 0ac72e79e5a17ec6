# Input: `kubectl get ingresses,services -A -o json`. Output: NGINX server blocks for the
# Ingresses of class $class: one default server for the rules without a host, one per host.
# Each path proxies to its Service's cluster IP and port (ingress-nginx's service-upstream).
# Annotations honoured (ingress-nginx's names): proxy-body-size, proxy-read-timeout,
# proxy-send-timeout, enable-cors with cors-allow-origin and cors-allow-methods.
def ann($a; $k): $a["nginx.ingress.kubernetes.io/" + $k];
def secs: if test("^[0-9]+$") then . + "s" else . end;
def location:
  .a as $a
  | (if .type == "Exact" then "= " else "" end) as $mod
  | [ "    # \(.ns)/\(.name) -> service \(.service)",
      "    location \($mod)\(.path) {",
      (ann($a; "proxy-body-size") // empty | "      client_max_body_size \(.);"),
      (ann($a; "proxy-read-timeout") // empty | "      proxy_read_timeout \(secs);"),
      (ann($a; "proxy-send-timeout") // empty | "      proxy_send_timeout \(secs);"),
      (if ann($a; "enable-cors") == "true" then
         (ann($a; "cors-allow-origin") // "*") as $o
         | (ann($a; "cors-allow-methods") // "GET, PUT, POST, DELETE, PATCH, OPTIONS") as $m
         | "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization" as $h
         | "      if ($request_method = OPTIONS) {",
           "        add_header Access-Control-Allow-Origin \"\($o)\";",
           "        add_header Access-Control-Allow-Methods \"\($m)\";",
           "        add_header Access-Control-Allow-Headers \"\($h)\";",
           "        add_header Access-Control-Max-Age 1728000;",
           "        return 204;",
           "      }",
           "      add_header Access-Control-Allow-Origin \"\($o)\" always;",
           "      add_header Access-Control-Allow-Methods \"\($m)\" always;",
           "      add_header Access-Control-Allow-Headers \"\($h)\" always;"
       else empty end),
      "      proxy_pass http://\(.upstream);",
      "    }" ]
  | .[];
(.items | map(select(.kind == "Service") | {key: "\(.metadata.namespace)/\(.metadata.name)", value: .})
        | from_entries) as $svc
| [ .items[] | select(.kind == "Ingress")
    | select((.spec.ingressClassName // .metadata.annotations["kubernetes.io/ingress.class"] // "") == $class)
    | . as $ing
    | .spec.rules[]? | (.host // "") as $host
    | .http.paths[]?
    | .backend.service as $b
    | $svc["\($ing.metadata.namespace)/\($b.name)"] as $s
    | select($s != null and $s.spec.clusterIP != null and $s.spec.clusterIP != "None")
    | ($s.spec.ports[] | select(if $b.port.name then .name == $b.port.name else .port == $b.port.number end) | .port) as $port
    | {host: $host, path: (.path // "/"), type: (.pathType // "Prefix"), ns: $ing.metadata.namespace,
       name: $ing.metadata.name, service: $b.name, upstream: "\($s.spec.clusterIP):\($port)",
       a: ($ing.metadata.annotations // {})} ]
| sort_by(.host, .path)
| ([.[] | select(.host == "")]) as $default
| (group_by(.host) | map(select(.[0].host != ""))) as $hosts
| ( "server {",
    "    listen 8080 default_server;",
    ($default[] | location),
    (if any($default[]; .path == "/") then empty else "    location / { return 404; }" end),
    "}",
    ($hosts[] | ( "server {", "    listen 8080;", "    server_name \(.[0].host);",
                  (.[] | location),
                  (if any(.[]; .path == "/") then empty else "    location / { return 404; }" end),
                  "}" )) )
