import { describe, expect, it } from "vitest";
import { lintText } from "../lint.js";
import { SEVERITIES } from "../types.js";
import { rules } from "./index.js";

describe("the rule registry", () => {
  it("has unique kebab-case ids and complete metadata", () => {
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.id).toMatch(/^[a-z]+(-[a-z0-9]+)*$/);
      expect(r.title.length).toBeGreaterThan(5);
      expect(r.description.length).toBeGreaterThan(20);
      expect(r.rationale.length).toBeGreaterThan(20);
      expect(SEVERITIES).toContain(r.severity);
      expect(r.good.length).toBeGreaterThan(0);
      expect(r.bad.length).toBeGreaterThan(0);
    }
  });

  for (const r of rules) {
    describe(r.id, () => {
      r.bad.forEach((text, n) => {
        it(`fires on bad example ${n + 1}`, () => {
          const found = lintText(text, `bad-${n + 1}.Dockerfile`).findings.filter((f) => f.rule === r.id);
          expect(found.length, text).toBeGreaterThan(0);
          for (const f of found) {
            expect(f.cost).toMatch(/≈/);
            expect(f.fix.length).toBeGreaterThan(5);
            expect(f.line).toBeGreaterThanOrEqual(1);
            expect(f.column).toBeGreaterThanOrEqual(1);
          }
        });
      });
      r.good.forEach((text, n) => {
        it(`stays silent on good example ${n + 1}`, () => {
          const found = lintText(text, `good-${n + 1}.Dockerfile`).findings.filter((f) => f.rule === r.id);
          expect(found, text).toEqual([]);
        });
      });
    });
  }
});
