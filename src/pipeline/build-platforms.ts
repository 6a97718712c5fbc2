/**
 * `slimwheel build --platform linux/amd64,linux/arm64`: one build per platform (the engine's
 * `--platform`), each proved as any build is, exported as an OCI layout, then combined by
 * slimwheel's OCI writer into one image index (docs/platforms.md) written to `--output` and pushed
 * by slimwheel's registry client (each platform's manifest by digest, the index by tag).
 *
 * Everything that can be refused is refused before any engine work: a docker archive (it cannot
 * hold an index), nowhere to put the index, and a platform whose RUN steps this machine cannot
 * execute (no binfmt_misc handler of qemu for its architecture).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../context.js";
import { isLoopbackRef, transportRef } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { indexOf } from "../oci/image-index.js";
import { loadLayoutImage, writeImage } from "../oci/image-writer.js";
import {
  type BinfmtHandler,
  formatPlatform,
  hostPlatform,
  type Platform,
  parsePlatforms,
  platformsNeedingEmulation,
  readBinfmtHandlers,
} from "../oci/platform.js";
import { pushIndex } from "../oci/registry.js";
import { DEFAULT_STRATEGY } from "../plan/strategies/index.js";
import { readProject } from "../project/read.js";
import { step } from "../reporter/index.js";
import type { ImageContents } from "../sbom/index.js";
import { type BuildOptions, type BuildOutcome, buildImage, imageName } from "./build-image.js";
import { builtImageContents } from "./build-sbom.js";

export interface PlatformOptions {
  /** Skip the binfmt_misc check (the engine runs foreign RUN steps elsewhere: a remote builder, a VM). */
  readonly noEmulationCheck?: boolean;
  /** The binfmt_misc handlers of this machine (default: read from /proc/sys/fs/binfmt_misc). */
  readonly handlers?: readonly BinfmtHandler[];
  /** This machine's platform (default: node's). */
  readonly host?: Platform;
}

export interface MultiPlatformOutcome {
  readonly platforms: readonly {
    readonly platform: string;
    readonly outcome: BuildOutcome;
    /** What the platform's image holds, for its SBOM (`readSboms`), named by where the index went. */
    readonly sbom?: ImageContents;
  }[];
  /** The index's digest. */
  readonly digest: string;
  /** Each pushed index, and the digest of each platform's manifest in it (in `platforms`' order). */
  readonly pushed: readonly {
    readonly ref: string;
    readonly digest: string;
    readonly images: readonly { readonly platform: string; readonly digest: string }[];
  }[];
  readonly output?: BuildOptions["output"];
}

const EMULATION_HINT =
  "install qemu-user-static and binfmt-support (Debian: apt-get install qemu-user-static binfmt-support), or build that platform on a machine of its own; --no-emulation-check if the engine runs RUN steps elsewhere (a remote builder, a VM)";

/**
 * The refusals of a `--platform` list, before any engine work: it must parse; several platforms
 * need an OCI output or --push; a platform this machine cannot run needs emulation.
 */
export async function checkPlatforms(
  text: string,
  o: Pick<BuildOptions, "output" | "push" | "tags">,
  p: PlatformOptions = {},
): Promise<Platform[]> {
  const platforms = parsePlatforms(text);
  if (platforms.length > 1) {
    if (o.output?.kind === "docker-archive")
      throw new SlimwheelError(
        "usage",
        `--output docker-archive:${o.output.path} cannot hold the image index of ${platforms.length} platforms`,
        {
          hint: "use --output oci:DIR or oci-archive:FILE.tar (skopeo, podman and docker buildx read them), or one --platform per docker archive",
        },
      );
    if (o.push && o.tags.length === 0)
      throw new SlimwheelError("usage", "--push of several platforms needs -t REF: where the index goes", {
        hint: "add -t HOST[:PORT]/NAME:TAG",
      });
    if (!o.output && !o.push)
      throw new SlimwheelError(
        "usage",
        `${platforms.length} platforms make an image index: say where it goes`,
        {
          hint: "add --output oci:DIR (or oci-archive:FILE.tar) or --push; an engine's local storage keeps one image per tag",
        },
      );
  }
  if (p.noEmulationCheck) return platforms;
  const host = p.host ?? hostPlatform();
  const handlers = p.handlers ?? (await readBinfmtHandlers());
  const foreign = platformsNeedingEmulation(host, platforms, handlers);
  if (foreign.length)
    throw new SlimwheelError(
      "usage",
      `${foreign.map(formatPlatform).join(" and ")} ${foreign.length > 1 ? "need" : "needs"} emulation for RUN steps, and this ${formatPlatform(host)} machine has none (no qemu handler in /proc/sys/fs/binfmt_misc): install qemu-user-static/binfmt-support`,
      { hint: EMULATION_HINT },
    );
  return platforms;
}

/** `host/name:tag` → `host/name:tag-linux-arm64` (a tag of its own for each platform's local image). */
export function platformTag(ref: string, p: Platform): string {
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  const [name, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, "latest"];
  const suffix = formatPlatform(p).replaceAll("/", "-");
  return `${name}:${`${tag}-${suffix}`.slice(-128)}`;
}

/** The tag part of a reference (the OCI layout's ref name), if it has one. */
function tagOf(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash ? ref.slice(colon + 1) : undefined;
}

/**
 * Builds each of `platforms` (checked by `checkPlatforms`) and publishes their index. `readSboms`:
 * also read each platform's image for its SBOM (while its layout is still there).
 */
export async function buildPlatforms(
  dir: string,
  platforms: readonly Platform[],
  o: BuildOptions,
  ctx: Context,
  { readSboms = false }: { readonly readSboms?: boolean } = {},
): Promise<MultiPlatformOutcome> {
  let base = o.tags[0];
  if (!base) {
    const project = await readProject(dir, { python: o.python, groups: o.groups, extras: o.extras });
    const strategy = o.strategy ?? project.config.strategy ?? DEFAULT_STRATEGY;
    base = `localhost/slimwheel/${imageName(project)}:${strategy}`;
  }
  const work = await mkdtemp(join(tmpdir(), "slimwheel-platforms-"));
  try {
    // The SBOMs name each image by where the index goes: the output, else the pushed reference.
    const shown = o.output ? transportRef(o.output) : `docker://${o.tags[0] ?? base}`;
    const built: { platform: string; outcome: BuildOutcome; sbom?: ImageContents }[] = [];
    for (const [i, p] of platforms.entries()) {
      const name = formatPlatform(p);
      ctx.reporter.emit({
        type: "log",
        level: "info",
        message: `platform ${i + 1}/${platforms.length}: ${name}`,
      });
      const outcome = await buildImage(
        dir,
        {
          ...o,
          platform: name,
          tags: [platformTag(base, p)],
          push: false,
          output: { kind: "oci-dir", path: join(work, `image-${i}`) },
        },
        ctx,
      );
      const sbom = readSboms
        ? await step(ctx.reporter, `sbom-${name}`, `reading ${name}'s image for its SBOM`, () =>
            builtImageContents(outcome, `oci:${join(work, `image-${i}`)}`, ctx, shown),
          )
        : undefined;
      built.push({ platform: name, outcome, ...(sbom ? { sbom } : {}) });
    }
    const stored = await step(
      ctx.reporter,
      "index",
      `combining ${platforms.length} platforms into one image index`,
      async () => {
        const images = [];
        for (const [i, p] of platforms.entries())
          images.push(await loadLayoutImage(join(work, `image-${i}`), undefined, p));
        return indexOf(images, platforms);
      },
    );
    const output = o.output;
    if (output)
      await step(ctx.reporter, "export", `writing ${output.kind} ${output.path}`, () =>
        writeImage(stored, output, { refName: tagOf(o.tags[0]), sourceDateEpoch: ctx.sourceDateEpoch }),
      );
    const pushed: MultiPlatformOutcome["pushed"][number][] = [];
    for (const ref of o.push ? o.tags : []) {
      const r = await step(ctx.reporter, `push-${ref}`, `pushing the index ${ref}`, () =>
        pushIndex(stored, ref, { env: ctx.env, insecure: isLoopbackRef(ref), signal: ctx.signal }),
      );
      pushed.push({ ref: r.ref, digest: r.digest, images: r.images });
    }
    return { platforms: built, digest: stored.index.descriptor.digest, pushed, output };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
