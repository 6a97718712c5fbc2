/**
 * The engine-less runner over a real tree: a static program (compiled here with gcc) is the whole
 * image; it reports what it sees — user, working directory, environment, /dev/null, /proc, /tmp,
 * the app mounted at /app — and a cancelled run is killed. Preparing the tree (its /dev) is
 * idempotent: a second preparation changes nothing.
 */
import { execFileSync } from "node:child_process";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { prepareTree, rootfsRunAvailable, runInRootfs } from "./rootfs-run.js";

const PROGRAM = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "sleep") == 0) { sleep(60); return 0; }
  if (argc > 2 && strcmp(argv[1], "cat") == 0) {
    char buf[256]; FILE *f = fopen(argv[2], "r");
    if (!f) { printf("missing\\n"); return 1; }
    size_t got; while ((got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout); return 0;
  }
  if (argc > 1 && strcmp(argv[1], "pyc") == 0) {
    const char *prefix = getenv("PYTHONPYCACHEPREFIX");
    char path[512]; snprintf(path, sizeof path, "%s/written", prefix ? prefix : "/nowhere");
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    printf("prefix=%s dontwrite=%s written=%d\\n", prefix, getenv("PYTHONDONTWRITEBYTECODE"), fd >= 0);
    return 0;
  }
  char cwd[256]; getcwd(cwd, sizeof cwd);
  char exe[256] = ""; ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1); if (n > 0) exe[n] = 0;
  int devnull = open("/dev/null", O_WRONLY);
  int tmp = open("/tmp/x", O_CREAT | O_WRONLY, 0600);
  int app = open("/app/marker", O_RDONLY);
  printf("uid=%d gid=%d cwd=%s exe=%s foo=%s port=%s devnull=%d tmp=%d app=%d\\n", getuid(), getgid(), cwd,
         exe, getenv("FOO"), getenv("PORT"), devnull >= 0, tmp >= 0, app >= 0);
  return 3;
}
`;

const ctx = () => ({ signal: new AbortController().signal }) as never;
let dir: string;
let image: { root: string; app: string; env: string[]; user: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rootfs-run-"));
  const root = join(dir, "root");
  for (const d of ["bin", "app", "dev", "proc", "tmp"]) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(dir, "p.c"), PROGRAM);
  execFileSync("gcc", ["-static", "-O1", "-o", join(root, "bin", "probe"), join(dir, "p.c")]);
  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "marker"), "x");
  image = { root, app, env: ["PATH=/bin", "FOO=bar"], user: "10001:10002" };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const available = (await rootfsRunAvailable()) === true;

describe.skipIf(!available)("running in an image's tree without an engine", () => {
  it("mounts host files over the tree's for the run only (a patched wheel's files)", async () => {
    await mkdir(join(image.root, "etc"), { recursive: true });
    await writeFile(join(image.root, "etc", "data"), "cached\n");
    const patched = join(dir, "patched-data");
    await writeFile(patched, "patched\n");
    const binds = [{ source: patched, target: "/etc/data" }];
    const r = await runInRootfs({ ...image, binds }, ["probe", "cat", "/etc/data"], ctx());
    expect(r.stdout).toBe("patched\n");
    expect((await runInRootfs(image, ["probe", "cat", "/etc/data"], ctx())).stdout).toBe("cached\n");
  });

  it("keeps a positive check in its memo for this boot, namespaces, user and unshare; a fresh process trusts it", async () => {
    const memo = join(dir, "memo", "rootfs-run.ok");
    await mkdir(join(dir, "memo"));
    await writeFile(memo, "another machine's");
    vi.resetModules();
    const fresh = await import("./rootfs-run.js");
    expect(await fresh.rootfsRunAvailable(memo)).toBe(true);
    const fingerprint = await readFile(memo, "utf8");
    expect(fingerprint).toContain((await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim());
    expect(fingerprint).toContain(await readlink("/proc/self/ns/mnt"));
    // A process that cannot spawn anything still answers yes: from the memo, not a new check.
    vi.resetModules();
    vi.doMock("node:child_process", () => ({
      spawn: () => {
        throw new Error("no process may be started");
      },
    }));
    try {
      const trusting = await import("./rootfs-run.js");
      expect(await trusting.rootfsRunAvailable(memo)).toBe(true);
      vi.resetModules();
      const checking = await import("./rootfs-run.js");
      await writeFile(memo, "another machine's");
      await expect(checking.rootfsRunAvailable(memo)).rejects.toThrow("no process may be started");
    } finally {
      vi.doUnmock("node:child_process");
      vi.resetModules();
    }
  });

  it("runs as the image's user in its working directory, with its environment and the app mounted", async () => {
    const r = await runInRootfs(image, ["probe"], ctx(), { workdir: "/app", env: { PORT: "8123" } });
    expect(r.code).toBe(3);
    expect(r.stdout.trim()).toBe(
      "uid=10001 gid=10002 cwd=/app exe=/bin/probe foo=bar port=8123 devnull=1 tmp=1 app=1",
    );
    // Nothing the run did is left in the tree: /tmp was a tmpfs, /app a bind mount.
    expect(await readdir(join(image.root, "tmp"))).toEqual([]);
    expect(await readdir(join(image.root, "app"))).toEqual([]);
    // /dev is the tree's own, made once: the device nodes and links an engine gives a container.
    expect((await readdir(join(image.root, "dev"))).sort()).toEqual([
      "fd",
      "full",
      "null",
      "random",
      "shm",
      "stderr",
      "stdin",
      "stdout",
      "tty",
      "urandom",
      "zero",
    ]);
    const null_ = await lstat(join(image.root, "dev", "null"));
    expect([null_.isCharacterDevice(), null_.rdev, null_.mode & 0o777]).toEqual([true, 259, 0o666]);
  });

  it("keeps a bytecode cache across runs: PYTHONPYCACHEPREFIX, writable by the image's user, outside the tree", async () => {
    const pycache = join(dir, "pycache");
    await mkdir(pycache, { mode: 0o1777 });
    await chmod(pycache, 0o1777);
    const withCache = { ...image, env: [...image.env, "PYTHONDONTWRITEBYTECODE=1"], pycache };
    const r = await runInRootfs(withCache, ["probe", "pyc"], ctx());
    expect(r.stdout.trim()).toBe("prefix=/.slimwheel-pycache dontwrite=(null) written=1");
    expect(await readdir(pycache)).toEqual(["written"]);
    expect(await readdir(join(image.root, "tmp"))).toEqual([]);
    // Without one, the image's environment is as it says.
    const plain = await runInRootfs(
      { ...image, env: [...image.env, "PYTHONDONTWRITEBYTECODE=1"] },
      ["probe", "pyc"],
      ctx(),
    );
    expect(plain.stdout.trim()).toBe("prefix=(null) dontwrite=1 written=0");
  });

  it("uses the tree's own bytecode cache directory where it is (the layer cache's)", async () => {
    const inTree = join(image.root, ".slimwheel-pycache");
    await chmod(inTree, 0o1777);
    try {
      const r = await runInRootfs({ ...image, pycache: inTree }, ["probe", "pyc"], ctx());
      expect(r.stdout.trim()).toBe("prefix=/.slimwheel-pycache dontwrite=(null) written=1");
      expect(await readdir(inTree)).toEqual(["written"]);
      // Used where it is: nothing is mounted there (another directory is).
      const mounts = (pycache: string) =>
        runInRootfs({ ...image, pycache }, ["probe", "cat", "/proc/self/mountinfo"], ctx());
      const atCache = / \/\.slimwheel-pycache /;
      expect((await mounts(inTree)).stdout).not.toMatch(atCache);
      const other = join(dir, "other-pycache");
      await mkdir(other, { recursive: true });
      expect((await mounts(other)).stdout).toMatch(atCache);
    } finally {
      await rm(join(inTree, "written"), { force: true });
    }
  });

  it("prepares a tree once: a later preparation keeps what is there and makes what is missing", async () => {
    const before = await lstat(join(image.root, "dev", "null"));
    await rm(join(image.root, "dev", "fd"));
    await prepareTree(image.root);
    const after = await lstat(join(image.root, "dev", "null"));
    expect(after.ino).toBe(before.ino);
    // What is missing is made again.
    expect(await readlink(join(image.root, "dev", "fd"))).toBe("/proc/self/fd");
  });

  it("on a nodev file system the host's devices are bind-mounted over the tree's at each run", async () => {
    const nodev = join(dir, "nodev");
    await mkdir(nodev);
    execFileSync("mount", ["-t", "tmpfs", "-o", "nodev", "slimwheel-test", nodev]);
    try {
      const root = join(nodev, "root");
      for (const d of ["bin", "app", "dev", "proc", "tmp"]) await mkdir(join(root, d), { recursive: true });
      await copyFile(join(image.root, "bin", "probe"), join(root, "bin", "probe"));
      await chmod(join(root, "bin", "probe"), 0o755);
      expect(await prepareTree(root)).toBe("mounts");
      const r = await runInRootfs({ ...image, root }, ["probe"], ctx(), { workdir: "/app" });
      expect(r.stdout).toContain("devnull=1");
      // The tree keeps empty files where the nodes would be; the host's /dev is untouched.
      expect((await lstat(join(root, "dev", "null"))).isFile()).toBe(true);
      expect((await lstat("/dev/null")).isCharacterDevice()).toBe(true);
    } finally {
      execFileSync("umount", [nodev]);
    }
  });

  it("refuses a tree whose /dev is a link (it would lead out of the tree), touching nothing", async () => {
    const root = join(dir, "linked");
    const outside = join(dir, "outside");
    await mkdir(join(root, "app"), { recursive: true });
    await mkdir(outside);
    await symlink(outside, join(root, "dev"));
    await expect(prepareTree(root)).rejects.toThrow(/dev is not a directory/);
    expect(await readdir(outside)).toEqual([]);
  });

  it("a missing program exits 127 with the reason", async () => {
    const r = await runInRootfs(image, ["nothing-here"], ctx());
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/nothing-here/);
  });

  it("a cancelled run is killed at once", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const running = runInRootfs(image, ["probe", "sleep"], { signal: controller.signal } as never);
    setTimeout(() => controller.abort(), 300);
    const r = await running;
    expect(r.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
