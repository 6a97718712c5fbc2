/**
 * Writes a closure's layers as directory trees on disk, one per layer role, ready for one
 * `COPY <role>/ /` (or `buildah copy`) each; and the ld.so.cache, produced by the base image's own
 * `ldconfig -r` over the merged tree (so `ctypes.util.find_library` and the loader's cache match
 * exactly the libraries kept). I/O edge of the module; the closure itself is pure.
 */
import { chmod, copyFile, cp, lstat, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { type Env, exec } from "../util/exec.js";
import type { Closure, LayerRole } from "./closure.js";
import { pycSource, retimePyc } from "./pyc.js";
import { diskRoot, resolveIn } from "./rootfs.js";

export interface AssembleRoots {
  /** The built image's root (files of the system, dependencies and app layers). */
  readonly image: string;
  /** The base image's root (files of the runtime layer); defaults to `image`. */
  readonly base?: string;
}

/**
 * Writes `<out>/<role>/…` for every layer role; returns the directories in layer order. `epochOf`
 * gives each layer's SOURCE_DATE_EPOCH (every mtime is clamped to it when the layer is written):
 * the .pyc files whose source is copied have their recorded mtime moved to it (see ./pyc.ts), so
 * Python keeps using them.
 */
export async function writeLayerTrees(
  closure: Closure,
  roots: AssembleRoots,
  out: string,
  epochOf: (role: LayerRole) => number = () => 0,
): Promise<{ role: LayerRole; dir: string }[]> {
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const result: { role: LayerRole; dir: string }[] = [];
  for (const layer of closure.layers) {
    const dir = join(tmp, layer.role);
    await mkdir(dir, { recursive: true });
    const from = layer.source === "base" ? (roots.base ?? roots.image) : roots.image;
    const dirs = layer.files.filter((f) => f.kind === "dir");
    for (const f of layer.files) {
      const dest = join(dir, f.path);
      await mkdir(posix.dirname(dest), { recursive: true });
      if (f.kind === "dir") await mkdir(dest, { recursive: true });
      else if (f.kind === "symlink") await symlink(f.target!, dest);
      else {
        await copyFile(join(from, f.path), dest);
        await chmod(dest, f.mode);
      }
    }
    const epoch = epochOf(layer.role);
    for (const f of layer.files) {
      const src = f.kind === "file" ? pycSource(f.path) : undefined;
      if (!src) continue;
      const st = await lstat(join(from, src)).catch(() => undefined);
      if (st?.isFile())
        await retimePyc(join(dir, f.path), { mtimeSeconds: st.mtimeMs / 1000, size: st.size }, epoch);
    }
    for (const g of layer.generated) {
      const dest = join(dir, g.path);
      await mkdir(posix.dirname(dest), { recursive: true });
      await writeFile(dest, g.content, { mode: g.mode });
    }
    // Directory modes last (a read-only directory would stop the copies above), deepest first.
    for (const d of dirs.sort((a, b) => b.path.length - a.path.length))
      await chmod(join(dir, d.path), d.mode);
    result.push({ role: layer.role, dir: join(out, layer.role) });
  }
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  return result;
}

/**
 * Runs the base image's own ldconfig (`<base>/sbin/ldconfig -r <merged>`) over the merged layer
 * trees and puts the resulting /etc/ld.so.cache in the `role` layer's tree. Needs root (chroot).
 */
export async function writeLdSoCache(
  trees: readonly { role: LayerRole; dir: string }[],
  ldconfigRoot: string,
  env: Env,
  role: LayerRole = "system",
): Promise<void> {
  const merged = await mkdtemp(join(trees[0]!.dir, "..", "merged-"));
  try {
    for (const t of trees) await cp(t.dir, merged, { recursive: true, verbatimSymlinks: true, force: true });
    await mkdir(join(merged, "etc"), { recursive: true });
    const ldconfig = join(ldconfigRoot, resolveIn(diskRoot(ldconfigRoot), "/sbin/ldconfig").path);
    await exec(ldconfig, ["-r", merged], { env, doing: "regenerating ld.so.cache" });
    const target = trees.find((t) => t.role === role)!.dir;
    await mkdir(join(target, "etc"), { recursive: true });
    await copyFile(join(merged, "etc", "ld.so.cache"), join(target, "etc", "ld.so.cache"));
  } finally {
    await rm(merged, { recursive: true, force: true });
  }
}
