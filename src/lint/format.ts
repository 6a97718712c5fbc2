/** How `slimwheel lint` prints findings: for a person, as JSON, as SARIF 2.1.0. */
import type { LintResult } from "./lint.js";
import { rules } from "./rules/index.js";
import type { Severity } from "./types.js";

const COLORS: Record<Severity, string> = { error: "\u001b[31m", warning: "\u001b[33m", info: "\u001b[36m" };

/** `file:line:col  severity  RULE  message`, then the cost and the fix, grouped by file. */
export function formatText(results: readonly LintResult[], options: { color?: boolean } = {}): string {
  const paint = (s: Severity, text: string) => (options.color ? `${COLORS[s]}${text}\u001b[0m` : text);
  let out = "";
  for (const r of results) {
    if (r.findings.length === 0) {
      out += `${r.file}: no findings\n`;
      continue;
    }
    out += `${r.file}\n`;
    for (const f of r.findings) {
      out += `  ${f.file}:${f.line}:${f.column}  ${paint(f.severity, f.severity.padEnd(7))}  ${f.rule}  ${f.message}\n`;
      out += `      cost: ${f.cost}\n`;
      out += `      fix:  ${f.fix}\n`;
    }
    const s = r.summary;
    out += `  ${s.findings} finding${s.findings === 1 ? "" : "s"}: ${s.error} error, ${s.warning} warning, ${s.info} info\n`;
  }
  return out;
}

/** `--json`: the findings and a summary. */
export function toJson(results: readonly LintResult[], failed: boolean, threshold: Severity): unknown {
  const findings = results.flatMap((r) => r.findings);
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return {
    ok: !failed,
    findings,
    summary: {
      files: results.length,
      findings: findings.length,
      error: count("error"),
      warning: count("warning"),
      info: count("info"),
      threshold,
      ignored: [...new Set(results.flatMap((r) => r.ignored))].sort(),
    },
  };
}

/** A SARIF artifact URI: relative paths stay relative, absolute ones become file:// URIs. */
const uriOf = (path: string): string => {
  const p = encodeURI(path.split("\\").join("/"));
  return p.startsWith("/") ? `file://${p}` : p;
};

const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  error: "error",
  warning: "warning",
  info: "note",
};

/** SARIF 2.1.0: one run, the registry as tool.driver.rules, one result per finding. */
export function toSarif(results: readonly LintResult[], version: string): unknown {
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "slimwheel",
            version,
            informationUri: "https://github.com/slimwheel/slimwheel/blob/main/docs/lint.md",
            rules: rules.map((r) => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z])/g, (_m, _d: string, c: string) => c.toUpperCase()),
              shortDescription: { text: r.title },
              fullDescription: { text: r.description },
              help: { text: `${r.description}\n\nWhy: ${r.rationale}` },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { rationale: r.rationale },
            })),
          },
        },
        // lint's columns count UTF-16 code units (SARIF's default is Unicode code points)
        columnKind: "utf16CodeUnits",
        results: results.flatMap((r) =>
          r.findings.map((f) => ({
            ruleId: f.rule,
            ruleIndex: rules.findIndex((x) => x.id === f.rule),
            level: LEVEL[f.severity],
            message: { text: `${f.message} (cost: ${f.cost}). Fix: ${f.fix}` },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: { uri: uriOf(f.file) },
                  region: {
                    startLine: f.line,
                    startColumn: f.column,
                    endLine: f.endLine,
                    endColumn: f.endColumn,
                  },
                },
              },
            ],
            properties: { cost: f.cost, fix: f.fix, severity: f.severity },
          })),
        ),
      },
    ],
  };
}
