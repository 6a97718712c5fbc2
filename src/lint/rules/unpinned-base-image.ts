import { splitImage } from "../model.js";
import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

export const rule: Rule = {
  id: "unpinned-base-image",
  title: "Base image not pinned",
  description:
    "FROM an image with no tag or `:latest`, and no `@sha256:` digest (build arguments resolved from their ARG defaults): each build may start from a different image.",
  rationale:
    "`latest` is just the default tag and moves with every release (Docker docs, 'Image tags'); a tag names a Python version, a digest names exact bytes (Docker docs, 'Pin base image versions').",
  severity: "warning",
  good: [
    df("FROM python:3.12-slim", "USER 10001"),
    df("ARG PY=3.12", "FROM python:${PY}-slim", "USER 10001"),
    df("FROM python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "USER 10001"),
    df("FROM python:3.12-slim AS base", "FROM base", "USER 10001"),
  ],
  bad: [
    df("FROM python", "USER 10001"),
    df("FROM python:latest", "USER 10001"),
    df("ARG BASE=python", "FROM ${BASE} AS build", "USER 10001"),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    const names = new Set<string>();
    for (const stage of model.stages) {
      const image = stage.resolvedImage;
      if (
        image !== undefined &&
        image !== "" &&
        stage.parent === undefined &&
        !names.has(image.toLowerCase())
      ) {
        const { name, tag, digest } = splitImage(image);
        if (name !== "scratch" && !digest && (!tag || tag === "latest")) {
          hits.push({
            range: stage.from.range,
            message: `FROM ${image}${image !== stage.image ? ` (${stage.image} with its ARG defaults)` : ""} has ${tag ? "the moving tag latest" : "no tag"} and no digest`,
            cost: "≈ a full rebuild (minutes) whenever latest moves, and a Python upgrade nobody chose",
            fix: `name a version, e.g. ${name}:3.12-slim, and pin it with @sha256:… for reproducible builds`,
          });
        }
      }
      if (stage.name) names.add(stage.name);
    }
    return hits;
  },
};
