/**
 * dpkg's records: which OS package owns a file (`/var/lib/dpkg/info/<pkg>[:arch].list`) and the
 * status database (`/var/lib/dpkg/status`, RFC 822-style stanzas). With merged /usr, a package
 * may list `/lib/x/libfoo.so` while the file we keep is `/usr/lib/x/libfoo.so`: ownership is
 * matched on a key that drops the `/usr` of `/usr/{bin,sbin,lib*}`.
 */

/** The merged-/usr alias key: `/usr/lib/x` and `/lib/x` have the same key. */
export const mergedUsrKey = (p: string) => p.replace(/^\/usr(?=\/(bin|sbin|lib[^/]*)(\/|$))/, "");

/** `libc6:amd64.list` → `libc6`; anything else → undefined. */
export function listFilePackage(name: string): string | undefined {
  const m = /^([a-z0-9][a-z0-9+.-]+)(?::[a-z0-9-]+)?\.list$/.exec(name);
  return m?.[1];
}

export interface Stanza {
  readonly package: string;
  readonly text: string;
}

/** The stanzas of a status file, verbatim. */
export function parseStatus(text: string): Stanza[] {
  return text
    .split(/\n\s*\n/)
    .map((t) => t.replace(/^\n+|\n+$/g, ""))
    .filter(Boolean)
    .flatMap((t) => {
      const m = /^Package:\s*(\S+)/m.exec(t);
      return m ? [{ package: m[1]!, text: t }] : [];
    });
}

/** The status file holding only the given packages' stanzas, verbatim, in the original order. */
export function trimStatus(text: string, keep: ReadonlySet<string>): string {
  const kept = parseStatus(text).filter((s) => keep.has(s.package));
  return kept.length === 0 ? "" : `${kept.map((s) => s.text).join("\n\n")}\n`;
}
