/**
 * `slimwheel compare`: builds several strategies of one project with one engine and measures
 * each: cold build (no layer cache), warm rebuild after a one-line change to an app source file
 * (made in a temporary copy, never in the user's tree), sizes, layers, smoke test, bytes of
 * compilers and headers, and which layers the change rebuilt.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { type Engine, type EngineId, type EngineInfo, selectEngine } from "../engines/index.js";
import { isSlimwheelError, SlimwheelError } from "../errors.js";
import { type InspectReport, inspectImage } from "../inspect/index.js";
import { readDockerArchive } from "../oci/docker-archive.js";
import { readLayout } from "../oci/layout.js";
import { openImageSource, parseImageRef } from "../oci/ref.js";
import type { ImageSummary } from "../oci/types.js";
import { findStrategy, strategies } from "../plan/strategies/index.js";
import { type Project, readProject } from "../project/read.js";
import { step } from "../reporter/index.js";
import { assemblePlan } from "./assemble.js";
import { buildImage, type ImageSources, imageName } from "./build-image.js";
import { copyFiles } from "./context.js";
import type { RuntimeKind } from "./minimize.js";

export interface CompareOptions extends ImageSources {
  readonly strategies: readonly string[];
  readonly engine?: EngineId;
  readonly python?: string;
  /** Shell command run in /app; default: the import test. */
  readonly smoke?: string;
  readonly version: string;
  readonly keepImages?: boolean;
  /** The slimwheel strategy's runtimes to measure (default both: minimal beside slim). */
  readonly runtimes?: readonly RuntimeKind[];
}

export interface CompareRow {
  readonly strategy: string;
  /** The runtime the image ships: `minimal` only for the slimwheel strategy. */
  readonly runtime?: RuntimeKind;
  /** ok: built and passed its smoke test; refused: the strategy cannot build this project (by design); failed: it should have worked. */
  readonly status: "ok" | "refused" | "failed";
  readonly ok: boolean;
  /** Why the strategy could not build this project (refused or failed). */
  readonly error?: string;
  readonly coldMs?: number;
  readonly warmMs?: number;
  readonly compressedBytes?: number;
  readonly uncompressedBytes?: number;
  readonly layers?: number;
  readonly layerSizes?: readonly {
    readonly compressed: number;
    readonly uncompressed: number;
    readonly createdBy: string;
  }[];
  readonly toolchainBytes?: number;
  /** Bytes a squash would save (files later overwritten or deleted), from `inspect`. */
  readonly wasteBytes?: number;
  readonly smoke?: { readonly ok: boolean; readonly command: string; readonly output: string };
  readonly runtimePackages?: readonly string[];
  /** Layer digests of a cached rebuild before and after the one-line change (base first). */
  readonly layerDigests?: readonly string[];
  readonly warmLayerDigests?: readonly string[];
  /** How many of the final image's layers the change produced anew. */
  readonly changedLayers?: number;
}

export interface CompareReport {
  readonly schemaVersion: 1;
  readonly project: { readonly name: string | null; readonly dir: string; readonly python: string };
  readonly engine: { readonly id: string; readonly version: string | null };
  readonly changedFile: string | null;
  readonly rows: readonly CompareRow[];
}

/** The app file to change: the start command's module when it can be told, else the first .py of the app. */
export function fileToChange(project: Project): string | undefined {
  const py = project.context.files.filter(
    (f) =>
      f.endsWith(".py") && !/(^|\/)(smoke|setup|conftest|manage)\.py$/.test(f) && !/(^|\/)tests?\//.test(f),
  );
  const preferred = ["app.py", "main.py", "wsgi.py", "server.py"];
  return (
    py.find((f) => preferred.includes(f)) ??
    py.sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b))[0]
  );
}

/** The image exported, and read once for its layers and once by `inspect` (sizes and waste come from there). */
async function exportAndRead(
  engine: Engine,
  image: string,
  dir: string,
  ctx: Context,
): Promise<ImageSummary & { readonly inspected: InspectReport }> {
  const docker = engine.id === "docker";
  const path = join(dir, docker ? "image.tar" : "oci");
  await rm(path, { recursive: true, force: true });
  await engine.exportImage(image, docker ? { kind: "docker-archive", path } : { kind: "oci-dir", path }, ctx);
  const summary = docker ? await readDockerArchive(path) : await readLayout(path);
  const inspected = await inspectImage(
    await openImageSource(parseImageRef(`${docker ? "docker-archive" : "oci"}:${path}`, dir)),
  );
  return { ...summary, inspected };
}

/** The row's proof, from what the cold build proved: the smoke command when given, else the import test. */
function proofRow(
  outcome: Awaited<ReturnType<typeof buildImage>>,
  command: string | undefined,
): NonNullable<CompareRow["smoke"]> {
  if (command && outcome.smoke)
    return { ok: outcome.smoke.ok, command, output: outcome.smoke.output.slice(-2000) };
  const checked = outcome.importTest?.checked.length ?? 0;
  return { ok: true, command: "import test", output: `imported ${checked} modules` };
}

/** What one row builds: a strategy, and for the slimwheel strategy one of its runtimes. */
interface Candidate {
  readonly strategy: string;
  readonly runtime: RuntimeKind;
}

/** The rows to build: each strategy once, the slimwheel strategy once per runtime asked (minimal first). */
export function candidates(
  strategyIds: readonly string[],
  runtimes: readonly RuntimeKind[] = ["minimal", "slim"],
): Candidate[] {
  return strategyIds.flatMap((strategy) =>
    strategy === "slimwheel"
      ? runtimes.map((runtime) => ({ strategy, runtime }))
      : [{ strategy, runtime: "slim" as const }],
  );
}

/** A row's name in tables and charts: `slimwheel` (minimal), `slimwheel/slim`, or the strategy. */
export const rowLabel = (r: Pick<CompareRow, "strategy" | "runtime">): string =>
  r.strategy === "slimwheel" && r.runtime === "slim" ? "slimwheel/slim" : r.strategy;

async function compareOne(
  project: Project,
  { strategy, runtime }: Candidate,
  o: CompareOptions,
  engine: { engine: Engine; info: EngineInfo },
  changeFile: string | undefined,
  ctx: Context,
): Promise<CompareRow> {
  try {
    assemblePlan(project, strategy); // refuses early (e.g. slim on a compiled project)
  } catch (e) {
    if (isSlimwheelError(e)) return { strategy, runtime, status: "refused", ok: false, error: e.message };
    throw e;
  }
  const label = rowLabel({ strategy, runtime }).replace("/", "-");
  const work = await mkdtemp(join(tmpdir(), `slimwheel-compare-${label}-`));
  const tag = `localhost/slimwheel-compare/${imageName(project)}:${label}`;
  try {
    const src = join(work, "src");
    await copyFiles(
      project.dir,
      src,
      project.context.files.filter((f) => !f.endsWith("/")),
    );
    // The cold build proves the image (import test, and the smoke command when given); the
    // rebuilds that only measure the cache do not prove it again.
    const common = {
      ...o,
      strategy,
      runtime,
      tags: [tag],
      committed: false,
      importTest: false,
      bootTest: false,
      smoke: undefined,
    };
    const cold = await buildImage(
      src,
      { ...o, strategy, runtime, tags: [tag], noCache: true, committed: false },
      ctx,
      engine,
    );
    const image = await step(
      ctx.reporter,
      `measure-${label}`,
      `${rowLabel({ strategy, runtime })}: measuring the image`,
      () => exportAndRead(engine.engine, tag, work, ctx),
    );
    const smoke = proofRow(cold, o.smoke);
    let warmMs: number | undefined;
    let baseline: ImageSummary | undefined;
    let warm: ImageSummary | undefined;
    if (changeFile) {
      // A cached rebuild with no change first: the layers the warm build reuses come from the same
      // cache lookups, so comparing the two shows exactly what the one-line change rebuilt.
      await buildImage(src, common, ctx, engine);
      baseline = await exportAndRead(engine.engine, tag, work, ctx);
      const path = join(src, changeFile);
      await writeFile(path, `${await readFile(path, "utf8")}\n# slimwheel compare: a one-line change\n`);
      const rebuilt = await buildImage(src, common, ctx, engine);
      warmMs = rebuilt.imageMs;
      warm = await exportAndRead(engine.engine, tag, work, ctx);
    }
    const before = (baseline ?? image).layers.map((l) => l.diffId);
    const after = warm?.layers.map((l) => l.diffId);
    return {
      strategy,
      runtime,
      status: smoke.ok ? "ok" : "failed",
      ok: smoke.ok,
      coldMs: cold.imageMs,
      warmMs,
      compressedBytes: image.inspected.totals.compressedBytes,
      uncompressedBytes: image.inspected.totals.uncompressedBytes,
      wasteBytes: image.inspected.waste.bytes,
      layers: image.layers.length,
      layerSizes: image.layers.map((l) => ({
        compressed: l.compressedSize,
        uncompressed: l.uncompressedSize,
        createdBy: l.createdBy ?? "",
      })),
      toolchainBytes: image.toolchainBytes,
      smoke,
      runtimePackages: cold.plan.runtimePackages.map((r) => r.name),
      layerDigests: before,
      ...(after
        ? {
            warmLayerDigests: after,
            changedLayers:
              after.filter((d, i) => d !== before[i]).length + Math.max(0, before.length - after.length),
          }
        : {}),
    };
  } catch (e) {
    if (isSlimwheelError(e) && e.code !== "cancelled") {
      return {
        strategy,
        runtime,
        status: "failed",
        ok: false,
        error: `${e.message}${e.details ? `\n${e.details.slice(-1500)}` : ""}`,
      };
    }
    throw e;
  } finally {
    // Not with ctx's signal: after an interruption it is aborted, and the image would stay behind.
    if (!o.keepImages)
      await engine.engine
        .removeImages([tag], { ...ctx, signal: new AbortController().signal })
        .catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Builds each strategy of `o.strategies` cold, then warm after a one-line app change in a
 * temporary copy of the project, and measures each image: sizes, layers, build times, layers
 * rebuilt, the smoke result, bytes of compilers and headers. Needs a container engine.
 */
export async function compareStrategies(
  dir: string,
  o: CompareOptions,
  ctx: Context,
): Promise<CompareReport> {
  if (o.strategies.length === 0)
    throw new SlimwheelError("usage", "no strategies to compare", {
      hint: "--strategies full,slim,slimwheel",
    });
  const project = await step(ctx.reporter, "read", `reading ${dir}`, () =>
    readProject(dir, { python: o.python }),
  );
  const unknown = o.strategies.filter((s) => !findStrategy(s));
  if (unknown.length) {
    throw new SlimwheelError("usage", `unknown strategies: ${unknown.join(", ")}`, {
      hint: `choose from: ${strategies.map((s) => s.id).join(", ")}`,
    });
  }
  const engine = await step(ctx.reporter, "engine", "choosing an engine", () =>
    selectEngine(o.engine, ctx.env),
  );
  const changeFile = fileToChange(project);
  if (!changeFile)
    ctx.reporter.emit({
      type: "log",
      level: "warn",
      message: "no Python file to change: warm rebuilds are not measured",
    });
  const rows: CompareRow[] = [];
  for (const c of candidates(o.strategies, o.runtimes))
    rows.push(await compareOne(project, c, o, engine, changeFile, ctx));
  return {
    schemaVersion: 1,
    project: { name: project.name ?? null, dir: project.dir, python: project.python.version },
    engine: { id: engine.info.id, version: engine.info.version ?? null },
    changedFile: changeFile ?? null,
    rows,
  };
}
