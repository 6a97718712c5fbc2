/**
 * The test bed's PEP 503 package index: wheels made from Debian's python3-* packages plus the
 * fixture sdists (`pyindex/build_index.py`), keyed by the packages' versions and the recipe,
 * served by `python3 -m http.server` on a loopback port.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { arch as osArch } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Reporter, step } from "../src/reporter/index.js";
import { type Env, exec, stopProcess } from "../src/util/exec.js";
import { candidates, dpkgArch } from "./host.js";
import type { Layout } from "./paths.js";
import { ensureService, freePort, httpGet, isOurs, readPid, savedPort } from "./processes.js";
import { RECIPE_VERSION, sha256 } from "./recipe.js";

const PYINDEX = join(dirname(fileURLToPath(import.meta.url)), "pyindex");

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

/** The cache key of the index: the Debian packages' versions, the recipe's files, the architecture. */
export function indexKey(versions: ReadonlyMap<string, string>, recipe: string, arch: string): string {
  return sha256(
    JSON.stringify({
      versions: [...versions],
      recipe,
      arch,
      RECIPE_VERSION,
    }),
  ).slice(0, 16);
}

/** Builds the index's files (once per key); returns their directory. */
export async function ensureIndexFiles(l: Layout, reporter: Reporter, env: Env): Promise<string> {
  const table = JSON.parse(await readFile(join(PYINDEX, "packages.json"), "utf8")) as {
    debs: Record<string, unknown>;
    wheelDebs: string[];
  };
  const debs = [...Object.keys(table.debs), ...table.wheelDebs].sort();
  const versions = await candidates(reporter, env, debs);
  const arch = await dpkgArch(env);
  const key = indexKey(versions, await filesDigest(PYINDEX), arch);
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
        env,
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
          { env, doing: "building the package index" },
        );
        await rename(tmp, dir);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
  );
  return dir;
}

/** Serves `dir` (reusing a running server of the same directory). */
export async function ensureIndexServer(l: Layout, dir: string, reporter: Reporter, env: Env) {
  const portFile = join(l.index, "port");
  const saved = await savedPort(portFile);
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
    env,
  );
  return { url, host, pid, dir };
}
