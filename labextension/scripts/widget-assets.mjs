// Copies the compiled renderer and fork tree (lib/render.js and lib/tree.js, joined into
// one module, their exports made module-local) and their styles (style/render.css) into the
// Python package, where the fork-tree anywidget prepends them to its own code: one
// rendering code path for the JupyterLab renderer and the widget. The copies are committed
// (a `pip install` from git must not need Node.js); `--check` fails if they are stale.
//
//   node scripts/widget-assets.mjs          write the copies (after `tsc`)
//   node scripts/widget-assets.mjs --check  exit 1 if a copy differs
import { readFileSync, writeFileSync } from 'node:fs';

import { joinModules } from './join-modules.mjs';

const here = new URL('..', import.meta.url);
const target = new URL('../vel_jupyter/jupyter/static/', here);
const BANNER = '/* Generated from labextension/{src/render.ts,src/tree.ts,style/render.css} by labextension/scripts/widget-assets.mjs: edit those. */\n';

const assets = [
  // Without `export`: the widget's tree.js is appended to this in one module, and anywidget
  // would take an export of ours for the widget's own. (The source map comment of a
  // development build, pointing at a file the package lacks, is dropped too.)
  ['render.js', joinModules(new URL('lib/', here), ['render', 'tree'], { exports: false })],
  ['render.css', readFileSync(new URL('style/render.css', here), 'utf8')]
];

const check = process.argv.includes('--check');
let stale = 0;
for (const [name, text] of assets) {
  const path = new URL(name, target);
  const wanted = BANNER + text;
  let current = null;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing: stale
  }
  if (current === wanted) {
    continue;
  }
  if (check) {
    console.error(`vel_jupyter/jupyter/static/${name} is stale: run \`jlpm build:widget\` in labextension/ and commit it`);
    stale++;
  } else {
    writeFileSync(path, wanted);
    console.log(`wrote vel_jupyter/jupyter/static/${name}`);
  }
}
process.exit(stale ? 1 : 0);
