/**
 * The minimize phase (`--runtime minimal`): the built image's closure — interpreter, stdlib,
 * RECORDed files, app, ELF closure, run-time data, dpkg records — assembled FROM scratch, one
 * layer per role, under the same tag (docs/minimal-runtime.md). Assembly goes through buildah
 * until slimwheel writes images itself, so it needs the buildah or podman engine.
 */
import type { Context } from "../context.js";
import type { Engine } from "../engines/types.js";
import { SlimwheelError } from "../errors.js";
import { buildMinimalImage } from "../minimize/buildah.js";
import type { Closure } from "../minimize/index.js";
import { execForm } from "../minimize/start.js";
import { APP_UID } from "../plan/options.js";
import type { Project } from "../project/read.js";

export type RuntimeKind = "slim" | "minimal";

/** Replaces the image tagged `tag` by its minimal form; returns what was kept and dropped. */
export async function minimizeImage(
  engine: Engine,
  project: Project,
  o: { readonly tag: string; readonly baseImage: string; readonly sourceDateEpoch?: number },
  ctx: Context,
): Promise<Closure> {
  if (engine.id === "docker")
    throw new SlimwheelError(
      "usage",
      "--runtime minimal is assembled with buildah for now: the docker engine cannot do it yet",
      {
        hint: "use --engine buildah (or podman), or --runtime slim",
      },
    );
  const closure = await buildMinimalImage(
    {
      image: o.tag,
      base: o.baseImage,
      tag: o.tag,
      cmd: project.start ? execForm(project.start.command) : ["python3"],
      user: { name: "app", uid: APP_UID, gid: APP_UID },
      env: project.start?.port ? { PORT: String(project.start.port) } : {},
      sourceDateEpoch: o.sourceDateEpoch,
    },
    ctx.env,
  );
  if (closure.unresolved.length) {
    const u = closure.unresolved[0]!;
    throw new SlimwheelError(
      "engine",
      `the minimal image would lack ${u.library}, needed by ${u.neededBy}${closure.unresolved.length > 1 ? ` (and ${closure.unresolved.length - 1} more)` : ""}`,
      {
        details: closure.unresolved.map((x) => `${x.library} ← ${x.neededBy}`).join("\n"),
        hint: "install the package that ships it in the image, or use --runtime slim",
      },
    );
  }
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  for (const l of closure.layers)
    ctx.reporter.emit({
      type: "log",
      level: "info",
      message: `minimal: kept ${mb(l.bytes)} in the ${l.role} layer`,
    });
  for (const d of closure.dropped.filter((x) => x.bytes > 0))
    ctx.reporter.emit({
      type: "log",
      level: "info",
      message: `minimal: dropped ${mb(d.bytes)} of ${d.group} (${d.files} files)`,
    });
  return closure;
}
