// Starts the real local stack (`experiments up`) on free ports, serving this build, for the e2e.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const PORT_NAMES = [
  "ingress", "prometheus", "kafka", "kafka-controller", "mongodb", "redis", "toxiproxy", "control",
  "ingest", "read-api", "ferretdb-metrics", "nginx-status", "kafka-jmx", "redis-exporter",
  "nginx-exporter", "node-exporter", "process-exporter", "live-store", "live-link", "ingest-admin",
  "read-api-admin", "live-store-admin", "logs-writer-admin", "live-forwarder-admin",
];

/** The experiments binary: $USACTAR_EXPERIMENTS_BIN, else the debug then release build in the cargo target folder. */
export function experimentsBin() {
  const env = process.env.USACTAR_EXPERIMENTS_BIN;
  if (env) {
    if (!existsSync(env)) throw new Error(`USACTAR_EXPERIMENTS_BIN=${env} does not exist`);
    return env;
  }
  const home = process.env.USACTAR_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "usactar");
  const target = process.env.CARGO_TARGET_DIR ?? join(home, "target");
  for (const p of [join(target, "debug/experiments"), join(target, "release/experiments")]) if (existsSync(p)) return p;
  throw new Error(`no experiments binary in ${target}/{debug,release}: build it (cargo build -p experiments) or set USACTAR_EXPERIMENTS_BIN`);
}

async function freePorts(n) {
  const servers = [];
  const ports = new Set();
  while (ports.size < n) {
    const s = createServer();
    await new Promise((ok, bad) => s.listen(0, "127.0.0.1", ok).on("error", bad));
    const p = s.address().port;
    servers.push(s);
    // Keep clear of the defaults a developer's stack uses.
    if (p > 10000) ports.add(p);
  }
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return [...ports];
}

/**
 * Starts the stack with every port moved to a free one. A port name this list does not know yet
 * (the runner grows) is learnt from the runner's "port N (name) is already in use" error.
 */
export async function startStack(opts = {}) {
  const names = [...PORT_NAMES];
  for (let tries = 0; ; tries++) {
    try {
      return await startOnce(names, opts);
    } catch (e) {
      const m = /--port ([a-z0-9-]+)=PORT/.exec(String(e.message));
      if (!m || names.includes(m[1]) || tries >= 10) throw e;
      names.push(m[1]);
    }
  }
}

async function startOnce(PORT_NAMES, { dist, env = {}, readyTimeoutMs = 200_000, log = console.error } = {}) {
  const bin = experimentsBin();
  const ports = await freePorts(PORT_NAMES.length);
  const port = Object.fromEntries(PORT_NAMES.map((n, i) => [n, ports[i]]));
  const stateDir = mkdtempSync(join(tmpdir(), "usactar-e2e-"));
  const args = ["up", "--state-dir", stateDir, "--ready-timeout", "180s", ...PORT_NAMES.flatMap((n) => ["--port", `${n}=${port[n]}`])];
  const logFile = join(stateDir, "experiments.out");
  const out = createWriteStream(logFile);
  const child = spawn(bin, args, {
    // Older builds of the runner ignore USACTAR_FRONTEND_DIST and serve <cwd>/frontend/dist:
    // run it from the folder that holds frontend/ so both ways find this build.
    cwd: resolve(dist, "../.."),
    env: { ...process.env, USACTAR_FRONTEND_DIST: resolve(dist), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const onData = (d) => {
    output += d;
    out.write(d);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  let exited = null;
  const exitedP = new Promise((ok) => child.on("exit", (code, sig) => ok((exited = { code, sig }))));

  const base = `http://127.0.0.1:${port.ingress}`;
  const t0 = Date.now();
  log(`# starting the stack (${bin}) in ${stateDir}, ingress ${base}`);
  for (;;) {
    if (exited) throw new Error(`experiments up exited (${JSON.stringify(exited)}):\n${output.slice(-4000)}`);
    if (Date.now() - t0 > readyTimeoutMs) {
      child.kill("SIGTERM");
      throw new Error(`the stack was not ready in ${readyTimeoutMs} ms:\n${output.slice(-4000)}`);
    }
    // Ready when the runner printed its table and the API answers through NGINX.
    if (/NAME\s+ADDRESS/.test(output)) {
      try {
        const r = await fetch(`${base}/api/stats`);
        if (r.ok) break;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  log(`# stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  return {
    base,
    port,
    stateDir,
    control: `http://127.0.0.1:${port.control}`,
    // The control channel wants the token the runner wrote into stack.json.
    controlHeaders: { authorization: `Bearer ${JSON.parse(readFileSync(join(stateDir, "stack.json"), "utf8")).control_token}` },
    output: () => output,
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        await exitedP;
        clearTimeout(timer);
      }
      out.end();
      if (!process.env.USACTAR_E2E_KEEP_STATE) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

// `node e2e/stack.mjs` starts a stack on free ports serving ./dist, for trying the pages by hand.
if (import.meta.url === `file://${process.argv[1]}`) {
  const s = await startStack({ dist: "dist", env: { USACTAR_ADMIN_TOKEN: process.env.USACTAR_ADMIN_TOKEN ?? "dev-token-0123456789" } });
  console.log(JSON.stringify({ base: s.base, control: s.control, stateDir: s.stateDir, port: s.port }));
  const stop = async () => {
    await s.stop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
