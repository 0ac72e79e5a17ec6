// Runtime configuration. Served empty here: the API is on the same origin, under /api.
// The Cloud Run container overwrites this file at start from USACTAR_API_BASE (deploy/entrypoint.sh).
window.__USACTAR_CONFIG__ = window.__USACTAR_CONFIG__ || {};
