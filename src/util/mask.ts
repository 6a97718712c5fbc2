/**
 * Credentials masked wherever slimwheel prints or writes text for people: an index URL's
 * `user:password@` becomes `user:***@` (a bare `token@` stays: it may be a user name), AWS access
 * key ids keep their prefix only. The CLI passes everything it prints through this.
 */

/**
 * A URL with a password in it (`scheme://user:pass@`). Anchored on the literal `://` (the scheme is
 * checked by one character of lookbehind): a pattern starting with the scheme's `[a-z0-9+.-]*`
 * rescanned every run of letters from each of its positions, quadratic in a long line (a 10 MB
 * package name took minutes to print).
 */
export const CRED_URL = /(?<=[a-z0-9+.-])(:\/\/)([^\s:/@'"]+):([^\s@'"/]+)@/gi;
export const AWS_KEY = /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g;

export const maskSecrets = (text: string): string =>
  text
    .replace(CRED_URL, (m, sep: string, user: string, secret: string) =>
      /^\$\{[A-Z0-9_]+\}$/.test(secret) ? m : `${sep}${user}:***@`,
    )
    .replace(AWS_KEY, (k) => `${k.slice(0, 4)}****************`);
