// Bundles the fork-tree anywidget (src/widget.ts: the same views as the JupyterLab
// renderer, from the same sources) with esbuild into one ES module, and copies the styles
// (style/render.css), into the Python package, where tree_widget.py serves them as the
// widget's `_esm` and `_css`: one rendering code path for the extension and the widget. The
// copies are committed (a `pip install` from git must not need Node.js); `--check` fails if
// they are stale. esbuild's version is pinned in package.json: the same sources give the
// same bytes.
//
//   node scripts/widget-assets.mjs          write the copies
//   node scripts/widget-assets.mjs --check  exit 1 if a copy differs
import { readFileSync, writeFileSync } from 'node:fs';

import { bundle } from './bundle.mjs';

const here = new URL('..', import.meta.url);
const target = new URL('../vel_jupyter/jupyter/static/', here);
const BANNER = '/* Generated from labextension/{src/widget.ts and what it imports,style/render.css} by labextension/scripts/widget-assets.mjs (esbuild): edit those. */\n';

const assets = [
  ['render.js', await bundle('widget')],
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
