/**
 * Running a command in an image's filesystem without an engine: the layer cache's merged tree of
 * the lower layers (./layer-cache.ts) with the new app bind-mounted at /app, entered with the
 * kernel's own tools — util-linux `unshare` (new mount and PID namespaces, and a network namespace
 * with only loopback unless the host's network is asked for), `--root` (chroot) and the image's
 * user. /proc, a small /dev (null, zero, random, urandom, full, tty) and a /tmp tmpfs are mounted
 * inside, as an engine would. This is how a code-only rebuild proves the image without calling an
 * engine. It needs root (the namespaces and chroot); `rootfsRunAvailable` says whether it can run.
 */
import { spawn } from "node:child_process";
import type { Context } from "../context.js";
import type { RunOptions } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import type { ExecResult } from "../util/exec.js";
import type { Runner } from "./prove.js";

/** The exit code of the runner's own failure (before the command started): not the command's. */
export const RUNNER_FAILED = 125;

/** Where a run's bytecode cache (`RootfsImage.pycache`) is mounted, inside the /tmp tmpfs. */
export const PYCACHE_PREFIX = "/tmp/.slimwheel-pycache";

const SCRIPT = `set -e
trap 'exit ${RUNNER_FAILED}' EXIT
r=$1; a=$2; u=$3; g=$4; w=$5; net=$6; pyc=$7; shift 7
image_path=$PATH
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
enter=$(command -v unshare)
mount --bind "$a" "$r/app"
mount -t tmpfs -o mode=755,size=64k slimwheel-dev "$r/dev"
for n in null zero random urandom full tty; do
  : > "$r/dev/$n"
  mount --bind "/dev/$n" "$r/dev/$n"
done
ln -s /proc/self/fd "$r/dev/fd"
ln -s /proc/self/fd/0 "$r/dev/stdin"
ln -s /proc/self/fd/1 "$r/dev/stdout"
ln -s /proc/self/fd/2 "$r/dev/stderr"
mkdir "$r/dev/shm"
mount -t tmpfs -o mode=1777 slimwheel-shm "$r/dev/shm"
mount -t tmpfs -o mode=1777 slimwheel-tmp "$r/tmp"
if [ -n "$pyc" ]; then
  mkdir "$r${PYCACHE_PREFIX}"
  mount --bind "$pyc" "$r${PYCACHE_PREFIX}"
fi
if [ "$net" = none ] && command -v ip >/dev/null 2>&1; then ip link set lo up || true; fi
PATH=$image_path
export PATH
trap - EXIT
exec "$enter" --root "$r" --wd "$w" --setgid "$g" --setuid "$u" -- "$@"
`;

let available: Promise<true | string> | undefined;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Whether this process can run commands in a tree: root, util-linux's unshare with `--root`,
 * `--wd`, `--setuid` (2.38 and later), and new mount, PID and network namespaces allowed here (not
 * so as root inside an unprivileged container). `true`, or why not. Checked once per process.
 */
export function rootfsRunAvailable(): Promise<true | string> {
  available ??= (async () => {
    if (typeof process.getuid !== "function" || process.getuid() !== 0)
      return "proving the image without an engine needs root";
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        // The system's directories, as the runner finds its tools (not the caller's PATH).
        const c = spawn("unshare", args, { stdio: ["ignore", "pipe", "pipe"], env: { PATH: SYSTEM_PATH } });
        let out = "";
        c.stdout.on("data", (d: Buffer) => (out += d));
        c.stderr.on("data", (d: Buffer) => (out += d));
        c.on("error", () => resolve({ code: 127, out: "" }));
        c.on("close", (code) => resolve({ code: code ?? 1, out }));
      });
    const help = await run(["--help"]);
    if (help.code === 127) return "util-linux's unshare is not installed";
    if (!/--root/.test(help.out) || !/--setuid/.test(help.out))
      return "this unshare has no --root/--setuid (util-linux 2.38 or later is needed)";
    const ns = await run([
      "--mount",
      "--pid",
      "--fork",
      "--net",
      "--",
      "/bin/sh",
      "-c",
      "mount -t tmpfs x /mnt",
    ]);
    if (ns.code !== 0)
      return `new namespaces are not allowed here (${ns.out.trim().split("\n")[0] ?? ns.code})`;
    return true;
  })();
  return available;
}

export interface RootfsImage {
  /** The merged tree of the lower layers (with empty app, dev, proc and tmp directories). */
  readonly root: string;
  /** The app's tree, mounted at /app. */
  readonly app: string;
  /** The image config's `Env` (`KEY=value`). */
  readonly env: readonly string[];
  /** `uid:gid` (default 0:0). */
  readonly user?: string;
  /**
   * A host directory (mode 1777) kept across runs as Python's bytecode cache: mounted at
   * PYCACHE_PREFIX, with PYTHONPYCACHEPREFIX pointing there and writing allowed (an image's
   * PYTHONDONTWRITEBYTECODE is lifted for the run). The image's own files are what runs —
   * a module whose source is missing still fails — but its compiled form is not recomputed at
   * every proof: the images' stdlib often has no valid .pyc (official images delete them).
   */
  readonly pycache?: string;
}

/** A runner whose `run` ignores the image name and runs in `image`'s tree. */
export function rootfsRunner(image: RootfsImage): Runner {
  return {
    run: (_name, command, ctx, options) => runInRootfs(image, command, ctx, options),
  };
}

export function runInRootfs(
  image: RootfsImage,
  command: readonly string[],
  ctx: Context,
  options: RunOptions & {
    readonly env?: Readonly<Record<string, string>>;
    readonly network?: "none" | "host";
  } = {},
): Promise<ExecResult> {
  const [uid, gid] = (options.user ?? image.user ?? "0:0").split(":");
  const net = options.network ?? "none";
  const env: Record<string, string> = {};
  for (const kv of image.env) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (image.pycache && env.PYTHONPYCACHEPREFIX === undefined) {
    env.PYTHONPYCACHEPREFIX = PYCACHE_PREFIX;
    delete env.PYTHONDONTWRITEBYTECODE;
  }
  Object.assign(env, options.env ?? {});
  const args = [
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child",
    `--mount-proc=${image.root}/proc`,
    ...(net === "none" ? ["--net"] : []),
    "--",
    "/bin/sh",
    "-c",
    SCRIPT,
    "sh",
    image.root,
    image.app,
    uid ?? "0",
    gid ?? uid ?? "0",
    options.workdir ?? "/",
    net,
    image.pycache ?? "",
    ...command,
  ];
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(new SlimwheelError("cancelled", `running ${command[0]}: cancelled`));
      return;
    }
    const child = spawn("unshare", args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
      if (stdout.length > 1 << 20) stdout = stdout.slice(-(1 << 19));
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
    });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    ctx.signal.addEventListener("abort", kill, { once: true });
    child.on("error", (e: NodeJS.ErrnoException) => {
      ctx.signal.removeEventListener("abort", kill);
      reject(
        new SlimwheelError("not-found", `running ${command[0]} in the image's tree: ${e.message}`, {
          hint: "util-linux's unshare is needed (apt-get install util-linux)",
          cause: e,
        }),
      );
    });
    child.on("close", (code, sig) => {
      ctx.signal.removeEventListener("abort", kill);
      if (code === RUNNER_FAILED && !ctx.signal.aborted)
        reject(
          new SlimwheelError(
            "engine",
            `running ${command[0]} in the image's tree: the runner could not set it up`,
            {
              details: stderr.slice(-2000),
              hint: "rerun with --no-layer-cache to prove the image with the engine",
            },
          ),
        );
      else resolve({ code: code ?? (sig ? 128 + 9 : 1), stdout, stderr });
    });
  });
}
