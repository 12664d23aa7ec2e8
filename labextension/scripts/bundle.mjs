// esbuild, the one bundler of our plain-module builds: the anywidget's single file
// (scripts/widget-assets.mjs) and the modules the node tests and the bench load, all bundled
// from the TypeScript sources in src/ (esbuild strips the types; `tsc` type-checks them).
import { build } from 'esbuild';

const here = new URL('..', import.meta.url);

/** `src/ENTRY.ts` and everything it imports, as the text of one ES module. */
export async function bundle(entry) {
  const result = await build({
    entryPoints: [new URL(`src/${entry}.ts`, here).pathname],
    absWorkingDir: new URL('.', here).pathname, // paths in the output's comments are relative: the same bytes anywhere
    bundle: true,
    format: 'esm',
    target: 'es2020',
    charset: 'utf8',
    legalComments: 'none',
    write: false,
    logLevel: 'silent'
  });
  return result.outputFiles[0].text;
}

/** `src/ENTRY.ts` bundled and imported (a data: module: nothing is written). */
export async function importBundle(entry) {
  return import('data:text/javascript;base64,' + Buffer.from(await bundle(entry)).toString('base64'));
}
