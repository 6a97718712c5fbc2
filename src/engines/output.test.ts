import { describe, expect, it } from "vitest";
import { lastMeaningfulLines } from "./output.js";

describe("lastMeaningfulLines", () => {
  it("keeps the last lines that say something, without the engine's own noise", () => {
    const out = [
      "Traceback (most recent call last):",
      '  File "<string>", line 1',
      "ImportError: libpq.so.5: cannot open shared object file",
      "",
      "subprocess exited with status 1",
      "Error: exit status 1",
    ].join("\n");
    expect(lastMeaningfulLines(out, 1)).toBe("ImportError: libpq.so.5: cannot open shared object file");
    expect(lastMeaningfulLines(out, 2)).toBe(
      'File "<string>", line 1 | ImportError: libpq.so.5: cannot open shared object file',
    );
    expect(lastMeaningfulLines("error while running runtime: exit status 1\r\n", 3)).toBe("");
  });
});
