import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pycSource, retimedHeader, retimePyc, seedPycachePrefix } from "./pyc.js";
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

describe("seedPycachePrefix", () => {
  it("links the bytecode Python would use into PYTHONPYCACHEPREFIX's layout, and nothing else", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pyc-seed-"));
    try {
      const tree = join(dir, "tree");
      const put = async (rel: string, data: string | Buffer, mtime = 100) => {
        await mkdir(join(tree, rel, ".."), { recursive: true });
        await writeFile(join(tree, rel), data);
        await utimes(join(tree, rel), mtime, mtime);
      };
      const pyc = (flags: number, mtime: number, size: number) =>
        Buffer.concat([header(flags, mtime, size), Buffer.from("code")]);
      await put("usr/lib/python3.11/json/decoder.py", "12345");
      await put("usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc", pyc(0, 100, 5));
      await put("usr/lib/python3.11/json/__pycache__/decoder.cpython-311.opt-1.pyc", pyc(0, 100, 5));
      await put("usr/lib/python3.11/stale.py", "x");
      await put("usr/lib/python3.11/__pycache__/stale.cpython-311.pyc", pyc(0, 99, 1));
      await put("usr/lib/python3.11/checked.py", "x");
      await put("usr/lib/python3.11/__pycache__/checked.cpython-311.pyc", pyc(3, 0, 0));
      await put("usr/lib/python3.11/unchecked.py", "x");
      await put("usr/lib/python3.11/__pycache__/unchecked.cpython-311.pyc", pyc(1, 0, 0));
      await put("usr/lib/python3.11/__pycache__/orphan.cpython-311.pyc", pyc(0, 100, 1));
      await put("usr/lib/python3.11/__pycache__/short.cpython-311.pyc", "abc");
      await put("usr/lib/python3.11/short.py", "abc");
      // A source that is a link, and a file without a .pyc's magic.
      await put("usr/lib/python3.11/__pycache__/linked.cpython-311.pyc", pyc(0, 100, 5));
      await symlink("json/decoder.py", join(tree, "usr/lib/python3.11/linked.py"));
      const nomagic = pyc(0, 100, 0);
      nomagic.writeUInt32LE(0, 0);
      await put("usr/lib/python3.11/__pycache__/nomagic.cpython-311.pyc", nomagic);
      await put("usr/lib/python3.11/nomagic.py", "");
      // A run's mount point, and a link to a directory (not followed).
      await put("app/m.py", "1");
      await put("app/__pycache__/m.cpython-311.pyc", pyc(0, 100, 1));
      await symlink(join(tree, "usr/lib/python3.11/json"), join(tree, "usr/lib/python3.11/jsonlink"));
      const cache = join(dir, "cache");
      expect(await seedPycachePrefix(tree, cache)).toBe(3);
      const files: string[] = [];
      const walk = async (d: string): Promise<void> => {
        for (const e of await readdir(d, { withFileTypes: true }))
          if (e.isDirectory()) await walk(join(d, e.name));
          else files.push(join(d, e.name).slice(cache.length + 1));
      };
      await walk(cache);
      expect(files.sort()).toEqual([
        "usr/lib/python3.11/checked.cpython-311.pyc",
        "usr/lib/python3.11/json/decoder.cpython-311.opt-1.pyc",
        "usr/lib/python3.11/json/decoder.cpython-311.pyc",
      ]);
      const linked = await stat(join(cache, "usr/lib/python3.11/json/decoder.cpython-311.pyc"));
      expect(linked.ino).toBe(
        (await stat(join(tree, "usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc"))).ino,
      );
      for (const d of ["", "usr", "usr/lib/python3.11/json"])
        expect((await stat(join(cache, d))).mode & 0o7777).toBe(0o1777);
      // Seeding again (a cache already there) links nothing twice and fails on nothing.
      expect(await seedPycachePrefix(tree, cache)).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
