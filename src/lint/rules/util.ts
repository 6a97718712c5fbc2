/** Helpers the rules share. */
import { type DockerfileModel, type Inst, lineage, type Stage, shippedStages } from "../model.js";
import type { Severity } from "../types.js";

/** The rule's severity in a stage that ships, one step lower (info) in a stage that does not. */
export function severityIn(df: DockerfileModel, stage: number, shipped: Severity): Severity {
  return shippedStages(df).has(stage) ? shipped : "info";
}

/** Every instruction a stage's image is made of, oldest first (its ancestors' included). */
export function lineageInstructions(df: DockerfileModel, stage: Stage): Inst[] {
  return lineage(df, stage).flatMap((s) => s.instructions);
}

export const lineOf = (i: Inst): number => i.range.start.line + 1;

/** Megabytes, rounded for a human: "≈ 230 MB". */
export const aboutMB = (mb: number): string =>
  `≈ ${mb >= 1000 ? `${(mb / 1000).toFixed(1)} GB` : `${Math.max(1, Math.round(mb / 10) * 10 || Math.round(mb))} MB`}`;

/** A Dockerfile from lines (examples read better as arrays). */
export const df = (...lines: string[]): string => `${lines.join("\n")}\n`;
