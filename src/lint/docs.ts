/** The rules section of docs/lint.md, generated from the registry (src/lint/docs.test.ts keeps it current). */
import { rules } from "./rules/index.js";

export const RULES_START = "<!-- rules:start (generated from src/lint/rules/ by src/lint/docs.test.ts) -->";
export const RULES_END = "<!-- rules:end -->";

export function rulesMarkdown(): string {
  let out = "| rule | severity | what |\n| --- | --- | --- |\n";
  for (const r of rules) out += `| [\`${r.id}\`](#${r.id}) | ${r.severity} | ${r.title} |\n`;
  for (const r of rules) {
    out += `\n### ${r.id}\n\n**${r.title}** — default severity: ${r.severity}.\n\n${r.description}\n\n`;
    out += `Why: ${r.rationale}\n\n`;
    out += `Fires on:\n\n\`\`\`dockerfile\n${r.bad[0]!.trimEnd()}\n\`\`\`\n\n`;
    out += `Silent on:\n\n\`\`\`dockerfile\n${r.good[0]!.trimEnd()}\n\`\`\`\n`;
  }
  return out;
}

/** `text` with the generated section replaced by the registry's current one. */
export function withRules(text: string): string {
  const a = text.indexOf(RULES_START);
  const b = text.indexOf(RULES_END);
  if (a < 0 || b < a) return text;
  return `${text.slice(0, a + RULES_START.length)}\n\n${rulesMarkdown()}\n${text.slice(b)}`;
}
