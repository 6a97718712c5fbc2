/** The "Examples:" block at the end of a command's --help: each a command line and what it does. */
export function examples(list: readonly (readonly [command: string, what: string])[]): string {
  return `\nExamples:\n${list.map(([command, what]) => `  # ${what}\n  $ ${command}`).join("\n")}\n`;
}
