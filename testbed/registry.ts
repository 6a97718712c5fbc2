/** The test bed's registry: Debian's docker-registry (distribution) on a loopback port. */
import { readFile, writeFile } from "node:fs/promises";
import type { Reporter } from "../src/reporter/index.js";
import { type Env, stopProcess } from "../src/util/exec.js";
import type { Layout } from "./paths.js";
import { ensureService, freePort, httpGet, isOurs, readPid, savedPort } from "./processes.js";

/** The registry's config.yml: filesystem storage under the test bed, deletes allowed, loopback only. */
export function registryConfig(dataDir: string, host: string): string {
  return [
    "version: 0.1",
    "log:",
    "  level: warn",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${dataDir}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
    "",
  ].join("\n");
}

export async function ensureRegistry(
  l: Layout,
  reporter: Reporter,
  env: Env,
): Promise<{ host: string; pid: number }> {
  const saved = await savedPort(l.registryPort);
  const pidNow = await readPid(l.pid("registry"));
  const running = pidNow !== undefined && (await isOurs(pidNow, l.registryConfig));
  const port = running && saved ? saved : await freePort(saved);
  await writeFile(l.registryPort, `${port}\n`);
  const host = `127.0.0.1:${port}`;
  const config = registryConfig(l.registryData, host);
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
    env,
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
