import { type Command, Option } from "commander";
import { compareStrategies } from "../../pipeline/compare.js";
import { strategies } from "../../plan/strategies/index.js";
import { compareHtml, formatCompareTable } from "../../report/compare-report.js";
import { writeAtomic } from "../../util/write-atomic.js";
import type { GetEnv } from "../program.js";
import { ExitWith } from "../program.js";
import { packageVersion } from "../version.js";
import { examples } from "./examples.js";
import { addEngineOption, addImageSourceOptions, engineOf, imageSources, resolveDir } from "./options.js";

const DEFAULT = ["full", "slim", "slim-apt", "single-layer", "wheels", "venv", "slimwheel"];

export function registerCompare(program: Command, getEnv: GetEnv): void {
  const cmd = program
    .command("compare")
    .description(
      "build several strategies of one project and compare size, layers, cold and warm build times",
    )
    .argument("[dir]", "the project directory", ".")
    .option(
      "--strategies <list>",
      `comma-separated (default: ${DEFAULT.join(",")}; all: ${strategies.map((s) => s.id).join(",")})`,
    );
  addEngineOption(cmd);
  addImageSourceOptions(cmd)
    .option("--html <file>", "also write a self-contained HTML report with bar charts")
    .option(
      "--smoke <command>",
      "shell command that must succeed in each image (in /app); default: import every installed module",
    )
    .addOption(
      new Option(
        "--runtime <kind>",
        "the slimwheel strategy's runtime to measure: both (minimal beside slim), minimal or slim",
      )
        .choices(["both", "minimal", "slim"])
        .default("both"),
    )
    .option("--keep-images", "keep the images built (tagged localhost/slimwheel-compare/NAME:STRATEGY)")
    .addHelpText(
      "after",
      "\nEach strategy is built twice in a temporary copy of the project: cold (no layer cache), then after a\none-line change to an app source file (warm). The slimwheel strategy is measured with its minimal\nruntime (row slimwheel) and with the slim one (row slimwheel/slim). Exit 1 when a strategy that should work fails.",
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel compare", "every default strategy of the project here, cold and warm"],
        [
          "slimwheel compare examples/flask-app --strategies slim,venv,slimwheel --html report.html",
          "three strategies, with an HTML report",
        ],
        ["slimwheel compare --json > compare.json", "the measurements as JSON"],
      ]),
    )
    .action(async (dir: string, o: Record<string, unknown>) => {
      const { ctx, global, io } = getEnv();
      const list =
        typeof o.strategies === "string"
          ? o.strategies
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : DEFAULT;
      const report = await compareStrategies(
        resolveDir(ctx.cwd, dir),
        {
          ...imageSources(o),
          strategies: list,
          engine: engineOf(o),
          python: o.python as string | undefined,
          smoke: o.smoke as string | undefined,
          keepImages: Boolean(o.keepImages),
          runtimes: o.runtime === "both" ? ["minimal", "slim"] : [o.runtime as "minimal" | "slim"],
          version: packageVersion(),
        },
        ctx,
      );
      if (typeof o.html === "string") {
        const path = resolveDir(ctx.cwd, o.html);
        const at = new Date(
          ctx.sourceDateEpoch !== undefined ? ctx.sourceDateEpoch * 1000 : ctx.now(),
        ).toISOString();
        await writeAtomic(path, compareHtml(report, at));
        if (!global.json) io.stderr(`wrote ${path}\n`);
      }
      io.stdout(global.json ? `${JSON.stringify(report, null, 2)}\n` : formatCompareTable(report));
      if (report.rows.some((r) => r.status === "failed")) throw new ExitWith(1);
    });
}
