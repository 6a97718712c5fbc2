import type { Command } from "commander";
import { FINDING_IDS } from "../../inspect/findings.js";
import { failures, formatInspect, inspectHtml, inspectImage, parseFailOn } from "../../inspect/index.js";
import { INSPECT_REFS, openAnyImage } from "../../inspect/open.js";
import { writeAtomic } from "../../util/write-atomic.js";
import type { GetEnv } from "../program.js";
import { ExitWith } from "../program.js";
import { examples } from "./examples.js";
import { resolveDir } from "./options.js";

export function registerInspect(program: Command, getEnv: GetEnv): void {
  program
    .command("inspect")
    .description("report an image's layers, waste (what a squash would save) and Python and system findings")
    .argument("<ref>", INSPECT_REFS)
    .option("--insecure", "plain HTTP to the registry (loopback registries need no flag)")
    .option("--html <file>", "also write a self-contained HTML report")
    .option(
      "--fail-on <rules>",
      "exit 1 when any rule matches: comma list of finding ids or waste>SIZE (e.g. waste>50MB,root,compiler)",
    )
    .addHelpText(
      "after",
      `\nFinding ids: ${FINDING_IDS.join(", ")}.\nLayers are streamed (never held in memory). Exit 1 when a --fail-on rule matches.`,
    )
    .addHelpText(
      "after",
      examples([
        ["slimwheel inspect docker-daemon:myapp:dev", "an image of the local docker engine"],
        ["slimwheel inspect oci:out/myapp --html inspect.html", "an OCI layout, with an HTML report"],
        [
          "slimwheel inspect docker://127.0.0.1:5000/myapp:1 --fail-on 'waste>50MB,root,compiler'",
          "in CI: exit 1 on waste over 50 MB, root or a compiler",
        ],
      ]),
    )
    .action(async (refText: string, o: { html?: string; failOn?: string; insecure?: boolean }) => {
      const { ctx, global, io } = getEnv();
      const rules = o.failOn === undefined ? [] : parseFailOn(o.failOn);
      const opened = await openAnyImage(refText, ctx, { insecure: o.insecure });
      const report = await inspectImage(opened.source).finally(opened.close);
      if (typeof o.html === "string") {
        const path = resolveDir(ctx.cwd, o.html);
        const at = new Date(
          ctx.sourceDateEpoch !== undefined ? ctx.sourceDateEpoch * 1000 : ctx.now(),
        ).toISOString();
        await writeAtomic(path, inspectHtml(report, at));
        if (!global.json) io.stderr(`wrote ${path}\n`);
      }
      io.stdout(global.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspect(report));
      const failed = failures(report, rules);
      if (failed.length) {
        if (!global.quiet) io.stderr(`--fail-on matched: ${failed.join("; ")}\n`);
        throw new ExitWith(1);
      }
    });
}
