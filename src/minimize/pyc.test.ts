import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pycSource, retimedHeader, retimePyc } from "./pyc.js";
import { pycHeader } from "./pyc.testutil.js";

const header = (flags: number, mtime: number, size: number) => pycHeader(flags, mtime, size);

describe("pyc retiming", () => {
  it("maps a cached .pyc to its source", () => {
    expect(pycSource("usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc")).toBe(
      "usr/lib/python3.11/json/decoder.py",
    );
    expect(pycSource("a/__pycache__/m.cpython-312.opt-1.pyc")).toBe("a/m.py");
    expect(pycSource("a/m.pyc")).toBeUndefined();
    expect(pycSource("a/__pycache__/notes.txt")).toBeUndefined();
  });

  it("rewrites the mtime only when the header matched the source", () => {
    const h = header(0, 1_700_000_000, 1234);
    const out = retimedHeader(h, { mtimeSeconds: 1_700_000_000.7, size: 1234 }, 0)!;
    expect(out.readUInt32LE(8)).toBe(0);
    expect(out.subarray(0, 8)).toEqual(h.subarray(0, 8));
    expect(out.readUInt32LE(12)).toBe(1234);
    expect(retimedHeader(h, { mtimeSeconds: 1_700_000_001, size: 1234 }, 0)).toBeUndefined();
    expect(retimedHeader(h, { mtimeSeconds: 1_700_000_000, size: 99 }, 0)).toBeUndefined();
    expect(retimedHeader(header(1, 0, 0), { mtimeSeconds: 0, size: 0 }, 5)).toBeUndefined();
    expect(retimedHeader(h.subarray(0, 12), { mtimeSeconds: 1_700_000_000, size: 1234 }, 0)).toBeUndefined();
  });

  it("rewrites a file in place, keeping the code bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pyc-"));
    try {
      const f = join(dir, "m.cpython-311.pyc");
      await writeFile(f, Buffer.concat([header(0, 42, 7), Buffer.from("code")]));
      expect(await retimePyc(f, { mtimeSeconds: 42, size: 7 }, 1000)).toBe(true);
      const b = await readFile(f);
      expect(b.readUInt32LE(8)).toBe(1000);
      expect(b.subarray(16).toString()).toBe("code");
      expect(await retimePyc(f, { mtimeSeconds: 42, size: 7 }, 5)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
