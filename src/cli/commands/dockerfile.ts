import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { SlimwheelError } from "../../errors.js";
import { assemblePlan } from "../../pipeline/assemble.js";
import { DEFAULT_STRATEGY, strategies } from "../../plan/strategies/index.js";
import { readProject } from "../../project/read.js";
import { GENERATED_MARKER, renderDockerfile, renderDockerignore } from "../../render/dockerfile/index.js";
import { writeAtomic } from "../../util/write-atomic.js";
import type { GetEnv } from "../program.js";
import { packageVersion } from "../version.js";
import { addSelectionOptions, resolveDir, selection } from "./options.js";

export function registerDockerfile(program: Command, getEnv: GetEnv): void {
  const cmd = program
    .command("dockerfile")
    .description("write a commented Dockerfile (and a .dockerignore when there is none) for a Python project")
    .argument("[dir]", "the project directory", ".")
    .addOption(new Option("-s, --strategy <strategy>", "how to build").choices(strategies.map((s) => s.id)))
    .option("-o, --output <file>", "where to write the Dockerfile (default: DIR/Dockerfile); - for stdout")
    .option("--force", "overwrite a Dockerfile that slimwheel did not write")
    .option("--python <X.Y>", "Python version, over what the project declares");
  addSelectionOptions(cmd)
    .addHelpText(
      "after",
      `\nStrategies:\n${strategies.map((s) => `  ${s.id}${s.id === DEFAULT_STRATEGY ? " (default)" : ""}\n${s.summary.replace(/(.{1,92})(\s|$)/g, "      $1\n")}`).join("")}`,
    )
    .action(
      async (
        dir: string,
        o: {
          strategy?: string;
          output?: string;
          force?: boolean;
          python?: string;
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
        const text = renderDockerfile(plan, {
          version,
          projectName: project.name,
        });
        if (o.output === "-") {
          io.stdout(text);
          return;
        }
        const target = o.output ? resolveDir(ctx.cwd, o.output) : join(project.dir, "Dockerfile");
        // Only a regular file is read back (a FIFO there would block the read forever).
        const existingKind = await stat(target).catch(() => undefined);
        if (existingKind && !existingKind.isFile() && !existingKind.isDirectory())
          throw new SlimwheelError("usage", `${target} exists and is not a regular file`, {
            hint: "pass -o with the path of a file to write",
          });
        const existing = existingKind?.isFile()
          ? await readFile(target, "utf8").catch(() => undefined)
          : undefined;
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
            `${JSON.stringify({ strategy, written, runtimePackages: plan.runtimePackages }, null, 2)}\n`,
          );
        else {
          for (const w of written) io.stdout(`wrote ${w}\n`);
          io.stdout(
            `strategy: ${strategy}; build it with: slimwheel build ${dir} -t IMAGE (or docker build -f ${target} ${project.dir})\n`,
          );
        }
      },
    );
}
