// Builds src/index.ts into one minified IIFE: src/pocketping/server/static/widget.js.
// `node build.mjs --check` builds in memory and fails if the committed bundle differs from a
// fresh build or is over the size budget; both modes print the compressed sizes.
// `--out=FILE` writes the bundle elsewhere (experiments).
import { build, transform } from "esbuild"
import { readFileSync, writeFileSync } from "node:fs"
import { gzipSync, brotliCompressSync, constants } from "node:zlib"

const outArg = process.argv.find((a) => a.startsWith("--out="))
const OUT = outArg ? outArg.slice(6) : new URL("../src/pocketping/server/static/widget.js", import.meta.url)
const BUDGET = 10240 // bytes, gzipped
const check = process.argv.includes("--check")

const result = await build({
  entryPoints: [new URL("src/index.ts", import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022", "chrome100", "firefox100", "safari15.4"],
  charset: "utf8",
  legalComments: "none",
  write: false,
  logLevel: "warning",
  plugins: [
    {
      // CSS is imported as a minified string (the shadow root adopts it as a stylesheet).
      name: "css-text",
      setup(b) {
        b.onLoad({ filter: /\.css$/ }, async (args) => {
          const css = await transform(readFileSync(args.path, "utf8"), { loader: "css", minify: true })
          return { contents: `export default ${JSON.stringify(css.code.trim())}`, loader: "js" }
        })
      },
    },
  ],
})
const code = result.outputFiles[0].contents
const gz = gzipSync(code, { level: 9 }).length
const br = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length
// Node's zlib: a little larger than the server's gzip (scripts/widget_size.py prints what it sends).
console.log(`widget.js: ${code.length} bytes, ${gz} bytes gzipped by Node's zlib, ${br} bytes brotli (budget ${BUDGET} gzipped)`)

let failed = false
if (gz > BUDGET) {
  console.error(`widget.js is over budget: ${gz} > ${BUDGET} bytes gzipped`)
  failed = true
}
if (check) {
  let committed = Buffer.alloc(0)
  try {
    committed = readFileSync(OUT)
  } catch {}
  if (!committed.equals(Buffer.from(code))) {
    console.error("src/pocketping/server/static/widget.js differs from a fresh build: run `make widget` and commit it")
    failed = true
  }
} else if (!failed) {
  writeFileSync(OUT, code)
}
process.exit(failed ? 1 : 0)
