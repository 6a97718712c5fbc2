import { rm } from "node:fs/promises";
import { type Command, Option } from "commander";
import type { Context } from "../../context.js";
import { SlimwheelError } from "../../errors.js";
import { formatPlatform } from "../../oci/platform.js";
import {
  type AttachedPlatformSbom,
  type AttachedSbom,
  attachIndexSboms,
  attachPushedSboms,
} from "../../pipeline/attach-sbom.js";
import { type BuildOptions, type BuildOutcome, buildImage } from "../../pipeline/build-image.js";
import { buildPlatforms, checkPlatforms, type MultiPlatformOutcome } from "../../pipeline/build-platforms.js";
import { builtImageContents, writeBuildSbomFile } from "../../pipeline/build-sbom.js";
import type { BootResult } from "../../pipeline/prove.js";
import { strategies } from "../../plan/strategies/index.js";
import { runtimeJson, runtimeLines } from "../../report/runtime.js";
import { step } from "../../reporter/index.js";
import { type ImageContents, readSbomContents, type SbomFormat } from "../../sbom/index.js";
import type { GetEnv } from "../program.js";
import { packageVersion } from "../version.js";
import { examples } from "./examples.js";
import {
  addEngineOption,
  addImageSourceOptions,
  addSelectionOptions,
  engineOf,
  imageSources,
  parseOutput,
  resolveDir,
  selection,
  strategyHelp,
} from "./options.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerBuild(program: Command, getEnv: GetEnv): void {
  const cmd = program
    .command("build")
    .description("build a container image of a Python project")
    .argument("[dir]", "the project directory", ".")
    .option("-t, --tag <ref>", "image reference (repeatable)", collect, [])
    .addOption(new Option("-s, --strategy <strategy>", "how to build").choices(strategies.map((s) => s.id)))
    .option(
      "-f, --file <dockerfile>",
      "build your own Dockerfile as it is (default: DIR/Dockerfile when slimwheel wrote it and it is current, else slimwheel's rendering)",
    );
  addEngineOption(cmd);
  addSelectionOptions(cmd);
  addImageSourceOptions(cmd)
    .option("--push", "push every tag to its registry")
    .option(
      "--output <type:path>",
      "also write the image: oci:DIR, oci-archive:FILE.tar or docker-archive:FILE.tar",
    )
    .option(
      "--platform <os/arch[,…]>",
      "target platform, e.g. linux/arm64; several (linux/amd64,linux/arm64) make one OCI image index (--output oci:…/oci-archive:… or --push)",
    )
    .option(
      "--no-emulation-check",
      "build a foreign --platform even without a qemu binfmt_misc handler here (the engine runs RUN steps elsewhere)",
    )
    .option("--no-cache", "build every layer anew (and use neither the stage cache nor the layer cache)")
    .option(
      "--no-layer-cache",
      "always build through the engine, even for a code-only change (the minimal runtime's layer cache; docs/cache.md)",
    )
    .option("--squash", "squash the final image's new layers into one (buildah, podman)")
    .option("--cache-from <ref>", "registry cache to read (buildah/podman: every stage)", collect, [])
    .option(
      "--cache-to <ref>",
      "registry cache to write (buildah/podman: every stage; docker without buildx: inline only)",
      collect,
      [],
    )
    .addOption(
      new Option(
        "--runtime <kind>",
        "minimal (default for -s slimwheel): only what the app runs, proven by the import, smoke and boot tests; slim: the runtime base image as it is (the classic strategies' only runtime)",
      ).choices(["slim", "minimal"]),
    )
    .option(
      "--keep <path>",
      "minimal runtime: also keep this path of the built image (repeatable; globs allowed; with [tool.slimwheel] keep)",
      collect,
      [],
    )
    .option(
      "--debug-shell",
      "minimal runtime: install busybox-static in the runtime stage and keep /bin/busybox as a debug shell (busybox sh); not for production",
    )
    .addOption(
      new Option(
        "--sbom <format>",
        "the SBOM every build writes: beside --output (OUT.cdx.json or OUT.spdx.json; OUT.OS-ARCH.cdx.json for each of several platforms), else in the cache directory ($XDG_CACHE_HOME/slimwheel/sbom/NAME@DIGEST.cdx.json; `slimwheel cache prune --all` removes it), and with --push attached to each pushed image (each platform's manifest of an index) as an OCI referrer: cyclonedx (1.6), spdx (2.3) or none",
      )
        .choices(["cyclonedx", "spdx", "none"])
        .default("cyclonedx"),
    )
    .option(
      "--sbom-file <file>",
      "write the SBOM here instead (one platform; without --output it is read from the engine's image)",
    )
    .option("--smoke <command>", "a shell command that must succeed inside the image (run in /app)")
    .option("--no-import-test", "skip importing every installed module in the final image")
    .option(
      "--no-boot-test",
      "skip running the start command in the image (a web server must answer HTTP on PORT)",
    )
    .option(
      "--no-detect",
      "do not read the built wheels for the runtime libraries they link (use the table only)",
    )
    .option(
      "--exclude-runtime-package <name>",
      "leave a runtime package out even when needed (to see the import test catch it)",
      collect,
      [],
    )
    .addHelpText("after", strategyHelp())
    .addHelpText(
      "after",
      examples([
        ["slimwheel build -t myapp:dev", "build the project here with the first engine found"],
        ["slimwheel build -t myapp -f Dockerfile.mine", "build your own Dockerfile (slim runtime)"],
        ["slimwheel build examples/flask-app -t registry.local/flask:1 --push", "build and push"],
        [
          "slimwheel build -t myapp --engine buildah --output oci:out/myapp",
          "with buildah, also written as an OCI layout",
        ],
        [
          "slimwheel build -t 127.0.0.1:5000/myapp:1 --platform linux/amd64,linux/arm64 --push",
          "one image index of two platforms (foreign RUN steps need qemu-user-static here)",
        ],
        [
          "slimwheel build -t myapp --runtime slim --smoke 'python -c \"import app\"'",
          "the slim runtime, with a smoke test",
        ],
      ]),
    )
    .action(async (dir: string, o: Record<string, unknown>) => {
      const { ctx, global, io } = getEnv();
      const root = resolveDir(ctx.cwd, dir);
      const options: BuildOptions = {
        ...imageSources(o),
        strategy: o.strategy as string | undefined,
        engine: engineOf(o),
        tags: o.tag as string[],
        python: o.python as string | undefined,
        ...selection(o),
        noCache: o.cache === false,
        layerCache: o.layerCache !== false,
        squash: Boolean(o.squash),
        cacheFrom: o.cacheFrom as string[],
        cacheTo: o.cacheTo as string[],
        push: Boolean(o.push),
        output: typeof o.output === "string" ? parseOutput(o.output) : undefined,
        smoke: o.smoke as string | undefined,
        runtime: o.runtime as "slim" | "minimal" | undefined,
        importTest: o.importTest !== false,
        bootTest: o.bootTest !== false,
        keep: o.keep as string[],
        debugShell: Boolean(o.debugShell),
        readRuntimeNeeds: o.detect !== false,
        excludeRuntimePackages: o.excludeRuntimePackage as string[],
        ...(typeof o.file === "string" ? { file: resolveDir(ctx.cwd, o.file) } : {}),
        version: packageVersion(),
      };
      const platforms =
        typeof o.platform === "string"
          ? await checkPlatforms(o.platform, options, { noEmulationCheck: o.emulationCheck === false })
          : undefined;
      if (platforms && platforms.length > 1) {
        if (typeof o.sbomFile === "string")
          throw new SlimwheelError("usage", "--sbom-file is for one platform's image", {
            hint: "build each platform on its own for its SBOM (`slimwheel sbom` reads one image)",
          });
        const format = o.sbom as SbomFormat | "none";
        const multi = await buildPlatforms(root, platforms, options, ctx, { readSboms: format !== "none" });
        const sboms = format === "none" ? null : await writeMultiSboms(multi, format, ctx);
        const attached =
          format === "none" || !multi.pushed.length
            ? multi.pushed.map(() => [])
            : await step(
                ctx.reporter,
                "sbom-referrer",
                `attaching each platform's SBOM (${format}) to its pushed manifest`,
                () => attachIndexSboms(multi.pushed, multi.platforms, format, ctx),
              );
        printMulti(multi, sboms, attached, global.json, io);
        return;
      }
      const outcome = await buildImage(
        root,
        { ...options, platform: platforms ? formatPlatform(platforms[0]!) : undefined },
        ctx,
      );
      const doc = {
        image: outcome.imageId,
        tags: outcome.tags,
        strategy: outcome.plan.strategy,
        engine: { id: outcome.engine.id, version: outcome.engine.version ?? null },
        buildSeconds: Math.round(outcome.imageMs / 100) / 10,
        runtimePackages: outcome.plan.runtimePackages,
        pushed: outcome.pushed,
        output: outcome.output ?? null,
        smoke: outcome.smoke ?? null,
        boot: outcome.boot ?? null,
        runtime: outcome.closure
          ? { kind: "minimal", ...runtimeJson(outcome.closure), packages: outcome.closure.packages }
          : { kind: outcome.runtime },
        importTest: outcome.importTest
          ? {
              modules: outcome.importTest.checked.length,
              failures: outcome.importTest.failures,
              reused: outcome.reusedProofs?.includes("import test") ?? false,
            }
          : null,
        layers: outcome.layers ?? null,
        layerCache: outcome.layerCache ?? null,
        detected: outcome.runtimeNeeds
          ? {
              wheels: outcome.runtimeNeeds.wheels,
              extensionModules: outcome.runtimeNeeds.extensions,
              providedByBase: outcome.runtimeNeeds.resolution.provided,
              unresolved: outcome.runtimeNeeds.resolution.unresolved,
              stageImage: outcome.runtimeNeeds.stage.ref,
              stageCached: outcome.runtimeNeeds.stage.cached,
            }
          : null,
      };
      // The output and its SBOM are one result: when the SBOM cannot be written (or the build is
      // interrupted while it is), the output goes too — nothing half-delivered is left.
      const written = await writeBuildSbom(outcome, o, ctx).catch(async (e: unknown) => {
        if (outcome.output) await rm(outcome.output.path, { recursive: true, force: true });
        throw e;
      });
      const sbom = written && {
        format: written.format,
        path: written.path,
        distributions: written.contents.python.length,
        packages: written.contents.deb.length,
      };
      const attached = await attachBuildSboms(outcome, o, written?.contents, ctx);
      const pushed = outcome.pushed.map((p, i) => ({ ...p, sbom: attached[i] ?? null }));
      Object.assign(doc, { sbom: sbom ?? null, pushed });
      if (global.json) io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
      else {
        io.stdout(
          outcome.layerCache?.hit
            ? `built ${outcome.tags.join(", ")} (${outcome.imageId.slice(0, 19)}) from the layer cache in ${doc.buildSeconds} s, without ${outcome.engine.id}\n`
            : `built ${outcome.tags.join(", ")} (${outcome.imageId.slice(0, 19)}) with ${outcome.engine.id} in ${doc.buildSeconds} s\n`,
        );
        for (const r of outcome.plan.runtimePackages) io.stdout(`  runtime package ${r.name} ← ${r.why}\n`);
        if (outcome.runtimeNeeds) {
          io.stdout(
            `  ${outcome.runtimeNeeds.stage.cached ? "reused (stage cache)" : "read"} ${outcome.runtimeNeeds.extensions} extension modules in ${outcome.runtimeNeeds.wheels} wheels; already in the base: ${outcome.runtimeNeeds.resolution.provided.join(", ") || "–"}\n`,
          );
        }
        if (outcome.closure)
          for (const line of runtimeLines(outcome.closure)) io.stdout(`  minimal runtime: ${line}\n`);
        if (outcome.layerCache?.hit)
          io.stdout(
            outcome.layers?.some((l) => l.role === "project" && l.status === "built")
              ? "  layer cache: hit — the app layer, the project's wheel patched in its layer, and the config were written; no engine was called\n"
              : "  layer cache: hit — only the app layer and the config were written; no engine was called\n",
          );
        else if (outcome.layerCache?.why) io.stdout(`  layer cache: ${outcome.layerCache.why}\n`);
        for (const l of outcome.layers ?? [])
          io.stdout(
            `  layer ${l.role.padEnd(12)} ${l.digest.slice(7, 19)} ${(l.size / 1e6).toFixed(1).padStart(6)} MB ${l.status}\n`,
          );
        if (outcome.importTest)
          io.stdout(
            `  import test: ${outcome.importTest.checked.length} modules import${outcome.reusedProofs?.includes("import test") ? " (reused: the dependencies did not change)" : ""}\n`,
          );
        if (outcome.smoke) io.stdout("  smoke test: passed\n");
        if (outcome.boot) io.stdout(`  boot test: ${bootLine(outcome.boot)}\n`);
        for (const p of pushed) {
          io.stdout(`pushed ${p.ref}@${p.digest}${blobCounts(p.blobs)}\n`);
          if (p.sbom) io.stdout(attachedLine(p.sbom));
        }
        if (outcome.output) io.stdout(`wrote ${outcome.output.kind} ${outcome.output.path}\n`);
        if (sbom)
          io.stdout(
            `wrote SBOM (${sbom.format}) ${sbom.path}: ${sbom.distributions} Python distributions, ${sbom.packages} OS packages\n`,
          );
      }
    });
}

/** `  SBOM (cyclonedx) [of linux/arm64 ]attached as referrer sha256:…`: an attached SBOM. */
function attachedLine(a: AttachedSbom, platform?: string): string {
  const fallback = a.fallbackTag
    ? ` (listed in the fallback tag ${a.fallbackTag}: the registry has no referrers API)`
    : "";
  return `  SBOM (${a.format}) ${platform ? `of ${platform} ` : ""}attached as referrer ${a.digest}${fallback}\n`;
}

/** ` (2 uploaded, 3 skipped)`: what the registry was sent. */
function blobCounts(blobs: readonly { status: string }[] | undefined): string {
  if (!blobs) return "";
  const n = (s: string) => blobs.filter((b) => b.status === s).length;
  const parts = ["uploaded", "skipped", "mounted"].filter((s) => n(s) > 0).map((s) => `${n(s)} ${s}`);
  return parts.length ? ` (blobs: ${parts.join(", ")})` : "";
}

/** Each platform's SBOM in the --json form. */
type PlatformSbom = {
  readonly platform: string;
  readonly path: string;
  readonly format: SbomFormat;
  readonly distributions: number;
  readonly packages: number;
};

/**
 * The SBOM of each platform's image of an index (docs/sbom.md): beside --output as
 * `OUT.linux-arm64.cdx.json`, else in the cache directory. The output and its SBOMs are one result:
 * when one cannot be written, the output and the SBOMs written before it go too.
 */
async function writeMultiSboms(
  m: MultiPlatformOutcome,
  format: SbomFormat,
  ctx: Context,
): Promise<PlatformSbom[]> {
  const out: PlatformSbom[] = [];
  try {
    for (const { platform, outcome, sbom } of m.platforms) {
      if (!sbom) continue;
      const written = await step(
        ctx.reporter,
        `sbom-file-${platform}`,
        `writing ${platform}'s SBOM (${format})`,
        () =>
          writeBuildSbomFile(sbom, format, { output: m.output?.path, platform, name: outcome.tags[0] }, ctx),
      );
      out.push({
        platform,
        path: written.path,
        format,
        distributions: written.contents.python.length,
        packages: written.contents.deb.length,
      });
    }
  } catch (e) {
    if (m.output) await rm(m.output.path, { recursive: true, force: true });
    for (const w of out) await rm(w.path, { force: true });
    throw e;
  }
  return out;
}

/** What a build of several platforms prints: the index, each platform's image, and their SBOMs. */
function printMulti(
  m: MultiPlatformOutcome,
  sboms: readonly PlatformSbom[] | null,
  attached: readonly (readonly AttachedPlatformSbom[])[],
  json: boolean | undefined,
  io: { stdout: (t: string) => void },
): void {
  const platforms = m.platforms.map(({ platform, outcome }) => ({
    platform,
    image: outcome.imageId,
    tag: outcome.tags[0],
    engine: { id: outcome.engine.id, version: outcome.engine.version ?? null },
    buildSeconds: Math.round(outcome.imageMs / 100) / 10,
    importTest: outcome.importTest
      ? { modules: outcome.importTest.checked.length, failures: outcome.importTest.failures }
      : null,
    boot: outcome.boot ?? null,
  }));
  const pushed = m.pushed.map((p, i) => ({ ref: p.ref, digest: p.digest, sboms: attached[i] ?? [] }));
  if (json) {
    const doc = { index: m.digest, platforms, pushed, output: m.output ?? null, sbom: sboms };
    io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  io.stdout(`built an image index of ${platforms.length} platforms (${m.digest.slice(0, 19)})\n`);
  for (const p of platforms)
    io.stdout(`  ${p.platform}: ${p.tag} (${p.image.slice(0, 19)}) in ${p.buildSeconds} s\n`);
  for (const p of pushed) {
    io.stdout(`pushed ${p.ref}@${p.digest}\n`);
    for (const a of p.sboms) io.stdout(attachedLine(a, a.platform));
  }
  if (m.output) io.stdout(`wrote ${m.output.kind} ${m.output.path}\n`);
  for (const w of sboms ?? [])
    io.stdout(
      `wrote SBOM (${w.format}) of ${w.platform} ${w.path}: ${w.distributions} Python distributions, ${w.packages} OS packages\n`,
    );
}

/** How the boot test went, in a few words. */
function bootLine(b: BootResult): string {
  const secs = `${(b.ms / 1000).toFixed(1)} s`;
  if (b.outcome === "serving") return `answered HTTP ${b.status} on port ${b.port} after ${secs}`;
  if (b.outcome === "completed") return `ran to completion (exit 0) in ${secs}`;
  return `still running after ${secs}`;
}

/** The image a build wrote or holds, as a reference `sbom`/`inspect` read. */
function imageRefOf(outcome: BuildOutcome): string {
  const out = outcome.output;
  if (out) return `${out.kind === "oci-dir" ? "oci" : out.kind}:${out.path}`;
  return `${outcome.engine.id === "docker" ? "docker-daemon" : "containers-storage"}:${outcome.tags[0]}`;
}

/**
 * The SBOM of the built image (docs/sbom.md): at `--sbom-file`, beside `--output` (OUT.cdx.json /
 * OUT.spdx.json), else — the image only in the engine — in slimwheel's cache directory
 * (`$XDG_CACHE_HOME/slimwheel/sbom/NAME@DIGEST.cdx.json`; never in the project). None with `--sbom none`.
 */
async function writeBuildSbom(outcome: BuildOutcome, o: Record<string, unknown>, ctx: Context) {
  const format = o.sbom as SbomFormat | "none";
  if (format === "none") return undefined;
  const file = typeof o.sbomFile === "string" ? resolveDir(ctx.cwd, o.sbomFile) : undefined;
  return step(ctx.reporter, "sbom", `writing the SBOM (${format})`, async () =>
    writeBuildSbomFile(
      await builtImageContents(outcome, imageRefOf(outcome), ctx),
      format,
      { file, output: outcome.output?.path, name: outcome.tags[0] },
      ctx,
    ),
  );
}

/**
 * `--push`: the SBOM attached to every pushed manifest as an OCI referrer (unless `--sbom none`);
 * the image is read from what was written for the file, else from the engine, once.
 */
async function attachBuildSboms(
  outcome: BuildOutcome,
  o: Record<string, unknown>,
  contents: ImageContents | undefined,
  ctx: Context,
): Promise<AttachedSbom[]> {
  const format = o.sbom as SbomFormat | "none";
  if (format === "none" || !outcome.pushed.length) return [];
  return step(ctx.reporter, "sbom-referrer", `attaching the SBOM (${format}) to the pushed image`, async () =>
    attachPushedSboms(
      outcome.pushed,
      contents ?? (await readSbomContents(imageRefOf(outcome), ctx)),
      format,
      ctx,
    ),
  );
}
