import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const FIXTURES = join(ROOT, "src", "project", "__fixtures__", "projects");
const schema = JSON.parse(await readFile(join(ROOT, "schema", "plan.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true }).compile(schema);

const projects = [
  ...(await readdir(FIXTURES)).map((d) => join(FIXTURES, d)),
  ...["flask-app", "django-postgres", "c-extension"].map((d) => join(ROOT, "examples", d)),
];

describe("slimwheel plan --json", () => {
  it.each(projects)("validates against the shipped schema: %s", async (dir) => {
    const r = await runCli(["--json", "plan", dir]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const ok = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(doc.schemaVersion).toBe(1);
    expect(doc.runtime).toMatchObject({
      kind: "minimal",
      image: expect.stringMatching(/^python:3\.\d+-slim$/),
    });
  });

  it("--group adds a dependency group the default set leaves out", async () => {
    const dir = join(FIXTURES, "poetry18-groups");
    const names = async (args: string[]) =>
      JSON.parse((await runCli(["--json", "plan", dir, ...args])).stdout).dependencies.requirements.map(
        (r: { name: string }) => r.name,
      );
    expect(await names([])).not.toContain("pytest");
    expect(await names(["--group", "dev"])).toContain("pytest");
  });

  it("the schema rejects a document that breaks it (the check can fail)", async () => {
    const r = await runCli(["--json", "plan", join(ROOT, "examples", "flask-app")]);
    const doc = JSON.parse(r.stdout);
    doc.python.version = "three";
    expect(validate(doc)).toBe(false);
  });

  it("prints the Python version, the pinned set and the start command of flask-app", async () => {
    const r = await runCli(["--json", "plan", join(ROOT, "examples", "flask-app")]);
    const doc = JSON.parse(r.stdout);
    expect(doc.python).toEqual({
      version: "3.11",
      from: ".python-version:1",
      reason: "3.11 is pinned in .python-version:1",
    });
    expect(doc.dependencies).toMatchObject({ source: "requirements", count: 12, allPinned: true });
    expect(doc.start.command).toBe("gunicorn --bind 0.0.0.0:${PORT:-8000} app:app");
    expect(r.stderr).toBe("");
  });
});

describe("slimwheel plan (for people)", () => {
  it("shows each section with its reason", async () => {
    const r = await runCli(["plan", join(ROOT, "examples", "django-postgres")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Python\s+3\.11\s+\(linux\/x86_64\)\n\s+why: 3\.11 is pinned in \.python-version:1$/m,
    );
    expect(r.stdout).toMatch(/^Dependencies 6 from requirements\.txt \(all pinned, no hashes\)$/m);
    expect(r.stdout).toMatch(/^\s+psycopg2==2\.9\.5$/m);
    expect(r.stdout).toMatch(
      /^Start\s+gunicorn --bind 0\.0\.0\.0:\$\{PORT:-8000\} mysite\.wsgi\n\s+why: Django: WSGI_APPLICATION/m,
    );
  });

  it("lists warnings, and --strict turns them into exit 1", async () => {
    const dir = join(FIXTURES, "secrets");
    const r = await runCli(["plan", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Warnings\n\s+! \.aws\/credentials/m);
    expect((await runCli(["plan", "--strict", dir])).code).toBe(1);
  });

  it("exits 2 with file:line:col and a hint on malformed input, without a stack trace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sw-plan-"));
    try {
      await writeFile(join(dir, "requirements.txt"), "flask==2.2.2\nrequests>=2.*\n");
      const r = await runCli(["plan", dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /^error: requirements\.txt:2:11: a wildcard version \(2\.\*\) is only allowed with == and !=\n/,
      );
      expect(r.stderr).toMatch(/hint: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const j = await runCli(["--json", "plan", dir]);
      expect(JSON.parse(j.stdout).error).toMatchObject({ code: "input", location: "requirements.txt:2:11" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("exits 2 on a missing directory", async () => {
    const r = await runCli(["plan", "/no/such/project"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not a directory/);
  });
});
