import { finalStage, lineage } from "../model.js";
import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

const ROOT = /^(root|0)(:(root|0))?$/;

export const rule: Rule = {
  id: "runs-as-root",
  title: "Final image runs as root",
  description:
    "The last USER of the image that ships is root (warning), or there is no USER at all (info: the base image's user, root for the official Python images, unless the runtime sets one).",
  rationale:
    "A process running as root in a container is root on a shared kernel: a breakout or a writable mount is the host's root (Docker docs, 'Dockerfile best practices: USER'; CIS Docker Benchmark 4.1 'Ensure that a user for the container has been created').",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12-slim",
      "RUN useradd --uid 10001 --no-create-home app",
      "USER app",
      'CMD ["python", "-m", "app"]',
    ),
    df("FROM python:3.12-slim AS base", "USER 10001:10001", "FROM base", 'CMD ["python", "-m", "app"]'),
  ],
  bad: [
    df("FROM python:3.12-slim", 'CMD ["python", "-m", "app"]'),
    df("FROM python:3.12-slim", "USER 10001", "RUN true", "USER root", 'CMD ["python", "-m", "app"]'),
  ],
  check(model) {
    const last = finalStage(model);
    if (!last) return [];
    const users = lineage(model, last)
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === "USER");
    const user = users.at(-1);
    if (!user) {
      if (last.resolvedImage === "scratch") return [];
      const hit: RuleHit = {
        range: last.from.range,
        severity: "info",
        message:
          "the final stage sets no USER: the app runs as the base image's user (root in the official Python images)",
        cost: "≈ 0 bytes; a compromised app is root in the container",
        fix: "add a non-root user and end the final stage with USER (e.g. USER 10001:10001)",
      };
      return [hit];
    }
    const who = user.argv[0] ?? "";
    if (!ROOT.test(who)) return [];
    return [
      {
        range: user.range,
        message: `the final image runs as ${who}`,
        cost: "≈ 0 bytes; a compromised app is root in the container",
        fix: "switch back to a non-root user after the steps that need root (USER 10001:10001)",
      },
    ];
  },
};
