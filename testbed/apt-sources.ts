/**
 * Reads the Debian mirror this machine's apt is set up with, so the test bed never hard-codes an
 * archive host. Understands both formats: deb822 `.sources` files and one-line `sources.list`.
 */

export interface AptSource {
  readonly types: readonly string[];
  readonly uris: readonly string[];
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

/** Parses a deb822 `.sources` file (stanzas separated by blank lines; `#` comments). */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#") || raw.trim() === "") continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!.trim());
    }
    if (fields.get("enabled")?.toLowerCase() === "no") continue;
    const words = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
    if (words("uris").length === 0) continue;
    out.push({
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      components: words("components"),
    });
  }
  return out;
}

/** Parses one-line `deb [opts] URI SUITE COMPONENT...` entries. */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      types: [m[1]!],
      uris: [m[2]!],
      suites: [m[3]!],
      components: m[4]!.split(/\s+/).filter(Boolean),
    });
  }
  return out;
}

export interface DebianMirror {
  /** Archive URI serving `<codename>` (e.g. bookworm, trixie). */
  readonly archive: string;
  /** Archive URI serving `<codename>-security`, when configured. */
  readonly security?: string;
}

/**
 * Picks the Debian archive and security mirror for `codename` from apt sources: the first `deb`
 * source carrying the suite with component `main`.
 */
export function findDebianMirror(sources: readonly AptSource[], codename: string): DebianMirror | undefined {
  const pick = (suite: string) =>
    sources.find((s) => s.types.includes("deb") && s.suites.includes(suite) && s.components.includes("main"))
      ?.uris[0];
  const archive = pick(codename);
  if (!archive) return undefined;
  const security = pick(`${codename}-security`);
  return security ? { archive, security } : { archive };
}
