/**
 * What `inspect` can read besides files: a registry image (`docker://HOST/REPO[:TAG|@DIGEST]`, as
 * skopeo writes it), pulled with slimwheel's own client into a temporary layout (every blob checked
 * against its digest); or a local engine's image (`docker-daemon:IMAGE`, `containers-storage:IMAGE`),
 * exported by that engine. Both end as an OCI layout read like any other, then removed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { createEngine } from "../engines/index.js";
import { isLoopbackRef } from "../engines/types.js";
import { writeOciLayout } from "../oci/image-writer.js";
import { openImageSource, parseImageRef } from "../oci/ref.js";
import { pullImage } from "../oci/registry.js";
import type { ImageSource } from "../oci/source.js";

export interface OpenedImage {
  readonly source: ImageSource;
  /** Removes what was fetched for it (nothing for files). */
  readonly close: () => Promise<void>;
}

export const INSPECT_REFS =
  "oci:DIR[:tag], oci-archive:FILE[:tag], docker-archive:FILE[:tag], docker://HOST/REPO[:TAG] (a registry), docker-daemon:IMAGE (docker), containers-storage:IMAGE (buildah, podman)";

/** Opens any reference `inspect` takes. `insecure`: plain HTTP to the registry (loopback registries always). */
export async function openAnyImage(
  text: string,
  ctx: Context,
  o: { insecure?: boolean } = {},
): Promise<OpenedImage> {
  const engine = text.startsWith("docker-daemon:")
    ? ("docker" as const)
    : text.startsWith("containers-storage:")
      ? ("buildah" as const)
      : undefined;
  if (!text.startsWith("docker://") && !engine)
    return { source: await openImageSource(parseImageRef(text, ctx.cwd)), close: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), "slimwheel-inspect-"));
  const close = () => rm(dir, { recursive: true, force: true });
  try {
    const layout = join(dir, "layout");
    if (engine) {
      const image = text.slice(text.indexOf(":") + 1);
      await createEngine(engine, ctx.env).exportImage(image, { kind: "oci-dir", path: layout }, ctx);
    } else {
      const ref = text.slice("docker://".length);
      const store = join(dir, "blobs");
      const image = await pullImage(ref, store, {
        env: ctx.env,
        signal: ctx.signal,
        insecure: o.insecure || isLoopbackRef(ref),
      });
      await writeOciLayout(image, layout);
    }
    return { source: await openImageSource(parseImageRef(`oci:${layout}`, ctx.cwd)), close };
  } catch (e) {
    await close();
    throw e;
  }
}
