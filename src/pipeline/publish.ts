/** The publish phase: write the built image to disk and/or push it, each tag to its registry. */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Context } from "../context.js";
import { type Engine, type ExportTarget, isLoopbackRef } from "../engines/types.js";
import { isSlimwheelError, SlimwheelError } from "../errors.js";
import { step } from "../reporter/index.js";

export interface Published {
  readonly pushed: readonly { readonly ref: string; readonly digest: string }[];
  readonly output?: ExportTarget;
}

/** Writes `image` to `output` when given, then pushes it under every tag when `push`. */
export async function publishImage(
  engine: Engine,
  tags: readonly string[],
  o: { readonly output?: ExportTarget; readonly push?: boolean },
  ctx: Context,
): Promise<Published> {
  const image = tags[0]!;
  const output = o.output;
  if (output)
    await step(ctx.reporter, "export", `writing ${output.kind} ${output.path}`, () =>
      exportAtomically(engine, image, output, ctx),
    );
  const pushed: { ref: string; digest: string }[] = [];
  for (const ref of o.push ? tags : []) {
    const digest = await step(ctx.reporter, `push-${ref}`, `pushing ${ref}`, () =>
      engine.push(image, ref, ctx, { insecure: isLoopbackRef(ref) }),
    );
    pushed.push({ ref, digest });
  }
  return { pushed, output };
}

/** What an engine (or Node) says when the file system has no room left. */
const DISK_FULL = /no space left on device|ENOSPC|disk quota exceeded|EDQUOT|file too large|EFBIG/i;

/**
 * The engine writes the image under a temporary name beside `output` (its own: process id and a
 * random suffix), renamed into place when whole; on any failure (a full disk, an interruption, an
 * engine killed) the temporary output is removed and what was at `output` stays as it was. A full
 * disk is an "io" error naming the path.
 */
export async function exportAtomically(
  engine: Engine,
  image: string,
  output: ExportTarget,
  ctx: Context,
): Promise<void> {
  const dir = dirname(output.path);
  await mkdir(dir, { recursive: true });
  const tmp = join(
    dir,
    `.${basename(output.path)}.slimwheel-${process.pid}-${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    await engine.exportImage(image, { ...output, path: tmp }, ctx);
    if (output.kind === "oci-dir") {
      // A directory cannot be renamed over a non-empty one: the old one goes aside first.
      const old = `${tmp}.old`;
      const had = await rename(output.path, old).then(
        () => true,
        (e: NodeJS.ErrnoException) => {
          if (e.code === "ENOENT") return false;
          throw e;
        },
      );
      await rename(tmp, output.path);
      if (had) await rm(old, { recursive: true, force: true });
    } else await rename(tmp, output.path);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    const text = isSlimwheelError(e) ? `${e.message}\n${e.details ?? ""}` : String((e as Error).message);
    if (isSlimwheelError(e) && e.code === "cancelled") throw e;
    if (DISK_FULL.test(text)) {
      const size = await engine.imageSize?.(image, ctx).catch(() => undefined);
      throw new SlimwheelError(
        "io",
        `cannot write ${output.path}: the disk is full (${engine.id} ran out of space writing the image${size ? `, which needs about ${size} uncompressed` : ""}; ENOSPC)`,
        {
          hint: `free ${size ? `about ${size}` : "about the image's size"} on the file system of ${dir}, or write elsewhere; nothing was left at ${output.path}`,
          details: isSlimwheelError(e) ? e.details : undefined,
          cause: e,
        },
      );
    }
    throw e;
  }
}
