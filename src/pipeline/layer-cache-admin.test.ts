import { link, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closureFile, LAYER_CACHE_FORMAT, layerCacheDirs } from "./layer-cache.js";
import { listLayerCache, removeLayerItems, selectLayerPrune } from "./layer-cache-admin.js";

let home: string;
const hex = (c: string) => c.repeat(64);
const LISTS = "0123456789abcdef";

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "layer-admin-"));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function entry(key: string, blobs: string[], ageMs: number) {
  const dirs = layerCacheDirs({ XDG_CACHE_HOME: home });
  await mkdir(dirs.entries, { recursive: true });
  const file = join(dirs.entries, `${key}.json`);
  const lower = blobs.map((b) => ({ role: "runtime", blob: { digest: `sha256:${b}`, size: 3 } }));
  await writeFile(
    file,
    JSON.stringify({ format: LAYER_CACHE_FORMAT, key, lower, fastPath: { ok: true }, closureLists: LISTS }),
  );
  // The closure's lists beside it, named by their digest (layer-cache.ts).
  await writeFile(closureFile(dirs, key, LISTS), '{"files":[],"paths":[]}');
  await mkdir(join(dirs.rootfs, key, "usr"), { recursive: true });
  await writeFile(join(dirs.rootfs, key, "usr", "f"), "12345");
  // The proofs' bytecode cache in the tree (rootfs-run.ts), and an earlier slimwheel's beside it.
  await mkdir(join(dirs.rootfs, key, ".slimwheel-pycache", "usr"), { recursive: true });
  await writeFile(join(dirs.rootfs, key, ".slimwheel-pycache", "usr", "m.pyc"), "1234567");
  await mkdir(join(dirs.rootfs, `${key}.pycache`, "usr"), { recursive: true });
  await writeFile(join(dirs.rootfs, `${key}.pycache`, "usr", "m.pyc"), "1234567");
  const t = (Date.now() - ageMs) / 1000;
  await utimes(file, t, t);
  for (const b of blobs) {
    await mkdir(join(dirs.store, "sha256"), { recursive: true });
    await writeFile(join(dirs.store, "sha256", b), "abc");
  }
  return dirs;
}

describe("the layer cache in cache ls|prune", () => {
  it("counts a bytecode cache's links to the tree's files once", async () => {
    const dirs = await entry(hex("a"), [hex("1")], 1000);
    const bytes = async () => (await listLayerCache(dirs)).items.find((i) => i.kind === "layers")!.bytes;
    const before = await bytes();
    const cache = join(dirs.rootfs, hex("a"), ".slimwheel-pycache", "usr");
    await link(join(dirs.rootfs, hex("a"), "usr", "f"), join(cache, "f.pyc"));
    expect(await bytes()).toBe(before);
    await writeFile(join(cache, "g.pyc"), "12");
    expect(await bytes()).toBe(before + 2);
  });

  it("lists entries with their trees and the shared store; prunes old entries and the blobs only they used", async () => {
    await entry(hex("a"), [hex("1"), hex("2")], 10 * 86_400_000);
    const dirs = await entry(hex("b"), [hex("2"), hex("3")], 1000);
    const listing = await listLayerCache(dirs);
    const entries = listing.items.filter((i) => i.kind === "layers");
    expect(entries.map((e) => e.key).sort()).toEqual([hex("a"), hex("b")]);
    expect(entries.every((e) => e.bytes > 12)).toBe(true);
    // The bytecode caches belong to their entries: no orphan trees.
    expect(listing.items.filter((i) => i.kind === "tree")).toEqual([]);
    expect(listing.store).toEqual({ blobs: 3, bytes: 9 });

    const chosen = selectLayerPrune(listing, { olderThanMs: 86_400_000, now: Date.now() });
    expect(chosen.map((c) => `${c.kind} ${c.key}`).sort()).toEqual(
      [`blob sha256:${hex("1")}`, `layers ${hex("a")}`].sort(),
    );
    await removeLayerItems(chosen);
    expect((await readdir(join(dirs.store, "sha256"))).sort()).toEqual([hex("2"), hex("3")]);
    expect(await readdir(dirs.rootfs)).toEqual([hex("b"), `${hex("b")}.pycache`]);
    expect((await readdir(dirs.entries)).sort()).toEqual([
      `${hex("b")}.${LISTS}.closure`,
      `${hex("b")}.json`,
    ]);
  });

  it("counts closure lists without their entry, or not the ones it names, as garbage", async () => {
    const dirs = await entry(hex("c"), [], 0);
    await entry(hex("d"), [], 0);
    await rm(join(dirs.entries, `${hex("c")}.json`));
    const older = closureFile(dirs, hex("d"), "fedcba9876543210");
    await writeFile(older, "{}");
    const listing = await listLayerCache(dirs);
    expect(
      listing.items
        .filter((i) => i.kind === "invalid")
        .map((i) => i.paths[0])
        .sort(),
    ).toEqual([closureFile(dirs, hex("c"), LISTS), older].sort());
    expect(listing.items.find((i) => i.key === hex("d") && i.kind === "layers")?.paths).toContain(
      closureFile(dirs, hex("d"), LISTS),
    );
  });

  it("counts an old bytecode cache without its entry as garbage", async () => {
    const dirs = await entry(hex("d"), [hex("7")], 1000);
    const orphan = join(dirs.rootfs, `${hex("e")}.pycache`);
    await mkdir(orphan);
    const t = (Date.now() - 2 * 3_600_000) / 1000;
    await utimes(orphan, t, t);
    const chosen = selectLayerPrune(await listLayerCache(dirs), { now: Date.now() });
    expect(chosen.map((c) => `${c.kind} ${c.paths.join(",")}`)).toEqual([`tree ${orphan}`]);
  });

  it("counts a fresh unused blob as in use by a build in progress, an old one as garbage", async () => {
    const dirs = await entry(hex("c"), [hex("4")], 1000);
    await writeFile(join(dirs.store, "sha256", hex("5")), "young");
    await writeFile(join(dirs.store, "sha256", hex("6")), "old");
    const t = (Date.now() - 2 * 3_600_000) / 1000;
    await utimes(join(dirs.store, "sha256", hex("6")), t, t);
    const chosen = selectLayerPrune(await listLayerCache(dirs), { now: Date.now() });
    expect(chosen.map((c) => c.key)).toEqual([`sha256:${hex("6")}`]);
  });
});
