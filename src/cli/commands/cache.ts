import { rm } from "node:fs/promises";
import type { Command } from "commander";
import { createEngine, ENGINE_IDS, type Engine, type EngineId } from "../../engines/index.js";
import {
  type CacheEntry,
  cacheListing,
  checkImages,
  formatAge,
  formatBytes,
  formatCacheListing,
  formatSbomListing,
  formatTable,
  listingJson,
  listSbomFiles,
  listStageCache,
  parseDuration,
  removeEntryFiles,
  removeEntryImages,
  type SbomFile,
  selectForPrune,
  selectSbomPrune,
} from "../../pipeline/cache-admin.js";
import { layerCacheDirs } from "../../pipeline/layer-cache.js";
import {
  type LayerCacheListing,
  listLayerCache,
  removeLayerItems,
  selectLayerPrune,
} from "../../pipeline/layer-cache-admin.js";
import { stageCacheDir } from "../../pipeline/stage-cache.js";
import { sbomCacheDir } from "../../sbom/index.js";
import type { CommandEnv, GetEnv } from "../program.js";
import { examples } from "./examples.js";
import { addEngineOption, engineOf } from "./options.js";

/** The engine asked for, else the first available; none available: undefined (files only). */
async function cacheEngine(
  requested: EngineId | undefined,
  env: CommandEnv["ctx"]["env"],
): Promise<Engine | undefined> {
  for (const id of requested ? [requested] : ENGINE_IDS) {
    const engine = createEngine(id, env);
    if ((await engine.detect()).available) return engine;
  }
  return undefined;
}

async function load(e: CommandEnv, o: Record<string, unknown>) {
  const dir = stageCacheDir(e.ctx.env as NodeJS.ProcessEnv);
  const requested = engineOf(o);
  const engine = await cacheEngine(requested, e.ctx.env);
  if (requested && !engine)
    e.ctx.reporter.emit({
      type: "log",
      level: "warn",
      message: `engine ${requested} is not available: the images of the entries are not checked`,
    });
  let entries = await listStageCache(dir);
  if (engine) entries = await checkImages(entries, engine, e.ctx);
  return { dir, engine, entries };
}

export function registerCache(program: Command, getEnv: GetEnv): void {
  const cache = program
    .command("cache")
    .description("list or remove what slimwheel keeps between builds (the stage cache and its engine images)")
    .addHelpText(
      "after",
      `
The stage cache: one entry per built artifacts stage (the wheels), in
$XDG_CACHE_HOME/slimwheel/stages (default ~/.cache/slimwheel/stages), each naming the engine image
that holds the stage (localhost/slimwheel-stage:STAGE-ID).
The layer cache: the lower layers of each minimal image (runtime, system, dependencies, project) as blobs,
with the tree a code-only rebuild proves the image in, in $XDG_CACHE_HOME/slimwheel/layers.
The SBOM files: what \`build\` writes for an image only in the engine (no --output), in
$XDG_CACHE_HOME/slimwheel/sbom; prune removes them only with --older-than or --all.
See docs/cache.md.`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel cache ls", "what the cache holds, with sizes, ages and totals"],
        ["slimwheel cache prune --dry-run", "what a prune would remove, removing nothing"],
        ["slimwheel cache prune --all", "empty both caches and the SBOM files, and remove the stage images"],
      ]),
    );

  addEngineOption(
    cache
      .command("ls")
      .description("list the cache's entries with size, age and whether their image is still there; totals")
      .option("--older-than <dur>", "only entries last written longer ago than DUR (e.g. 7d, 12h)")
      .addHelpText(
        "after",
        examples([
          ["slimwheel cache ls", "every entry with its size, age and whether its image is still there"],
          ["slimwheel cache ls --older-than 7d", "only the entries not written for a week"],
          ["slimwheel cache ls --engine podman --json", "check the images in podman's storage; JSON"],
        ]),
      ),
  ).action(async (o: { olderThan?: string; engine?: string }) => {
    const e = getEnv();
    const min = o.olderThan === undefined ? undefined : parseDuration(o.olderThan);
    const { dir, engine, entries } = await load(e, o);
    const now = e.ctx.now();
    const shown = min === undefined ? entries : entries.filter((x) => now - x.modifiedMs > min);
    const listing = cacheListing(dir, engine?.id ?? null, shown);
    const layers = await listLayerCache(layerCacheDirs(e.ctx.env));
    const layersShown = {
      ...layers,
      items: min === undefined ? layers.items : layers.items.filter((x) => now - x.modifiedMs > min),
    };
    const sbomDir = sbomCacheDir(e.ctx.env);
    const sboms = (await listSbomFiles(sbomDir)).filter((x) => min === undefined || now - x.modifiedMs > min);
    e.io.stdout(
      e.global.json
        ? `${JSON.stringify({ ...(listingJson(listing, now) as object), layers: layerJson(layersShown, now), sboms: sbomJson(sbomDir, sboms, now) }, null, 2)}\n`
        : `${formatCacheListing(listing, now)}\n${formatLayerListing(layersShown, now)}\n${formatSbomListing(sbomDir, sboms, now)}`,
    );
  });

  addEngineOption(
    cache
      .command("prune")
      .description(
        "remove cache entries and their engine images: by default the garbage (unreadable entries, entries whose image is gone, stale temp files)",
      )
      .option("--older-than <dur>", "also entries last written longer ago than DUR (e.g. 7d, 12h, 1d12h)")
      .option("--all", "every entry")
      .option("--dry-run", "say what would be removed, remove nothing")
      .addHelpText(
        "after",
        examples([
          ["slimwheel cache prune", "remove the garbage: unreadable entries, entries whose image is gone"],
          [
            "slimwheel cache prune --older-than 14d --dry-run",
            "what is older than two weeks, removing nothing",
          ],
          ["slimwheel cache prune --all --engine docker", "everything, and the stage images in docker"],
        ]),
      ),
  ).action(async (o: { olderThan?: string; all?: boolean; dryRun?: boolean; engine?: string }) => {
    const e = getEnv();
    const olderThanMs = o.olderThan === undefined ? undefined : parseDuration(o.olderThan);
    const { dir, engine, entries } = await load(e, o);
    const now = e.ctx.now();
    const chosen = selectForPrune(entries, { all: o.all, olderThanMs, now });
    let removedImages: string[] = [];
    const leftImages = engine ? [] : chosen.filter((x) => x.ref).map((x) => x.ref!);
    if (!o.dryRun) {
      if (engine) removedImages = await removeEntryImages(chosen, engine, e.ctx);
      await removeEntryFiles(chosen);
    }
    const layerListing = await listLayerCache(layerCacheDirs(e.ctx.env));
    const layerChosen = selectLayerPrune(layerListing, { all: o.all, olderThanMs, now });
    const layerFreed = o.dryRun
      ? layerChosen.reduce((n, x) => n + x.bytes, 0)
      : await removeLayerItems(layerChosen);
    const sbomDir = sbomCacheDir(e.ctx.env);
    const sbomFiles = await listSbomFiles(sbomDir);
    const sbomChosen = selectSbomPrune(sbomFiles, { all: o.all, olderThanMs, now });
    if (!o.dryRun) for (const x of sbomChosen) await rm(x.file, { force: true });
    const sbomFreed = sbomChosen.reduce((n, x) => n + x.bytes, 0);
    const freed = chosen.reduce((n, x) => n + x.bytes, 0);
    if (leftImages.length && !o.dryRun)
      e.ctx.reporter.emit({
        type: "log",
        level: "warn",
        message: `no container engine found: the entries' images are left in the engine's storage (${leftImages.join(", ")}); remove them with \`docker rmi\`, \`buildah rmi\` or \`podman rmi\``,
      });
    if (e.global.json) {
      e.io.stdout(
        `${JSON.stringify(
          {
            dir,
            engine: engine?.id ?? null,
            dryRun: o.dryRun ?? false,
            removed: (
              listingJson(cacheListing(dir, engine?.id ?? null, chosen), now) as { entries: unknown[] }
            ).entries,
            removedImages,
            imagesLeft: leftImages,
            freedBytes: freed,
            kept: entries.length - chosen.length,
            layers: {
              dir: layerListing.root,
              removed: layerChosen.map((x) => ({ kind: x.kind, key: x.key, bytes: x.bytes })),
              freedBytes: layerFreed,
              kept: layerListing.items.filter((x) => x.kind === "layers" && !layerChosen.includes(x)).length,
            },
            sboms: {
              dir: sbomDir,
              removed: sbomChosen.map((x) => ({ kind: x.kind, file: x.file, bytes: x.bytes })),
              freedBytes: sbomFreed,
              kept: sbomFiles.filter((x) => x.kind === "sbom" && !sbomChosen.includes(x)).length,
            },
          },
          null,
          2,
        )}\n`,
      );
      return;
    }
    const verb = o.dryRun ? "would remove" : "removed";
    for (const x of chosen) e.io.stdout(`${verb} ${describe(x, o.dryRun ?? false)}\n`);
    e.io.stdout(
      `${verb} ${chosen.length} entr${chosen.length === 1 ? "y" : "ies"} (${formatBytes(freed)} on disk)` +
        `${removedImages.length ? ` and ${removedImages.length} image${removedImages.length === 1 ? "" : "s"}` : ""}` +
        `; kept ${entries.length - chosen.length}\n`,
    );
    for (const x of layerChosen.filter((i) => i.kind !== "blob"))
      e.io.stdout(
        `${verb} layer cache ${x.kind === "layers" ? "entry" : x.kind} ${x.key.slice(0, 16)} (${formatBytes(x.bytes)})\n`,
      );
    const blobs = layerChosen.filter((i) => i.kind === "blob").length;
    e.io.stdout(
      `${verb} ${layerChosen.length - blobs} layer cache entr${layerChosen.length - blobs === 1 ? "y" : "ies"} and ${blobs} unused blob${blobs === 1 ? "" : "s"} (${formatBytes(layerFreed)})\n`,
    );
    const sbomCount = sbomChosen.filter((x) => x.kind === "sbom").length;
    e.io.stdout(
      `${verb} ${sbomCount} SBOM file${sbomCount === 1 ? "" : "s"}${sbomChosen.length > sbomCount ? ` and ${sbomChosen.length - sbomCount} temp file${sbomChosen.length - sbomCount === 1 ? "" : "s"}` : ""} (${formatBytes(sbomFreed)}); kept ${sbomFiles.filter((x) => x.kind === "sbom").length - sbomCount}\n`,
    );
  });
}

function sbomJson(dir: string, files: readonly SbomFile[], now: number) {
  return {
    dir,
    files: files.map((f) => ({
      kind: f.kind,
      file: f.file,
      bytes: f.bytes,
      modified: new Date(f.modifiedMs).toISOString(),
      ageSeconds: Math.max(0, Math.round((now - f.modifiedMs) / 1000)),
    })),
    totals: { files: files.length, bytes: files.reduce((n, f) => n + f.bytes, 0) },
  };
}

function layerJson(l: LayerCacheListing, now: number) {
  return {
    dir: l.root,
    items: l.items.map((i) => ({
      kind: i.kind,
      key: i.key,
      bytes: i.bytes,
      modified: new Date(i.modifiedMs).toISOString(),
      ageSeconds: Math.max(0, Math.round((now - i.modifiedMs) / 1000)),
      blobs: i.blobs ?? null,
      fastPath: i.fastPath ?? null,
    })),
    store: l.store,
    totals: l.totals,
  };
}

/** The layer cache's entries (a tree each) and its shared blob store. */
function formatLayerListing(l: LayerCacheListing, now: number): string {
  const shown = l.items.filter((i) => i.kind !== "blob");
  let out = `layer cache ${l.root}\n`;
  if (!shown.length && !l.store.blobs) return `${out}  empty\n`;
  const rows = shown.map((i) => [
    i.kind === "layers" ? (i.fastPath ? "layers" : "layers*") : i.kind,
    `${i.key.slice(0, 16)}…`,
    formatBytes(i.bytes),
    formatAge(now - i.modifiedMs),
    String(i.blobs?.length ?? "-"),
  ]);
  out += formatTable(["KIND", "KEY", "SIZE", "AGE", "BLOBS"], rows);
  const unused = l.items.filter((i) => i.kind === "blob");
  out += `${l.totals.entries} entr${l.totals.entries === 1 ? "y" : "ies"}; blob store: ${l.store.blobs} blobs, ${formatBytes(l.store.bytes)}${unused.length ? ` (${unused.length} used by no entry)` : ""}; ${formatBytes(l.totals.bytes)} in all\n`;
  if (rows.some((r) => r[0] === "layers*"))
    out += "layers*: a code-only rebuild cannot use it (its app layer is not the project's files)\n";
  return out;
}

function describe(x: CacheEntry, dryRun: boolean): string {
  const what =
    x.kind === "stage"
      ? `entry ${x.key}`
      : x.kind === "temp"
        ? `leftover temp file of ${x.key}`
        : `unreadable entry ${x.key}`;
  return `${what}${x.ref ? ` (${x.ref}${x.image === "present" ? (dryRun ? ", and its image" : ", image removed") : x.image === "missing" ? ", image already gone" : ""})` : ""}`;
}
