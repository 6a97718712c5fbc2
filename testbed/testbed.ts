/**
 * The offline test bed: a real registry, real Python base images and a real package index, built
 * from what this machine can reach (Debian's archive), brought up the same way everywhere.
 * `up` is idempotent; every cached artifact is keyed by a hash of its inputs (recipe.ts).
 *
 * One module per service: host.ts (apt, tools), processes.ts (PID files, health, lock),
 * registry.ts, base-images.ts, package-index.ts, docker-engine.ts.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { wrapError } from "../src/errors.js";
import type { Reporter } from "../src/reporter/index.js";
import { type Env, stopProcess } from "../src/util/exec.js";
import { debianMirror, ensureImage } from "./base-images.js";
import { ensureDocker } from "./docker-engine.js";
import type { Endpoints, ImageEndpoint } from "./endpoints.js";
import { ensureTools, programVersion } from "./host.js";
import { imageSpecs } from "./images.js";
import { ensureIndexFiles, ensureIndexServer } from "./package-index.js";
import { type Layout, layout, testbedDir } from "./paths.js";
import { isOurs, readPid, withLock } from "./processes.js";
import { PYTHON, SUITE } from "./recipe.js";
import { ensureRegistry } from "./registry.js";

export { httpGet } from "./processes.js";
export { manifestDigest } from "./registry.js";

export interface TestbedOptions {
  readonly reporter: Reporter;
  /** The environment of every program the test bed starts; also where SLIMWHEEL_TESTBED_DIR is read. */
  readonly env: Env;
  /** Also start a Docker engine (dockerd on a private socket); remembered by later `up`s. */
  readonly docker?: boolean;
  /** Debian mirror URI; default: SLIMWHEEL_DEBIAN_MIRROR, else this machine's apt sources. */
  readonly mirror?: string;
}

export async function up(options: TestbedOptions): Promise<Endpoints> {
  const { reporter, env } = options;
  const l = layout(testbedDir(env));
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
      await ensureTools(reporter, env, docker);
      const mirror = await debianMirror(options.mirror ?? env.SLIMWHEEL_DEBIAN_MIRROR);
      const registry = await ensureRegistry(l, reporter, env);
      const images: Record<string, ImageEndpoint> = {};
      for (const spec of imageSpecs(PYTHON))
        images[spec.name] = await ensureImage(l, spec, registry.host, mirror, reporter, env);
      const indexDir = await ensureIndexFiles(l, reporter, env);
      const index = await ensureIndexServer(l, indexDir, reporter, env);
      const dockerd = docker ? await ensureDocker(l, reporter, env) : undefined;
      const engines: Record<string, string> = {
        buildah: await programVersion("buildah", env),
        podman: await programVersion("podman", env),
      };
      if (dockerd) engines.dockerd = await programVersion("dockerd", env);
      const endpoints: Endpoints = {
        version: 1,
        dir: l.root,
        registry: { host: registry.host, url: `http://${registry.host}`, pid: registry.pid },
        index,
        images: { builder: images.builder!, runtime: images.runtime! },
        python: PYTHON,
        debian: { suite: SUITE, mirror: mirror.archive, security: mirror.security },
        docker: dockerd,
        engines,
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

export async function status(env: Env): Promise<{ endpoints?: Endpoints; processes: ProcessStatus[] }> {
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
  return { endpoints, processes };
}

/** Stops only the processes `up` started (by their recorded PIDs). */
export async function down(env: Env): Promise<ProcessStatus[]> {
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
