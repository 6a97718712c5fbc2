import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { SlimwheelError } from "../../errors.js";
import { assemblePlan } from "../../pipeline/assemble.js";
import { type RuntimeKind, resolveRuntime } from "../../pipeline/minimize.js";
import { DEFAULT_STRATEGY, strategies } from "../../plan/strategies/index.js";
import { readProject } from "../../project/read.js";
import { GENERATED_MARKER, renderDockerfile, renderDockerignore } from "../../render/dockerfile/index.js";
import { writeAtomic } from "../../util/write-atomic.js";
import type { GetEnv } from "../program.js";
import { packageVersion } from "../version.js";
import { examples } from "./examples.js";
import { addSelectionOptions, resolveDir, selection } from "./options.js";

export function registerDockerfile(program: Command, getEnv: GetEnv): void {
  const cmd = program
    .command("dockerfile")
    .description("write a commented Dockerfile (and a .dockerignore when there is none) for a Python project")
    .argument("[dir]", "the project directory", ".")
    .addOption(new Option("-s, --strategy <strategy>", "how to build").choices(strategies.map((s) => s.id)))
    .option("-o, --output <file>", "where to write the Dockerfile (default: DIR/Dockerfile); - for stdout")
    .option("--force", "overwrite a Dockerfile that slimwheel did not write")
    .option("--python <X.Y>", "Python version, over what the project declares")
    .addOption(
      new Option(
        "--runtime <kind>",
        "minimal (default for -s slimwheel): the header says `slimwheel build` cuts the final stage to what the app runs; slim: the runtime image as it is",
      ).choices(["minimal", "slim"]),
    );
  addSelectionOptions(cmd)
    .addHelpText(
      "after",
      `\nStrategies:\n${strategies.map((s) => `  ${s.id}${s.id === DEFAULT_STRATEGY ? " (default)" : ""}\n${s.summary.replace(/(.{1,92})(\s|$)/g, "      $1\n")}`).join("")}`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel dockerfile", "write ./Dockerfile (and .dockerignore) for the project here"],
        ["slimwheel dockerfile examples/flask-app -o -", "print it instead of writing it"],
        ["slimwheel dockerfile -s venv -o Dockerfile.venv", "a classic strategy, to another file"],
        ["slimwheel dockerfile --force", "overwrite a Dockerfile slimwheel did not write"],
      ]),
    )
    .action(
      async (
        dir: string,
        o: {
          strategy?: string;
          output?: string;
          force?: boolean;
          python?: string;
          runtime?: RuntimeKind;
          group: string[];
          extra: string[];
        },
      ) => {
        const { ctx, global, io } = getEnv();
        const root = resolveDir(ctx.cwd, dir);
        const project = await readProject(root, { python: o.python, ...selection(o) });
        const strategy = o.strategy ?? project.config.strategy ?? DEFAULT_STRATEGY;
        const plan = assemblePlan(
          project,
          strategy,
          ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {},
        );
        const version = packageVersion();
        const runtime = resolveRuntime(strategy, o.runtime, project.config.runtime, plan.libc);
        if (runtime === "minimal" && strategy !== "slimwheel")
          throw new SlimwheelError(
            "usage",
            `--runtime minimal is for the slimwheel strategy, not ${strategy}`,
            {
              hint: "the classic strategies show what people write by hand; drop --runtime or use -s slimwheel",
            },
          );
        const text = renderDockerfile(plan, {
          version,
          projectName: project.name,
          runtime,
        });
        if (o.output === "-") {
          io.stdout(text);
          return;
        }
        const target = o.output ? resolveDir(ctx.cwd, o.output) : join(project.dir, "Dockerfile");
        const existing = await readFile(target, "utf8").catch(() => undefined);
        if (existing !== undefined && !existing.startsWith(GENERATED_MARKER) && !o.force) {
          throw new SlimwheelError("usage", `${target} exists and was not written by slimwheel`, {
            hint: "pass --force to overwrite it, or -o to write elsewhere",
          });
        }
        const written: string[] = [];
        await writeAtomic(target, text);
        written.push(target);
        const ignore = join(project.dir, ".dockerignore");
        const own = await readFile(ignore, "utf8").catch(() => undefined);
        if (own === undefined) {
          await writeAtomic(ignore, renderDockerignore(plan, { version }));
          written.push(ignore);
        } else {
          // The project keeps its own .dockerignore; BuildKit reads DOCKERFILE.dockerignore instead of
          // it when building with this Dockerfile: the project's lines, and slimwheel's (secrets,
          // caches, requirements files with credentials) before them, so its `!` exceptions still win.
          const lines = own.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith("#"));
          const merged = [...plan.dockerignore, ...lines.filter((l) => !plan.dockerignore.includes(l))];
          const perDockerfile = `${target}.dockerignore`;
          await writeAtomic(
            perDockerfile,
            renderDockerignore({ ...plan, dockerignore: merged }, { version }),
          );
          written.push(perDockerfile);
        }
        for (const g of plan.generated) {
          await writeAtomic(join(project.dir, g.path), g.content);
          written.push(join(project.dir, g.path));
        }
        if (global.json)
          io.stdout(
            `${JSON.stringify({ strategy, runtime, written, runtimePackages: plan.runtimePackages }, null, 2)}\n`,
          );
        else {
          for (const w of written) io.stdout(`wrote ${w}\n`);
          io.stdout(
            `strategy: ${strategy}, runtime: ${runtime}; build it with: slimwheel build ${dir} -t IMAGE (or docker build -f ${target} ${project.dir})\n`,
          );
        }
      },
    );
}
