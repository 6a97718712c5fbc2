import { type Command, Option } from "commander";
import { formatText, toJson, toSarif } from "../../lint/format.js";
import { failsAt, lintFile } from "../../lint/lint.js";
import { rules } from "../../lint/rules/index.js";
import { SEVERITIES, type Severity } from "../../lint/types.js";
import { writeAtomic } from "../../util/write-atomic.js";
import type { GetEnv } from "../program.js";
import { ExitWith } from "../program.js";
import { packageVersion } from "../version.js";
import { examples } from "./examples.js";
import { resolveDir } from "./options.js";

export function registerLint(program: Command, getEnv: GetEnv): void {
  program
    .command("lint")
    .description(
      "find what makes a Dockerfile big, slow to rebuild or unsafe, with the likely cost and a fix",
    )
    .argument("[dockerfile]", "the Dockerfile", "Dockerfile")
    .addOption(
      new Option("--severity <level>", "exit 1 when a finding is at or above this level")
        .choices([...SEVERITIES])
        .default("warning"),
    )
    .addOption(
      new Option("--format <format>", "output format (--json is the same as --format json)").choices([
        "text",
        "json",
        "sarif",
      ]),
    )
    .option("-o, --output <file>", "write the report to a file instead of stdout")
    .addHelpText(
      "after",
      `\nRules (docs/lint.md):\n${rules.map((r) => `  ${r.id.padEnd(26)}${r.severity.padEnd(8)} ${r.title}`).join("\n")}\n\nIgnore a rule on the next instruction with a comment line \`# slimwheel-ignore RULE[,RULE]\`, in the\nwhole file with \`# slimwheel-ignore-file RULE\`, or in pyproject.toml next to the Dockerfile:\n[tool.slimwheel.lint] ignore = ["RULE"].\nExit codes: 0 nothing at or above --severity, 1 findings at or above it, 2 bad input.\n`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel lint", "lint ./Dockerfile"],
        ["slimwheel lint docker/Dockerfile.prod --severity error", "exit 1 only on errors"],
        ["slimwheel lint --format sarif -o lint.sarif", "SARIF for code scanning"],
      ]),
    )
    .action(async (dockerfile: string, o: { severity: Severity; format?: string; output?: string }) => {
      const { ctx, global, io } = getEnv();
      const path = resolveDir(ctx.cwd, dockerfile);
      const result = await lintFile(path, dockerfile);
      const failed = failsAt(result.findings, o.severity);
      const format = o.format ?? (global.json ? "json" : "text");
      const text =
        format === "sarif"
          ? `${JSON.stringify(toSarif([result], packageVersion()), null, 2)}\n`
          : format === "json"
            ? `${JSON.stringify(toJson([result], failed, o.severity), null, 2)}\n`
            : formatText([result], { color: global.stdoutColor && !o.output });
      if (o.output) {
        const target = resolveDir(ctx.cwd, o.output);
        await writeAtomic(target, text);
        if (!global.json && !global.quiet) io.stderr(`wrote ${target}\n`);
      } else io.stdout(text);
      if (failed) throw new ExitWith(1);
    });
}
