/**
 * Hostile project directories (issue 13), through the real CLI entry (`run`, in-process): links out
 * of the project, loops, FIFOs, devices, unreadable files, odd file names, huge files. Each ends in
 * a SlimwheelError (exit 2, naming the file, with a hint) or succeeds, in bounded time; never a
 * stack trace; and nothing outside the project reaches the plan, the Dockerfile or the build context.
 */
import { spawnSync } from "node:child_process";
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "../cli/testing.js";
import { assemblePlan } from "../pipeline/assemble.js";
import { prepareContext } from "../pipeline/context.js";
import { readProject } from "../project/read.js";

const OUTSIDE = "OUTSIDE-CONTENT-7f3a9c";
let base: string;
let outside: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "slimwheel-hostile-"));
  outside = join(base, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "secret.txt"), `${OUTSIDE}\nroot:x:0:0\n`);
  await writeFile(join(outside, "reqs.txt"), `${OUTSIDE}==1\n`);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

let n = 0;
/** A small valid project, then `setup` makes it hostile. */
async function project(setup: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(base, `p${n++}`);
  await mkdir(dir);
  await writeFile(join(dir, "requirements.txt"), "flask==3.0.3\n");
  await writeFile(join(dir, "app.py"), "import flask\napp = flask.Flask(__name__)\n");
  await setup(dir);
  return dir;
}

const mkfifo = (path: string) => {
  const r = spawnSync("mkfifo", [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr}`);
};

/** Runs the CLI, failing the test (not hanging it) past `ms`. */
async function cli(argv: string[], ms = 30_000): Promise<CliRun> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`slimwheel ${argv.join(" ")} did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([runCli(argv, { cwd: base }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** No stack trace, no internal error, nothing read from outside the project. */
function clean(r: CliRun): void {
  const all = r.stdout + r.stderr;
  expect(all).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(all).not.toContain("unexpected error");
  expect(r.code).not.toBe(70);
  expect(all).not.toContain(OUTSIDE);
  expect(all).not.toMatch(/root:[x*!]?:/);
}

/** An input error naming `file`, with a hint. */
function refused(r: CliRun, file: string | RegExp): void {
  clean(r);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    typeof file === "string" ? new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : file,
  );
  expect(r.stderr).toMatch(/\nhint: /);
}

/** plan, plan --json and dockerfile -o - all refuse, naming `file`. */
async function allRefuse(dir: string, file: string | RegExp): Promise<void> {
  refused(await cli(["plan", dir]), file);
  const json = await cli(["--json", "plan", dir]);
  clean(json);
  expect(json.code).toBe(2);
  expect(JSON.parse(json.stdout).error.code).toBe("input");
  refused(await cli(["dockerfile", dir, "-o", "-"]), file);
}

/** plan and dockerfile succeed; the build context copied from the project holds nothing from outside. */
async function allSucceed(dir: string): Promise<CliRun> {
  const plan = await cli(["--json", "plan", dir]);
  clean(plan);
  expect(plan.code).toBe(0);
  const df = await cli(["dockerfile", dir, "-o", "-"]);
  clean(df);
  expect(df.code).toBe(0);
  await contextHoldsNothingFromOutside(dir);
  return plan;
}

/** Every file of the context slimwheel would send: no content from outside, links kept as links. */
async function contextHoldsNothingFromOutside(dir: string): Promise<void> {
  const project = await readProject(dir);
  const plan = assemblePlan(project, "slimwheel");
  const ctx = await prepareContext(project, plan, "0.0.0-test", base);
  try {
    const walk = async (rel: string): Promise<void> => {
      for (const e of await readdir(join(ctx.dir, rel), { withFileTypes: true })) {
        const p = join(ctx.dir, rel, e.name);
        const st = await lstat(p);
        if (st.isDirectory()) await walk(join(rel, e.name));
        else if (st.isFile()) {
          const text = await readFile(p, "latin1");
          expect(text).not.toContain(OUTSIDE);
          expect(text).not.toMatch(/root:[x*!]?:/);
        } else expect(st.isSymbolicLink(), `${p} is a link or a file`).toBe(true);
      }
    };
    await walk("");
  } finally {
    await ctx.cleanup();
  }
}

describe("hostile project directories", () => {
  it("a requirements.txt linked to a file outside the project is refused, naming it; its content is never shown", async () => {
    for (const target of ["/etc/shadow", "/etc/passwd", join(outside, "secret.txt")]) {
      const dir = await project(async (d) => {
        await rm(join(d, "requirements.txt"));
        await symlink(target, join(d, "requirements.txt"));
      });
      await allRefuse(dir, /requirements\.txt .*outside the project directory/);
    }
  });

  it("an include through a linked directory out of the project is refused at its -r line", async () => {
    const dir = await project(async (d) => {
      await symlink(outside, join(d, "vendor"));
      await writeFile(join(d, "requirements.txt"), "flask==3.0.3\n-r vendor/reqs.txt\n");
    });
    await allRefuse(dir, /requirements\.txt:2: .*vendor\/reqs\.txt.*outside the project/);
  });

  it("-r ../../etc/passwd and -r /etc/passwd are refused at their line, the location said once", async () => {
    for (const inc of ["../../etc/passwd", "/etc/passwd"]) {
      const dir = await project((d) => writeFile(join(d, "requirements.txt"), `flask==3.0.3\n-r ${inc}\n`));
      const r = await cli(["plan", dir]);
      refused(r, `requirements.txt:2: -r ${inc} points outside the project directory`);
      expect(r.stderr.match(/requirements\.txt:2/g)).toHaveLength(1);
    }
  });

  it("an include cycle (a.txt -r b.txt, b.txt -r a.txt) is refused with its chain", async () => {
    const dir = await project(async (d) => {
      await writeFile(join(d, "requirements.txt"), "-r a.txt\n");
      await writeFile(join(d, "a.txt"), "flask==3.0.3\n-r b.txt\n");
      await writeFile(join(d, "b.txt"), "-r a.txt\n");
    });
    await allRefuse(dir, /b\.txt:1: include cycle: requirements\.txt → a\.txt → b\.txt → a\.txt/);
  });

  it("links out of the project elsewhere in the tree (to /etc/shadow, to /, an app.py) are kept as links, never read", async () => {
    const dir = await project(async (d) => {
      await symlink("/etc/shadow", join(d, "shadow"));
      await symlink("/", join(d, "rootfs"));
      await symlink(join(outside, "secret.txt"), join(d, "notes.txt"));
      await rm(join(d, "app.py"));
      await symlink(join(outside, "secret.txt"), join(d, "app.py"));
      await mkdir(join(d, "pkg"));
      await symlink(join(outside, "secret.txt"), join(d, "pkg", "wsgi.py"));
    });
    const r = await allSucceed(dir);
    expect(r.stdout).toMatch(/app\.py leads through a symlink to .*outside the project directory: not read/);
  });

  it("a symlink loop is listed as a link and does not hang", async () => {
    const dir = await project(async (d) => {
      await symlink("loop-b", join(d, "loop-a"));
      await symlink("loop-a", join(d, "loop-b"));
    });
    await allSucceed(dir);
  });

  it("a requirements.txt that is a symlink loop is refused, naming it", async () => {
    const dir = await project(async (d) => {
      await rm(join(d, "requirements.txt"));
      await symlink("requirements.txt", join(d, "requirements.txt"));
    });
    await allRefuse(dir, "requirements.txt is a symlink loop");
  });

  it("FIFOs in the tree (and links to them) are left out with a warning, never opened", async () => {
    const dir = await project(async (d) => {
      mkfifo(join(d, "pipe"));
      await symlink("pipe", join(d, "pipe-link.txt"));
      mkfifo(join(d, "server.py"));
    });
    const r = await allSucceed(dir);
    expect(r.stdout).toContain("pipe is not a regular file");
  });

  it("a requirements.txt, a pyproject.toml or a .dockerignore that is a FIFO is refused, naming it", async () => {
    for (const name of ["requirements.txt", "pyproject.toml", ".dockerignore"]) {
      const dir = await project(async (d) => {
        await rm(join(d, name), { force: true });
        mkfifo(join(d, name));
      });
      await allRefuse(dir, `${name} is a FIFO (named pipe), not a regular file`);
    }
  });

  it("lint of a Dockerfile that is a FIFO, or beside a pyproject.toml that is one, is refused, never hangs", async () => {
    const dir = await project(async (d) => {
      mkfifo(join(d, "Dockerfile"));
    });
    refused(
      await cli(["lint", dir], 10_000),
      `${join(dir, "Dockerfile")} is a FIFO (named pipe), not a regular file`,
    );
    refused(await cli(["lint", join(dir, "Dockerfile")], 10_000), "Dockerfile is a FIFO (named pipe)");
    // The Dockerfile is a file; the pyproject.toml next to it (read for [tool.slimwheel.lint]) is a FIFO.
    const beside = await project(async (d) => {
      await writeFile(join(d, "Dockerfile"), "FROM python:3.12-slim\nCOPY . /app\n");
      mkfifo(join(d, "pyproject.toml"));
    });
    refused(await cli(["lint", beside], 10_000), "pyproject.toml is a FIFO (named pipe), not a regular file");
    // A Dockerfile that is a link to a device is refused too.
    const device = await project(async (d) => {
      await symlink("/dev/zero", join(d, "Dockerfile"));
    });
    refused(await cli(["lint", device], 10_000), "Dockerfile is a character device, not a regular file");
  });

  it("a requirements.txt that is (a link to) a device is refused; a device link elsewhere is not read", async () => {
    const inside = await project(async (d) => {
      await rm(join(d, "requirements.txt"));
      await symlink("/dev/zero", join(d, "requirements.txt"));
    });
    await allRefuse(inside, "requirements.txt leads through a symlink to /dev/zero");
    const elsewhere = await project(async (d) => {
      await symlink("/dev/zero", join(d, "zero.py"));
      await symlink("/dev/urandom", join(d, "random.txt"));
    });
    await allSucceed(elsewhere);
  });

  it("file names with a line break or bytes that are not UTF-8 are left out with a warning", async () => {
    const dir = await project(async (d) => {
      await writeFile(join(d, "evil\nRUN touch pwned.py"), "print(1)\n");
      await writeFile(Buffer.from(`${d}/bad-\xff\xfe-name.py`, "latin1"), "print(1)\n");
    });
    const r = await allSucceed(dir);
    expect(r.stdout).toContain("has a file name with a line break");
    expect(r.stdout).toContain("has a file name with bytes that are not UTF-8");
    const df = await cli(["dockerfile", dir, "-o", "-"]);
    expect(df.stdout).not.toMatch(/^RUN touch pwned/m);
  });

  it("a project name, version or command with a line break never starts a Dockerfile instruction", async () => {
    const dir = await project(async (d) => {
      await rm(join(d, "requirements.txt"));
      await writeFile(
        join(d, "pyproject.toml"),
        '[project]\nname = "evil\\nRUN touch /pwned-name"\nversion = "1.0\\nRUN touch /pwned-version"\ndependencies = ["flask"]\n[tool.slimwheel]\ncommand = "python app.py\\nRUN touch /pwned-cmd"\n',
      );
    });
    const r = await cli(["dockerfile", dir, "-o", "-"]);
    clean(r);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^RUN touch/m);
    expect(r.stdout).toContain("for evil RUN touch /pwned-name.");
  });

  it("unreadable files (as an unprivileged user: root reads through chmod 000) are refused or skipped with a message", async () => {
    // Tests run as root, which reads any file whatever its mode: the CLI is run as `nobody`.
    const dir = await project(async (d) => {
      await writeFile(join(d, "secret.py"), "x = 1\n");
      await chmod(join(d, "secret.py"), 0o000);
      await mkdir(join(d, "locked"));
      await chmod(join(d, "locked"), 0o000);
    });
    await chmod(base, 0o755);
    await chmod(dir, 0o755);
    const tsx = resolve("node_modules/.bin/tsx");
    const asNobody = (args: string[]) =>
      spawnSync(tsx, [resolve("src/cli/main.ts"), ...args], {
        uid: 65534,
        gid: 65534,
        cwd: "/",
        env: { PATH: process.env.PATH, HOME: "/tmp" },
        encoding: "utf8",
        timeout: 60_000,
      });
    const probe = asNobody(["--version"]);
    if (probe.status !== 0) {
      console.warn(`skipped: the CLI cannot run as uid 65534 here (${probe.stderr || probe.error})`);
      return;
    }
    const listed = asNobody(["plan", dir]);
    expect(listed.status, listed.stderr).toBe(2);
    expect(listed.stderr).toContain(
      "the directory locked of the project cannot be listed (permission denied)",
    );
    expect(listed.stderr).toMatch(/\nhint: /);
    expect(listed.stderr).not.toMatch(/\n\s+at /);
    await rm(join(dir, "locked"), { recursive: true });
    await chmod(join(dir, "requirements.txt"), 0o000);
    const unreadable = asNobody(["plan", dir]);
    expect(unreadable.status, unreadable.stderr).toBe(2);
    expect(unreadable.stderr).toContain("requirements.txt cannot be read (permission denied)");
    expect(unreadable.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);

  it("a 10 MB single line and a 100,000-line requirements file finish, with short messages", async () => {
    const longName = await project((d) =>
      writeFile(join(d, "requirements.txt"), `${"a".repeat(10_000_000)}\n`),
    );
    const plan = await cli(["plan", longName], 60_000);
    clean(plan);
    expect(plan.code).toBe(0);
    const longBad = await project((d) =>
      writeFile(join(d, "requirements.txt"), `flask==3.0.3 ${"!".repeat(10_000_000)}\n`),
    );
    const bad = await cli(["plan", longBad], 60_000);
    refused(bad, "requirements.txt:1:14");
    expect(bad.stderr.length).toBeLessThan(2000);
    const many = await project((d) =>
      writeFile(
        join(d, "requirements.txt"),
        Array.from({ length: 100_000 }, (_, i) => `pkg${i}==1.${i}\n`).join(""),
      ),
    );
    const big = await cli(["--json", "plan", many], 60_000);
    clean(big);
    expect(big.code).toBe(0);
    expect(JSON.parse(big.stdout).dependencies.requirements).toHaveLength(100_000);
  }, 180_000);

  it("a project file over the size limit is refused, naming its size", async () => {
    const dir = await project((d) =>
      writeFile(join(d, "requirements.txt"), Buffer.alloc(33 * 1024 * 1024, "# comment line\n")),
    );
    refused(await cli(["plan", dir]), /requirements\.txt is 34603008 bytes, more than the 33554432 bytes/);
  }, 60_000);
});
