// Joins compiled modules of lib/ into one ES module: the anywidget needs a single file
// (scripts/widget-assets.mjs) and the node tests load lib/ without a bundler (package.json
// has no "type": "module", so lib/*.js load as data: modules, which cannot import files).
// The modules' imports of one another are dropped (they share one scope once joined);
// they may import nothing else. Top-level names must not repeat across the modules.
import { readFileSync } from 'node:fs';

const LOCAL_IMPORT = /^import\s[^;]*?\sfrom\s'\.\/[^']+';\n/gms;

/** The text of lib/NAME.js for each name, joined; `exports: false` drops `export` too. */
export function joinModules(lib, names, { exports = true } = {}) {
  const parts = names.map(name => {
    let text = readFileSync(new URL(`${name}.js`, lib), 'utf8').replace(LOCAL_IMPORT, '');
    if (/^import\s/m.test(text)) {
      throw new Error(`lib/${name}.js imports something besides its neighbours: it cannot be joined`);
    }
    text = text.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    return exports ? text : text.replace(/^export /gm, '');
  });
  return parts.join('\n');
}
