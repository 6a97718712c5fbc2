/** The vocabulary of `slimwheel lint`: severities, findings, rules. */
import type { DockerfileModel } from "./model.js";

export const SEVERITIES = ["error", "warning", "info"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** How severe, as a number: higher is worse. */
export const severityRank = (s: Severity): number => (s === "error" ? 3 : s === "warning" ? 2 : 1);

/** One problem found in a Dockerfile. Lines and columns are 1-based, columns count UTF-16 code units. */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  /** What the problem likely costs, an estimate in bytes or seconds ("≈ 200 MB"). */
  readonly cost: string;
  /** How to fix it. */
  readonly fix: string;
}

/** What a rule's check returns: a finding without the file and rule id (the linter adds them). */
export interface RuleHit {
  /** 0-based position in the file, as the parser gives it. */
  readonly range: Range0;
  readonly message: string;
  readonly cost: string;
  readonly fix: string;
  /** Overrides the rule's severity for this finding (e.g. lower in a stage that never ships). */
  readonly severity?: Severity;
}

export interface Range0 {
  readonly start: { readonly line: number; readonly character: number };
  readonly end: { readonly line: number; readonly character: number };
}

export interface Rule {
  /** Stable id, kebab-case: what `# slimwheel-ignore` and the config name. */
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** Why this matters, and which source says so. */
  readonly rationale: string;
  readonly severity: Severity;
  /** Dockerfiles the rule must stay silent on. */
  readonly good: readonly string[];
  /** Dockerfiles the rule must fire on. */
  readonly bad: readonly string[];
  readonly check: (df: DockerfileModel) => readonly RuleHit[];
}
