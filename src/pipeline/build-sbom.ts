/**
 * The SBOM every `build` writes (docs/sbom.md): what the built image holds, read once — from the
 * layer cache when a code-only rebuild left the cached contents valid, else from the image — and
 * written beside `--output`, at `--sbom-file`, or in slimwheel's cache directory when the image went
 * only to the engine. Used for one image and for each image of a `--platform a,b` index.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Context } from "../context.js";
import {
  type ImageContents,
  readSbomContents,
  type SbomFormat,
  sbomCacheDir,
  sbomCachePath,
  sbomPathBeside,
  type WrittenSbom,
  writeSbomContents,
} from "../sbom/index.js";
import type { BuildOutcome } from "./build-image.js";
import { layerCacheDirs, rememberSbom } from "./layer-cache.js";

/**
 * The contents of a built image. `read`: the reference to read it from (when the layer cache has no
 * contents for it); `ref`: the reference the SBOM names it by (default `read`). A build that missed
 * the layer cache leaves what was read in its entry, for the next code-only rebuild.
 */
export async function builtImageContents(
  outcome: BuildOutcome,
  read: string,
  ctx: Context,
  ref: string = read,
): Promise<ImageContents> {
  const cached = outcome.cachedSbom;
  const contents: ImageContents = cached
    ? {
        ...cached,
        ref,
        manifestDigest: outcome.output?.kind === "docker-archive" ? undefined : outcome.manifestDigest,
        configDigest: outcome.imageId,
      }
    : { ...(await readSbomContents(read, ctx)), ref };
  const key = outcome.layerCache?.key;
  const missing = outcome.layerCache?.sbomMissing;
  // Remembering is for later builds: its failure (a full disk, a prune meanwhile) is a warning.
  const remember = (c: ImageContents, expected?: Parameters<typeof rememberSbom>[3]) =>
    rememberSbom(layerCacheDirs(ctx.env), key!, c, expected).catch((e: unknown) =>
      ctx.reporter.emit({
        type: "log",
        level: "warn",
        message: `the layer cache did not keep the SBOM's contents: ${(e as Error).message}`,
      }),
    );
  if (key && !outcome.layerCache?.hit) await remember(contents);
  else if (key && missing && !cached && contents.configDigest === outcome.imageId) {
    // The entry had none: later hits reuse these (the project's RECORD hash as the cached layer has
    // it), kept only if the entry still has the same layers and still has none.
    const record = missing.record;
    if (!record || contents.python.some((d) => d.path === record.dir))
      await remember(
        {
          ...contents,
          python: contents.python.map((d) =>
            record && d.path === record.dir ? { ...d, recordSha256: record.sha256 } : d,
          ),
        },
        { lower: missing.lower },
      );
  }
  return contents;
}

export interface SbomPlace {
  /** `--sbom-file` (absolute): written there. */
  readonly file?: string;
  /** The output the image was written to: the SBOM goes beside it. */
  readonly output?: string;
  /** One platform of several: part of the file name (`OUT.linux-arm64.cdx.json`). */
  readonly platform?: string;
  /** The image's name (its first tag): the SBOM's name, and the cache file's. */
  readonly name?: string;
}

/**
 * Where a build's SBOM goes: `--sbom-file`, else beside the output, else the cache directory
 * (`sbomCachePath`: named for the image and its digest).
 */
export function buildSbomPath(
  contents: Pick<ImageContents, "manifestDigest" | "configDigest">,
  format: SbomFormat,
  place: SbomPlace,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (place.file) return place.file;
  if (place.output) return sbomPathBeside(place.output, format, place.platform);
  return sbomCachePath(
    sbomCacheDir(env),
    place.name ?? "image",
    contents.manifestDigest ?? contents.configDigest,
    format,
  );
}

/** Writes the SBOM of `contents` where `buildSbomPath` says (the cache directory made if need be). */
export async function writeBuildSbomFile(
  contents: ImageContents,
  format: SbomFormat,
  place: SbomPlace,
  ctx: Context,
): Promise<WrittenSbom> {
  const out = buildSbomPath(contents, format, place, ctx.env);
  if (!place.file && !place.output) await mkdir(dirname(out), { recursive: true });
  return writeSbomContents(contents, { format, out, name: place.name }, ctx);
}
