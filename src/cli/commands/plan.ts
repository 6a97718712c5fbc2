import type { Command } from "commander";
import { Option } from "commander";
import { minimalCommandProblems } from "../../pipeline/minimal-checks.js";
import { type RuntimeKind, resolveRuntime } from "../../pipeline/minimize.js";
import { previewRuntime } from "../../pipeline/runtime-preview.js";
import { DEFAULT_STRATEGY } from "../../plan/strategies/index.js";
import { readProject } from "../../project/read.js";
import { formatPlan, planDocument } from "../../report/plan.js";
import { formatRuntime, runtimeDocument } from "../../report/runtime.js";
import type { GetEnv } from "../program.js";
import { ExitWith } from "../program.js";
import { examples } from "./examples.js";
import { addSelectionOptions, selection } from "./options.js";

const ansi = (code: string, on: boolean) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

export function registerPlan(program: Command, getEnv: GetEnv): void {
  const cmd = program
    .command("plan")
    .description(
      "show what slimwheel detects in a Python project (Python version, dependencies, start command) and why",
    )
    .argument("[dir]", "the project directory", ".")
    .option("--python <X.Y>", "use this Python version instead of what the project declares")
    .addOption(
      new Option("--arch <arch>", "target architecture")
        .choices(["x86_64", "aarch64", "amd64", "arm64"])
        .default("x86_64"),
    )
    .option("--strict", "exit 1 when there are warnings")
    .addOption(
      new Option(
        "--runtime <kind>",
        "the runtime to preview: minimal (default for the slimwheel strategy) or slim",
      ).choices(["minimal", "slim"]),
    )
    .option(
      "--runtime-image <ref>",
      "the base image the minimal runtime is cut from (default: python:X.Y-slim); read from local storage, never pulled",
    );
  addSelectionOptions(cmd)
    .addHelpText(
      "after",
      `
Dependency sources, first found wins: pylock.toml, uv.lock, poetry.lock, Pipfile.lock,
requirements.txt, pyproject.toml ([project] or [tool.poetry]), Pipfile, setup.cfg, setup.py.
--json prints a document following schema/plan.schema.json (schemaVersion 1).`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel plan", "what slimwheel detects in the current directory, and why"],
        [
          "slimwheel plan examples/flask-app --python 3.12",
          "another directory, as if it declared Python 3.12",
        ],
        ["slimwheel plan --json | jq .dependencies", "the plan as JSON (schema/plan.schema.json)"],
        ["slimwheel plan --strict", "in CI: exit 1 when there is a warning"],
      ]),
    )
    .action(
      async (
        dir: string,
        o: {
          python?: string;
          arch: string;
          strict?: boolean;
          group: string[];
          extra: string[];
          runtime?: RuntimeKind;
          runtimeImage?: string;
        },
      ) => {
        const { ctx, global, io } = getEnv();
        const arch =
          o.arch === "amd64" ? "x86_64" : o.arch === "arm64" ? "aarch64" : (o.arch as "x86_64" | "aarch64");
        const read = await readProject(dir === "." ? ctx.cwd : new URL(dir, `file://${ctx.cwd}/`).pathname, {
          arch,
          python: o.python,
          ...selection(o),
        });
        const strategy = read.config.strategy ?? DEFAULT_STRATEGY;
        const runtime = resolveRuntime(strategy, o.runtime, read.config.runtime);
        // A start command the minimal image cannot run (it needs a shell): `build` refuses it before
        // any engine work; here it is a warning (--strict: exit 1).
        const project =
          runtime === "minimal"
            ? {
                ...read,
                warnings: [
                  ...read.warnings,
                  ...minimalCommandProblems(read, undefined).map((e) => ({
                    message: `${e.message}; ${e.hint}`,
                  })),
                ],
              }
            : read;
        const image = o.runtimeImage ?? `python:${project.python.version}-slim`;
        const preview = runtime === "minimal" ? await previewRuntime(image, ctx.env) : undefined;
        if (global.json)
          io.stdout(
            `${JSON.stringify({ ...planDocument(project), runtime: runtimeDocument(runtime, image, preview) }, null, 2)}\n`,
          );
        else {
          const color = global.stdoutColor;
          const style = { bold: ansi("1", color), dim: ansi("2", color), yellow: ansi("33", color) };
          io.stdout(formatPlan(project, style));
          io.stdout(formatRuntime(runtime, strategy, image, preview, style));
        }
        if (o.strict && project.warnings.length) throw new ExitWith(1);
      },
    );
}
