import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Argument, type Command } from "commander";
import { SlimwheelError } from "../../errors.js";
import { CI_FILES, type CiProvider, dockerfileFlagsFrom, renderCi } from "../../generate/ci.js";
import { isGenerated } from "../../generate/header.js";
import { writeAtomic } from "../../util/write-atomic.js";
import type { GetEnv } from "../program.js";
import { packageVersion } from "../version.js";
import { examples } from "./examples.js";
import { resolveDir } from "./options.js";

export function registerCi(program: Command, getEnv: GetEnv): void {
  program
    .command("ci")
    .description(
      "write a CI recipe: check the committed Dockerfile, build with a registry cache for every stage, push on the default branch, keep the SBOM and the compare report",
    )
    .addArgument(new Argument("<provider>", "the CI service").choices(["github", "gitlab"]))
    .argument("[dir]", "the repository root (the project directory unless --project-dir)", ".")
    .option("--project-dir <path>", "the Python project, relative to the repository root", ".")
    .option(
      "--branch <name>",
      "the branch that pushes (github default: main; gitlab default: the default branch)",
    )
    .option(
      "--image <repository>",
      "the image repository (default: ghcr.io/OWNER/REPO, or $CI_REGISTRY_IMAGE)",
    )
    .option(
      "-o, --output <file>",
      "where to write it (default: .github/workflows/slimwheel.yml or .gitlab-ci.yml); - for stdout",
    )
    .option("--force", "overwrite a file that slimwheel did not write")
    .addHelpText(
      "after",
      `
The recipe runs \`slimwheel dockerfile --check\` and \`slimwheel build\` with the flags the committed
Dockerfile was written with (its strategy, runtime, Python, groups and extras, read from its
header), so write the Dockerfile first. Details: docs/ci.md.`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel ci github", "write .github/workflows/slimwheel.yml"],
        ["slimwheel ci gitlab", "write .gitlab-ci.yml"],
        ["slimwheel ci github --branch trunk", "push from trunk instead of main"],
        ["slimwheel ci gitlab -o -", "print it"],
      ]),
    )
    .action(
      async (
        provider: CiProvider,
        dir: string,
        o: { projectDir: string; branch?: string; image?: string; output?: string; force?: boolean },
      ) => {
        const { ctx, global, io } = getEnv();
        const root = resolveDir(ctx.cwd, dir);
        const projectDir = o.projectDir.replace(/\/+$/, "") || ".";
        const dockerfile = await readFile(join(root, projectDir, "Dockerfile"), "utf8").catch(
          () => undefined,
        );
        const text = renderCi(provider, {
          version: packageVersion(),
          dir: projectDir,
          dockerfileFlags: dockerfileFlagsFrom(dockerfile),
          ...(o.branch ? { branch: o.branch } : {}),
          ...(o.image ? { image: o.image } : {}),
        });
        if (o.output === "-") {
          io.stdout(text);
          return;
        }
        const target = o.output ? resolveDir(ctx.cwd, o.output) : join(root, CI_FILES[provider]);
        const existing = await readFile(target, "utf8").catch(() => undefined);
        if (existing !== undefined && !isGenerated(existing) && !o.force)
          throw new SlimwheelError("usage", `${target} exists and was not written by slimwheel`, {
            hint: "pass --force to overwrite it, or -o to write elsewhere",
          });
        await mkdir(dirname(target), { recursive: true });
        await writeAtomic(target, text);
        if (global.json) io.stdout(`${JSON.stringify({ provider, written: [target] }, null, 2)}\n`);
        else {
          io.stdout(`wrote ${target}\n`);
          if (!dockerfile || !isGenerated(dockerfile))
            io.stderr(
              `note: ${join(projectDir, "Dockerfile")} is not slimwheel's yet: its check step fails until you run \`slimwheel dockerfile ${projectDir}\` and commit the files it writes\n`,
            );
        }
      },
    );
}
