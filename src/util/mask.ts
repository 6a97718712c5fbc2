/**
 * Credentials masked wherever slimwheel prints or writes text for people: an index URL's
 * `user:password@` becomes `user:***@` (a bare `token@` stays: it may be a user name), AWS access
 * key ids keep their prefix only. The CLI passes everything it prints through this.
 */

/**
 * A URL with a password in it (`scheme://user:pass@`), or a piece of one that lost its scheme (an
 * error message quoting 20 characters of a line). Anchored on the literal `://`: a pattern starting
 * with the scheme's `[a-z0-9+.-]*` rescanned every run of letters from each of its positions,
 * quadratic in a long line (a 10 MB package name took minutes to print).
 */
export const CRED_URL = /(:\/\/)([^\s:/@'"]+):([^\s@'"/]+)@/gi;
export const AWS_KEY = /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g;

export const maskSecrets = (text: string): string =>
  text
    .replace(CRED_URL, (m, sep: string, user: string, secret: string) =>
      /^\$\{[A-Z0-9_]+\}$/.test(secret) ? m : `${sep}${user}:***@`,
    )
    .replace(AWS_KEY, (k) => `${k.slice(0, 4)}****************`);

/**
 * `text` with every URL password replaced by as many `*`: positions stay where they were, for
 * excerpts of a line with a caret under a column.
 */
export const maskKeepingColumns = (text: string): string =>
  text.replace(CRED_URL, (m, sep: string, user: string, secret: string) =>
    /^\$\{[A-Z0-9_]+\}$/.test(secret) ? m : `${sep}${user}:${"*".repeat(secret.length)}@`,
  );
