// Builds src/ into dist/esm (ES modules) and dist/cjs (CommonJS), each with its .d.ts files.
// Each half gets a package.json saying which module format it is, so Node (and TypeScript's
// node16/nodenext resolution) read every file the way it was compiled.
import { spawnSync } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const tsc = fileURLToPath(new URL("node_modules/typescript/bin/tsc", import.meta.url))

rmSync(new URL("dist", import.meta.url), { recursive: true, force: true })
for (const [config, type] of [["tsconfig.esm.json", "module"], ["tsconfig.cjs.json", "commonjs"]]) {
  const run = spawnSync(process.execPath, [tsc, "-p", config], { cwd: here, stdio: "inherit" })
  if (run.status !== 0) process.exit(run.status ?? 1)
  const out = new URL(`dist/${type === "module" ? "esm" : "cjs"}/`, import.meta.url)
  mkdirSync(out, { recursive: true })
  writeFileSync(new URL("package.json", out), JSON.stringify({ type }) + "\n")
}
writeFileSync(new URL("dist/.built", import.meta.url), "")
console.log("sdk-node: built dist/esm and dist/cjs")
