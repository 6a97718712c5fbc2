/**
 * The start command, with its reason. First match wins:
 *  1. [tool.slimwheel].command
 *  2. Procfile `web:` process
 *  3. Django: manage.py + the settings module's WSGI_APPLICATION / ASGI_APPLICATION, served by
 *     gunicorn (WSGI) or uvicorn (ASGI) when that server is a dependency, else runserver (warned)
 *  4. FastAPI / Starlette app object (`app = FastAPI(`) → uvicorn
 *  5. Flask app object (`app = Flask(`) or factory (`def create_app(`) → gunicorn, else `flask run`
 *  6. exactly one [project.scripts] entry point
 *  7. a package with `__main__.py` → `python -m package`
 *  8. main.py / app.py / server.py → `python FILE`
 *  9. a bare script: the only `.py` file at the project root (besides setup.py, conftest.py,
 *     test files) → `python FILE`
 * Also: build steps the image needs (Django's collectstatic when STATIC_ROOT is set), as facts.
 * Servers bind 0.0.0.0 and `${PORT}` (default DEFAULT_PORT), so PORT set at run time is honoured.
 */
import type { SourceWarning } from "./types.js";

export const DEFAULT_PORT = 8000;

export interface StartCommand {
  /** The command as a shell string (`${PORT}` expanded by `sh -c` at run time). */
  readonly command: string;
  /** Whether the command needs a shell (it uses `${PORT}` or shell syntax). */
  readonly shell: boolean;
  readonly reason: string;
  /** The port the server listens on, when it is a network server. */
  readonly port?: number;
}

export interface FrameworkHint {
  readonly name: string;
  readonly reason: string;
}

export interface StartInputs {
  /** Project-relative paths of the app's files (after .dockerignore). */
  readonly files: readonly string[];
  readonly read: (path: string) => string | undefined;
  /** Normalized names of the runtime dependencies. */
  readonly dependencies: ReadonlySet<string>;
  readonly scripts: Readonly<Record<string, string>>;
  readonly configuredCommand?: { readonly command: string; readonly file: string };
  readonly port?: number;
}

const PORT = (port: number) => `\${PORT:-${port}}`;

/** Python module path of a file (`src/pkg/app.py` → `pkg.app` when under src/). */
function moduleOf(file: string): string {
  return file
    .replace(/^src\//, "")
    .replace(/\.py$/, "")
    .replace(/\/__init__$/, "")
    .split("/")
    .join(".");
}

function topLevelPy(files: readonly string[]): string[] {
  return files.filter(
    (f) => f.endsWith(".py") && f.split("/").length <= 3 && !/(^|\/)(tests?|docs?|migrations)\//.test(f),
  );
}

/** Django settings modules: settings.py, or any module of a settings/ package. */
function settingsFiles(files: readonly string[]): string[] {
  return files.filter((f) => /(^|\/)(settings\.py|settings\/[^/]+\.py)$/.test(f) && f.split("/").length <= 4);
}

export function detectFrameworks(inputs: StartInputs): FrameworkHint[] {
  const out: FrameworkHint[] = [];
  const dep = (n: string) => inputs.dependencies.has(n);
  if (inputs.files.includes("manage.py") || dep("django")) {
    out.push({ name: "django", reason: dep("django") ? "django is a dependency" : "manage.py is present" });
    const gis = settingsFiles(inputs.files).find((f) =>
      /["']django\.contrib\.gis["']/.test(inputs.read(f) ?? ""),
    );
    if (gis) out.push({ name: "geodjango", reason: `django.contrib.gis is in ${gis}` });
  }
  for (const [name, pkg] of [
    ["flask", "flask"],
    ["fastapi", "fastapi"],
    ["starlette", "starlette"],
    ["streamlit", "streamlit"],
    ["celery", "celery"],
    ["aiohttp", "aiohttp"],
  ] as const) {
    if (dep(pkg)) out.push({ name, reason: `${pkg} is a dependency` });
  }
  return out;
}

function findAppObject(inputs: StartInputs, pattern: RegExp): { file: string; name: string } | undefined {
  const preferred = ["app.py", "main.py", "wsgi.py", "asgi.py", "server.py", "application.py"];
  const candidates = topLevelPy(inputs.files).sort((a, b) => {
    const ia = preferred.indexOf(a.split("/").at(-1)!);
    const ib = preferred.indexOf(b.split("/").at(-1)!);
    return (
      (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) ||
      a.split("/").length - b.split("/").length ||
      a.localeCompare(b)
    );
  });
  for (const file of candidates) {
    const text = inputs.read(file);
    const m = text && pattern.exec(text);
    if (m) return { file, name: m[1]! };
  }
  return undefined;
}

function django(inputs: StartInputs, warnings: SourceWarning[], port: number): StartCommand | undefined {
  if (!inputs.files.includes("manage.py")) return undefined;
  const manage = inputs.read("manage.py") ?? "";
  const settingsModule = /DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']/.exec(manage)?.[1];
  const settingsFile = settingsModule
    ? [`${settingsModule.replace(/\./g, "/")}.py`, `${settingsModule.replace(/\./g, "/")}/__init__.py`].find(
        (f) => inputs.files.includes(f),
      )
    : undefined;
  const settings = settingsFile ? (inputs.read(settingsFile) ?? "") : "";
  const wsgi = /^WSGI_APPLICATION\s*=\s*["']([\w.]+)["']/m.exec(settings)?.[1];
  const asgi = /^ASGI_APPLICATION\s*=\s*["']([\w.]+)["']/m.exec(settings)?.[1];
  const where = settingsFile ?? "the settings module";
  const dep = (n: string) => inputs.dependencies.has(n);
  const toTarget = (dotted: string) => {
    const i = dotted.lastIndexOf(".");
    return `${dotted.slice(0, i)}:${dotted.slice(i + 1)}`;
  };
  if (asgi && (dep("uvicorn") || dep("daphne"))) {
    const server = dep("uvicorn")
      ? `uvicorn --host 0.0.0.0 --port ${PORT(port)} ${toTarget(asgi)}`
      : `daphne -b 0.0.0.0 -p ${PORT(port)} ${toTarget(asgi)}`;
    return {
      command: server,
      shell: true,
      port,
      reason: `Django: ASGI_APPLICATION = "${asgi}" in ${where}, served by ${dep("uvicorn") ? "uvicorn" : "daphne"} (a dependency)`,
    };
  }
  if (wsgi && dep("gunicorn")) {
    const mod = wsgi.slice(0, wsgi.lastIndexOf("."));
    return {
      command: `gunicorn --bind 0.0.0.0:${PORT(port)} ${mod}`,
      shell: true,
      port,
      reason: `Django: WSGI_APPLICATION = "${wsgi}" in ${where}, served by gunicorn (a dependency)`,
    };
  }
  warnings.push({
    message:
      "Django app without gunicorn or uvicorn among its dependencies: falling back to `manage.py runserver`, which is not meant for production",
    at: { file: "manage.py" },
  });
  return {
    command: `python manage.py runserver 0.0.0.0:${PORT(port)}`,
    shell: true,
    port,
    reason: "Django: manage.py found, no production server among the dependencies",
  };
}

export function detectStartCommand(inputs: StartInputs, warnings: SourceWarning[]): StartCommand | undefined {
  const port = inputs.port ?? DEFAULT_PORT;
  if (inputs.configuredCommand) {
    const c = inputs.configuredCommand.command;
    return {
      command: c,
      shell: /[$|&;<>`]/.test(c),
      reason: `command = "${c}" in [tool.slimwheel] (${inputs.configuredCommand.file})`,
    };
  }
  if (inputs.files.includes("Procfile")) {
    const web = /^web:\s*(.+)$/m.exec(inputs.read("Procfile") ?? "")?.[1]?.trim();
    if (web)
      return {
        command: web,
        shell: true,
        reason: "the `web:` process in Procfile",
        port: /\$\{?PORT/.test(web) ? port : undefined,
      };
  }
  const dj = django(inputs, warnings, port);
  if (dj) return dj;
  const dep = (n: string) => inputs.dependencies.has(n);
  if (dep("fastapi") || dep("starlette")) {
    const app = findAppObject(inputs, /^(\w+)\s*=\s*(?:FastAPI|Starlette)\(/m);
    if (app) {
      const target = `${moduleOf(app.file)}:${app.name}`;
      if (dep("uvicorn")) {
        return {
          command: `uvicorn --host 0.0.0.0 --port ${PORT(port)} ${target}`,
          shell: true,
          port,
          reason: `${app.name} = FastAPI() in ${app.file}, served by uvicorn (a dependency)`,
        };
      }
      warnings.push({
        message: `${app.file} defines an ASGI app but no ASGI server (uvicorn) is a dependency`,
        at: { file: app.file },
      });
    }
  }
  if (dep("flask")) {
    const app = findAppObject(inputs, /^(\w+)\s*=\s*Flask\(/m);
    const factory = app ? undefined : findAppObject(inputs, /^def (create_app|make_app)\(/m);
    const found = app ?? factory;
    if (found) {
      // A factory call has parentheses, which the shell must not see.
      const target = factory
        ? `'${moduleOf(found.file)}:${found.name}()'`
        : `${moduleOf(found.file)}:${found.name}`;
      const what = factory
        ? `the factory ${found.name}() in ${found.file}`
        : `${found.name} = Flask() in ${found.file}`;
      if (dep("gunicorn")) {
        return {
          command: `gunicorn --bind 0.0.0.0:${PORT(port)} ${target}`,
          shell: true,
          port,
          reason: `${what}, served by gunicorn (a dependency)`,
        };
      }
      warnings.push({
        message: "Flask app without gunicorn: `flask run` is a development server",
        at: { file: found.file },
      });
      return {
        command: `flask --app ${target} run --host 0.0.0.0 --port ${PORT(port)}`,
        shell: true,
        port,
        reason: `${what}; no production server among the dependencies`,
      };
    }
  }
  const scripts = Object.keys(inputs.scripts);
  if (scripts.length === 1) {
    return {
      command: scripts[0]!,
      shell: false,
      reason: `the only [project.scripts] entry point (${scripts[0]} = "${inputs.scripts[scripts[0]!]}")`,
    };
  }
  const mains = inputs.files.filter((f) => /^(src\/)?[\w]+\/__main__\.py$/.test(f));
  if (mains.length === 1) {
    const pkg = moduleOf(mains[0]!).replace(/\.__main__$/, "");
    return { command: `python -m ${pkg}`, shell: false, reason: `${mains[0]} makes the package runnable` };
  }
  for (const f of ["main.py", "app.py", "server.py", "run.py"]) {
    if (inputs.files.includes(f))
      return { command: `python ${f}`, shell: false, reason: `${f} at the project root` };
  }
  const bare = inputs.files.filter(
    (f) =>
      /^[\w-]+\.py$/.test(f) && !/^(setup|conftest|noxfile|fabfile|manage)\.py$|^test_|_test\.py$/.test(f),
  );
  if (bare.length === 1 && !scripts.length)
    return {
      command: `python ${bare[0]}`,
      shell: false,
      reason: `${bare[0]} is the only script at the project root`,
    };
  if (scripts.length > 1) {
    warnings.push({
      message: `several [project.scripts] (${scripts.join(", ")}): set [tool.slimwheel] command to choose one`,
    });
  }
  return undefined;
}

/** A step the image build must run (after installing dependencies and copying the app), with why. */
export interface BuildStep {
  readonly name: "collectstatic";
  /** The command, run from the app directory. */
  readonly command: string;
  /** Environment the command needs. */
  readonly env: Readonly<Record<string, string>>;
  readonly why: string;
}

/** Django settings: the module, its file and its text, when manage.py names them. */
function djangoSettings(inputs: StartInputs): { module: string; file: string; text: string } | undefined {
  if (!inputs.files.includes("manage.py")) return undefined;
  const manage = inputs.read("manage.py") ?? "";
  const module = /DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']/.exec(manage)?.[1];
  if (!module) return undefined;
  const base = module.replace(/\./g, "/");
  const file = [`${base}.py`, `${base}/__init__.py`].find((f) => inputs.files.includes(f));
  return file ? { module, file, text: inputs.read(file) ?? "" } : undefined;
}

/**
 * Build steps the project needs. Django with STATIC_ROOT set (and django.contrib.staticfiles not
 * removed): `collectstatic` must run at build time, or static files 404 in the image.
 */
export function detectBuildSteps(inputs: StartInputs): BuildStep[] {
  const settings = djangoSettings(inputs);
  if (!settings) return [];
  const line = settings.text.split(/\r?\n/).findIndex((l) => /^STATIC_ROOT\s*=/.test(l));
  if (line < 0) return [];
  return [
    {
      name: "collectstatic",
      command: "python manage.py collectstatic --noinput",
      env: { DJANGO_SETTINGS_MODULE: settings.module },
      why: `STATIC_ROOT is set in ${settings.file}:${line + 1}: Django serves static files from there only after collectstatic`,
    },
  ];
}
