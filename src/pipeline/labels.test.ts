import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_STRATEGY } from "../plan/strategies/index.js";
import { readProject } from "../project/read.js";
import { exec } from "../util/exec.js";
import { assemblePlan } from "./assemble.js";
import {
  finalBaseImage,
  gitFacts,
  imageLabels,
  insideGitTree,
  LABEL,
  projectLabels,
  publicRemoteUrl,
  pyprojectLicense,
} from "./labels.js";

const D1 = `sha256:${"a".repeat(64)}`;
const D2 = `sha256:${"b".repeat(64)}`;
const REV = "0123456789abcdef0123456789abcdef01234567";

describe("imageLabels", { timeout: 30_000 }, () => {
  it("gives all six labels from all six inputs, in a fixed order", () => {
    const l = imageLabels({
      remoteUrl: "https://user:s3cret@git.example/team/app.git",
      revision: REV,
      created: 1700000000,
      licenses: "MIT OR Apache-2.0",
      baseName: "127.0.0.1:5000/python:3.11-slim",
      baseDigest: D1,
    });
    expect(l).toEqual({
      [LABEL.source]: "https://git.example/team/app.git",
      [LABEL.revision]: REV,
      [LABEL.created]: "2023-11-14T22:13:20Z",
      [LABEL.licenses]: "MIT OR Apache-2.0",
      [LABEL.baseName]: "127.0.0.1:5000/python:3.11-slim",
      [LABEL.baseDigest]: D1,
    });
    expect(Object.keys(l)).toEqual(Object.values(LABEL));
    expect(JSON.stringify(l)).not.toContain("s3cret");
  });

  it("leaves out what it does not know, and never invents a time", () => {
    expect(imageLabels({})).toEqual({});
    expect(imageLabels({ baseName: "python:3.11-slim" })).toEqual({ [LABEL.baseName]: "python:3.11-slim" });
    expect(imageLabels({ remoteUrl: "/srv/git/app.git", revision: "HEAD", licenses: "MIT License" })).toEqual(
      {},
    );
  });

  it("takes the base digest from a pinned reference, the digest given first", () => {
    expect(imageLabels({ baseName: `reg.example/python@${D1}` })[LABEL.baseDigest]).toBe(D1);
    expect(imageLabels({ baseName: `reg.example/python@${D1}`, baseDigest: D2 })[LABEL.baseDigest]).toBe(D2);
    expect(imageLabels({ baseName: "python:3.11", baseDigest: "latest" })[LABEL.baseDigest]).toBeUndefined();
  });

  it("gives the same labels for the same inputs (no clock)", () => {
    const i = { revision: REV, created: 0, baseName: "python:3.11-slim" };
    expect(JSON.stringify(imageLabels(i))).toBe(JSON.stringify(imageLabels({ ...i })));
    expect(imageLabels(i)[LABEL.created]).toBe("1970-01-01T00:00:00Z");
  });
});

describe("publicRemoteUrl", () => {
  it.each([
    ["https://github.example/o/r.git", "https://github.example/o/r.git"],
    ["https://ghp_TOKEN@github.example/o/r.git", "https://github.example/o/r.git"],
    ["https://oauth2:glpat-x@gitlab.example/o/r.git?private_token=y#frag", "https://gitlab.example/o/r.git"],
    ["ssh://git:pw@host.example:2222/o/r.git", "ssh://host.example:2222/o/r.git"],
    ["git@github.example:o/r.git", "git@github.example:o/r.git"],
    ["github.example:o/r.git", "github.example:o/r.git"],
  ])("%s → %s", (given, want) => expect(publicRemoteUrl(given)).toBe(want));

  it.each([
    "/srv/git/r.git",
    "../r",
    "file:///srv/git/r.git",
    "C:/repos/r",
    "",
    "https://",
  ])("%s: none", (given) => expect(publicRemoteUrl(given)).toBeUndefined());
});

describe("pyprojectLicense", { timeout: 30_000 }, () => {
  it("reads PEP 639 expressions, license tables, poetry and classifiers", () => {
    expect(pyprojectLicense({ project: { license: "MIT OR Apache-2.0" } })).toBe("MIT OR Apache-2.0");
    expect(pyprojectLicense({ project: { license: "mit" } })).toBe("MIT");
    expect(pyprojectLicense({ project: { license: { text: "BSD-3-Clause" } } })).toBe("BSD-3-Clause");
    expect(pyprojectLicense({ project: { license: { text: "Proprietary, all rights reserved" } } })).toBe(
      undefined,
    );
    expect(pyprojectLicense({ project: { license: { file: "LICENSE" } } })).toBeUndefined();
    expect(pyprojectLicense({ tool: { poetry: { license: "GPL-3.0-or-later" } } })).toBe("GPL-3.0-or-later");
    expect(
      pyprojectLicense({
        project: {
          classifiers: [
            "License :: OSI Approved :: MIT License",
            "License :: OSI Approved :: BSD License",
            "Programming Language :: Python",
            "License :: OSI Approved :: Python Software Foundation License",
            "License :: OSI Approved :: MIT License",
          ],
        },
      }),
    ).toBe("MIT AND PSF-2.0");
    expect(pyprojectLicense({ project: { name: "x" } })).toBeUndefined();
    expect(pyprojectLicense({ project: { license: 3 } })).toBeUndefined();
  });
});

const tmp: string[] = [];
afterAll(() => Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true }))));
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@t",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@t",
  GIT_AUTHOR_DATE: "@1600000123 +0000",
  GIT_COMMITTER_DATE: "@1600000123 +0000",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};
const git = (dir: string, ...args: string[]) =>
  exec("git", ["-C", dir, ...args], { env: gitEnv, doing: "git" });

async function project(pyproject: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "slimwheel-labels-"));
  tmp.push(dir);
  await mkdir(join(dir, "app"));
  await writeFile(join(dir, "pyproject.toml"), pyproject);
  await writeFile(join(dir, "app", "main.py"), "print('hi')\n");
  return dir;
}

describe("projectLabels over real git work trees", { timeout: 30_000 }, () => {
  it("a committed project with a remote: source (no token), revision, commit time, license", async () => {
    const dir = await project('[project]\nname = "app"\nversion = "1"\nlicense = "Apache-2.0"\n');
    await git(dir, "init", "-q", "-b", "main");
    await git(dir, "remote", "add", "origin", "https://TOKEN123@git.example/team/app.git");
    await git(dir, "add", "-A");
    await git(dir, "commit", "-q", "-m", "one");
    const head = (await git(dir, "rev-parse", "HEAD")).stdout.trim();
    const facts = await gitFacts(join(dir, "app"), gitEnv);
    expect(facts).toEqual({
      remoteUrl: "https://TOKEN123@git.example/team/app.git",
      revision: head,
      commitTime: 1600000123,
    });
    const labels = await projectLabels(dir, { baseName: `reg.example/python@${D1}` }, gitEnv);
    expect(labels).toEqual({
      [LABEL.source]: "https://git.example/team/app.git",
      [LABEL.revision]: head,
      [LABEL.created]: "2020-09-13T12:28:43Z",
      [LABEL.licenses]: "Apache-2.0",
      [LABEL.baseName]: `reg.example/python@${D1}`,
      [LABEL.baseDigest]: D1,
    });
    // SOURCE_DATE_EPOCH wins over the commit time; the same inputs, the same labels.
    const withEpoch = await projectLabels(dir, { sourceDateEpoch: 42, baseName: "python:3.11-slim" }, gitEnv);
    expect(withEpoch[LABEL.created]).toBe("1970-01-01T00:00:42Z");
    expect(await projectLabels(dir, { sourceDateEpoch: 42, baseName: "python:3.11-slim" }, gitEnv)).toEqual(
      withEpoch,
    );
  });

  it("the remote the current branch tracks, else origin, else the first by name", async () => {
    const dir = await project('[project]\nname = "app"\n');
    await git(dir, "init", "-q", "-b", "Feature/X");
    await git(dir, "add", "-A");
    await git(dir, "commit", "-q", "-m", "one");
    await git(dir, "remote", "add", "zeta", "https://git.example/zeta/app.git");
    await git(dir, "remote", "add", "beta", "https://git.example/beta/app.git");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://git.example/beta/app.git");
    await git(dir, "remote", "add", "origin", "https://git.example/origin/app.git");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://git.example/origin/app.git");
    // Another branch tracking zeta does not count; this one's does.
    await git(dir, "config", "branch.main.remote", "beta");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://git.example/origin/app.git");
    await git(dir, "config", "branch.Feature/X.remote", "zeta");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://git.example/zeta/app.git");
    // A key set twice: git takes the last value.
    await git(dir, "config", "--add", "branch.Feature/X.remote", "beta");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://git.example/beta/app.git");
    // A URL git rewrites (url.<base>.insteadOf) is the one git uses.
    await git(dir, "config", "url.https://mirror.example/.insteadOf", "https://git.example/");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://mirror.example/beta/app.git");
    // A detached HEAD tracks nothing: origin.
    await git(dir, "checkout", "-q", "--detach");
    expect((await gitFacts(dir, gitEnv)).remoteUrl).toBe("https://mirror.example/origin/app.git");
  });

  it("a project that is not a git work tree: no source, revision or created", async () => {
    const dir = await project('[project]\nname = "app"\nlicense = { text = "MIT" }\n');
    // No .git here or above: git is not asked at all; a worktree's `.git` file counts as one.
    expect(await insideGitTree(dir)).toBe(false);
    expect(await gitFacts(dir, gitEnv)).toEqual({});
    await writeFile(join(dir, ".git"), "gitdir: /nowhere\n");
    expect(await insideGitTree(join(dir, "app"))).toBe(true);
    await rm(join(dir, ".git"));
    // GIT_DIR names the repository: git is asked, whatever is on disk.
    const repo = await project("");
    await git(repo, "init", "-q", "-b", "main");
    await git(repo, "add", "-A");
    await git(repo, "commit", "-q", "-m", "one");
    const facts = await gitFacts(dir, { ...gitEnv, GIT_DIR: join(repo, ".git"), GIT_WORK_TREE: dir });
    expect(facts.revision).toMatch(/^[0-9a-f]{40}$/);
    expect(await projectLabels(dir, { baseName: "python:3.11-slim" }, gitEnv)).toEqual({
      [LABEL.licenses]: "MIT",
      [LABEL.baseName]: "python:3.11-slim",
    });
  });

  it("a work tree without commits or remotes, and a broken pyproject: nothing made up", async () => {
    const dir = await project("[project\nname = ");
    await git(dir, "init", "-q");
    expect(await gitFacts(dir, gitEnv)).toEqual({});
    expect(await projectLabels(dir, {}, gitEnv)).toEqual({});
  });
});

describe("finalBaseImage", { timeout: 30_000 }, () => {
  const plan = {
    args: [
      { name: "BUILDER_IMAGE", default: "python:3.11", why: "" },
      { name: "RUNTIME_IMAGE", default: "python:3.11-slim", why: "" },
    ],
    stages: [
      { name: "base", from: "${RUNTIME_IMAGE}", why: "", steps: [] },
      { name: "final", from: "base", why: "", steps: [] },
    ],
  };

  it("follows stage names to an image argument, given or defaulted", () => {
    expect(finalBaseImage(plan, {})).toBe("python:3.11-slim");
    expect(finalBaseImage(plan, { RUNTIME_IMAGE: `r.example/py@${D1}` })).toBe(`r.example/py@${D1}`);
    expect(
      finalBaseImage(
        { ...plan, stages: [{ name: "final", from: "${BUILDER_IMAGE}", why: "", steps: [] }] },
        {},
      ),
    ).toBe("python:3.11");
    expect(
      finalBaseImage({ args: [], stages: [{ name: "final", from: "${NOPE}", why: "", steps: [] }] }, {}),
    ).toBe(undefined);
  });

  it("names the base of every strategy's real plan of a real project", async () => {
    const p = await readProject(join(import.meta.dirname, "..", "..", "examples", "flask-app"));
    const plan = assemblePlan(p, DEFAULT_STRATEGY, {});
    expect(finalBaseImage(plan, {})).toBe(`python:${p.python.version}-slim`);
    expect(finalBaseImage(assemblePlan(p, "full", {}), { BUILDER_IMAGE: "b.example/py:1" })).toBe(
      "b.example/py:1",
    );
    expect(finalBaseImage(assemblePlan(p, "wheels", {}), { RUNTIME_IMAGE: "r.example/py:1" })).toBe(
      "r.example/py:1",
    );
  });
});
