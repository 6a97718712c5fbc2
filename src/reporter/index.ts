/**
 * Progress flows out of the library as typed events; the CLI chooses how to show them.
 * The library itself never writes to stdout or stderr.
 */

export type ReportEvent =
  | { readonly type: "step-start"; readonly id: string; readonly title: string }
  | { readonly type: "step-progress"; readonly id: string; readonly detail: string }
  | {
      readonly type: "step-end";
      readonly id: string;
      readonly ok: boolean;
      readonly detail?: string;
      readonly ms?: number;
    }
  | { readonly type: "log"; readonly level: "debug" | "info" | "warn"; readonly message: string };

export interface Reporter {
  emit(event: ReportEvent): void;
}

export const silentReporter: Reporter = { emit() {} };

/** Runs `fn` as a named step: start and end events (with duration and success) around it. */
export async function step<T>(
  reporter: Reporter,
  id: string,
  title: string,
  fn: () => Promise<T>,
  now: () => number = Date.now,
): Promise<T> {
  const started = now();
  reporter.emit({ type: "step-start", id, title });
  try {
    const result = await fn();
    reporter.emit({ type: "step-end", id, ok: true, ms: now() - started });
    return result;
  } catch (e) {
    reporter.emit({ type: "step-end", id, ok: false, ms: now() - started });
    throw e;
  }
}

export interface StreamReporterOptions {
  readonly write: (text: string) => void;
  /** Show debug messages. */
  readonly verbose?: boolean;
  /** Only warnings. */
  readonly quiet?: boolean;
  readonly color?: boolean;
  /** Redraw a live status line (a TTY); otherwise print one plain line per event. */
  readonly live?: boolean;
}

const ansi = (code: string, on: boolean) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

function formatMs(ms: number | undefined): string {
  if (ms === undefined) return "";
  return ms < 1000 ? ` (${ms} ms)` : ` (${(ms / 1000).toFixed(1)} s)`;
}

/**
 * A reporter for humans: one line per finished step, warnings and (with verbose) debug lines.
 * On a TTY the running step is shown on a status line that is redrawn in place.
 */
export function streamReporter(options: StreamReporterOptions): Reporter {
  const color = options.color ?? false;
  const green = ansi("32", color);
  const red = ansi("31", color);
  const yellow = ansi("33", color);
  const dim = ansi("2", color);
  const titles = new Map<string, string>();
  let statusShown = false;
  const clearStatus = () => {
    if (statusShown) options.write("\r\u001b[2K");
    statusShown = false;
  };
  const line = (text: string) => {
    clearStatus();
    options.write(`${text}\n`);
  };
  return {
    emit(event) {
      switch (event.type) {
        case "step-start":
          titles.set(event.id, event.title);
          if (options.quiet) return;
          if (options.live) {
            clearStatus();
            options.write(dim(`… ${event.title}`));
            statusShown = true;
          } else if (options.verbose) {
            line(dim(`… ${event.title}`));
          }
          return;
        case "step-progress":
          if (options.quiet) return;
          if (options.live) {
            clearStatus();
            options.write(dim(`… ${titles.get(event.id) ?? event.id}: ${event.detail}`));
            statusShown = true;
          } else if (options.verbose) {
            line(dim(`  ${titles.get(event.id) ?? event.id}: ${event.detail}`));
          }
          return;
        case "step-end": {
          const title = titles.get(event.id) ?? event.id;
          titles.delete(event.id);
          if (options.quiet && event.ok) return;
          const detail = event.detail ? `: ${event.detail}` : "";
          line(`${event.ok ? green("✓") : red("✗")} ${title}${detail}${dim(formatMs(event.ms))}`);
          return;
        }
        case "log":
          if (event.level === "debug" && !options.verbose) return;
          if (event.level === "info" && options.quiet) return;
          line(
            event.level === "warn"
              ? yellow(`warning: ${event.message}`)
              : event.level === "debug"
                ? dim(event.message)
                : event.message,
          );
          return;
      }
    },
  };
}
