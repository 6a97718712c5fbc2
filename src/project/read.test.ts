import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readProject } from "./read.js";

const FIXTURES = join(import.meta.dirname, "__fixtures__", "projects");
const EXAMPLES = join(import.meta.dirname, "..", "..", "examples");
const read = (name: string, dir = FIXTURES) => readProject(join(dir, name));
const pins = (p: Awaited<ReturnType<typeof readProject>>) =>
  p.dependencies.requirements.map((r) => `${r.key}${r.specifier}`);
const warned = (p: Awaited<ReturnType<typeof readProject>>, re: RegExp) =>
  p.warnings.some((w) => re.test(w.message));

describe("readProject on fixture projects (one or more per format)", () => {
  it("requirements.txt with -r/-c nesting, hashes and markers", async () => {
    const p = await read("req-nested");
    expect(p.python).toMatchObject({ version: "3.11", from: ".python-version:1" });
    expect(p.dependencies).toMatchObject({
      source: "requirements",
      locked: false,
      allPinned: true,
      hashes: "all",
    });
    expect(p.dependencies.files).toEqual([
      "requirements.txt",
      "requirements/base.txt",
      "requirements/constraints.txt",
    ]);
    expect(pins(p)).toEqual(["gunicorn==20.1.0", "flask==2.2.2", "werkzeug==2.2.2"]);
    expect(p.dependencies.skipped.map((s) => s.name)).toEqual(["importlib-metadata", "pywin32"]);
    expect(p.dependencies.indexes?.indexUrl).toBe("https://pypi.example.internal/simple");
    expect(p.start?.command).toBe("gunicorn --bind 0.0.0.0:${PORT:-8000} 'shop:create_app()'");
  });

  it("PEP 621 with groups, extras and a single script", async () => {
    const p = await read("pep621-cli");
    expect(p.name).toBe("Tool_Box");
    expect(p.python.version).toBe("3.12");
    expect(p.python.reason).toMatch(/">=3\.10,<3\.13" in pyproject\.toml:\d+: the newest supported version/);
    expect(pins(p)).toEqual(["click>=8.0", "rich~=13.3"]);
    expect(p.dependencies.skipped).toEqual([
      { name: "tomli", marker: 'python_version < "3.11"', at: "pyproject.toml:12" },
    ]);
    expect(p.dependencies.allPinned).toBe(false);
    expect(warned(p, /2 of 2 dependencies are not pinned/)).toBe(true);
    expect(p.start).toMatchObject({ command: "toolbox", shell: false });
    expect(p.installable?.buildSystem?.backend).toBe("hatchling.build");
  });

  it("Poetry: poetry.lock wins, main group only, markers for the target", async () => {
    const p = await read("poetry-api");
    expect(p.dependencies).toMatchObject({ source: "poetry-lock", locked: true, hashes: "all" });
    expect(p.dependencies.reason).toMatch(/poetry\.lock is a lock file.*preferred over pyproject\.toml/);
    expect(pins(p)).toEqual([
      "fastapi==0.95.2",
      "pydantic==1.10.7",
      "starlette==0.27.0",
      "uvicorn==0.21.1",
      "orjson==3.8.10",
    ]);
    expect(p.dependencies.leftOut.map((s) => s.name)).toEqual(["colorama", "pytest"]);
    expect(p.dependencies.leftOut[1]!.reason).toMatch(/only in group dev/);
    expect(p.python).toMatchObject({ version: "3.14" });
    expect(p.start?.command).toBe("uvicorn --host 0.0.0.0 --port ${PORT:-8000} api.main:api");
    const arm = await readProject(join(FIXTURES, "poetry-api"), { arch: "aarch64" });
    expect(pins(arm)).not.toContain("orjson==3.8.10");
  });

  it("uv.lock: the project's runtime closure, not its dev group", async () => {
    const p = await read("uv-service");
    expect(p.dependencies.source).toBe("uv-lock");
    expect(pins(p).sort()).toEqual(
      [
        "anyio==4.3.0",
        "fastapi==0.110.1",
        "idna==3.7",
        "sniffio==1.3.1",
        "starlette==0.37.2",
        "uvicorn==0.29.0",
        "uvloop==0.19.0",
      ].sort(),
    );
    expect(p.dependencies.requirements.find((r) => r.key === "anyio")!.hashes).toBe(2);
    expect(p.python.version).toBe("3.14");
    expect(p.start?.reason).toMatch(/app = FastAPI\(\) in main\.py, served by uvicorn/);
  });

  it("pylock.toml (PEP 751): markers with dependency_groups", async () => {
    const p = await read("pylock-app");
    expect(p.dependencies.source).toBe("pylock");
    expect(pins(p)).toEqual(["requests==2.31.0", "numpy==1.26.4"]);
    expect(p.dependencies.skipped.map((s) => s.name)).toEqual(["pytest"]);
    expect(p.python.reason).toMatch(/pylock\.toml/);
    expect(p.start?.command).toBe("python main.py");
  });

  it("Pipfile.lock over Pipfile; Django ASGI without an ASGI server falls back to gunicorn", async () => {
    const p = await read("pipenv-django");
    expect(p.dependencies.source).toBe("pipfile-lock");
    expect(pins(p)).toEqual([
      "asgiref==3.6.0",
      "django==4.2.1",
      "gunicorn==20.1.0",
      "psycopg2==2.9.6",
      "sqlparse==0.4.4",
    ]);
    expect(p.python).toMatchObject({ version: "3.11", from: "Pipfile:15" });
    expect(p.start?.command).toBe("gunicorn --bind 0.0.0.0:${PORT:-8000} proj.wsgi");
    expect(p.frameworks.map((f) => f.name)).toEqual(["django"]);
  });

  it("setup.cfg: multi-line install_requires with comments, console script", async () => {
    const p = await read("setupcfg-worker");
    expect(p.dependencies.source).toBe("setup-cfg");
    expect(pins(p)).toEqual(["celery>=5.2,<6", "redis==4.5.4", "pydantic>=1.10"]);
    expect(p.dependencies.requirements[1]!.at).toBe("setup.cfg:10");
    expect(p.start).toMatchObject({ command: "worker" });
    expect(p.frameworks.map((f) => f.name)).toEqual(["celery"]);
  });

  it("setup.py read statically: a literal list, never executed", async () => {
    const p = await read("setuppy-literal");
    expect(p.name).toBe("pkgtool");
    expect(pins(p)).toEqual(["requests>=2.25", "pyyaml==6.0"]);
    expect(p.dependencies.skipped.map((s) => s.name)).toEqual(["colorama"]);
    expect(p.start).toMatchObject({ command: "python -m pkgtool" });
    expect(p.python.version).toBe("3.14");
  });

  it("setup.py computing its requirements: a warning, not a guess", async () => {
    const p = await read("setuppy-dynamic");
    expect(p.dependencies.requirements).toEqual([]);
    expect(warned(p, /computes install_requires.*does not run setup\.py/)).toBe(true);
  });

  it("runtime.txt and a Flask factory without a pinned set", async () => {
    const p = await read("runtime-flask");
    expect(p.python).toMatchObject({ version: "3.10", from: "runtime.txt:1" });
    expect(p.start?.command).toBe("gunicorn --bind 0.0.0.0:${PORT:-8000} 'app:create_app()'");
    expect(warned(p, /not pinned/)).toBe(true);
  });

  it("warns when sources disagree, on unknown config keys, and honours the configured port", async () => {
    const p = await read("conflicts");
    expect(p.python.version).toBe("3.10");
    expect(warned(p, /Python 3\.10 was chosen .* but pyproject\.toml:\d+ says ">=3\.11"/)).toBe(true);
    expect(
      warned(p, /requirements\.txt has flask 3\.0\.0, outside ">=2\.2,<2\.3" declared in pyproject\.toml/),
    ).toBe(true);
    expect(warned(p, /requests is declared in pyproject\.toml but missing from requirements\.txt/)).toBe(
      true,
    );
    expect(warned(p, /unknown key tool\.slimwheel\.bogus-key/)).toBe(true);
    expect(p.start?.command).toBe("gunicorn --bind 0.0.0.0:${PORT:-5000} app:app");
    expect(p.config).toMatchObject({ port: 5000, strategy: "slimwheel" });
  });

  it("finds secrets that would enter the build context", async () => {
    const p = await read("secrets");
    expect(p.context.secrets.map((s) => s.path).sort()).toEqual([
      ".aws/credentials",
      ".env",
      "certs/server.key",
    ]);
    expect(p.context.files).toContain(".env.example");
    expect(
      warned(p, /\.env \(environment file with secrets\) would be sent to the builder.*add a \.dockerignore/),
    ).toBe(true);
  });

  it("applies .dockerignore with Docker's semantics (exclusions, re-includes)", async () => {
    const p = await read("dockerignored");
    expect(p.context.files).toEqual([".dockerignore", "app.py", "docs/api.md", "requirements.txt"]);
    expect(p.context.secrets).toEqual([]);
  });

  it("[tool.slimwheel] python and command override detection", async () => {
    const p = await read("configured");
    expect(p.python).toMatchObject({ version: "3.12", from: "pyproject.toml [tool.slimwheel]" });
    expect(p.start).toMatchObject({ command: "uvicorn --port ${PORT} svc:app", shell: true });
    expect(p.config.runtimePackages).toEqual(["libmagic1"]);
  });
});

describe("readProject on the example apps", () => {
  it("flask-app: Procfile start command, 12 pinned packages", async () => {
    const p = await read("flask-app", EXAMPLES);
    expect(p.python.version).toBe("3.11");
    expect(p.dependencies).toMatchObject({ source: "requirements", allPinned: true });
    expect(p.dependencies.requirements).toHaveLength(12);
    expect(p.start?.reason).toBe("the `web:` process in Procfile");
  });

  it("django-postgres: gunicorn from WSGI_APPLICATION", async () => {
    const p = await read("django-postgres", EXAMPLES);
    expect(pins(p)).toContain("psycopg2==2.9.5");
    expect(p.start?.command).toBe("gunicorn --bind 0.0.0.0:${PORT:-8000} mysite.wsgi");
  });

  it("c-extension: installable package with a console script", async () => {
    const p = await read("c-extension", EXAMPLES);
    expect(p.installable?.reason).toMatch(/\[build-system\]/);
    expect(pins(p)).toEqual(["yamlinfo==1.0.0"]);
    expect(p.start?.command).toBe("wordstats");
  });
});

describe("readProject errors", () => {
  it("names the file, line and column of malformed TOML", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "sw-bad-"));
    try {
      await writeFile(join(dir, "pyproject.toml"), '[project]\nname = "x"\nversion = 1.0.0\n');
      await expect(readProject(dir)).rejects.toMatchObject({
        code: "input",
        location: "pyproject.toml:3:14",
      });
      await writeFile(
        join(dir, "pyproject.toml"),
        '[project]\nname = "x"\ndependencies = ["flask>=", "ok"]\n',
      );
      await expect(readProject(dir)).rejects.toMatchObject({
        code: "input",
        location: expect.stringMatching(/^pyproject\.toml:3:/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a path that is not a directory", async () => {
    await expect(readProject("/nonexistent/dir")).rejects.toMatchObject({ code: "input" });
  });
});

describe("lock files walked from the project's dependencies, extras and markers evaluated", () => {
  const names = (p: Awaited<ReturnType<typeof readProject>>) =>
    p.dependencies.requirements.map((r) => r.key).sort();

  it("uv.lock: fastapi[standard] brings uvicorn[standard] (httptools, uvloop, httpx); dev group and extras left out", async () => {
    const p = await read("uv-fastapi-standard");
    expect(p.python).toMatchObject({ version: "3.14" });
    expect(names(p)).toEqual([
      "anyio",
      "fastapi",
      "h11",
      "httptools",
      "httpx",
      "idna",
      "pydantic",
      "sniffio",
      "starlette",
      "uvicorn",
      "uvloop",
    ]);
    const left = Object.fromEntries(p.dependencies.leftOut.map((l) => [l.name, l.reason]));
    expect(Object.keys(left).sort()).toEqual(["colorama", "iniconfig", "itsdangerous", "psycopg", "pytest"]);
    expect(left.pytest).toMatch(/only in group dev/);
    expect(left.psycopg).toMatch(/only in extra postgres/);
    expect(left.colorama).toMatch(/marker sys_platform == "win32" is false/);
    expect(p.start?.command).toMatch(/^uvicorn .*main:app/);
  });

  it("uv.lock: --group dev and --extra postgres add them", async () => {
    const p = await readProject(join(FIXTURES, "uv-fastapi-standard"), {
      groups: ["dev"],
      extras: ["postgres"],
    });
    expect(names(p)).toEqual(expect.arrayContaining(["pytest", "iniconfig", "psycopg"]));
    expect(names(p)).not.toContain("colorama");
    expect(p.dependencies.selection).toEqual({ groups: ["dev"], extras: ["postgres"] });
  });

  it("poetry.lock 1.8 (no groups in the lock): dev and docs groups stay out, extras of dependencies followed", async () => {
    const p = await read("poetry18-groups");
    expect(names(p)).toEqual([
      "blinker",
      "certifi",
      "click",
      "flask",
      "gunicorn",
      "itsdangerous",
      "jinja2",
      "markupsafe",
      "packaging",
      "pysocks",
      "requests",
      "werkzeug",
    ]);
    const left = Object.fromEntries(p.dependencies.leftOut.map((l) => [l.name, l.reason]));
    expect(left.pytest).toMatch(/only in group dev/);
    expect(left.mkdocs).toMatch(/only in group docs/);
    expect(left["ghp-import"]).toMatch(/only in group docs/);
    expect(left.colorama).toMatch(/only in group|marker/);
    expect(p.python.version).toBe("3.14");
    expect(warned(p, /3\.1\d/)).toBe(false);
  });
});

describe("more lock fixtures: workspaces, Poetry 1.1, Pipfile.lock develop, pylock extras and groups", () => {
  const names = (p: Awaited<ReturnType<typeof readProject>>) =>
    p.dependencies.requirements.map((r) => r.key).sort();
  const leftNames = (p: Awaited<ReturnType<typeof readProject>>) =>
    p.dependencies.leftOut.map((l) => l.name).sort();

  it("uv workspace: members reached from the root are installed from their paths, dev group left out", async () => {
    const p = await read("uv-workspace");
    expect(names(p)).toEqual(["anyio", "api", "core", "httpx", "idna", "sniffio"]);
    expect(p.dependencies.requirements.find((r) => r.key === "core")?.url).toBe("packages/core");
    expect(leftNames(p)).toEqual(["ruff", "tomli"]);
  });

  it("poetry.lock 1.1 (category, hashes in [metadata.files]): dev left out, hashes kept", async () => {
    const p = await read("poetry11-category");
    expect(names(p)).toEqual(["amqp", "celery", "kombu", "vine"]);
    expect(leftNames(p)).toEqual(["pytest", "tomli"]);
    expect(p.dependencies).toMatchObject({ hashes: "all", hashChecking: true });
    expect(p.python.version).toBe("3.14");
    expect(p.warnings.map((w) => w.message).join("\n")).not.toMatch(/Python 3\.14 was chosen/);
  });

  it("Pipfile.lock: develop is left out unless asked for; a package in both sections is a default one", async () => {
    const p = await read("pipenv-develop");
    expect(names(p)).toEqual(["flask", "requests"]);
    expect(leftNames(p)).toEqual(["iniconfig", "pytest"]);
    const withDev = await readProject(join(FIXTURES, "pipenv-develop"), { groups: ["develop"] });
    expect(names(withDev)).toEqual(["flask", "iniconfig", "pytest", "requests"]);
    const q = await read("pipenv-flask-dev");
    expect(names(q)).toEqual(["gunicorn", "packaging"]);
    expect(leftNames(q)).toEqual(["colorama", "ruff"]);
  });

  it("pylock.toml: extras and dependency groups from the markers; default-groups honoured", async () => {
    const p = await read("pylock-groups");
    expect(names(p)).toEqual(["pyjwt", "uvloop"]);
    expect(leftNames(p)).toEqual(["cryptography", "mkdocs", "pytest"]);
    const asked = await readProject(join(FIXTURES, "pylock-groups"), {
      groups: ["docs"],
      extras: ["crypto"],
    });
    expect(names(asked)).toEqual(["cryptography", "mkdocs", "pyjwt", "uvloop"]);
    const q = await read("pylock-extras");
    expect(names(q)).toEqual(["pytest", "sqlalchemy"]);
    expect(names(await readProject(join(FIXTURES, "pylock-extras"), { extras: ["postgres"] }))).toEqual([
      "psycopg",
      "pytest",
      "sqlalchemy",
    ]);
  });
});
