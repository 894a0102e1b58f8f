// Run a Python script under the real MicroPython runtime (WebAssembly build from npm) with node.
//
//   node run.mjs MANIFEST.json
//
// MANIFEST: {"files": {"<path in the MicroPython FS>": "<host path>", ...},
//            "path": ["/lib", ...],            // appended to sys.path (default ["/lib"])
//            "script": "<host path of the script to run>",
//            "heapsize": 8388608}              // optional, bytes
// The script's stdout/stderr go to this process's stdout/stderr. Exit status: 0 when the script ran to the end,
// 1 when it raised (the traceback is printed on stderr), 2 on a harness error.
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

async function main() {
  const manifestPath = process.argv[2];
  if (!manifestPath) {
    process.stderr.write("usage: node run.mjs MANIFEST.json\n");
    process.exit(2);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const out = (line) => process.stdout.write(line + "\n");
  const err = (line) => process.stderr.write(line + "\n");
  const mp = await loadMicroPython({ heapsize: manifest.heapsize || 8 * 1024 * 1024, stdout: out, stderr: err });
  for (const [dest, src] of Object.entries(manifest.files || {})) {
    mp.FS.mkdirTree(dirname(dest));
    mp.FS.writeFile(dest, readFileSync(src));
  }
  const paths = manifest.path || ["/lib"];
  let prelude = "import sys\n";
  for (const p of paths) prelude += "sys.path.append(" + JSON.stringify(p) + ")\n";
  mp.runPython(prelude);
  const code = readFileSync(manifest.script, "utf8");
  try {
    mp.runPython(code);
  } catch (e) {
    err(String(e && e.message ? e.message : e));
    process.exitCode = 1;
    return;
  }
  process.exitCode = 0;
}

main().catch((e) => {
  process.stderr.write("harness error: " + (e && e.stack ? e.stack : e) + "\n");
  process.exit(2);
});
