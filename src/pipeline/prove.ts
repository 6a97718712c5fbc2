/**
 * The prove phase: the final image is run, and must work. The import test imports every installed
 * top-level module (a failure names the library that could not load and the Debian package that
 * ships it); the smoke command, when given, must exit 0. Both run in /app.
 */
import { get as httpGet } from "node:http";
import { connect, createServer } from "node:net";
import type { Context } from "../context.js";
import { lastMeaningfulLines } from "../engines/output.js";
import type { Engine } from "../engines/types.js";

/** What the proofs need of an engine: running a command in the image. */
export type Runner = Pick<Engine, "run">;

import { SlimwheelError } from "../errors.js";
import { execForm } from "../minimize/start.js";
import { APP_DIR } from "../plan/options.js";
import {
  IMPORT_TEST_SCRIPT,
  type ImportFailure,
  type ImportTestResult,
  parseImportTest,
} from "../sysdeps/import-test.js";
import { DPKG_SEARCH, parseDpkgSearch } from "../sysdeps/resolve.js";

export interface Proof {
  readonly importTest?: ImportTestResult;
  readonly smoke?: SmokeResult;
  readonly boot?: BootResult;
}

/** The start command, run in the image: it kept running (and answered HTTP), or ran to completion. */
export interface BootResult {
  readonly ok: boolean;
  /** `serving`: answered HTTP on PORT; `running`: still up after the window; `completed`: exited 0 (not a server). */
  readonly outcome: "serving" | "running" | "completed" | "exited" | "silent";
  readonly argv: readonly string[];
  /** The port it was given (PORT), for a web server. */
  readonly port?: number;
  /** The HTTP status of `GET /`, when it answered. */
  readonly status?: number;
  readonly ms: number;
  readonly output: string;
}

export interface SmokeResult {
  readonly ok: boolean;
  readonly output: string;
}

export interface ProveOptions {
  /** Run the import test (default true). */
  readonly importTest?: boolean;
  /** A shell command that must exit 0 inside the image. */
  readonly smoke?: string;
  /** The builder image, searched with dpkg for the package of a library that failed to load. */
  readonly builderImage: string;
  /** Libraries already mapped to packages (from the runtime needs). */
  readonly packageOf: Readonly<Record<string, string>>;
  /** How the image is named in messages. */
  readonly name: string;
  /** The image has no shell (a minimal runtime): the smoke command runs in exec form. */
  readonly noShell?: boolean;
  /** Boot the start command (see {@link bootTest}); undefined: no boot test. */
  readonly boot?: BootOptions;
  /**
   * The files the minimal runtime dropped from the built image (set for minimal images): a file or
   * library a failed proof misses is looked up there, for the `--keep` line that brings it back.
   * A function: the list is only needed when a proof fails (a cached closure reads it from disk).
   */
  readonly dropped?: () => readonly string[];
  /** Run the proofs at once rather than one after the other. */
  readonly concurrent?: boolean;
  /** The import test's result on an image with the same dependencies (the layer cache): not run again. */
  readonly reusedImportTest?: ImportTestResult;
}

export interface BootOptions {
  /** The start command as the image runs it (exec form). */
  readonly argv: readonly string[];
  /** A web server: it must answer HTTP on PORT. */
  readonly http: boolean;
  /** The port a server listens on whatever PORT says (its command names a fixed one); default: a free port, passed as PORT. */
  readonly fixedPort?: number;
  /** Seconds to wait for an answer (a server) or to stay up (anything else). Default 30 / 3. */
  readonly seconds?: number;
}

/** Runs the proofs; the first one that fails throws, naming what is missing. */
export async function proveImage(
  engine: Runner,
  image: string,
  o: ProveOptions,
  ctx: Context,
): Promise<Proof> {
  // With `concurrent`, the proofs run at once (each in its own container or namespace); their
  // verdicts are read in the same order either way, so the first failure reported is the same.
  const runImport = () =>
    o.importTest === false ? undefined : (o.reusedImportTest ?? runImportTest(engine, image, o, ctx));
  const runSmoke = () => (o.smoke ? smokeTest(engine, image, o.smoke, ctx, o.noShell) : undefined);
  const runBoot = () => (o.boot ? bootTest(engine, image, o.boot, ctx) : undefined);
  let importTest: ImportTestResult | undefined;
  let smoke: SmokeResult | undefined;
  let boot: BootResult | undefined;
  if (o.concurrent) {
    const [i, s, b] = await Promise.allSettled([runImport(), runSmoke(), runBoot()]);
    if (i.status === "rejected") throw i.reason;
    importTest = i.value;
    if (s.status === "rejected") throw s.reason;
    smoke = s.value;
    if (b.status === "rejected") throw b.reason;
    boot = b.value;
  } else importTest = await runImport();
  if (o.smoke) {
    smoke ??= await runSmoke();
    if (smoke && !smoke.ok)
      throw new SlimwheelError("engine", `the smoke test failed in ${o.name}: ${o.smoke}`, {
        details: smoke.output.slice(-3000),
        hint: failureHint(smoke.output, o, "the image builds but does not work; see the output above"),
      });
  }
  if (!o.boot) return { importTest, smoke };
  boot ??= await runBoot();
  if (boot && !boot.ok)
    throw new SlimwheelError(
      "engine",
      `the boot test failed in ${o.name}: ${o.boot.argv.join(" ")} ${bootFailure(boot)}`,
      {
        details: boot.output.slice(-3000),
        hint: failureHint(
          boot.output,
          o,
          "run the image's start command by hand to see why; --no-boot-test skips this check",
        ),
      },
    );
  return { importTest, smoke, boot };
}

const bootFailure = (b: BootResult): string =>
  b.outcome === "exited"
    ? `exited within ${(b.ms / 1000).toFixed(1)} s: ${lastMeaningfulLines(b.output, 2) || "no output"}`
    : `did not answer HTTP on port ${b.port} within ${(b.ms / 1000).toFixed(0)} s`;

/** What a failed proof's output says is missing, and, when the minimal runtime dropped it, the path to keep. */
export interface Missing {
  /** The library's file name (`libmagic.so.1`) or the file's path, as the output names it. */
  readonly name: string;
  readonly kind: "library" | "file";
  /** The path in the built image that `--keep` brings back; undefined when the closure did not drop it. */
  readonly keep?: string;
}

/**
 * Reads a failed proof's output for a shared library the loader could not find (`libfoo.so.1:
 * cannot open shared object file`, from the loader or ctypes) or a file the app could not open
 * (`No such file or directory: '/x/y'`), and looks it up among the files the minimal runtime
 * dropped (`dropped`): a library by its file name (its real path, whatever the architecture), a
 * file by its path or as a directory holding dropped files.
 */
export function findMissing(output: string, dropped: readonly string[] = []): Missing | undefined {
  const lib = /([\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(output)?.[1];
  const file = /No such file or directory: '(\/[^']+)'/.exec(output)?.[1];
  const libKeep = lib && dropped.find((p) => p.slice(p.lastIndexOf("/") + 1) === lib);
  if (lib && libKeep) return { name: lib, kind: "library", keep: libKeep };
  const under = file && `${file.replace(/\/+$/, "")}/`;
  const fileKeep = file && dropped.some((p) => p === file || p.startsWith(under!)) ? file : undefined;
  if (file && fileKeep) return { name: file, kind: "file", keep: fileKeep };
  if (lib) return { name: lib, kind: "library" };
  return file ? { name: file, kind: "file" } : undefined;
}

/**
 * The dropped files, or undefined when not known: a cached closure reads them from disk when a
 * proof fails, and lists gone by then (a prune during the build) leave the proof's own failure
 * to be reported, without the `--keep` hint.
 */
function droppedPaths(o: Pick<ProveOptions, "dropped">): readonly string[] | undefined {
  try {
    return o.dropped?.();
  } catch {
    return undefined;
  }
}

/** `--keep A --keep B (or [tool.slimwheel] keep = ["A", "B"])`. */
/**
 * A path as a `--keep` value that holds on every platform: the multiarch directory
 * (`x86_64-linux-gnu`, `aarch64-linux-gnu`, …) becomes a glob, since one build of several
 * platforms applies the same keep list to each, and a keep that matches nothing is an error.
 */
export const portableKeep = (path: string): string =>
  path.replace(/\/[^/]+-linux-gnu[^/]*\//, "/*-linux-gnu*/");

const keepLine = (given: readonly string[]): string => {
  const paths = given.map(portableKeep);
  return `${paths.map((p) => `--keep ${p}`).join(" ")} (or [tool.slimwheel] keep = ${JSON.stringify(paths)})`;
};

/**
 * The hint of a failed smoke or boot test on a minimal image (`o.dropped` set): the `--keep` line
 * of the file or library the closure dropped; a library that is not among the dropped files was
 * never installed, so the Debian package that ships it is what is missing. Else `fallback`.
 */
export function failureHint(output: string, o: Pick<ProveOptions, "dropped">, fallback: string): string {
  const dropped = droppedPaths(o);
  if (!dropped) return fallback;
  const missing = findMissing(output, dropped);
  if (missing?.keep)
    return `the minimal image dropped ${missing.name === missing.keep ? missing.keep : `${missing.name} (${missing.keep})`}: keep it with ${keepLine([missing.keep])}, or use --runtime slim`;
  if (missing?.kind === "library")
    return `${missing.name} is not in the built image either: install the Debian package that ships it ([tool.slimwheel] runtime-packages; dpkg -S ${missing.name} in the builder image names it), or use --runtime slim`;
  return fallback;
}

/**
 * The boot test: the start command runs in the image (on the host's network, with PORT set); a
 * web server must answer `GET /` on PORT (any HTTP status) within the window, anything else must
 * keep running through it or exit 0. The container is stopped and removed afterwards.
 */
export async function bootTest(
  engine: Runner,
  image: string,
  o: BootOptions,
  ctx: Context,
): Promise<BootResult> {
  const port = o.http ? (o.fixedPort ?? (await freePort())) : undefined;
  const seconds = o.seconds ?? (o.http ? 30 : 3);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  const started = ctx.now();
  let exited: { code: number; output: string } | undefined;
  let runnerFailed: SlimwheelError | undefined;
  const running = engine
    .run(
      image,
      o.argv,
      { ...ctx, signal: stop.signal },
      {
        workdir: APP_DIR,
        network: "host",
        env: port ? { PORT: String(port) } : {},
      },
    )
    .then(
      (r) => {
        exited = { code: r.code, output: `${r.stdout}${r.stderr}`.trim() };
      },
      (e: unknown) => {
        if (stop.signal.aborted) return;
        // The runner's own failure (it could not start the command) is no verdict on the app.
        if (e instanceof SlimwheelError) runnerFailed = e;
        exited = { code: 125, output: String((e as Error).message) };
      },
    );
  const result = (outcome: BootResult["outcome"], ok: boolean, status?: number): BootResult => ({
    ok,
    outcome,
    argv: o.argv,
    port,
    status,
    ms: ctx.now() - started,
    output: exited?.output ?? "",
  });
  try {
    const left = () => seconds * 1000 - (ctx.now() - started);
    while (left() > 0 && !ctx.signal.aborted) {
      if (runnerFailed) throw runnerFailed;
      if (exited)
        return result(exited.code === 0 && !o.http ? "completed" : "exited", exited.code === 0 && !o.http);
      // Until the port is open, a connect every 10 ms (cheap: no HTTP client work beside the
      // server starting); then one GET, which waits for the server's first answer (a pre-fork
      // server listens before its workers are ready: the request waits in the backlog).
      const open = port !== undefined && (await accepts(port, left(), stop.signal));
      if (open) {
        const status = await httpStatus(port, left(), stop.signal);
        if (status !== undefined) return result("serving", true, status);
      }
      await new Promise((r) => setTimeout(r, open || !port ? 50 : 10));
    }
    if (runnerFailed) throw runnerFailed;
    if (exited) return result("exited", false);
    return o.http ? result("silent", false) : result("running", true);
  } finally {
    stop.abort();
    ctx.signal.removeEventListener("abort", onAbort);
    await running;
  }
}

/** Whether something accepts connections on a loopback port (within `ms`, unless aborted). */
function accepts(port: number, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    const give = (v: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
      socket.destroy();
      resolve(v);
    };
    const abort = () => give(false);
    const timer = setTimeout(abort, Math.max(ms, 0));
    signal.addEventListener("abort", abort, { once: true });
    socket.once("connect", () => give(true));
    socket.once("error", abort);
  });
}

/**
 * The status of `GET /` on a loopback port, or undefined when nothing answers within `ms` (a
 * deadline for the whole answer, not an idle time). Node's own http client, not `fetch`: fetch
 * loads undici, whose HTTP parser is WebAssembly that V8 goes on compiling in the background —
 * and a process waits for that before it exits (120–300 ms).
 */
function httpStatus(port: number, ms: number, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = httpGet({ host: "127.0.0.1", port, path: "/", agent: false, signal }, (res) => {
      res.resume();
      done(res.statusCode);
    });
    const timer = setTimeout(() => done(undefined), Math.max(ms, 0));
    const done = (status: number | undefined) => {
      clearTimeout(timer);
      resolve(status);
      req.destroy();
    };
    req.once("error", () => done(undefined));
    req.once("close", () => done(undefined));
  });
}

/** A loopback port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Runs the smoke command in the image; a failure is reported, not thrown. */
export async function smokeTest(
  engine: Runner,
  image: string,
  command: string,
  ctx: Context,
  noShell = false,
): Promise<SmokeResult> {
  const argv = noShell ? execForm(command, "smoke") : ["sh", "-c", command];
  const r = await engine.run(image, argv, ctx, { workdir: APP_DIR });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Whether Python itself ran and reported an error (a traceback or a fatal error). */
function isPythonFailure(stderr: string): boolean {
  return /Traceback \(most recent call last\)|Fatal Python error|SyntaxError/.test(stderr);
}

/** The import test in the final image; failures name the library and the package that provides it. */
async function runImportTest(
  engine: Runner,
  image: string,
  o: ProveOptions,
  ctx: Context,
): Promise<ImportTestResult> {
  const attempt = () => engine.run(image, ["python3", "-c", IMPORT_TEST_SCRIPT], ctx, { workdir: APP_DIR });
  let r = await attempt();
  let result = parseImportTest(r.stdout);
  if (!result && !isPythonFailure(r.stderr)) {
    // No result and no Python error: the engine failed to run the container; try once more.
    ctx.reporter.emit({
      type: "log",
      level: "warn",
      message: `the import test gave no result (exit ${r.code}: ${lastMeaningfulLines(r.stderr, 1)}); running it once more`,
    });
    r = await attempt();
    result = parseImportTest(r.stdout);
  }
  if (!result) {
    const output = `${r.stdout}${r.stderr}`.trim();
    throw new SlimwheelError(
      "engine",
      `the import test could not run in ${image} (exit ${r.code}): ${lastMeaningfulLines(output, 3) || "no output"}`,
      {
        details: output.slice(-2000),
        hint: "run the image by hand (buildah from IMAGE; buildah run CONTAINER -- python3) to see why Python does not start",
      },
    );
  }
  if (result.failures.length === 0) return result;
  throw await diagnoseImportFailures(engine, image, result, o, ctx);
}

/**
 * The error for failed imports: each failure with what it could not load. On a minimal image, a
 * library or file the closure dropped (a dlopen, ctypes) gets its `--keep` line; a library that was
 * never installed gets the Debian package that ships it (`runtime-packages`).
 */
async function diagnoseImportFailures(
  engine: Runner,
  image: string,
  result: ImportTestResult,
  o: ProveOptions,
  ctx: Context,
): Promise<SlimwheelError> {
  const all = droppedPaths(o);
  const dropped = (f: ImportFailure) => (all ? findMissing(f.error, all)?.keep : undefined);
  const missing = [...new Set(result.failures.flatMap((f) => (f.library && !dropped(f) ? [f.library] : [])))];
  const unknown = missing.filter((l) => !o.packageOf[l]);
  const found = unknown.length
    ? parseDpkgSearch(
        (await engine.run(o.builderImage, ["sh", "-c", DPKG_SEARCH, "sh", ...unknown], ctx)).stdout,
      )
    : new Map<string, string>();
  const pkgOf = (lib: string) => o.packageOf[lib] ?? found.get(lib);
  const lines = result.failures.map((f) => {
    const keep = dropped(f);
    if (keep)
      return `${f.module} (from ${f.dist}) cannot load ${f.library ?? keep}: the minimal image dropped ${keep}`;
    return f.library
      ? `${f.module} (from ${f.dist}) cannot load ${f.library}${pkgOf(f.library) ? `, which Debian package ${pkgOf(f.library)} provides` : ""}`
      : `${f.module} (from ${f.dist}): ${f.error}`;
  });
  const keeps = [...new Set(result.failures.flatMap((f) => dropped(f) ?? []))];
  const pkgs = missing.map(pkgOf).filter(Boolean);
  const hints = [
    ...(keeps.length ? [`keep what the minimal runtime dropped: ${keepLine(keeps)}`] : []),
    ...(pkgs.length
      ? [
          `install ${pkgs.join(", ")} in the final image: [tool.slimwheel] runtime-packages = ${JSON.stringify(pkgs)} (or drop --exclude-runtime-package)`,
        ]
      : []),
  ];
  return new SlimwheelError(
    "engine",
    `the import test failed in ${image}: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ""}`,
    {
      details: lines.join("\n"),
      hint: hints.length ? hints.join("; ") : "see the errors above; --no-import-test skips this check",
    },
  );
}
