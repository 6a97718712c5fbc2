/** The test bed's Docker engine: Debian's dockerd on a private socket, with its own data root. */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Reporter } from "../src/reporter/index.js";
import type { Env } from "../src/util/exec.js";
import type { Layout } from "./paths.js";
import { ensureService, httpGet } from "./processes.js";

export async function ensureDocker(l: Layout, reporter: Reporter, env: Env) {
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
    env,
  );
  return { host, pid };
}
