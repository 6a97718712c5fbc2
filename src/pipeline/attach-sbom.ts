/**
 * `build --push`: the SBOM of the built image attached to each pushed manifest as an OCI 1.1
 * referrer (docs/sbom.md, "Attached to a pushed image"). The image is read once; each pushed
 * manifest gets its own document, naming it by its reference and its pushed digest. Of a pushed
 * image index, each platform's SBOM goes to that platform's manifest in the index.
 */
import { packageVersion } from "../cli/version.js";
import type { Context } from "../context.js";
import { isLoopbackRef } from "../engines/types.js";
import { parseImageRef, RegistryClient } from "../oci/registry.js";
import {
  attachSbom,
  type ImageContents,
  renderSbom,
  SBOM_MEDIA_TYPES,
  type SbomFormat,
} from "../sbom/index.js";

export interface AttachedSbom {
  /** The referrer manifest's digest. */
  readonly digest: string;
  readonly artifactType: string;
  readonly format: SbomFormat;
  /** The fallback tag (`sha256-<hex>`) updated, for a registry without the referrers API. */
  readonly fallbackTag?: string;
}

/** The document of the image pushed as `ref` with manifest `digest`, from its contents read once. */
export function pushedSbomText(
  contents: ImageContents,
  pushed: { readonly ref: string; readonly digest: string },
  format: SbomFormat,
  created: number,
): string {
  const r = parseImageRef(pushed.ref);
  return renderSbom({ ...contents, ref: `docker://${pushed.ref}`, manifestDigest: pushed.digest }, format, {
    created,
    toolVersion: packageVersion(),
    name: `${r.registry}/${r.repository}`,
    repositoryUrl: `${r.registry}/${r.repository}`,
  });
}

/**
 * Pushes the SBOM as a referrer of each pushed manifest (`subject`: the manifest as the registry
 * has it, its media type and size read back). Loopback registries over plain HTTP, as the push.
 */
export async function attachPushedSboms(
  pushed: readonly { readonly ref: string; readonly digest: string }[],
  contents: ImageContents,
  format: SbomFormat,
  ctx: Context,
): Promise<AttachedSbom[]> {
  const out: AttachedSbom[] = [];
  const created = ctx.sourceDateEpoch ?? Math.floor(ctx.now() / 1000);
  for (const p of pushed) {
    const r = parseImageRef(p.ref);
    const o = { env: ctx.env, insecure: isLoopbackRef(p.ref), signal: ctx.signal };
    const manifest = await new RegistryClient(r.registry, o).getManifest(r.repository, p.digest);
    const subject = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
    const text = pushedSbomText(contents, p, format, created);
    const attached = await attachSbom(
      p.ref,
      subject,
      { text, format },
      { ...o, created: ctx.sourceDateEpoch },
    );
    out.push({
      digest: attached.digest,
      artifactType: SBOM_MEDIA_TYPES[format],
      format,
      ...(attached.fallbackTag ? { fallbackTag: attached.fallbackTag } : {}),
    });
  }
  return out;
}

/** One platform's SBOM attached to its manifest in a pushed image index. */
export interface AttachedPlatformSbom extends AttachedSbom {
  readonly platform: string;
}

/**
 * A pushed image index (`build --platform a,b --push`): each platform's SBOM attached as a referrer
 * of that platform's manifest (`images[i]` of each push, the index's i-th image), in every pushed
 * repository. Returns, for each pushed index, one entry per platform that has contents.
 */
export async function attachIndexSboms(
  pushed: readonly {
    readonly ref: string;
    readonly images: readonly { readonly platform: string; readonly digest: string }[];
  }[],
  platforms: readonly { readonly platform: string; readonly sbom?: ImageContents }[],
  format: SbomFormat,
  ctx: Context,
): Promise<AttachedPlatformSbom[][]> {
  const out: AttachedPlatformSbom[][] = pushed.map(() => []);
  for (const [i, { platform, sbom }] of platforms.entries()) {
    if (!sbom) continue;
    const manifests = pushed.map((p) => {
      const image = p.images[i];
      if (!image) throw new Error(`the index pushed to ${p.ref} has no image ${i + 1} (${platform})`);
      return { ref: p.ref, digest: image.digest };
    });
    const attached = await attachPushedSboms(manifests, sbom, format, ctx);
    for (const [j, a] of attached.entries()) out[j]!.push({ platform, ...a });
  }
  return out;
}
