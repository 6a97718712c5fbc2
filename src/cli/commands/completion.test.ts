import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Command, Option } from "commander";
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

/** Every command path of the program, subcommands included ([] is the root). */
function commandPaths(c: Command, path: readonly string[] = []): string[][] {
  return [[...path], ...c.commands.flatMap((sub) => commandPaths(sub, [...path, sub.name()]))];
}
const FLAG = /(?:^|[\s,])(--?[a-zA-Z][\w-]*)/gm;

describe("every command's --help ends with examples that use its real options", () => {
  const program = buildProgram(quietIO());
  const paths = commandPaths(program);

  it("covers every command and subcommand of the program", () => {
    expect(paths.map((p) => p.join(" "))).toEqual(
      expect.arrayContaining(["", "plan", "build", "ci", "sbom", "cache", "cache ls", "cache prune"]),
    );
  });

  /** The deepest command path an example line names (`slimwheel cache ls --json` → cache ls). */
  const pathOf = (words: readonly string[]): string[] => {
    let c: Command = program;
    const path: string[] = [];
    for (const w of words) {
      const sub = c.commands.find((x) => x.name() === w);
      if (!sub) break;
      path.push(w);
      c = sub;
    }
    return path;
  };
  const helpFlags = async (path: readonly string[]) => {
    const flags = new Set<string>();
    for (const p of [[], path])
      for (const m of (await runCli([...p, "--help"])).stdout.matchAll(FLAG)) flags.add(m[1]!);
    return flags;
  };

  it.each(paths.map((p) => [p.join(" ") || "(root)", p] as const))("%s", async (_, path) => {
    const r = await runCli([...path, "--help"]);
    expect(r.code).toBe(0);
    const at = r.stdout.indexOf("\nExamples:\n");
    expect(at).toBeGreaterThan(0);
    const tail = r.stdout.slice(at).split("\n").slice(2).filter(Boolean);
    // The shared examples() format, and nothing after the examples.
    expect(tail.length).toBeGreaterThanOrEqual(4);
    tail.forEach((l, i) => {
      expect(l, r.stdout).toMatch(i % 2 === 0 ? /^ {2}# \S/ : /^ {2}\$ \S/);
    });
    const lines = tail.filter((l) => l.startsWith("  $ "));
    const name = ["slimwheel", ...path].join(" ");
    for (const line of lines) {
      expect(`${line} `).toContain(`${name} `);
      const words = line
        .slice(line.indexOf(`${name} `))
        .split(/\s+/)
        .slice(1);
      const flags = await helpFlags(pathOf(words));
      const used = words.filter((w) => /^--?[a-zA-Z]/.test(w)).map((w) => w.replace(/=.*$/, ""));
      for (const flag of used) expect(flags, `${line}: ${flag}`).toContain(flag);
    }
  });
});
