import { AWS_KEY, CRED_URL, maskSecrets } from "../../util/mask.js";
import type { Rule, RuleHit } from "../types.js";
import { df } from "./util.js";

export { maskSecrets };

/** Whether a variable name says it holds a secret: *_TOKEN, *SECRET*, *PASSWORD*, API keys, AWS keys. */
export function isSecretName(name: string): boolean {
  const parts = name.toUpperCase().split(/[_\-.]+/);
  if (
    parts.some((p) =>
      ["TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIALS", "PASSPHRASE"].includes(p),
    )
  )
    return true;
  for (let i = 0; i + 1 < parts.length; i++) {
    if (["API", "ACCESS", "PRIVATE", "SECRET", "AUTH"].includes(parts[i]!) && parts[i + 1] === "KEY")
      return true;
  }
  return false;
}

const hasSecretValue = (text: string): boolean => {
  CRED_URL.lastIndex = 0;
  AWS_KEY.lastIndex = 0;
  const found = CRED_URL.test(text) || AWS_KEY.test(text);
  CRED_URL.lastIndex = 0;
  AWS_KEY.lastIndex = 0;
  return found;
};

export const rule: Rule = {
  id: "secret-in-env-arg",
  title: "Secret in ENV, ARG or a URL",
  description:
    "An ENV or ARG whose name says it holds a secret (*TOKEN*, *SECRET*, *PASSWORD*, API and AWS keys) with a value, a credential in a URL (`https://user:token@…`, e.g. an index URL), or an AWS access key id: ENV values are stored in the image config, ARG values and RUN lines in its history.",
  rationale:
    "Anyone who can pull the image reads its config and history (`docker history --no-trunc`, `docker inspect`); Docker's build checks flag this as SecretsUsedInArgOrEnv and recommend `RUN --mount=type=secret`.",
  severity: "error",
  good: [
    df(
      "FROM python:3.12-slim",
      "ENV TOKENIZERS_PARALLELISM=false PIP_NO_CACHE_DIR=1",
      "ARG PIP_INDEX_URL",
      "RUN --mount=type=secret,id=netrc,target=/root/.netrc pip install --no-cache-dir flask",
      "USER 10001",
    ),
  ],
  bad: [
    df("FROM python:3.12-slim", "ENV GITHUB_TOKEN=ghp_abcdef0123456789", "USER 10001"),
    df(
      "FROM python:3.12-slim",
      "ARG PIP_INDEX_URL=https://deploy:s3cr3t@pypi.example.com/simple",
      "USER 10001",
    ),
    df(
      "FROM python:3.12-slim",
      "RUN pip install --no-cache-dir --index-url https://ci:tok123@pkgs.example.com/simple flask",
      "USER 10001",
    ),
    df("FROM python:3.12-slim", "ARG DB_PASSWORD", "USER 10001"),
  ],
  check(model) {
    const hits: RuleHit[] = [];
    for (const inst of model.instructions) {
      if (inst.keyword === "ENV" || inst.keyword === "ARG") {
        for (const p of inst.properties) {
          const value = p.value ?? "";
          if (hasSecretValue(value)) {
            hits.push({
              range: p.range,
              message: `${inst.keyword} ${p.name} holds a credential: ${maskSecrets(value)}`,
              cost: "≈ 0 bytes; the credential is readable by anyone who can pull the image",
              fix: "pass it at build time through RUN --mount=type=secret (or a netrc secret), never in ENV/ARG; rotate the exposed credential",
            });
            continue;
          }
          if (!isSecretName(p.name)) continue;
          if (value === "") {
            if (inst.keyword === "ARG") {
              hits.push({
                range: p.range,
                severity: "warning",
                message: `ARG ${p.name}: a secret passed as a build argument is recorded in the image history of every RUN that uses it`,
                cost: "≈ 0 bytes; the value passed with --build-arg is readable with docker history",
                fix: `use RUN --mount=type=secret,id=${p.name.toLowerCase()} and read /run/secrets/${p.name.toLowerCase()}`,
              });
            }
            continue;
          }
          if (value.startsWith("/")) continue; // a path to a secret file, not the secret
          hits.push({
            range: p.range,
            message: `${inst.keyword} ${p.name}=*** stores a secret in the image ${inst.keyword === "ENV" ? "config" : "history"}`,
            cost: "≈ 0 bytes; the secret is readable by anyone who can pull the image",
            fix: `remove it from the Dockerfile: RUN --mount=type=secret,id=${p.name.toLowerCase()} at build time, or the runtime's secrets at run time; rotate it`,
          });
        }
        continue;
      }
      if (inst.keyword === "RUN" && hasSecretValue(inst.args)) {
        hits.push({
          range: inst.range,
          message: `RUN line contains a credential: ${maskSecrets(inst.args).replace(/\s+/g, " ").slice(0, 160)}`,
          cost: "≈ 0 bytes; the RUN line is stored in the image history",
          fix: "pass the credential through RUN --mount=type=secret (e.g. a netrc, or PIP_INDEX_URL read from /run/secrets) and rotate it",
        });
      }
    }
    return hits;
  },
};
