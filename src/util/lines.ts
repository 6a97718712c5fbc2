/**
 * The one way tool output is cut into lines: `\n` or `\r\n` ends a line; a final line without a
 * newline still counts; no empty last line for a trailing newline.
 */

/** The lines of a complete output. */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** The first line of an output ("" when there is none). */
export const firstLine = (text: string): string => splitLines(text.trim())[0] ?? "";

/** The last line of an output ("" when there is none). */
export const lastLine = (text: string): string => splitLines(text.trim()).at(-1) ?? "";

/**
 * For output that arrives in chunks: `write` passes every completed line to `onLine`; `end`
 * passes the last, unterminated one (if any).
 */
export function lineSplitter(onLine: (line: string) => void): {
  write(chunk: string): void;
  end(): void;
} {
  let buf = "";
  return {
    write(chunk) {
      buf += chunk;
      const parts = buf.split("\n");
      buf = parts.pop() ?? "";
      for (const p of parts) onLine(p.endsWith("\r") ? p.slice(0, -1) : p);
    },
    end() {
      if (buf !== "") onLine(buf.endsWith("\r") ? buf.slice(0, -1) : buf);
      buf = "";
    },
  };
}
