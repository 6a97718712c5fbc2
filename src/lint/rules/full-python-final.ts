import { finalStage, lineage, splitImage } from "../model.js";
import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

/** Whether an image is the full official Python image (not -slim, not -alpine). */
export function isFullPython(image: string): boolean {
  const { name, tag } = splitImage(image);
  if (!/^((docker\.io\/)?(library\/)?)python$/.test(name)) return false;
  return !tag || !/slim|alpine/.test(tag);
}

/** The slim variant's tag: 3.12 → 3.12-slim, 3.12-bookworm → 3.12-slim-bookworm, latest → slim. */
const slimTag = (tag: string | undefined): string =>
  !tag || tag === "latest" ? "slim" : tag.replace(/^([^-]+)(-.*)?$/, "$1-slim$2");

export const rule: Rule = {
  id: "full-python-final",
  title: "Final stage on the full Python image",
  description:
    "The image that ships starts FROM python:X (the full image: Debian with compilers, headers and -dev libraries) instead of python:X-slim.",
  rationale:
    "The full python image is built on buildpack-deps: gcc, make, headers and many -dev packages, ≈ 1 GB; the slim variant holds only what Python needs to run (Docker Official Images' python page, 'Image Variants').",
  severity: "warning",
  good: [
    df(
      "FROM python:3.12 AS builder",
      "RUN pip wheel --no-cache-dir --wheel-dir /wheels psycopg2",
      "FROM python:3.12-slim",
      "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install --no-cache-dir /wheels/*.whl",
      "USER 10001",
    ),
  ],
  bad: [
    df("FROM python:3.12", "RUN pip install --no-cache-dir flask", "USER 10001"),
    df("ARG PY=3.11", "FROM python:${PY} AS base", "FROM base", "USER 10001"),
  ],
  check(model) {
    const last = finalStage(model);
    if (!last) return [];
    const root = lineage(model, last)[0]!;
    const image = root.resolvedImage;
    if (!image || !isFullPython(image)) return [];
    const hit: RuleHit = {
      range: root.from.range,
      message: `the final image starts from ${image}${image !== root.image ? ` (${root.image} with its ARG defaults)` : ""}, the full image with compilers and headers`,
      cost: "≈ 900 MB (python:3.12 is ≈ 1 GB, python:3.12-slim ≈ 130 MB)",
      fix: `use ${splitImage(image).name}:${slimTag(splitImage(image).tag)} for the final stage; keep the full image for a builder stage`,
    };
    return [hit];
  },
};
