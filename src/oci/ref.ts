/**
 * Image references slimwheel reads: `oci:DIR[:tag]`, `oci-archive:FILE[:tag]`,
 * `docker-archive:FILE[:tag]` (the transports of skopeo and podman). Registries and engines plug
 * in here as further kinds, each returning an `ImageSource`.
 */
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { SlimwheelError } from "../errors.js";
import { dockerArchiveSource } from "./docker-archive.js";
import { ociLayoutSource } from "./layout.js";
import type { ImageSource } from "./source.js";
import { dirStore, tarStore } from "./store.js";

export type ImageRefKind = "oci" | "oci-archive" | "docker-archive";

export interface ImageRef {
  readonly kind: ImageRefKind;
  /** Absolute path of the directory or archive. */
  readonly path: string;
  readonly tag?: string;
  /** As the user wrote it. */
  readonly text: string;
}

const KINDS: readonly ImageRefKind[] = ["oci", "oci-archive", "docker-archive"];
const USAGE =
  "write oci:DIR[:tag], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO[:TAG] (a registry), docker-daemon:IMAGE or containers-storage:IMAGE";

/**
 * Parses an image reference as `slimwheel inspect` takes it: `oci:DIR[:tag]`, `oci-archive:FILE`,
 * `docker-archive:FILE`, `docker://HOST/REPO[:TAG]`, `docker-daemon:IMAGE`,
 * `containers-storage:IMAGE`; paths are resolved against `cwd`.
 */
export function parseImageRef(text: string, cwd: string): ImageRef {
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon) as ImageRefKind;
  if (colon < 0 || !KINDS.includes(kind))
    throw new SlimwheelError("usage", `unsupported image reference "${text}"`, { hint: USAGE });
  const rest = text.slice(colon + 1);
  if (rest === "") throw new SlimwheelError("usage", `"${text}" names no path`, { hint: USAGE });
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  // DIR:tag, unless the whole rest is an existing path (paths may hold colons).
  const last = rest.lastIndexOf(":");
  if (last > 0 && !existsSync(abs(rest))) {
    const tag = rest.slice(last + 1);
    if (tag !== "" && !tag.includes("/")) return { kind, path: abs(rest.slice(0, last)), tag, text };
  }
  return { kind, path: abs(rest), text };
}

/** Opens the image a reference names; a missing path is bad input (exit 2), unlike a --fail-on match (exit 1). */
export async function openImageSource(ref: ImageRef): Promise<ImageSource> {
  const s = await stat(ref.path).catch(() => undefined);
  if (!s)
    throw new SlimwheelError("input", `${ref.path} does not exist`, {
      hint: ref.kind === "oci" ? "export the image: skopeo copy IMAGE oci:DIR" : "check the path",
    });
  if (ref.kind === "oci") {
    if (!s.isDirectory())
      throw new SlimwheelError("usage", `${ref.path} is a file, not an OCI layout directory`, {
        hint: "an archive is read with oci-archive:FILE or docker-archive:FILE",
      });
    return ociLayoutSource(dirStore(ref.path), ref.text, ref.tag);
  }
  if (s.isDirectory())
    throw new SlimwheelError("usage", `${ref.path} is a directory, not an archive`, {
      hint: "an OCI layout directory is read with oci:DIR",
    });
  const store = await tarStore(ref.path);
  return ref.kind === "oci-archive"
    ? ociLayoutSource(store, ref.text, ref.tag)
    : dockerArchiveSource(store, ref.text, ref.tag);
}
