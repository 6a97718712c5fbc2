import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where the test bed keeps everything: one directory, outside the work tree so that fresh clones
 * on the same machine reuse it. Each cached artifact's name carries a hash of its inputs.
 */
export function testbedDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.SLIMWHEEL_TESTBED_DIR) return env.SLIMWHEEL_TESTBED_DIR;
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
  return join(cache, "slimwheel-testbed");
}

export function layout(root: string) {
  return {
    root,
    run: join(root, "run"),
    logs: join(root, "logs"),
    endpoints: join(root, "endpoints.json"),
    lock: join(root, "lock"),
    registryConfig: join(root, "registry", "config.yml"),
    registryData: join(root, "registry", "data"),
    registryPort: join(root, "registry", "port"),
    rootfs: join(root, "rootfs"),
    debs: join(root, "debs"),
    index: join(root, "index"),
    dockerData: join(root, "docker", "data"),
    dockerExec: join(root, "docker", "exec"),
    dockerSocket: join(root, "run", "docker.sock"),
    pid: (name: string) => join(root, "run", `${name}.pid`),
    log: (name: string) => join(root, "logs", `${name}.log`),
  };
}
export type Layout = ReturnType<typeof layout>;
