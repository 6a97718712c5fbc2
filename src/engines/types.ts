import type { Context } from "../context.js";
import type { ExecResult } from "../util/exec.js";

export type EngineId = "buildah" | "podman" | "docker";

export interface EngineInfo {
  readonly id: EngineId;
  readonly available: boolean;
  readonly version?: string;
  /** Why it is not available, or how it will be driven. */
  readonly detail: string;
}

export interface BuildRequest {
  readonly contextDir: string;
  /** Path of the Dockerfile (inside or outside the context). */
  readonly dockerfile: string;
  readonly tags: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly target?: string;
  /** e.g. linux/amd64 */
  readonly platform?: string;
  readonly noCache?: boolean;
  readonly squash?: boolean;
  /** Registry cache references: every stage's layers (buildah), or inline (docker without buildx). */
  readonly cacheFrom?: readonly string[];
  readonly cacheTo?: readonly string[];
  /** SOURCE_DATE_EPOCH: timestamps in the image. */
  readonly sourceDateEpoch?: number;
  /** Skip TLS verification for these registries (loopback registries need it). */
  readonly insecure?: boolean;
  /** Labels of the built image (`--label`; the final image only, not the mounted stages). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Called with each line of the engine's progress output. */
  readonly onLine?: (line: string) => void;
  /**
   * Stages already built, as local image references: an engine that builds mounted stages as
   * images of their own (buildah, podman) uses these instead of building them again.
   */
  readonly stageImages?: Readonly<Record<string, string>>;
  /**
   * The stages that the target (or its stages) bind-mounts with `RUN --mount=…,from=STAGE`, from
   * the plan: buildah and podman build each of them as an image of its own first (stage-mounts.ts).
   */
  readonly mountedStages?: readonly string[];
}

/** The local reference of a stage's image, named by its ID (so a mount's text changes with the stage). */
export const stageImageRef = (stage: string, imageId: string): string =>
  `localhost/slimwheel-stage:${stage}-${imageId.replace(/^sha256:/, "").slice(0, 16)}`;

export interface BuildResult {
  /** The image ID (config digest for buildah/podman/docker). */
  readonly imageId: string;
  readonly durationMs: number;
}

export type ExportTarget =
  | { readonly kind: "oci-dir"; readonly path: string }
  | { readonly kind: "oci-archive"; readonly path: string }
  | { readonly kind: "docker-archive"; readonly path: string; readonly tag?: string };

/**
 * `target` as a containers-transports(5) reference, the form `buildah push`, `podman push` and
 * `skopeo copy` take: oci:DIR, oci-archive:FILE, docker-archive:FILE[:TAG].
 */
export function transportRef(target: ExportTarget): string {
  switch (target.kind) {
    case "oci-dir":
      return `oci:${target.path}`;
    case "oci-archive":
      return `oci-archive:${target.path}`;
    case "docker-archive":
      return `docker-archive:${target.path}${target.tag ? `:${target.tag}` : ""}`;
  }
}

/** One adapter per external builder (docs/engine-notes.md has what each does on this platform). */
export interface RunOptions {
  readonly user?: string;
  readonly workdir?: string;
  /** Environment variables of the command, besides the image's. */
  readonly env?: Readonly<Record<string, string>>;
  /** `none` (the default): no network; `host`: the host's, so a server can be reached on loopback. */
  readonly network?: "none" | "host";
}

export interface Engine {
  readonly id: EngineId;
  detect(): Promise<EngineInfo>;
  build(req: BuildRequest, ctx: Context): Promise<BuildResult>;
  /**
   * Writes the image to disk in any of the three formats. buildah and podman write each one
   * themselves; docker writes a docker archive (`docker save`), which skopeo converts to OCI.
   */
  exportImage(image: string, target: ExportTarget, ctx: Context): Promise<void>;
  /** Loads a docker archive (with its tags) into the engine's local images. */
  loadArchive(path: string, ctx: Context): Promise<void>;
  /** Pushes `image` to `ref`; returns the manifest digest. */
  push(image: string, ref: string, ctx: Context, options?: { insecure?: boolean }): Promise<string>;
  /**
   * Runs a command in a fresh container of the image and removes it. Cancelling `ctx.signal`
   * stops the command and removes the container.
   */
  run(image: string, command: readonly string[], ctx: Context, options?: RunOptions): Promise<ExecResult>;
  removeImages(images: readonly string[], ctx: Context): Promise<void>;
  /** The ID of a local image, or undefined when there is no such image. */
  imageId(ref: string, ctx: Context): Promise<string | undefined>;
  /** The size of a local image as the engine reports it (e.g. "152 MB"), or undefined. */
  imageSize?(ref: string, ctx: Context): Promise<string | undefined>;
  /**
   * The manifest digest of the image `ref` names (a base image), pulled first when it is not
   * local (the build would pull it anyway); undefined when the engine cannot say.
   */
  imageDigest(ref: string, ctx: Context, options?: { insecure?: boolean }): Promise<string | undefined>;
  /** Adds the local reference `ref` to `image`. */
  tag(image: string, ref: string, ctx: Context): Promise<void>;
  /** Copies `path` (a file or directory) out of the image into the directory `dest`. */
  copyFrom(image: string, path: string, dest: string, ctx: Context): Promise<void>;
}

export interface RunOptions {
  readonly user?: string;
  readonly workdir?: string;
  /** Pull a missing image from a registry without TLS (loopback registries). */
  readonly insecure?: boolean;
}

export const isLoopbackRef = (ref: string): boolean =>
  /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?\//.test(ref);
