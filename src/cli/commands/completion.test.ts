import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Option } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIO } from "../io.js";
import { buildProgram } from "../program.js";
import { runCli } from "../testing.js";
import { completionScript } from "./completion.js";

const has = (shell: string) => spawnSync(shell, ["-c", "exit 0"]).status === 0;
const sh = (shell: string, args: string[]) => {
  const r = spawnSync(shell, args, { encoding: "utf8", env: { PATH: process.env.PATH, HOME: tmpdir() } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const quietIO = (): CliIO => ({
  stdout: () => {},
  stderr: () => {},
  env: {},
  cwd: "/",
  stderrIsTTY: false,
  stdoutIsTTY: false,
  signal: new AbortController().signal,
});

let dir: string;
const scripts: Record<string, string> = {};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slimwheel-completion-"));
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await runCli(["completion", shell]);
    expect(r.code, r.stderr).toBe(0);
    scripts[shell] = join(dir, `slimwheel.${shell}`);
    await writeFile(scripts[shell]!, r.stdout);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `_slimwheel` offers for the words typed (the last one being completed), in bash. */
function bashComplete(script: string, words: string[]): string[] {
  const array = words.map((w) => `'${w}'`).join(" ");
  const r = sh("bash", [
    "-c",
    `source '${script}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _slimwheel; echo "\${COMPREPLY[@]}"`,
  ]);
  expect(r.code, r.err).toBe(0);
  return r.out.trim().split(/\s+/).filter(Boolean);
}

describe("slimwheel completion", () => {
  it("refuses an unknown shell as a usage error", async () => {
    const r = await runCli(["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bash, zsh, fish/);
  });

  describe("bash", () => {
    it("is valid bash (bash -n)", () => {
      const r = sh("bash", ["-n", scripts.bash!]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
    });

    it("completes commands, options, option choices and argument choices", () => {
      expect(bashComplete(scripts.bash!, ["slimwheel", "b"])).toEqual(["build"]);
      // every registered command, in registry order (commands added later come for free)
      const names = buildProgram(quietIO()).commands.map((c) => c.name());
      expect(names).toEqual(expect.arrayContaining(["plan", "dockerfile", "build", "lint", "completion"]));
      expect(bashComplete(scripts.bash!, ["slimwheel", ""])).toEqual(names);
      expect(bashComplete(scripts.bash!, ["slimwheel", "--json", "c"])).toEqual(
        names.filter((n) => n.startsWith("c")),
      );
      expect(bashComplete(scripts.bash!, ["slimwheel", "--json", "comp"])).toEqual(["compare", "completion"]);
      expect(bashComplete(scripts.bash!, ["slimwheel", "build", "--engine", ""])).toEqual([
        "docker",
        "buildah",
        "podman",
      ]);
      expect(bashComplete(scripts.bash!, ["slimwheel", "lint", "--sev"])).toEqual(["--severity"]);
      expect(bashComplete(scripts.bash!, ["slimwheel", "dockerfile", "-s", "sl"])).toEqual([
        "slim",
        "slim-apt",
        "slimwheel",
      ]);
      expect(bashComplete(scripts.bash!, ["slimwheel", "completion", ""])).toEqual(["bash", "zsh", "fish"]);
      // After an option's value, the next word is the first argument again, not a command.
      expect(bashComplete(scripts.bash!, ["slimwheel", "plan", "--arch", "x86_64", "--no-c"])).toEqual([
        "--no-color",
      ]);
      expect(bashComplete(scripts.bash!, ["slimwheel", "compare", "--r"])).toEqual([
        "--runtime-image",
        "--runtime",
      ]);
    });

    it("is generated from the program: a new command and option appear without editing the generator", () => {
      const program = buildProgram(quietIO());
      program
        .command("frobnicate")
        .description("a command added later")
        .addOption(new Option("--level <level>", "how much").choices(["low", "high"]));
      const script = completionScript(program, "bash", "0.0.0");
      const file = join(dir, "later.bash");
      return writeFile(file, script).then(() => {
        expect(bashComplete(file, ["slimwheel", "fr"])).toEqual(["frobnicate"]);
        expect(bashComplete(file, ["slimwheel", "frobnicate", "--level", ""])).toEqual(["low", "high"]);
      });
    });
  });

  // zsh and fish are checked when installed (apt-get install zsh fish); otherwise these skip.
  describe.skipIf(!has("zsh"))("zsh", () => {
    it("is valid zsh (zsh -n) and registers _slimwheel with compinit", () => {
      expect(sh("zsh", ["-n", scripts.zsh!]).code).toBe(0);
      const r = sh("zsh", [
        "-f",
        "-c",
        `autoload -U compinit && compinit -u -D && source '${scripts.zsh}' && print -r -- $_comps[slimwheel]`,
      ]);
      expect(r.err).toBe("");
      expect(r.out.trim()).toBe("_slimwheel");
    }, 30_000);
  });

  describe.skipIf(!has("fish"))("fish", () => {
    it("is valid fish (fish -n) and completes commands and choices", () => {
      expect(sh("fish", ["-n", scripts.fish!]).code).toBe(0);
      const complete = (line: string) => {
        const r = sh("fish", ["-c", `source '${scripts.fish}'; complete -C '${line}'`]);
        expect(r.err).toBe("");
        return r.out
          .trim()
          .split("\n")
          .map((l) => l.split("\t")[0]);
      };
      expect(complete("slimwheel b")).toEqual(["build"]);
      expect(complete("slimwheel build --engine ").sort()).toEqual(["buildah", "docker", "podman"]);
      expect(complete("slimwheel completion ").sort()).toEqual(["bash", "fish", "zsh"]);
      expect(complete("slimwheel lint --sev")).toEqual(["--severity"]);
    }, 30_000);
  });
});

describe("every command's --help ends with examples that use its real options", () => {
  const names = ["plan", "dockerfile", "build", "compare", "inspect", "lint", "push", "completion"];
  it.each(names)("%s", async (name) => {
    const r = await runCli([name, "--help"]);
    expect(r.code).toBe(0);
    const at = r.stdout.indexOf("\nExamples:\n");
    expect(at).toBeGreaterThan(0);
    const lines = r.stdout
      .slice(at)
      .split("\n")
      .filter((l) => l.startsWith("  $ "));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const flags = new Set([...r.stdout.matchAll(/(?:^|[\s,])(--?[a-zA-Z][\w-]*)/gm)].map((m) => m[1]!));
    const global = await runCli(["--help"]);
    for (const m of global.stdout.matchAll(/(?:^|[\s,])(--?[a-zA-Z][\w-]*)/gm)) flags.add(m[1]!);
    for (const line of lines) {
      expect(line).toContain(`slimwheel ${name}`);
      const used = line
        .slice(line.indexOf(`slimwheel ${name}`))
        .split(/\s+/)
        .filter((w) => /^--?[a-zA-Z]/.test(w))
        .map((w) => w.replace(/=.*$/, ""));
      for (const flag of used) expect(flags, `${line}: ${flag}`).toContain(flag);
    }
  });
});
