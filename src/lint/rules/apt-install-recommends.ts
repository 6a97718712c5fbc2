import { commandsOf, packageInstall } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { df, lineageInstructions, severityIn } from "./util.js";

export const rule: Rule = {
  id: "apt-install-recommends",
  title: "apt-get install without --no-install-recommends",
  description:
    "`apt-get install` pulls every package's Recommends too unless told not to: documentation, extra tools and libraries the image never uses.",
  rationale:
    "apt installs Recommends by default (apt.conf(5), APT::Install-Recommends); Docker's Dockerfile best practices use --no-install-recommends, and the official slim images set nothing to prevent it.",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "RUN echo 'APT::Install-Recommends \"false\";' > /etc/apt/apt.conf.d/99norecommends",
      "RUN apt-get update && apt-get install -y libpq5 && rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get install -y libpq5 && rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    for (const inst of model.instructions) {
      if (inst.keyword !== "RUN" || inst.stage < 0) continue;
      for (const cmd of commandsOf(inst)) {
        const add = packageInstall(cmd);
        if (add?.manager !== "apt" || add.packages.length === 0) continue;
        if (add.options.includes("--no-install-recommends")) continue;
        if (add.options.some((o) => /^APT::Install-Recommends=(false|0)$/i.test(o))) continue;
        const stage = model.stages[inst.stage]!;
        const configured = lineageInstructions(model, stage).some(
          (i) => i.keyword === "RUN" && /Install-Recommends\s*"?(false|0)/i.test(i.args),
        );
        if (configured) continue;
        hits.push({
          range: inst.range,
          severity: severityIn(model, inst.stage, "warning"),
          message: `apt-get install ${add.packages.slice(0, 4).join(" ")}${add.packages.length > 4 ? " …" : ""} also installs their recommended packages`,
          cost: "≈ 20–100 MB of recommended packages, depending on what is installed",
          fix: "add --no-install-recommends (and name what you really need)",
        });
        break;
      }
    }
    return hits;
  },
};
