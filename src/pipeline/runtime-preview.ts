/**
 * What the minimal runtime would keep of a base image and drop from it, by group with bytes —
 * for `plan`, before anything is built. The base image is read from buildah/podman's local
 * storage only (never pulled: `plan` does no network work); when it is not there, the groups are
 * named without bytes and `build` reports them.
 */
import type { Closure } from "../minimize/closure.js";
import { computeClosure } from "../minimize/closure.js";
import { type Env, exec, hasProgram } from "../util/exec.js";

export type RuntimePreview =
  | { readonly measured: true; readonly image: string; readonly closure: Pick<Closure, "layers" | "dropped"> }
  | { readonly measured: false; readonly image: string; readonly why: string };

/** The base image's own closure (the runtime layer) and what the minimal runtime drops from it. */
export async function previewRuntime(image: string, env: Env): Promise<RuntimePreview> {
  if (!(await hasProgram("buildah", env)))
    return { measured: false, image, why: "buildah is not installed, so the base image cannot be read" };
  const from = await exec("buildah", ["from", "--pull-never", image], { env, allowFailure: true });
  if (from.code !== 0)
    return { measured: false, image, why: `${image} is not in local storage (plan never pulls)` };
  const container = from.stdout.trim().split("\n").at(-1)!;
  try {
    const root = (
      await exec("buildah", ["mount", container], { env, doing: `mounting ${image}` })
    ).stdout.trim();
    let closure: Closure;
    try {
      closure = computeClosure(root, {});
    } catch (e) {
      return { measured: false, image, why: `${image}: ${(e as Error).message}` };
    }
    const runtime = closure.layers.filter((l) => l.role === "runtime");
    return { measured: true, image, closure: { layers: runtime, dropped: closure.dropped } };
  } finally {
    await exec("buildah", ["rm", container], { env, allowFailure: true });
  }
}
