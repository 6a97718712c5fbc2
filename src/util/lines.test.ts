import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstLine, lastLine, lineSplitter, splitLines } from "./lines.js";

const collect = (chunks: readonly string[]) => {
  const out: string[] = [];
  const s = lineSplitter((l) => out.push(l));
  for (const c of chunks) s.write(c);
  s.end();
  return out;
};

describe("splitLines", () => {
  it("cuts at \\n and \\r\\n, keeps an unterminated last line, adds no empty last line", () => {
    expect(splitLines("")).toEqual([]);
    expect(splitLines("a\nb\n")).toEqual(["a", "b"]);
    expect(splitLines("a\r\nb")).toEqual(["a", "b"]);
    expect(splitLines("a\n\nb\n")).toEqual(["a", "", "b"]);
  });
  it("first and last line ignore surrounding blank space", () => {
    expect(firstLine("\n  x\ny\n")).toBe("x");
    expect(lastLine("x\ny\n\n")).toBe("y");
    expect(firstLine("")).toBe("");
    expect(lastLine("")).toBe("");
  });
});

describe("lineSplitter", () => {
  it("passes the unterminated last line at end", () => {
    expect(collect(["ab", "c\nd", "e"])).toEqual(["abc", "de"]);
    expect(collect(["a\r", "\nb\r\n"])).toEqual(["a", "b"]);
  });
  it("gives the same lines as splitLines however the output is cut into chunks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "b", "\n", "\r\n", " ")),
        fc.array(fc.nat(), { maxLength: 5 }),
        (parts, cuts) => {
          const text = parts.join("");
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((x, y) => x - y);
          const chunks: string[] = [];
          let at = 0;
          for (const p of points) {
            chunks.push(text.slice(at, p));
            at = p;
          }
          chunks.push(text.slice(at));
          expect(collect(chunks)).toEqual(splitLines(text));
        },
      ),
    );
  });
});
