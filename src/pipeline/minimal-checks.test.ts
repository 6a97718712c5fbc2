/**
 * The minimal runtime's requests checked before any engine work (minimal-checks.ts, build's
 * checkRequest) and `--debug-shell`'s busybox-static in the plan: over the real examples, temporary
 * projects and the CLI, which refuses before it chooses an engine.
 */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli/testing.js";
import { isSlimwheelError } from "../errors.js";
import { readProject } from "../project/read.js";
import { renderDockerfile } from "../render/dockerfile/index.js";
import { hasProgram } from "../util/exec.js";
import { assemblePlan } from "./assemble.js";
import { strategyOptions } from "./build-image.js";
import { checkMinimalHost, minimalCommandProblems } from "./minimal-checks.js";

const FLASK = join(import.meta.dirname, "..", "..", "examples", "flask-app");
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "slimwheel-minimal-checks-"));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A project whose start command is `command` ([tool.slimwheel] command). */
async function projectWith(name: string, command: string): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "pyproject.toml"),
    `[project]\nname = "${name}"\nversion = "1.0"\nrequires-python = ">=3.11"\ndependencies = []\n\n[tool.slimwheel]\ncommand = ${JSON.stringify(command)}\n`,
  );
  await writeFile(join(dir, "app.py"), "print('hi')\n");
  return dir;
}

/** The final stage of a rendered Dockerfile (the runtime stage). */
const finalStage = (dockerfile: string) => dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

describe("--debug-shell installs busybox-static in the runtime stage", () => {
  const render = async (debugShell: boolean) => {
    const project = await readProject(FLASK);
    const options = strategyOptions({ tags: [], version: "0.0.0-test", debugShell }, {});
    const plan = assemblePlan(project, "slimwheel", options);
    return { plan, dockerfile: renderDockerfile(plan, { version: "0.0.0-test", runtime: "minimal" }) };
  };

  it("with the flag: the plan's runtime packages and the final stage's apt-get install name it, with why", async () => {
    const { plan, dockerfile } = await render(true);
    expect(plan.runtimePackages).toContainEqual({
      name: "busybox-static",
      why: expect.stringContaining("--debug-shell"),
    });
    const final = finalStage(dockerfile);
    expect(final).toMatch(/apt-get install[^\n]*busybox-static/);
    expect(final).toMatch(/#[^\n]*busybox-static \(--debug-shell/);
    // The builder stages are the same: only the runtime stage changes.
    const builders = (d: string) => d.slice(0, d.lastIndexOf("\nFROM ")).replace(/^#.*\n/gm, "");
    expect(builders(dockerfile)).toBe(builders((await render(false)).dockerfile));
  });

  it("without it: no busybox anywhere", async () => {
    const { plan, dockerfile } = await render(false);
    expect(plan.runtimePackages.map((r) => r.name)).not.toContain("busybox-static");
    expect(dockerfile).not.toContain("busybox");
  });

  it("is refused, before any engine work, with --runtime slim or a classic strategy", async () => {
    const slim = await runCli(["build", FLASK, "--debug-shell", "--runtime", "slim"]);
    expect(slim.code).toBe(2);
    expect(slim.stderr).toContain("--debug-shell is for the minimal runtime");
    expect(slim.stderr).toContain("drop --runtime slim");
    const venv = await runCli(["build", FLASK, "--debug-shell", "-s", "venv"]);
    expect(venv.code).toBe(2);
    expect(venv.stderr).toContain("--debug-shell is for the minimal runtime");
    expect(venv.stderr).toContain("use -s slimwheel");
  });
});

describe("commands that need a shell, with the minimal runtime", () => {
  it("a start command with a pipe: an input error naming where it comes from and [tool.slimwheel] command", async () => {
    const project = await readProject(await projectWith("piped", "gunicorn app:app 2>&1 | tee /tmp/log"));
    const [e, ...rest] = minimalCommandProblems(project, undefined);
    expect(rest).toEqual([]);
    expect(isSlimwheelError(e) && e.code).toBe("input");
    expect(e!.message).toContain("the start command needs one: gunicorn app:app 2>&1 | tee /tmp/log");
    expect(e!.message).toContain("[tool.slimwheel]");
    expect(e!.hint).toContain("[tool.slimwheel] command");
    expect(e!.hint).toContain("--runtime slim");
  });

  it("a --smoke command with &&: the hint names --smoke, not the start command's setting", async () => {
    const project = await readProject(FLASK);
    const [e, ...rest] = minimalCommandProblems(project, "python smoke.py && echo ok");
    expect(rest).toEqual([]);
    expect(e!.code).toBe("input");
    expect(e!.message).toContain("the --smoke command needs one");
    expect(e!.hint).toContain("give --smoke a command");
    expect(e!.hint).not.toContain("[tool.slimwheel] command");
    // Quotes and ${PORT:-N} need no shell: the Procfile's command and a quoted smoke pass.
    expect(minimalCommandProblems(project, `python -c "import app"`)).toEqual([]);
  });

  it("build refuses them before any engine work (exit 2); --runtime slim runs them through sh", async () => {
    const dir = await projectWith("piped-build", "python app.py | cat");
    const start = await runCli(["build", dir]);
    expect(start.code).toBe(2);
    expect(start.stderr).toContain("the start command needs one: python app.py | cat");
    expect(start.stderr).toContain("[tool.slimwheel] command");
    const smoke = await runCli(["build", FLASK, "--smoke", "python smoke.py > /dev/null"]);
    expect(smoke.code).toBe(2);
    expect(smoke.stderr).toContain("the --smoke command needs one");
  });

  it("plan warns about a start command the minimal image cannot run (--strict: exit 1), not for --runtime slim", async () => {
    const dir = await projectWith("piped-plan", "python app.py | cat");
    // No buildah on this PATH: the runtime preview only names the groups (it reads no image).
    const shOnly = join(work, "sh-only");
    await mkdir(shOnly, { recursive: true });
    await symlink("/bin/sh", join(shOnly, "sh")).catch(() => undefined);
    const plan = (...args: string[]) => runCli(args, { env: { PATH: shOnly } });
    const r = await plan("plan", dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("the start command needs one: python app.py | cat");
    expect((await plan("plan", "--strict", dir)).code).toBe(1);
    const json = JSON.parse((await plan("--json", "plan", dir)).stdout);
    expect(json.warnings.map((w: { message: string }) => w.message).join("\n")).toContain(
      "a minimal image has no shell",
    );
    expect((await plan("plan", "--runtime", "slim", dir)).stdout).not.toContain("has no shell");
    expect((await plan("plan", FLASK)).stdout).not.toContain("has no shell");
  });
});

describe("the host the minimal runtime needs", () => {
  it("refuses a non-root user, naming root and --runtime slim", async () => {
    const e = await checkMinimalHost({ PATH: process.env.PATH }, 1000).catch((x: unknown) => x);
    expect(isSlimwheelError(e) && e.code).toBe("usage");
    expect((e as Error).message).toContain("needs root");
    expect((e as Error).message).toContain("uid 1000");
    expect((e as { hint: string }).hint).toContain("--runtime slim");
  });

  it("refuses a PATH without buildah (any engine), and passes with it", async () => {
    // A PATH with sh only; then one with a buildah beside it.
    const bin = join(work, "bin");
    await mkdir(bin, { recursive: true });
    await symlink("/bin/sh", join(bin, "sh")).catch(() => undefined);
    expect(await hasProgram("sh", { PATH: bin })).toBe(true);
    const e = await checkMinimalHost({ PATH: bin }, 0).catch((x: unknown) => x);
    expect(isSlimwheelError(e) && e.code).toBe("not-found");
    expect((e as Error).message).toContain("buildah");
    expect((e as { hint: string }).hint).toBe(
      "install buildah (apt-get install buildah), or use --runtime slim",
    );
    await writeFile(join(bin, "buildah"), "#!/bin/sh\nexit 0\n");
    await chmod(join(bin, "buildah"), 0o755);
    await expect(checkMinimalHost({ PATH: bin }, 0)).resolves.toBeUndefined();
  });
});
