import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colorFor, forceColor } from "./program.js";
import { runCli } from "./testing.js";

const ESC = "\u001b[";

describe("color: --no-color, NO_COLOR, FORCE_COLOR, the terminal", () => {
  it("reads FORCE_COLOR as node and chalk do: 0/false off, 1/2/3/true on, unset or empty undecided", () => {
    for (const v of ["1", "2", "3", "true", "TRUE", " 1 "]) expect(forceColor({ FORCE_COLOR: v })).toBe(true);
    for (const v of ["0", "false", "False"]) expect(forceColor({ FORCE_COLOR: v })).toBe(false);
    expect(forceColor({})).toBeUndefined();
    expect(forceColor({ FORCE_COLOR: "" })).toBeUndefined();
  });

  it("decides per stream: the flag, then FORCE_COLOR (over NO_COLOR), then NO_COLOR, then TTY and TERM", () => {
    expect(colorFor(true, {}, true)).toBe(true);
    expect(colorFor(true, {}, false)).toBe(false);
    expect(colorFor(true, { TERM: "dumb" }, true)).toBe(false);
    expect(colorFor(true, { NO_COLOR: "1" }, true)).toBe(false);
    expect(colorFor(true, { NO_COLOR: "" }, true)).toBe(true);
    expect(colorFor(true, { FORCE_COLOR: "1" }, false)).toBe(true);
    expect(colorFor(true, { FORCE_COLOR: "true", TERM: "dumb" }, false)).toBe(true);
    expect(colorFor(true, { FORCE_COLOR: "1", NO_COLOR: "1" }, false)).toBe(true);
    expect(colorFor(true, { FORCE_COLOR: "0" }, true)).toBe(false);
    expect(colorFor(true, { FORCE_COLOR: "false" }, true)).toBe(false);
    expect(colorFor(false, { FORCE_COLOR: "3" }, true)).toBe(false);
  });

  describe("through a command (lint's text output on stdout)", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "slimwheel-color-"));
      await writeFile(
        join(dir, "Dockerfile"),
        "FROM python:3.12\nCOPY . .\nRUN pip install -r requirements.txt\n",
      );
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const lint = (env: Record<string, string>, tty: boolean, extra: string[] = []) =>
      runCli([...extra, "lint"], { cwd: dir, env, tty });

    it("prints no escape codes when piped, and colors when FORCE_COLOR=1 even so", async () => {
      const plain = await lint({}, false);
      expect(plain.code).toBe(1);
      expect(plain.stdout).toContain("warning");
      expect(plain.stdout).not.toContain(ESC);
      const forced = await lint({ FORCE_COLOR: "1" }, false);
      expect(forced.stdout).toContain(ESC);
      expect(forced.stdout.replace(/\u001b\[[0-9;]*m/g, "")).toBe(plain.stdout);
    });

    it("FORCE_COLOR=0 turns colors off on a terminal; --no-color wins over FORCE_COLOR", async () => {
      expect((await lint({}, true)).stdout).toContain(ESC);
      expect((await lint({ FORCE_COLOR: "0" }, true)).stdout).not.toContain(ESC);
      expect((await lint({ FORCE_COLOR: "1" }, true, ["--no-color"])).stdout).not.toContain(ESC);
      expect((await lint({ FORCE_COLOR: "true", NO_COLOR: "1" }, false)).stdout).toContain(ESC);
    });
  });
});
