/**
 * Running a command in an image's filesystem without an engine: the layer cache's merged tree of
 * the lower layers (./layer-cache.ts) with the new app bind-mounted at /app, entered with the
 * kernel's own tools — util-linux `unshare` (new mount and PID namespaces, and a network namespace
 * with only loopback unless the host's network is asked for), `--root` (chroot) and the image's
 * user. /proc and a /tmp tmpfs are mounted inside, as an engine would; the tree's small /dev (null,
 * zero, random, urandom, full, tty and the fd links) is made once (`prepareTree`), with the host's
 * devices bind-mounted over it at each run where its nodes cannot work. This is how a code-only
 * rebuild proves the image without calling an engine. It needs root (the namespaces and chroot);
 * `rootfsRunAvailable` says whether it can run.
 */
import { spawn } from "node:child_process";
import {
  chmod,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Context } from "../context.js";
import type { RunOptions } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { PYCACHE_PREFIX } from "../minimize/pyc.js";
import { type ExecResult, exec } from "../util/exec.js";
import type { Runner } from "./prove.js";

/** The exit code of the runner's own failure (before the command started): not the command's. */
export const RUNNER_FAILED = 125;

/** Where a run's bytecode cache (`RootfsImage.pycache`) is: a directory of the prepared tree. */
export { PYCACHE_PREFIX };

/** The device nodes an engine gives a container (`/dev/…`): name, major, minor. */
const DEVICES: readonly (readonly [string, number, number])[] = [
  ["null", 1, 3],
  ["zero", 1, 5],
  ["full", 1, 7],
  ["random", 1, 8],
  ["urandom", 1, 9],
  ["tty", 5, 0],
];
/** /dev's links; shm is the run's /tmp tmpfs (POSIX shared memory needs a writable tmpfs there). */
const DEV_LINKS: readonly (readonly [string, string])[] = [
  ["fd", "/proc/self/fd"],
  ["stdin", "/proc/self/fd/0"],
  ["stdout", "/proc/self/fd/1"],
  ["stderr", "/proc/self/fd/2"],
  ["shm", "/tmp"],
];

// Per run, only what must not outlive it is mounted (the app, a /tmp tmpfs, a bytecode cache
// that is not the tree's own, files patched over the tree's):
// the tree's /dev is prepared once (`prepareTree`; where its nodes cannot work, the host's devices
// are bind-mounted over them, `$devs` = mounts). Each mount is a process of its own, and a proof
// waits for them all — a code-only rebuild runs two proofs at once on a 2-core machine.
const SCRIPT = `set -e
trap 'exit ${RUNNER_FAILED}' EXIT
r=$1; a=$2; u=$3; g=$4; w=$5; net=$6; pyc=$7; devs=$8; nb=$9; shift 9
image_path=$PATH
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
enter=$(command -v unshare)
mount --bind "$a" "$r/app"
mount -t tmpfs -o mode=1777 slimwheel-tmp "$r/tmp"
if [ -n "$pyc" ]; then mount --bind "$pyc" "$r${PYCACHE_PREFIX}"; fi
while [ "$nb" -gt 0 ]; do mount --bind "$1" "$r$2"; shift 2; nb=$((nb - 1)); done
if [ "$devs" = mounts ]; then
  for n in ${DEVICES.map(([n]) => n).join(" ")}; do mount --bind "/dev/$n" "$r/dev/$n"; done
fi
if [ "$net" = none ] && command -v ip >/dev/null 2>&1; then ip link set lo up || true; fi
PATH=$image_path
export PATH
trap - EXIT
exec "$enter" --root "$r" --wd "$w" --setgid "$g" --setuid "$u" -- "$@"
`;

/** How a prepared tree's devices work: its own nodes, or the host's bind-mounted over them at each run. */
export type TreeDevices = "nodes" | "mounts";

const prepared = new Map<string, Promise<TreeDevices>>();

/** A directory of the tree, made when missing; refused when it is anything else (a link would lead out of the tree). */
async function treeDir(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st)
    await mkdir(path).catch((e: NodeJS.ErrnoException) =>
      e.code === "EEXIST" ? undefined : Promise.reject(e),
    );
  const now = st ?? (await lstat(path));
  if (!now.isDirectory() || now.isSymbolicLink())
    throw new SlimwheelError("engine", `preparing the image's tree: ${path} is not a directory`, {
      hint: "the image's layers make it a link or a file; --no-layer-cache builds with the engine",
    });
}

/** Whether a device node made in the tree works from here (a `nodev` file system makes it fail to open). */
async function opens(path: string): Promise<boolean> {
  try {
    await (await open(path, "w")).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a tree runnable: the device nodes and links of /dev, the mount points of the app and /tmp,
 * and the bytecode cache's directory (mode 1777: any image user writes its bytecode there) — made
 * the first time, only checked (lstat calls, one open) after. Idempotent,
 * and safe when two builds prepare the same tree. Nothing outside the tree is touched: each
 * directory it uses must be a real directory of the tree. Where the nodes cannot be made or used
 * (root in a user namespace; a cache on a `nodev` file system), they are empty files and each run
 * bind-mounts the host's devices over them (`"mounts"`).
 */
export function prepareTree(root: string): Promise<TreeDevices> {
  let p = prepared.get(root);
  if (!p) {
    p = (async (): Promise<TreeDevices> => {
      const dev = join(root, "dev");
      for (const d of ["dev", "app", "tmp", "proc", PYCACHE_PREFIX.slice(1)]) await treeDir(join(root, d));
      const cache = await lstat(join(root, PYCACHE_PREFIX));
      if ((cache.mode & 0o7777) !== 0o1777) await chmod(join(root, PYCACHE_PREFIX), 0o1777);
      let devices: TreeDevices = "nodes";
      for (const [name, major, minor] of DEVICES) {
        const path = join(dev, name);
        const st = await lstat(path).catch(() => undefined);
        if (st?.isCharacterDevice() && st.rdev === makedev(major, minor)) {
          if ((st.mode & 0o777) !== 0o666) await chmod(path, 0o666);
          continue;
        }
        if (st?.isFile() && st.size === 0) {
          devices = "mounts";
          continue;
        }
        if (st) await rm(path, { recursive: true, force: true });
        await exec("mknod", ["-m", "666", path, "c", String(major), String(minor)], {
          env: { PATH: SYSTEM_PATH },
          allowFailure: true,
          doing: `making ${path}`,
        });
        const made = await lstat(path).catch(() => undefined);
        if (!made?.isCharacterDevice()) {
          // Not allowed here: an empty file, which each run's bind mount of the host's device covers.
          await rm(path, { force: true });
          await writeFile(path, "", { flag: "wx" }).catch((e: NodeJS.ErrnoException) =>
            e.code === "EEXIST" ? undefined : Promise.reject(e),
          );
          devices = "mounts";
        }
      }
      if (devices === "nodes" && !(await opens(join(dev, "null")))) {
        for (const [name] of DEVICES) {
          await rm(join(dev, name), { force: true });
          await writeFile(join(dev, name), "", { flag: "wx" }).catch((e: NodeJS.ErrnoException) =>
            e.code === "EEXIST" ? undefined : Promise.reject(e),
          );
        }
        devices = "mounts";
      }
      for (const [name, target] of DEV_LINKS) {
        const path = join(dev, name);
        const now = await readlink(path).catch(() => undefined);
        if (now === target) continue;
        await rm(path, { recursive: true, force: true });
        await symlink(target, path).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        });
      }
      return devices;
    })();
    prepared.set(root, p);
    // Only a preparation under way is shared (two proofs of one build); each later run checks again.
    const done = () => prepared.delete(root);
    p.then(done, done);
  }
  return p;
}

/** Linux's dev_t of a (major, minor) pair, as `stat` reports it. */
const makedev = (major: number, minor: number): number =>
  ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);

let available: Promise<true | string> | undefined;
/** The memo of a positive check: removed when the runner then fails to set a run up. */
let memoFile: string | undefined;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * What a positive check holds for: this boot of the kernel, this process's user, mount and PID
 * namespaces (another container has others), its capabilities, no-new-privileges and seccomp
 * modes, its user ID, and the unshare binary (path, inode, size, mtime). Undefined when any of it
 * cannot be read.
 */
async function runnerFingerprint(): Promise<string | undefined> {
  try {
    const [boot, status, ...ns] = await Promise.all([
      readFile("/proc/sys/kernel/random/boot_id", "utf8"),
      readFile("/proc/self/status", "utf8"),
      ...["user", "mnt", "pid"].map((n) => readlink(`/proc/self/ns/${n}`)),
    ]);
    // The process's capabilities and restrictions (`docker exec` with and without --privileged share namespaces).
    const limits = status
      .split("\n")
      .filter((l) => /^(CapEff|CapBnd|NoNewPrivs|Seccomp):/.test(l))
      .map((l) => l.replace(/\s+/g, ""));
    for (const dir of SYSTEM_PATH.split(":")) {
      const st = await stat(join(dir, "unshare")).catch(() => undefined);
      if (st?.isFile())
        return [boot.trim(), ...ns, ...limits, process.getuid?.(), dir, st.ino, st.size, st.mtimeMs].join(
          " ",
        );
    }
  } catch {
    // not Linux's /proc: no fingerprint, the check runs
  }
  return undefined;
}

/**
 * Whether this process can run commands in a tree: root, util-linux's unshare with `--root`,
 * `--wd`, `--setuid` (2.38 and later), and new mount, PID and network namespaces allowed here (not
 * so as root inside an unprivileged container). `true`, or why not. Checked once per process;
 * with `memo` (a file), a positive answer is kept there for as long as `runnerFingerprint` holds,
 * so a later process skips the check (two processes, 20–30 ms of a code-only rebuild). A negative
 * answer is never kept: what is fixed is seen at once.
 */
export function rootfsRunAvailable(memo?: string): Promise<true | string> {
  memoFile ??= memo;
  available ??= (async () => {
    if (typeof process.getuid !== "function" || process.getuid() !== 0)
      return "proving the image without an engine needs root";
    const fingerprint = memo ? await runnerFingerprint() : undefined;
    if (memo && fingerprint && (await readFile(memo, "utf8").catch(() => "")) === fingerprint) return true;
    const ok = await checkRunner();
    if (ok === true && memo && fingerprint) {
      const tmp = `${memo}.${process.pid}.tmp`;
      await mkdir(dirname(memo), { recursive: true })
        .then(() => writeFile(tmp, fingerprint))
        .then(() => rename(tmp, memo))
        .catch(() => rm(tmp, { force: true }));
    }
    return ok;
  })();
  return available;
}

/** The check itself: unshare's options, then new namespaces and a mount in them. */
async function checkRunner(): Promise<true | string> {
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
   * A directory (mode 1777) kept across runs as Python's bytecode cache, at PYCACHE_PREFIX in the
   * image: the tree's own directory there (the layer cache's), or a host directory mounted there.
   * PYTHONPYCACHEPREFIX points there and writing is allowed (an image's PYTHONDONTWRITEBYTECODE
   * is lifted for the run). The image's own files are what runs — a module whose source is
   * missing still fails — but its compiled form is not recomputed at every proof: the images'
   * stdlib often has no valid .pyc (official images delete them). The layer cache seeds it with
   * links to the tree's own valid .pyc files when it writes the tree (`seedPycachePrefix`,
   * ../minimize/pyc.ts).
   */
  readonly pycache?: string;
  /** Host files bind-mounted over the tree's (`target`: absolute in the image), e.g. a patched wheel's files. */
  readonly binds?: readonly { readonly source: string; readonly target: string }[];
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
  const args = (devices: TreeDevices) => [
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
    // The tree's own cache directory is used where it is; another one is mounted there.
    image.pycache && resolve(image.pycache) !== join(resolve(image.root), PYCACHE_PREFIX)
      ? image.pycache
      : "",
    devices,
    String(image.binds?.length ?? 0),
    ...(image.binds ?? []).flatMap((b) => [b.source, b.target]),
    ...command,
  ];
  return prepareTree(image.root).then((devices) => spawnIn(command, args(devices), env, ctx));
}

function spawnIn(
  command: readonly string[],
  args: readonly string[],
  env: Record<string, string>,
  ctx: Context,
): Promise<ExecResult> {
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
      if (code === RUNNER_FAILED && !ctx.signal.aborted) {
        // The check's memo vouched for what does not work here (any more): the next build checks again.
        if (memoFile) void rm(memoFile, { force: true }).catch(() => undefined);
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
      } else resolve({ code: code ?? (sig ? 128 + 9 : 1), stdout, stderr });
    });
  });
}
