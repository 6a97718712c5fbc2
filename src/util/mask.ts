/**
 * Credentials masked wherever slimwheel prints or writes text for people: an index URL's
 * `user:password@` becomes `user:***@` (a bare `token@` stays: it may be a user name), AWS access
 * key ids keep their prefix only. The CLI passes everything it prints through this.
 */

/** A URL with a password in it (`scheme://user:pass@`). */
export const CRED_URL = /([a-z][a-z0-9+.-]*:\/\/)([^\s:/@'"]+):([^\s@'"/]+)@/gi;
export const AWS_KEY = /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g;

export const maskSecrets = (text: string): string =>
  text
    .replace(CRED_URL, (m, scheme: string, user: string, secret: string) =>
      /^\$\{[A-Z0-9_]+\}$/.test(secret) ? m : `${scheme}${user}:***@`,
    )
    .replace(AWS_KEY, (k) => `${k.slice(0, 4)}****************`);
