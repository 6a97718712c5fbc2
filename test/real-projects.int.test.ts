/**
 * Projects shaped like the ones people have (issue 9), built with the default strategy on the
 * test bed (buildah) and checked inside the built image: requirements with nested -r/-c includes,
 * a hash-checked requirements file whose set includes an sdist with a C extension, and secrets
 * nested in the build context.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engines/index.js";
import { buildImage } from "../src/pipeline/build-image.js";
import { type Endpoints, readEndpoints } from "../testbed/endpoints.js";
import { testbedSources, testContext } from "./helpers/testbed-context.js";

const execFileP = promisify(execFile);
let tb: Endpoints;
let work: string;
const ctx = testContext();

beforeAll(async () => {
  tb = await readEndpoints();
  work = await mkdtemp(join(tmpdir(), "slimwheel-real-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Writes a project from a map of relative path → content; returns its directory. */
async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const build = (dir: string, tag: string, smoke: string, strategy?: string) =>
  buildImage(dir, { ...testbedSources(tb), engine: "buildah", tags: [tag], smoke, strategy }, ctx);

/** The files under /app in a built image. */
async function appFiles(tag: string): Promise<string[]> {
  const r = await createEngine("buildah", process.env).run(
    tag,
    [
      "python3",
      "-c",
      "import os; print('\\n'.join(os.path.join(d, f) for d, _, fs in os.walk('/app') for f in fs))",
    ],
    ctx,
  );
  return r.stdout.trim().split("\n").sort();
}

/** A package with its own C extension in a flat layout: speedy/ beside setup.py. */
const FLAT_C_EXTENSION: Record<string, string> = {
  "pyproject.toml":
    '[build-system]\nrequires = ["setuptools>=61", "wheel"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "speedy"\nversion = "1.0"\ndependencies = ["PyYAML"]\n\n[tool.setuptools]\npackages = ["speedy"]\n',
  "setup.py":
    'from setuptools import Extension, setup\n\nsetup(ext_modules=[Extension("speedy._speedups", ["speedy/_speedups.c"])])\n',
  "speedy/__init__.py": "from ._speedups import add\n",
  "speedy/_speedups.c": [
    "#define PY_SSIZE_T_CLEAN",
    "#include <Python.h>",
    "static PyObject *add(PyObject *self, PyObject *args) {",
    "    long a, b;",
    '    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;',
    "    return PyLong_FromLong(a + b);",
    "}",
    'static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};',
    'static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};',
    "PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }",
    "",
  ].join("\n"),
  "smoke.py": "import speedy\nassert speedy.add(2, 3) == 5\nprint('flat ok', speedy.__file__)\n",
};

describe("the default strategy on real project shapes", () => {
  it("installs a requirements file with nested -r and -c includes in subdirectories", async () => {
    const dir = await project("includes", {
      "app.py": "import flask, yaml\nprint('ok')\n",
      "requirements.txt": "-r requirements/base.txt\n-c constraints.txt\n",
      "requirements/base.txt": "-r common/yaml.txt\nflask\n",
      "requirements/common/yaml.txt": "PyYAML\n",
      "constraints.txt": "flask<3\nPyYAML==6.0\n",
    });
    const out = await build(dir, "localhost/slimwheel-real/includes:t", "python app.py");
    expect(out.smoke?.output).toContain("ok");
    expect(out.importTest?.checked.map((c) => c.module)).toEqual(expect.arrayContaining(["flask", "yaml"]));
  });

  it("honours --hash: the builder verifies the sdist's hash, the final stage installs the wheel built from it", async () => {
    const files = join(tb.index.dir, "files");
    const dir = await project("hashes", {
      "app.py": "import yamlinfo, yaml\nprint('ok')\n",
      "requirements.txt": [
        `yamlinfo==1.0.0 --hash=sha256:${await sha256(join(files, "yamlinfo-1.0.0.tar.gz"))}`,
        `PyYAML==6.0 --hash=sha256:${await sha256(join(files, "pyyaml-6.0-cp311-cp311-linux_x86_64.whl"))}`,
        "",
      ].join("\n"),
    });
    const out = await build(dir, "localhost/slimwheel-real/hashes:t", "python app.py");
    expect(out.smoke?.output).toContain("ok");
    expect(out.plan.runtimePackages.map((r) => r.name)).toContain("libyaml-0-2");
  });

  it("refuses a hash that does not match: pip's hash check runs in the builder", async () => {
    const dir = await project("bad-hash", {
      "app.py": "print('ok')\n",
      "requirements.txt": `PyYAML==6.0 --hash=sha256:${"0".repeat(64)}\n`,
    });
    await expect(build(dir, "localhost/slimwheel-real/bad-hash:t", "python app.py")).rejects.toThrow();
  });

  for (const strategy of ["slimwheel", "venv", "full"])
    it(`${strategy}: a flat-layout package with its own C extension imports the installed package, not its source in /app`, async () => {
      const dir = await project(`flat-c-${strategy}`, FLAT_C_EXTENSION);
      const tag = `localhost/slimwheel-real/flat-c-${strategy}:t`;
      const out = await build(dir, tag, "python smoke.py", strategy);
      expect(out.smoke?.output).toContain("flat ok");
      expect(out.smoke?.output).toMatch(/-packages\/speedy\/__init__.py/);
      const files = await appFiles(tag);
      expect(files).toContain("/app/smoke.py");
      expect(files).toContain("/app/setup.py");
      expect(files.filter((f) => f.startsWith("/app/speedy/"))).toEqual([]);
    });

  it("runs Django's collectstatic at build time when STATIC_ROOT is set", async () => {
    const dir = await project("django-static", {
      "requirements.txt": "django==3.2.25\n",
      "manage.py": [
        "import os, sys",
        'if __name__ == "__main__":',
        '    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.settings")',
        "    from django.core.management import execute_from_command_line",
        "    execute_from_command_line(sys.argv)",
        "",
      ].join("\n"),
      "site_cfg/__init__.py": "",
      "site_cfg/urls.py": "urlpatterns = []\n",
      "site_cfg/settings.py": [
        "from pathlib import Path",
        "BASE_DIR = Path(__file__).resolve().parent.parent",
        'SECRET_KEY = "test"',
        'ALLOWED_HOSTS = ["*"]',
        'ROOT_URLCONF = "site_cfg.urls"',
        'INSTALLED_APPS = ["django.contrib.staticfiles", "shop"]',
        'STATIC_URL = "static/"',
        'STATIC_ROOT = BASE_DIR / "staticfiles"',
        "",
      ].join("\n"),
      "shop/__init__.py": "",
      "shop/static/shop/site.css": "body { color: black }\n",
      "smoke.py": "import pathlib\nprint(pathlib.Path('/app/staticfiles/shop/site.css').read_text())\n",
    });
    const out = await build(dir, "localhost/slimwheel-real/django-static:t", "python smoke.py");
    expect(out.project.buildSteps.map((b) => b.name)).toEqual(["collectstatic"]);
    expect(out.smoke?.output).toContain("body { color: black }");
  });

  it("keeps index credentials from a requirements include out of every layer and the image config", async () => {
    const token = "s3cret-token-4f1a";
    const url = tb.index.url.replace("://", `://deploy:${token}@`);
    const dir = await project("index-credentials", {
      "app.py": "import yaml\nprint('ok')\n",
      "requirements.txt": "-r reqs/base.txt\n",
      "reqs/base.txt": `--index-url ${url}\nPyYAML==6.0\n`,
    });
    const tag = "localhost/slimwheel-real/index-credentials:t";
    const env = { ...process.env, PIP_INDEX_USER: "deploy", PIP_INDEX_PASSWORD: token };
    const out = await buildImage(
      dir,
      { ...testbedSources(tb), engine: "buildah", tags: [tag], smoke: "python app.py" },
      { ...ctx, env },
    );
    expect(out.smoke?.output).toContain("ok");
    const files = await appFiles(tag);
    expect(files).not.toContain("/app/requirements.txt");
    expect(files).not.toContain("/app/reqs/base.txt");
    const engine = createEngine("buildah", process.env);
    const grep = await engine.run(
      tag,
      [
        "python3",
        "-c",
        `import os\nhits = []\nfor d, ds, fs in os.walk('/'):\n    ds[:] = [x for x in ds if os.path.join(d, x) not in ('/proc', '/sys', '/dev')]\n    for f in fs:\n        p = os.path.join(d, f)\n        try:\n            if os.path.isfile(p) and not os.path.islink(p) and b'${token}' in open(p, 'rb').read():\n                hits.append(p)\n        except OSError:\n            pass\nprint('hits:', hits)`,
      ],
      ctx,
    );
    expect(grep.stdout).toContain("hits: []");
    const inspect = await execFileP("buildah", ["inspect", "--type", "image", tag]);
    expect(inspect.stdout).not.toContain(token);
  });

  it("installs a uv workspace: its members built from their directories, their dependencies from the lock", async () => {
    const member = (name: string, deps: string) =>
      `[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "${name}"\nversion = "0.1.0"\ndependencies = [${deps}]\n\n[tool.setuptools]\npackage-dir = { "" = "src" }\npackages = ["${name}"]\n`;
    const dir = await project("uv-workspace", {
      "pyproject.toml":
        '[project]\nname = "platform"\nversion = "0.1.0"\nrequires-python = ">=3.10"\ndependencies = ["api"]\n\n[tool.uv.sources]\napi = { workspace = true }\n\n[tool.uv.workspace]\nmembers = ["packages/*"]\n',
      "packages/api/pyproject.toml": member("api", '"core", "PyYAML"'),
      "packages/api/src/api/__init__.py":
        "import core, yaml\n\ndef hello():\n    return core.NAME + ' ' + yaml.safe_dump({'ok': 1}).strip()\n",
      "packages/core/pyproject.toml": member("core", ""),
      "packages/core/src/core/__init__.py": "NAME = 'core'\n",
      "uv.lock": [
        "version = 1",
        'requires-python = ">=3.10"',
        "",
        "[manifest]",
        'members = ["api", "core", "platform"]',
        "",
        "[[package]]",
        'name = "api"',
        'version = "0.1.0"',
        'source = { editable = "packages/api" }',
        'dependencies = [{ name = "core" }, { name = "pyyaml" }]',
        "",
        "[[package]]",
        'name = "core"',
        'version = "0.1.0"',
        'source = { editable = "packages/core" }',
        "",
        "[[package]]",
        'name = "platform"',
        'version = "0.1.0"',
        'source = { virtual = "." }',
        'dependencies = [{ name = "api" }]',
        "",
        "[[package]]",
        'name = "pyyaml"',
        'version = "6.0"',
        'source = { registry = "https://pypi.org/simple" }',
        "",
      ].join("\n"),
      "app.py": "import api\nprint(api.hello())\n",
    });
    const out = await build(dir, "localhost/slimwheel-real/uv-workspace:t", "python app.py");
    expect(out.smoke?.output).toContain("core ok: 1");
  });

  it("keeps nested secrets out of the image", async () => {
    const dir = await project("secrets", {
      "app.py": "print('ok')\n",
      "requirements.txt": "PyYAML\n",
      "config/.env": "SECRET=1\n",
      "config/.env.production": "SECRET=2\n",
      "certs/server.key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
      "deploy/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n",
      "src/.aws/credentials": "[default]\n",
      "data/app.sqlite3": "x",
      "config/settings.py": "DEBUG = False\n",
    });
    const tag = "localhost/slimwheel-real/secrets:t";
    await build(dir, tag, "python app.py");
    const files = await appFiles(tag);
    expect(files).toContain("/app/config/settings.py");
    expect(files).toContain("/app/app.py");
    for (const secret of [
      "config/.env",
      "config/.env.production",
      "certs/server.key",
      "deploy/id_rsa",
      "src/.aws/credentials",
      "data/app.sqlite3",
    ])
      expect(files).not.toContain(`/app/${secret}`);
  });
});
