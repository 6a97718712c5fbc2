import { flagsNamed, mountOptions } from "../model.js";
import { commandsOf } from "../shell.js";
import type { Rule, RuleHit } from "../types.js";
import { df, severityIn } from "./util.js";

export const rule: Rule = {
  id: "apt-lists-kept",
  title: "apt package lists left in the layer",
  description:
    "A RUN that runs `apt-get update` (to install something) without `rm -rf /var/lib/apt/lists/*` in the same RUN: the package lists stay in that layer, and removing them later saves nothing.",
  rationale:
    "Docker's Dockerfile best practices (apt-get): removing /var/lib/apt/lists in the same RUN as apt-get update and install keeps the lists out of the layer; in a later RUN it saves nothing, since layers are append-only.",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "RUN --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \\",
      "    --mount=type=cache,target=/var/cache/apt,sharing=locked \\",
      "    apt-get update && apt-get install -y --no-install-recommends libpq5",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update && apt-get install -y --no-install-recommends libpq5",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "RUN apt-get update",
      "RUN apt-get install -y --no-install-recommends libpq5",
      "RUN rm -rf /var/lib/apt/lists/*",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    for (const inst of model.instructions) {
      if (inst.keyword !== "RUN" || inst.stage < 0) continue;
      const updates = commandsOf(inst).some((c) => {
        const i = c.findIndex((w) => /^(?:.*\/)?(apt-get|apt)$/.test(w));
        return i >= 0 && c.slice(i + 1).find((w) => !w.startsWith("-")) === "update";
      });
      if (!updates) continue;
      if (/rm\s+(-[a-zA-Z]+\s+)*[^&;|]*\/var\/lib\/apt\/lists/.test(inst.args)) continue;
      const cached = flagsNamed(inst, "mount").some((f) => {
        const o = mountOptions(f);
        return (
          (o.get("type") === "cache" || o.get("type") === "tmpfs") &&
          /^\/var\/lib\/apt(\/lists)?\/?$/.test(o.get("target") ?? o.get("dst") ?? o.get("destination") ?? "")
        );
      });
      if (cached) continue;
      hits.push({
        range: inst.range,
        severity: severityIn(model, inst.stage, "warning"),
        message: "apt-get update's package lists (/var/lib/apt/lists) stay in this layer",
        cost: "≈ 20–40 MB (Debian's package lists for one release)",
        fix: "end the same RUN with && rm -rf /var/lib/apt/lists/* (or use a cache mount on /var/lib/apt/lists)",
      });
    }
    return hits;
  },
};
