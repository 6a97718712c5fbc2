/** The publish phase: write the built image to disk and/or push it, each tag to its registry. */
import type { Context } from "../context.js";
import { type Engine, type ExportTarget, isLoopbackRef } from "../engines/types.js";
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
      engine.exportImage(image, output, ctx),
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
