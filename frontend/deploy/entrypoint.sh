#!/bin/sh
# Cloud Run entrypoint: writes /config.js from USACTAR_API_BASE (the read API's base URL, e.g.
# https://read-api.example.com; empty = same origin), renders the NGINX config for $PORT, runs NGINX.
set -eu
: "${PORT:=8080}"
: "${USACTAR_API_BASE:=}"
: "${USACTAR_WEB_ROOT:=/srv/www}"
: "${USACTAR_RUNTIME_DIR:=/tmp/usactar}"
: "${USACTAR_NGINX_TEMPLATE:=/etc/usactar/nginx.conf.template}"
: "${NGINX_MIME_TYPES:=/etc/nginx/mime.types}"
export PORT USACTAR_WEB_ROOT USACTAR_RUNTIME_DIR NGINX_MIME_TYPES

mkdir -p "$USACTAR_RUNTIME_DIR"
# JSON-escape the value (backslashes and quotes) so any URL is a valid JS string.
api=$(printf '%s' "$USACTAR_API_BASE" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
printf 'window.__USACTAR_CONFIG__ = {"apiBase": "%s"};\n' "$api" > "$USACTAR_RUNTIME_DIR/config.js"

envsubst '${PORT} ${USACTAR_WEB_ROOT} ${USACTAR_RUNTIME_DIR} ${NGINX_MIME_TYPES}' \
  < "$USACTAR_NGINX_TEMPLATE" > "$USACTAR_RUNTIME_DIR/nginx.conf"
echo "usactar-frontend: port $PORT, apiBase '${USACTAR_API_BASE}'" >&2
exec nginx -c "$USACTAR_RUNTIME_DIR/nginx.conf" -g 'daemon off;'
