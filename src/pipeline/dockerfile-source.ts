/**
 * Which Dockerfile `build` hands the engine (issue 14: the committed Dockerfile is the source of
 * truth):
 *
 * - `-f FILE`: the user's own Dockerfile, built as it is (no plan applies to it: no runtime
 *   detection, no stage mounts, the slim runtime; `--runtime minimal` is refused);
 * - the project's `Dockerfile`, written by `slimwheel dockerfile` and current (its inputs hash and
 *   its text are what the build would render): built as committed;
 * - slimwheel's, but stale (inputs or options changed): re-rendered into the build context, with a
 *   note naming the command that updates it;
 * - not slimwheel's (no header): ignored with a note (`-f Dockerfile` builds it);
 * - none: rendered, silently.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Context } from "../context.js";
import { SlimwheelError } from "../errors.js";
import { committedDockerfileState } from "../generate/dockerfile-files.js";
import { comparable, INPUTS_PREFIX, isGenerated, stampedOptions } from "../generate/header.js";
import type { StrategyOptions } from "../plan/options.js";
import type { Project } from "../project/read.js";
import { type RenderOptions, renderDockerfile } from "../render/dockerfile/index.js";
import { assemblePlan } from "./assemble.js";
import type { RuntimeKind } from "./minimize.js";

export type DockerfileSource =
  /** slimwheel renders the plan into the build context (`note`: why the committed one was not used). */
  | { readonly kind: "render"; readonly note?: string }
  /** The committed Dockerfile, current: `content` is what is built. */
  | { readonly kind: "committed"; readonly path: string; readonly content: string }
  /** `-f FILE`: the user's Dockerfile, built as it is. */
  | { readonly kind: "user"; readonly path: string };

export interface SourceRequest {
  /** `-f`: an absolute path. */
  readonly file?: string;
  /** Consult the project's committed `Dockerfile` (default true; `compare` renders every strategy). */
  readonly committed?: boolean;
  /** The strategy as asked (`-s`), undefined when not given. */
  readonly strategy?: string;
  /** `--runtime` as asked. */
  readonly runtime?: RuntimeKind;
  readonly python?: string;
  readonly groups?: readonly string[];
  readonly extras?: readonly string[];
  readonly version: string;
}

/** Decides which Dockerfile to build and says so on the reporter. */
export async function chooseDockerfile(
  project: Project,
  strategy: string,
  options: StrategyOptions,
  render: RenderOptions,
  o: SourceRequest,
  ctx: Context,
): Promise<DockerfileSource> {
  const say = (level: "info" | "warn", message: string) => ctx.reporter.emit({ type: "log", level, message });
  if (o.file !== undefined) {
    if (o.runtime === "minimal")
      throw new SlimwheelError(
        "usage",
        "--runtime minimal needs slimwheel's own plan, not a Dockerfile of yours",
        {
          hint: `drop -f ${o.file} to build slimwheel's Dockerfile with the minimal runtime, or drop --runtime minimal to build yours as it is`,
        },
      );
    const st = await stat(o.file).catch(() => undefined);
    if (!st?.isFile())
      throw new SlimwheelError("input", `${o.file}: ${st ? "not a regular file" : "no such file"}`, {
        hint: "-f takes the path of a Dockerfile (relative to the current directory)",
      });
    say("info", `building your Dockerfile ${o.file} as it is (slim runtime; no runtime detection)`);
    return { kind: "user", path: o.file };
  }
  if (o.committed === false) return { kind: "render" };
  const path = join(project.dir, "Dockerfile");
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return { kind: "render" };
  const content = await readFile(path, "utf8");
  const shown = relative(ctx.cwd, path) || path;
  const note = (level: "info" | "warn", message: string): DockerfileSource => {
    say(level, message);
    return { kind: "render", note: message };
  };
  if (!isGenerated(content))
    return note(
      "info",
      `${shown} was not written by slimwheel: ignored, building slimwheel's own rendering (to build yours: slimwheel build -f ${shown})`,
    );
  const written = /(?:^| )strategy=(\S+)/.exec(stampedOptions(content) ?? "")?.[1];
  if (written && written !== strategy)
    return note(
      "info",
      `${shown} is slimwheel's ${written} Dockerfile: rendering the ${strategy} strategy for this build instead`,
    );
  const state = await committedDockerfileState(
    project.dir,
    {
      ...(o.strategy ? { strategy: o.strategy } : {}),
      ...(o.runtime ? { runtime: o.runtime } : {}),
      ...(o.python ? { python: o.python } : {}),
      ...(o.groups?.length ? { groups: o.groups } : {}),
      ...(o.extras?.length ? { extras: o.extras } : {}),
      ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
      version: o.version,
    },
    project,
  );
  // Only the files the build reads count (a stale compose.yaml does not change the image).
  const stale = state.files.filter(
    (f) => f.status !== "current" && ["dockerfile", "dockerignore", "requirements"].includes(f.role),
  );
  const fix = `run ${state.fix} to update it`;
  if (stale.length)
    return note(
      "warn",
      `Dockerfile is stale: re-rendered for this build; ${fix} (${stale.map((f) => f.rel).join(", ")}: ${stale[0]!.reason ?? stale[0]!.status})`,
    );
  // Current against its inputs; the build's own options (e.g. --exclude-runtime-package) must render it too.
  const rendered = renderDockerfile(assemblePlan(project, strategy, options), render);
  if (comparable(withoutInputsLine(content)) !== comparable(rendered))
    return note(
      "warn",
      `Dockerfile is stale: this build's options render another Dockerfile: re-rendered; ${fix} (or drop those options)`,
    );
  say("info", `using the committed Dockerfile ${shown} (current: inputs ${state.inputsHash})`);
  return { kind: "committed", path, content };
}

/** A generated file's text without its `# slimwheel-inputs:` line. */
export const withoutInputsLine = (content: string): string =>
  content
    .split("\n")
    .filter((l, i) => !(i < 3 && l.startsWith(INPUTS_PREFIX)))
    .join("\n");

/**
 * The Dockerfile path to hand the engine: the committed text as read when it was checked (written
 * into the context, so an edit during the build changes nothing), the user's file, or `render()`.
 */
export async function sourceDockerfile(
  context: { readonly dir: string },
  source: DockerfileSource,
  render: () => Promise<string>,
): Promise<string> {
  switch (source.kind) {
    case "render":
      return render();
    case "user":
      return source.path;
    case "committed": {
      const path = join(context.dir, "Dockerfile.slimwheel");
      await writeFile(path, source.content);
      return path;
    }
  }
}
