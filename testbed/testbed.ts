/**
 * The offline test bed: a real registry, real Python base images and a real package index, built
 * from what this machine can reach (Debian's archive), brought up the same way everywhere.
 * `up` is idempotent; every cached artifact is keyed by a hash of its inputs.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { arch as osArch } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SlimwheelError, wrapError } from "../src/errors.js";
import { type Reporter, step } from "../src/reporter/index.js";
import { exec, hasProgram, isAlive, sleep, spawnDetached, stopProcess } from "../src/util/exec.js";
import { type DebianMirror, findDebianMirror, parseDeb822, parseOneLine } from "./apt-sources.js";
import type { Endpoints, ImageEndpoint } from "./endpoints.js";
import { type ImageSpec, imageSpecs, mmdebstrapArgs } from "./images.js";
import { type Layout, layout, testbedDir } from "./paths.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const PYINDEX = join(HERE, "pyindex");
/** Bump when the way images or the index are made changes, to invalidate the caches. */
const RECIPE_VERSION = "1";
const PYTHON = "3.11";
const SUITE = "bookworm";

export interface TestbedOptions {
  readonly reporter: Reporter;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Also start a Docker engine (dockerd on a private socket). */
  readonly docker?: boolean;
  /** Debian mirror URI; default: read from this machine's apt sources. */
  readonly mirror?: string;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

// ---------------------------------------------------------------------------------------------
// Packages on the host

let aptUpdated = false;
async function aptUpdateOnce(reporter: Reporter): Promise<void> {
  if (aptUpdated) return;
  await step(reporter, "apt-update", "apt-get update", () =>
    exec("apt-get", ["update"], { doing: "updating apt's package lists", hint: "check the network" }),
  );
  aptUpdated = true;
}

async function aptInstall(
  reporter: Reporter,
  packages: readonly string[],
  noRecommends = false,
): Promise<void> {
  if (packages.length === 0) return;
  await aptUpdateOnce(reporter);
  await step(reporter, "apt-install", `apt-get install ${packages.join(" ")}`, () =>
    exec("apt-get", ["install", "-y", ...(noRecommends ? ["--no-install-recommends"] : []), ...packages], {
      doing: `installing ${packages.join(", ")}`,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      hint: "the test bed needs root and apt access to Debian's archive",
    }),
  );
}

/** Installs, with apt-get, whatever of the test bed's tools is missing. */
async function ensureTools(reporter: Reporter, docker: boolean): Promise<void> {
  const wanted: [string, string][] = [
    ["buildah", "buildah"],
    ["podman", "podman"],
    ["mmdebstrap", "mmdebstrap"],
    ["docker-registry", "docker-registry"],
    ["dpkg-deb", "dpkg"],
    ["python3", "python3"],
    ["tar", "tar"],
    // the HTML report of `slimwheel compare` is checked by a screenshot in a real headless browser
    ["chromium", "chromium"],
  ];
  const missing: string[] = [];
  for (const [program, pkg] of wanted) if (!(await hasProgram(program))) missing.push(pkg);
  await aptInstall(reporter, missing);
  if (docker && !(await hasProgram("dockerd"))) await aptInstall(reporter, ["docker.io"], true);
}

// ---------------------------------------------------------------------------------------------
// Processes

async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive and its command line contains `needle` (guards against PID reuse). */
async function isOurs(pid: number, needle: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ").includes(needle);
  } catch {
    return false;
  }
}

function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : port));
      });
    });
  return preferred ? tryPort(preferred).catch(() => tryPort(0)) : tryPort(0);
}

interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A small HTTP GET/HEAD over TCP or a unix socket (loopback only). */
export function httpGet(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    socketPath?: string;
    timeoutMs?: number;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers, socketPath: options.socketPath },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`timed out: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function waitHealthy(what: string, check: () => Promise<boolean>, logFile: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  const log = await readFile(logFile, "utf8").catch(() => "");
  throw new SlimwheelError("engine", `${what} did not become ready within ${ms / 1000} s`, {
    details: log.slice(-3000),
    hint: `see ${logFile}`,
  });
}

interface Service {
  readonly name: string;
  readonly program: string;
  readonly args: readonly string[];
  /** Text that must be in the running process's command line for it to count as this service. */
  readonly identity: string;
  readonly healthy: () => Promise<boolean>;
}

/** Reuses the running service if it is ours and healthy, else starts it. Returns its PID. */
async function ensureService(l: Layout, s: Service, reporter: Reporter): Promise<number> {
  const pidFile = l.pid(s.name);
  const old = await readPid(pidFile);
  if (old !== undefined && (await isOurs(old, s.identity)) && (await s.healthy().catch(() => false))) {
    reporter.emit({ type: "log", level: "debug", message: `${s.name} already running (pid ${old})` });
    return old;
  }
  if (old !== undefined && (await isOurs(old, s.program))) await stopProcess(old);
  return step(reporter, `start-${s.name}`, `starting ${s.name}`, async () => {
    const pid = spawnDetached(s.program, s.args, { logFile: l.log(s.name) });
    await writeFile(pidFile, `${pid}\n`);
    await waitHealthy(s.name, s.healthy, l.log(s.name));
    return pid;
  });
}

// ---------------------------------------------------------------------------------------------
// Registry

async function ensureRegistry(l: Layout, reporter: Reporter): Promise<{ host: string; pid: number }> {
  const saved = Number((await readFile(l.registryPort, "utf8").catch(() => "")).trim()) || undefined;
  const pidNow = await readPid(l.pid("registry"));
  const running = pidNow !== undefined && (await isOurs(pidNow, l.registryConfig));
  const port = running && saved ? saved : await freePort(saved);
  await writeFile(l.registryPort, `${port}\n`);
  const host = `127.0.0.1:${port}`;
  const config = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${l.registryData}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
    "",
  ].join("\n");
  const previous = await readFile(l.registryConfig, "utf8").catch(() => "");
  if (previous !== config) {
    await writeFile(l.registryConfig, config);
    if (running) await stopProcess(pidNow);
  }
  const pid = await ensureService(
    l,
    {
      name: "registry",
      program: "docker-registry",
      args: ["serve", l.registryConfig],
      identity: l.registryConfig,
      healthy: async () => (await httpGet(`http://${host}/v2/`)).status === 200,
    },
    reporter,
  );
  return { host, pid };
}

const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

/** The digest of `repo:tag` in the registry, or undefined when it is not there. */
export async function manifestDigest(host: string, repo: string, tag: string): Promise<string | undefined> {
  const r = await httpGet(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST_ACCEPT },
  });
  if (r.status !== 200) return undefined;
  const d = r.headers["docker-content-digest"];
  return typeof d === "string" ? d : undefined;
}

// ---------------------------------------------------------------------------------------------
// Base images

async function debianMirror(options: TestbedOptions): Promise<DebianMirror> {
  const explicit = options.mirror ?? options.env?.SLIMWHEEL_DEBIAN_MIRROR;
  if (explicit) return { archive: explicit };
  const sources = [];
  const dir = "/etc/apt/sources.list.d";
  for (const f of (await readdir(dir).catch(() => [])).sort()) {
    const text = await readFile(join(dir, f), "utf8").catch(() => "");
    if (f.endsWith(".sources")) sources.push(...parseDeb822(text));
    else if (f.endsWith(".list")) sources.push(...parseOneLine(text));
  }
  sources.push(...parseOneLine(await readFile("/etc/apt/sources.list", "utf8").catch(() => "")));
  const m = findDebianMirror(sources, SUITE);
  if (!m) {
    throw new SlimwheelError("not-found", `no apt source for Debian ${SUITE} (main) in /etc/apt/sources*`, {
      hint: "pass --mirror URI (or set SLIMWHEEL_DEBIAN_MIRROR) to name a Debian mirror",
    });
  }
  return m;
}

async function dpkgArch(): Promise<string> {
  return (await exec("dpkg", ["--print-architecture"])).stdout.trim();
}

async function ensureImage(
  l: Layout,
  spec: ImageSpec,
  registryHost: string,
  mirror: DebianMirror,
  reporter: Reporter,
): Promise<ImageEndpoint> {
  const arch = await dpkgArch();
  const key = sha256(JSON.stringify({ spec, suite: SUITE, mirror, arch, RECIPE_VERSION })).slice(0, 16);
  const keyedTag = `${spec.tag}-tb${key}`;
  const ref = `${registryHost}/${spec.repository}:${spec.tag}`;
  const pin = (digest: string) => ({ ref, digest, pinned: `${registryHost}/${spec.repository}@${digest}` });

  const existing = await manifestDigest(registryHost, spec.repository, keyedTag);
  if (existing && (await manifestDigest(registryHost, spec.repository, spec.tag)) === existing) {
    return pin(existing);
  }

  const tarball = join(l.rootfs, `${spec.name}-${key}.tar`);
  if (!existsSync(tarball)) {
    await step(
      reporter,
      `mmdebstrap-${spec.name}`,
      `building the ${spec.name} root filesystem (mmdebstrap)`,
      async () => {
        const tmp = `${tarball}.tmp-${process.pid}.tar`;
        try {
          await exec("mmdebstrap", mmdebstrapArgs(spec, SUITE, mirror, tmp), {
            doing: `building the ${spec.name} image's root filesystem with mmdebstrap`,
            hint: "mmdebstrap needs root and Debian's archive",
          });
          await rename(tmp, tarball);
        } finally {
          await rm(tmp, { force: true });
        }
      },
    );
  }

  return step(reporter, `import-${spec.name}`, `importing and pushing ${ref}`, async () => {
    const local = `localhost/${spec.repository}:${keyedTag}`;
    const ctr = (
      await exec("buildah", ["from", "--name", `tb-${spec.name}-${key}-${process.pid}`, "scratch"])
    ).stdout.trim();
    try {
      const mnt = (await exec("buildah", ["mount", ctr])).stdout.trim();
      await exec("tar", ["--numeric-owner", "-xpf", tarball, "-C", mnt], { doing: `unpacking ${tarball}` });
      await exec("buildah", ["umount", ctr]);
      await exec("buildah", [
        "config",
        "--os",
        "linux",
        "--arch",
        arch,
        "--env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--env",
        "LANG=C.UTF-8",
        "--cmd",
        '["python3"]',
        "--label",
        `org.opencontainers.image.title=slimwheel test bed: python:${spec.tag}`,
        "--label",
        `org.opencontainers.image.description=${spec.description}`,
        "--label",
        `io.slimwheel.testbed.key=${key}`,
        ctr,
      ]);
      await exec("buildah", ["commit", "--timestamp", "0", ctr, local], { doing: `committing ${local}` });
    } finally {
      await exec("buildah", ["rm", ctr], { allowFailure: true });
    }
    let digest = "";
    for (const tag of [keyedTag, spec.tag]) {
      const digestFile = join(l.run, `digest-${spec.name}`);
      await exec(
        "buildah",
        [
          "push",
          "--tls-verify=false",
          "--digestfile",
          digestFile,
          local,
          `docker://${registryHost}/${spec.repository}:${tag}`,
        ],
        { doing: `pushing ${spec.repository}:${tag} to the test-bed registry` },
      );
      digest = (await readFile(digestFile, "utf8")).trim();
    }
    return pin(digest);
  });
}

// ---------------------------------------------------------------------------------------------
// Package index

async function filesDigest(dir: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        h.update(p.slice(dir.length));
        h.update(await readFile(p));
      }
    }
  };
  await walk(dir);
  return h.digest("hex");
}

/** Candidate versions of Debian packages, from apt's lists (updated once if a package is unknown). */
async function candidates(reporter: Reporter, packages: readonly string[]): Promise<Map<string, string>> {
  const read = async () => {
    const out = (await exec("apt-cache", ["policy", ...packages])).stdout;
    const map = new Map<string, string>();
    let current = "";
    for (const line of out.split("\n")) {
      const pkg = /^(\S+):$/.exec(line);
      if (pkg) current = pkg[1]!;
      const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
      if (cand && cand[1] !== "(none)") map.set(current, cand[1]!);
    }
    return map;
  };
  let map = await read();
  if (packages.some((p) => !map.has(p))) {
    await aptUpdateOnce(reporter);
    map = await read();
  }
  const missing = packages.filter((p) => !map.has(p));
  if (missing.length) {
    throw new SlimwheelError("not-found", `Debian packages not found in apt's lists: ${missing.join(", ")}`, {
      hint: "check the apt sources (Debian bookworm main)",
    });
  }
  return map;
}

async function ensureIndexFiles(l: Layout, reporter: Reporter): Promise<string> {
  const table = JSON.parse(await readFile(join(PYINDEX, "packages.json"), "utf8")) as {
    debs: Record<string, unknown>;
    wheelDebs: string[];
  };
  const debs = [...Object.keys(table.debs), ...table.wheelDebs].sort();
  const versions = await candidates(reporter, debs);
  const arch = await dpkgArch();
  const key = sha256(
    JSON.stringify({
      versions: [...versions],
      recipe: await filesDigest(PYINDEX),
      arch,
      RECIPE_VERSION,
    }),
  ).slice(0, 16);
  const dir = join(l.index, key);
  if (existsSync(join(dir, "manifest.json"))) return dir;
  await step(
    reporter,
    "index",
    "building the package index (Debian packages → wheels, fixture sdists)",
    async () => {
      const debDir = join(l.debs, key);
      await mkdir(debDir, { recursive: true });
      await exec("apt-get", ["download", ...debs], {
        cwd: debDir,
        doing: "downloading Debian's python3-* packages",
      });
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      try {
        await exec(
          "python3",
          [
            join(PYINDEX, "build_index.py"),
            "--debs",
            debDir,
            "--packages",
            join(PYINDEX, "packages.json"),
            "--fixtures",
            join(PYINDEX, "fixtures"),
            "--out",
            tmp,
            "--arch",
            osArch() === "arm64" ? "aarch64" : "x86_64",
          ],
          { doing: "building the package index" },
        );
        await rename(tmp, dir);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
  );
  return dir;
}

async function ensureIndexServer(l: Layout, dir: string, reporter: Reporter) {
  const portFile = join(l.index, "port");
  const saved = Number((await readFile(portFile, "utf8").catch(() => "")).trim()) || undefined;
  const pidNow = await readPid(l.pid("index"));
  const running = pidNow !== undefined && (await isOurs(pidNow, dir));
  // A server for an older index: stop it first so that its port can be reused.
  if (pidNow !== undefined && !running && (await isOurs(pidNow, "http.server"))) await stopProcess(pidNow);
  const port = running && saved ? saved : await freePort(saved);
  await writeFile(portFile, `${port}\n`);
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}/simple/`;
  const pid = await ensureService(
    l,
    {
      name: "index",
      program: "python3",
      args: ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", dir],
      identity: `${port} --bind 127.0.0.1 --directory ${dir}`,
      healthy: async () => (await httpGet(url)).status === 200,
    },
    reporter,
  );
  return { url, host, pid, dir };
}

// ---------------------------------------------------------------------------------------------
// Docker engine

async function ensureDocker(l: Layout, reporter: Reporter) {
  await mkdir(l.dockerData, { recursive: true });
  await mkdir(l.dockerExec, { recursive: true });
  const host = `unix://${l.dockerSocket}`;
  const pid = await ensureService(
    l,
    {
      name: "dockerd",
      program: "dockerd",
      args: [
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--storage-driver=overlay2",
        "--data-root",
        l.dockerData,
        "--exec-root",
        l.dockerExec,
        "--host",
        host,
        "--pidfile",
        join(l.run, "dockerd.self.pid"),
      ],
      identity: l.dockerSocket,
      healthy: async () =>
        (await httpGet("http://docker/_ping", { socketPath: l.dockerSocket })).body === "OK",
    },
    reporter,
  );
  return { host, pid };
}

// ---------------------------------------------------------------------------------------------
// up / status / down

async function withLock<T>(l: Layout, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      await mkdir(l.lock);
      await writeFile(join(l.lock, "pid"), `${process.pid}\n`);
      break;
    } catch {
      const holder = await readPid(join(l.lock, "pid"));
      const age = await stat(l.lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if ((holder !== undefined && !isAlive(holder)) || (holder === undefined && age > 10_000)) {
        await rm(l.lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new SlimwheelError("io", `the test bed is locked by pid ${holder}`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(l.lock, { recursive: true, force: true });
  }
}

async function version(program: string): Promise<string> {
  const r = await exec(program, ["--version"], { allowFailure: true }).catch(() => undefined);
  return r?.stdout.trim().split("\n")[0] ?? "not installed";
}

export async function up(options: TestbedOptions): Promise<Endpoints> {
  const env = options.env ?? process.env;
  const l = layout(testbedDir(env));
  const { reporter } = options;
  for (const d of [
    l.root,
    l.run,
    l.logs,
    l.rootfs,
    l.debs,
    l.index,
    dirname(l.registryConfig),
    l.registryData,
  ]) {
    await mkdir(d, { recursive: true });
  }
  const previous = await readFile(l.endpoints, "utf8").then(
    (t) => JSON.parse(t) as Endpoints,
    () => undefined,
  );
  const docker = options.docker ?? Boolean(previous?.docker);
  return withLock(l, async () => {
    try {
      await ensureTools(reporter, docker);
      const mirror = await debianMirror(options);
      const registry = await ensureRegistry(l, reporter);
      const images: Record<string, ImageEndpoint> = {};
      for (const spec of imageSpecs(PYTHON))
        images[spec.name] = await ensureImage(l, spec, registry.host, mirror, reporter);
      const indexDir = await ensureIndexFiles(l, reporter);
      const index = await ensureIndexServer(l, indexDir, reporter);
      const dockerd = docker ? await ensureDocker(l, reporter) : undefined;
      const endpoints: Endpoints = {
        version: 1,
        dir: l.root,
        registry: { host: registry.host, url: `http://${registry.host}`, pid: registry.pid },
        index,
        images: { builder: images.builder!, runtime: images.runtime! },
        python: PYTHON,
        debian: {
          suite: SUITE,
          mirror: mirror.archive,
          ...(mirror.security ? { security: mirror.security } : {}),
        },
        ...(dockerd ? { docker: dockerd } : {}),
        engines: {
          buildah: await version("buildah"),
          podman: await version("podman"),
          ...(dockerd ? { dockerd: await version("dockerd") } : {}),
        },
      };
      const tmp = `${l.endpoints}.tmp`;
      await writeFile(tmp, `${JSON.stringify(endpoints, null, 2)}\n`);
      await rename(tmp, l.endpoints);
      return endpoints;
    } catch (e) {
      throw wrapError(e, "bringing the test bed up", "engine");
    }
  });
}

export interface ProcessStatus {
  readonly name: string;
  readonly pid: number | undefined;
  readonly running: boolean;
}

const SERVICES = ["registry", "index", "dockerd"] as const;
const IDENTITY = (l: Layout, name: string) =>
  name === "registry" ? l.registryConfig : name === "dockerd" ? l.dockerSocket : "http.server";

export async function status(
  env = process.env,
): Promise<{ endpoints?: Endpoints; processes: ProcessStatus[] }> {
  const l = layout(testbedDir(env));
  const processes: ProcessStatus[] = [];
  for (const name of SERVICES) {
    const pid = await readPid(l.pid(name));
    if (pid === undefined) continue;
    processes.push({ name, pid, running: await isOurs(pid, IDENTITY(l, name)) });
  }
  const endpoints = await readFile(l.endpoints, "utf8").then(
    (t) => JSON.parse(t) as Endpoints,
    () => undefined,
  );
  return endpoints ? { endpoints, processes } : { processes };
}

/** Stops only the processes `up` started (by their recorded PIDs). */
export async function down(env = process.env): Promise<ProcessStatus[]> {
  const l = layout(testbedDir(env));
  const stopped: ProcessStatus[] = [];
  for (const name of [...SERVICES].reverse()) {
    const pid = await readPid(l.pid(name));
    if (pid === undefined) continue;
    const ours = await isOurs(pid, IDENTITY(l, name));
    if (ours) await stopProcess(pid, name === "dockerd" ? 30_000 : 10_000);
    await rm(l.pid(name), { force: true });
    stopped.push({ name, pid, running: false });
  }
  return stopped;
}
