// The npm packages the checker uses live outside the source tree, in
// <repo>/build-openapi-peers/node_modules (scripts/openapi-peers.sh installs
// them from package-lock.json), so they are loaded by path rather than by a
// bare import, which would only look beside this file.
// TROUPE_OPENAPI_PEERS names another directory holding node_modules/.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export function peersDir() {
  return process.env.TROUPE_OPENAPI_PEERS || resolve(here, "../../../build-openapi-peers");
}

/// { Ajv2020, addFormats, YAML, Validator }, or throws an Error saying how
/// to install them.
export async function loadPeers() {
  const dir = peersDir();
  if (!existsSync(join(dir, "node_modules", "ajv"))) {
    throw new Error(
      `${join(dir, "node_modules")} is missing: run scripts/openapi-peers.sh ` +
        "(it installs the OpenAPI checker's pinned npm packages)",
    );
  }
  const require = createRequire(join(dir, "package.json"));
  const Ajv2020 = require("ajv/dist/2020").default;
  const addFormats = require("ajv-formats").default;
  const YAML = require("yaml");
  const { Validator } = await import(
    pathToFileURL(require.resolve("@seriousme/openapi-schema-validator")).href
  );
  return { Ajv2020, addFormats, YAML, Validator };
}
