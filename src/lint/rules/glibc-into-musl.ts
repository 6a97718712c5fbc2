import {
  finalStage,
  flagNamed,
  libcOf,
  libcOfImage,
  lineage,
  shippedStages,
  stageNamed,
  substitute,
} from "../model.js";
import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

/** Paths that hold compiled Python artifacts (a venv, site-packages, wheels, /usr/local). */
const PYTHON_ARTIFACT =
  /site-packages|dist-packages|venv|\.local|wheel|\.whl|\/usr\/local|^\/opt\b|python|\/install|\.so(\.|$)/i;

export const rule: Rule = {
  id: "glibc-into-musl",
  title: "glibc build artifacts copied into an Alpine (musl) image",
  description:
    "A builder stage on a glibc image (python:X, debian, ubuntu) whose Python artifacts (a venv, site-packages, wheels) are COPY --from'd into an Alpine final stage: extension modules linked against glibc do not load on musl.",
  rationale:
    "manylinux wheels and anything compiled on Debian link glibc; Alpine ships musl, which is not ABI-compatible (PEP 600 vs PEP 656: musllinux is a separate platform tag).",
  severity: "error",
  good: [
    df(
      "FROM python:3.12-alpine AS builder",
      "RUN apk add --no-cache gcc musl-dev && pip wheel --no-cache-dir --wheel-dir /wheels psycopg2",
      "FROM python:3.12-alpine",
      "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install --no-cache-dir /wheels/*.whl",
      "USER 10001",
    ),
  ],
  bad: [
    df(
      "FROM python:3.12 AS builder",
      "RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir psycopg2-binary",
      "FROM python:3.12-alpine",
      "COPY --from=builder /opt/venv /opt/venv",
      "ENV PATH=/opt/venv/bin:$PATH",
      "USER 10001",
    ),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    const last = finalStage(model);
    if (!last || libcOf(model, last) !== "musl") return hits;
    const shipped = shippedStages(model);
    for (const stage of lineage(model, last)) {
      if (!shipped.has(stage.index)) continue;
      for (const inst of stage.instructions) {
        if (inst.keyword !== "COPY") continue;
        const ref = flagNamed(inst, "from")?.value;
        if (!ref) continue;
        const resolvedRef = substitute(ref, model.globalArgs) ?? ref;
        const source = stageNamed(model, resolvedRef);
        const libc = source ? libcOf(model, source) : libcOfImage(resolvedRef);
        if (libc !== "glibc") continue;
        const paths = inst.argv.slice(0, -1);
        if (!paths.some((p) => PYTHON_ARTIFACT.test(p))) continue;
        hits.push({
          range: inst.range,
          message: `copies ${paths.join(" ")} from ${source ? `stage ${resolvedRef} (${source.resolvedImage ?? source.image}, glibc)` : `${resolvedRef} (glibc)`} into an Alpine (musl) image: compiled extensions will not load`,
          cost: "≈ 0 bytes saved; the image fails at import (Error loading shared library … ld-linux-x86-64.so.2)",
          fix: "build on the same libc as the final image: an alpine builder for an alpine final stage, or a python:X-slim final stage for a glibc builder",
        });
      }
    }
    return hits;
  },
};
