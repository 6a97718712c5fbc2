/**
 * The SBOM's contents read from an image's mounted root (`buildah mount`) instead of its layers:
 * a build that leaves its image only in buildah's or podman's storage would otherwise export the
 * whole image (`buildah push` to a layout: seconds for a 200 MB image) to read a few files. The
 * mount is the final file system already, so the same wanted files (`wantedFile`) are read from it,
 * links resolved inside the root (never the host's), and `contentsFromFiles` lists them exactly as
 * `collectImage` does for the layers.
 */
import { createHash } from "node:crypto";
import type { Context } from "../context.js";
import { mountImage } from "../minimize/buildah.js";
import { diskRoot, type RootFs, resolveIn, walk } from "../minimize/rootfs.js";
import { exec } from "../util/exec.js";
import {
  type CollectedFile,
  type ContentsMeta,
  contentsFromFiles,
  type ImageContents,
  MAX_SBOM_FILE,
  wantedFile,
} from "./collect.js";

const DIST_INFO_DIR = /(?:^|\/)(?:site|dist)-packages\/[^/]+\.dist-info$/;
/** Never walked: an engine's mount has them empty, but a host path must never be read through them. */
const SKIP = new Set(["/proc", "/sys", "/dev"]);

/** What the SBOM lists, from a root file system (paths inside it are absolute). */
export function collectRoot(fs: RootFs, meta: ContentsMeta): ImageContents {
  const files = new Map<string, CollectedFile>();
  const distInfoDirs: string[] = [];
  const visit = (dir: string) => {
    for (const [path, entry] of walkTop(fs, dir)) {
      const rel = path.slice(1);
      if (entry.kind === "dir") {
        if (DIST_INFO_DIR.test(rel)) distInfoDirs.push(rel);
        continue;
      }
      if (!wantedFile(rel)) continue;
      const real = resolveIn(fs, path);
      const st = real.exists ? fs.lstat(real.path) : undefined;
      if (st?.kind !== "file" || st.size > MAX_SBOM_FILE) continue;
      const body = fs.read(real.path);
      files.set(rel, {
        text: body.toString("utf8"),
        sha256: createHash("sha256").update(body).digest("hex"),
      });
    }
  };
  visit("/");
  return contentsFromFiles(files, { ...meta, distInfoDirs: [...(meta.distInfoDirs ?? []), ...distInfoDirs] });
}

/** `walk` from `/`, minus the pseudo file systems. */
function* walkTop(fs: RootFs, dir: string) {
  for (const [path, entry] of walk(fs, dir)) {
    if (SKIP.has(path) || [...SKIP].some((s) => path.startsWith(`${s}/`))) continue;
    yield [path, entry] as const;
  }
}

/**
 * The contents of an image in buildah's/podman's storage (`containers-storage:IMAGE`), read from a
 * `buildah mount` of a working container (removed afterwards); its manifest and config digests and
 * platform from `buildah inspect`. Needs root (mounting), else the caller exports the image.
 */
export async function readMountedContents(ref: string, image: string, ctx: Context): Promise<ImageContents> {
  const inspected = JSON.parse(
    (
      await exec("buildah", ["inspect", "--type", "image", image], {
        env: ctx.env,
        signal: ctx.signal,
        doing: `inspecting ${image}`,
      })
    ).stdout,
  ) as { FromImageID?: string; FromImageDigest?: string; OCIv1?: { os?: string; architecture?: string } };
  // The very image inspected (by ID, never pulled): its contents and its digests belong together.
  const mounted = await mountImage(inspected.FromImageID ?? image, ctx.env, { pull: false });
  try {
    return collectRoot(diskRoot(mounted.root), {
      ref,
      manifestDigest: inspected.FromImageDigest || undefined,
      configDigest: inspected.FromImageID ? `sha256:${inspected.FromImageID}` : undefined,
      os: inspected.OCIv1?.os,
      architecture: inspected.OCIv1?.architecture,
    });
  } finally {
    await mounted.release();
  }
}
