/**
 * The SBOM of an image (docs/sbom.md): CycloneDX 1.6 JSON by default, SPDX 2.3 JSON on request.
 * `collectImage` reads the image, `renderSbom` is pure, `writeSbomFor` does both and writes the
 * file atomically: what `slimwheel sbom` runs, and what `build` can call on its output.
 */
import { homedir } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";
import { packageVersion } from "../cli/version.js";
import type { Context } from "../context.js";
import { SlimwheelError } from "../errors.js";
import { openAnyImage } from "../inspect/open.js";
import { type PushedReferrer, pushReferrer } from "../oci/referrer.js";
import { parseImageRef, RegistryClient, type RegistryOptions } from "../oci/registry.js";
import type { ImageSource } from "../oci/source.js";
import type { Descriptor } from "../oci/types.js";
import { writeAtomic } from "../util/write-atomic.js";
import { collectImage, type ImageContents } from "./collect.js";
import { cyclonedxBom, type SbomOptions } from "./cyclonedx.js";
import { readMountedContents } from "./mounted.js";
import { spdxDocument } from "./spdx.js";

export { collectImage, contentsFromFiles, type ImageContents } from "./collect.js";
export { cyclonedxBom, type SbomOptions } from "./cyclonedx.js";
export { spdxDocument } from "./spdx.js";

export const SBOM_FORMATS = ["cyclonedx", "spdx"] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

/** Media types: the file's, and the artifactType of an OCI referrer carrying it. */
export const SBOM_MEDIA_TYPES: Readonly<Record<SbomFormat, string>> = {
  cyclonedx: "application/vnd.cyclonedx+json",
  spdx: "application/spdx+json",
};

export function parseSbomFormat(text: string): SbomFormat {
  if ((SBOM_FORMATS as readonly string[]).includes(text)) return text as SbomFormat;
  throw new SlimwheelError("usage", `unknown SBOM format "${text}"`, {
    hint: `use one of: ${SBOM_FORMATS.join(", ")}`,
  });
}

/** The document as text (two-space JSON and a final newline): the same contents give the same bytes. */
export function renderSbom(contents: ImageContents, format: SbomFormat, o: SbomOptions): string {
  const doc = format === "spdx" ? spdxDocument(contents, o) : cyclonedxBom(contents, o);
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The file name's ending of a format: `.cdx.json` or `.spdx.json`. */
export const sbomExtension = (format: SbomFormat): string => (format === "spdx" ? ".spdx.json" : ".cdx.json");

/** `linux/arm/v7` → `linux-arm-v7`: a platform as a part of a file name. */
const platformPart = (platform: string): string => platform.replace(/[^A-Za-z0-9._-]+/g, "-");

/**
 * `IMAGE.cdx.json` / `IMAGE.spdx.json` beside an output path (the file or directory of oci:,
 * oci-archive:…); with a platform (one image of an index), `IMAGE.linux-arm64.cdx.json`.
 */
export function sbomPathBeside(output: string, format: SbomFormat, platform?: string): string {
  const base = output.replace(/\/+$/, "");
  return `${base}${platform ? `.${platformPart(platform)}` : ""}${sbomExtension(format)}`;
}

/**
 * Where `build` writes the SBOM of an image that went only to the engine (no `--output`, no
 * `--sbom-file`): slimwheel's cache directory, `$XDG_CACHE_HOME/slimwheel/sbom` (else
 * `~/.cache/slimwheel/sbom`) — never the project. `slimwheel cache prune --all` removes them.
 */
export function sbomCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "slimwheel", "sbom");
}

/**
 * `DIR/NAME@DIGEST12.cdx.json` in the SBOM cache directory: NAME is the image's reference made a
 * file name (`localhost/slimwheel/app:dev` → `localhost_slimwheel_app_dev`), DIGEST12 the first 12
 * hex digits of its manifest digest (else its config digest): one file per image, rewritten when
 * the same image is built again.
 */
export function sbomCachePath(
  dir: string,
  name: string,
  digest: string | undefined,
  format: SbomFormat,
): string {
  const safe =
    name
      .replace(/[^A-Za-z0-9._-]+/g, "_")
      .replace(/^[._-]+/, "")
      .slice(0, 120) || "image";
  const hex = /^(?:[a-z0-9]+:)?([0-9a-f]{12})/.exec(digest ?? "")?.[1] ?? "unknown";
  return join(dir, `${safe}@${hex}${sbomExtension(format)}`);
}

export interface WriteSbomOptions {
  readonly format?: SbomFormat;
  /** Where to write it (relative to ctx.cwd). */
  readonly out: string;
  /** The image's name in the SBOM (default: from the reference). */
  readonly name?: string;
  /** The repository the image was pushed to: the image purl's repository_url. */
  readonly repositoryUrl?: string;
  /** Plain HTTP to a registry (docker:// references). */
  readonly insecure?: boolean;
}

export interface WrittenSbom {
  readonly path: string;
  readonly format: SbomFormat;
  readonly text: string;
  readonly contents: ImageContents;
}

/**
 * Reads the image a reference names (any reference `slimwheel inspect` takes). The SBOM names it by
 * that reference, not by where it was read from (a registry or engine image is read from a
 * temporary layout): the same reference gives the same document.
 */
export async function readSbomContents(
  ref: string,
  ctx: Context,
  o: { readonly insecure?: boolean } = {},
): Promise<ImageContents> {
  // An image in buildah's/podman's storage is read from a mount, not exported (much faster); as
  // root only (mounting); when mounting fails for any other reason than a cancel, it is exported.
  if (ref.startsWith("containers-storage:") && process.getuid?.() === 0) {
    const mounted = await readMountedContents(ref, ref.slice("containers-storage:".length), ctx).catch(
      (e: unknown) => {
        if (ctx.signal.aborted) throw e;
        return undefined;
      },
    );
    if (mounted) return mounted;
  }
  const opened = await openAnyImage(ref, ctx, { insecure: o.insecure });
  const contents = await collectImage(opened.source).finally(opened.close);
  return { ...contents, ref };
}

/**
 * Reads `image` (an `ImageSource`, or a reference `slimwheel inspect` takes: oci:DIR,
 * oci-archive:FILE, docker-archive:FILE, docker://…, docker-daemon:…, containers-storage:…) and
 * writes its SBOM to `o.out`. The timestamp is SOURCE_DATE_EPOCH (ctx) when set, else now.
 */
export async function writeSbomFor(
  image: string | ImageSource,
  o: WriteSbomOptions,
  ctx: Context,
): Promise<WrittenSbom> {
  const contents =
    typeof image === "string" ? await readSbomContents(image, ctx, o) : await collectImage(image);
  return writeSbomContents(contents, o, ctx);
}

/** Writes the SBOM of contents already read (e.g. the layer cache's, for a code-only rebuild). */
export async function writeSbomContents(
  contents: ImageContents,
  o: WriteSbomOptions,
  ctx: Context,
): Promise<WrittenSbom> {
  const format = o.format ?? "cyclonedx";
  const created = ctx.sourceDateEpoch ?? Math.floor(ctx.now() / 1000);
  const text = renderSbom(contents, format, {
    created,
    toolVersion: packageVersion(),
    name: o.name,
    repositoryUrl: o.repositoryUrl,
  });
  const path = isAbsolute(o.out) ? o.out : resolve(ctx.cwd, o.out);
  await writeAtomic(path, text);
  return { path, format, text, contents };
}

/**
 * Attaches a written SBOM to an image pushed to `ref` (HOST/REPO[:TAG], the same repository) as an
 * OCI 1.1 referrer of `subject` (the pushed manifest's descriptor): artifactType
 * `application/vnd.cyclonedx+json` or `application/spdx+json`. `created`: SOURCE_DATE_EPOCH, so the
 * referrer's digest is reproducible too.
 */
export async function attachSbom(
  ref: string,
  subject: Descriptor,
  sbom: { readonly text: string; readonly format: SbomFormat; readonly path?: string },
  o: RegistryOptions & { readonly created?: number },
): Promise<PushedReferrer> {
  const r = parseImageRef(ref);
  const client = new RegistryClient(r.registry, o);
  return pushReferrer(client, r.repository, subject, {
    bytes: Buffer.from(sbom.text),
    mediaType: SBOM_MEDIA_TYPES[sbom.format],
    title: sbom.path ? basename(sbom.path) : sbom.format === "spdx" ? "sbom.spdx.json" : "sbom.cdx.json",
    created: o.created,
  });
}
