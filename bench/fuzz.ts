/**
 * Fuzzes every parser slimwheel has (targets in test/fuzz/targets.ts): per target, N generated or
 * mutated inputs, each of which must give a result or a SlimwheelError. Prints per target the
 * cases, typed errors, untyped crashes, hangs (> --hang-ms for one input, confirmed by a re-run),
 * peak memory (process RSS high-water, sampled) and total time. Every crash or hang is saved as a
 * regression fixture under test/fixtures/fuzz/<target>/ (minimized when the input is text or
 * bytes). Exit 1 if any target had an untyped crash or a hang.
 *
 * Each target runs in a worker thread; a watchdog in the main thread terminates a worker stuck on
 * one input for --kill-ms, records the hang with its input, and resumes at the next case. The
 * worker's JavaScript heap is limited to --heap-mb (default 256, the issue's bound): an input that
 * needs more ends the worker with ERR_WORKER_OUT_OF_MEMORY, counted as a crash of that input, with
 * its fixture. (Buffers live outside that heap: what bounds them is that no reader allocates from
 * a size an input claims before checking it against the bytes there are.)
 *
 * Usage: npm run fuzz -- [--cases N] [--target NAME[,NAME]] [--seed S] [--hang-ms MS] [--kill-ms MS] [--heap-mb MB] [--no-save]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { generate, minimize, runCase, saveFixture, signature } from "../test/fuzz/engine.js";
import { type FuzzTarget, targetNamed, targets } from "../test/fuzz/targets.js";

interface WorkerJob {
  readonly target: string;
  readonly seed: number;
  readonly start: number;
  readonly end: number;
  readonly hangMs: number;
  readonly scratch: string;
  readonly known: readonly string[];
  /** Int32 [index, running, ok, typed, crashes, hangs] + Float64 start time at byte 24. */
  readonly shared: SharedArrayBuffer;
}

type WorkerMessage =
  | { type: "crash"; signature: string; message: string; stack: string; index: number; input: Uint8Array }
  | { type: "hang"; index: number; ms: number; input: Uint8Array }
  | { type: "done" };

const I_INDEX = 0;
const I_RUNNING = 1;
const I_OK = 2;
const I_TYPED = 3;
const I_CRASH = 4;
const I_HANG = 5;

async function workerMain(job: WorkerJob): Promise<void> {
  const target = targetNamed(job.target) as FuzzTarget<unknown>;
  const i32 = new Int32Array(job.shared, 0, 6);
  const f64 = new Float64Array(job.shared, 24, 1);
  const known = new Set(job.known);
  const scratch = { dir: job.scratch };
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  for (let i = job.start; i < job.end; i++) {
    const input = generate(target, job.seed, i);
    Atomics.store(i32, I_INDEX, i);
    f64[0] = Date.now();
    Atomics.store(i32, I_RUNNING, 1);
    const t0 = performance.now();
    let outcome = await runCase(target, input, scratch);
    let ms = performance.now() - t0;
    Atomics.store(i32, I_RUNNING, 0);
    if (ms > job.hangMs) {
      // Confirm once: a GC pause or a busy machine is not a hang.
      f64[0] = Date.now();
      Atomics.store(i32, I_RUNNING, 1);
      const t1 = performance.now();
      outcome = await runCase(target, input, scratch);
      ms = Math.min(ms, performance.now() - t1);
      Atomics.store(i32, I_RUNNING, 0);
      if (ms > job.hangMs) {
        Atomics.add(i32, I_HANG, 1);
        post({ type: "hang", index: i, ms, input: target.encode(input) });
      }
    }
    if (outcome.kind === "ok") Atomics.add(i32, I_OK, 1);
    else if (outcome.kind === "typed") Atomics.add(i32, I_TYPED, 1);
    else {
      Atomics.add(i32, I_CRASH, 1);
      if (!known.has(outcome.signature)) {
        known.add(outcome.signature);
        const small = await minimize(target, input, outcome.signature, scratch);
        const e = outcome.error as Error;
        post({
          type: "crash",
          signature: outcome.signature,
          message: String(e?.message ?? e).slice(0, 300),
          stack: String(e?.stack ?? "").slice(0, 2000),
          index: i,
          input: target.encode(small),
        });
      }
    }
  }
  post({ type: "done" });
}

/** Worker threads do not inherit tsx's loader: register it, then load this file. */
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;

interface Options {
  cases: number;
  seed: number;
  hangMs: number;
  killMs: number;
  heapMb: number;
  save: boolean;
  targets: FuzzTarget[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    cases: 100_000,
    seed: 1,
    hangMs: 1000,
    killMs: 10_000,
    heapMb: 256,
    save: true,
    targets: [...targets],
  };
  const picked: FuzzTarget[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => inline ?? argv[++i] ?? "";
    const num = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got "${v}"`);
      return n;
    };
    if (flag === "--cases") o.cases = num(value());
    else if (flag === "--seed") o.seed = num(value());
    else if (flag === "--hang-ms") o.hangMs = num(value());
    else if (flag === "--heap-mb") o.heapMb = num(value());
    else if (flag === "--kill-ms") o.killMs = num(value());
    else if (flag === "--no-save") o.save = false;
    else if (flag === "--target") picked.push(...value().split(",").filter(Boolean).map(targetNamed));
    else throw new Error(`unknown option ${a}`);
  }
  if (picked.length) o.targets = picked;
  return o;
}

interface Row {
  target: string;
  cases: number;
  ok: number;
  typed: number;
  crashes: number;
  hangs: number;
  peakRss: number;
  seconds: number;
  findings: string[];
}

async function fuzzTarget(target: FuzzTarget, o: Options): Promise<Row> {
  const row: Row = {
    target: target.name,
    cases: 0,
    ok: 0,
    typed: 0,
    crashes: 0,
    hangs: 0,
    peakRss: 0,
    seconds: 0,
    findings: [],
  };
  const scratch = mkdtempSync(join(tmpdir(), `slimwheel-fuzz-${target.name}-`));
  const known = new Set<string>();
  const t0 = performance.now();
  const sample = () => {
    row.peakRss = Math.max(row.peakRss, process.memoryUsage.rss());
  };
  const sampler = setInterval(sample, 20);
  const save = (input: unknown) =>
    o.save ? relative(process.cwd(), saveFixture(target, input)) : "(not saved)";
  let start = 0;
  let killed = 0;
  try {
    while (start < o.cases) {
      const shared = new SharedArrayBuffer(32);
      const i32 = new Int32Array(shared, 0, 6);
      const f64 = new Float64Array(shared, 24, 1);
      const job: WorkerJob = {
        target: target.name,
        seed: o.seed,
        start,
        end: o.cases,
        hangMs: o.hangMs,
        scratch,
        known: [...known],
        shared,
      };
      const worker = new Worker(WORKER_BOOT, {
        eval: true,
        workerData: job,
        resourceLimits: { maxOldGenerationSizeMb: o.heapMb, maxYoungGenerationSizeMb: 32 },
      });
      const stopped = await new Promise<{ index: number; why: "hang" | "crash" } | undefined>((resolve) => {
        const watchdog = setInterval(() => {
          if (Atomics.load(i32, I_RUNNING) === 1 && Date.now() - f64[0]! > o.killMs) {
            clearInterval(watchdog);
            const index = Atomics.load(i32, I_INDEX);
            void worker.terminate().then(() => resolve({ index, why: "hang" }));
          }
        }, 50);
        worker.on("message", (m: WorkerMessage) => {
          if (m.type === "crash") {
            known.add(m.signature);
            const file = save(target.decode(Buffer.from(m.input)));
            row.findings.push(
              `crash  ${m.signature}\n         case ${m.index}: ${m.message.split("\n")[0]}\n         fixture ${file}`,
            );
          } else if (m.type === "hang") {
            const file = save(target.decode(Buffer.from(m.input)));
            row.findings.push(`hang   case ${m.index}: ${m.ms.toFixed(0)} ms\n         fixture ${file}`);
          } else if (m.type === "done") {
            clearInterval(watchdog);
            resolve(undefined);
          }
        });
        // An exception no promise caught (an 'error' event nobody listens to) ends the worker: a
        // crash of the case it was running.
        worker.on("error", (e: Error) => {
          clearInterval(watchdog);
          const index = Atomics.load(i32, I_INDEX);
          // (When the case had returned already, the error came from work it left behind.)
          const sig = `uncaught ${signature(e)}`;
          if (!known.has(sig)) {
            known.add(sig);
            const file = save(generate(target, o.seed, index));
            row.findings.push(
              `crash  ${sig}\n         case ${index}: ${e.message.split("\n")[0]}\n         fixture ${file}`,
            );
          }
          resolve({ index, why: "crash" });
        });
      });
      row.ok += Atomics.load(i32, I_OK);
      row.typed += Atomics.load(i32, I_TYPED);
      row.crashes += Atomics.load(i32, I_CRASH);
      row.hangs += Atomics.load(i32, I_HANG);
      if (stopped === undefined) break;
      if (stopped.why === "hang") {
        killed++;
        // A true hang: the worker never came back from the case.
        row.hangs++;
        const file = save(generate(target, o.seed, stopped.index));
        row.findings.push(
          `hang   case ${stopped.index}: no result after ${o.killMs} ms (worker terminated)\n         fixture ${file}`,
        );
      } else row.crashes++;
      start = stopped.index + 1;
    }
  } finally {
    clearInterval(sampler);
    sample();
    rmSync(scratch, { recursive: true, force: true });
  }
  row.cases = row.ok + row.typed + row.crashes + killed;
  row.seconds = (performance.now() - t0) / 1000;
  return row;
}

function table(rows: Row[]): string {
  const head = ["target", "cases", "ok", "typed errors", "untyped crashes", "hangs", "peak RSS", "time"];
  const body = rows.map((r) => [
    r.target,
    String(r.cases),
    String(r.ok),
    String(r.typed),
    String(r.crashes),
    String(r.hangs),
    `${(r.peakRss / 1048576).toFixed(0)} MB`,
    `${r.seconds.toFixed(1)} s`,
  ]);
  const total = [
    "total",
    String(rows.reduce((n, r) => n + r.cases, 0)),
    String(rows.reduce((n, r) => n + r.ok, 0)),
    String(rows.reduce((n, r) => n + r.typed, 0)),
    String(rows.reduce((n, r) => n + r.crashes, 0)),
    String(rows.reduce((n, r) => n + r.hangs, 0)),
    `${(Math.max(0, ...rows.map((r) => r.peakRss)) / 1048576).toFixed(0)} MB`,
    `${rows.reduce((n, r) => n + r.seconds, 0).toFixed(1)} s`,
  ];
  const all = [head, ...body, total];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(head), rule, ...body.map(line), rule, line(total)].join("\n");
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log(
    `fuzzing ${o.targets.length} target(s), ${o.cases} cases each, seed ${o.seed}, hang > ${o.hangMs} ms (watchdog ${o.killMs} ms), worker heap ≤ ${o.heapMb} MB, node ${process.version}`,
  );
  const rows: Row[] = [];
  for (const t of o.targets) {
    const r = await fuzzTarget(t, o);
    rows.push(r);
    console.log(
      `  ${t.name}: ${r.cases} cases, ${r.typed} typed errors, ${r.crashes} crashes, ${r.hangs} hangs, ${r.seconds.toFixed(1)} s`,
    );
  }
  console.log(`\n${table(rows)}`);
  const findings = rows.flatMap((r) => r.findings.map((f) => `${r.target}: ${f}`));
  if (findings.length) console.log(`\nfindings:\n${findings.map((f) => `  ${f}`).join("\n")}`);
  process.exitCode = rows.some((r) => r.crashes > 0 || r.hangs > 0) ? 1 : 0;
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
} else {
  workerMain(workerData as WorkerJob).catch((e: unknown) => {
    throw e;
  });
}
