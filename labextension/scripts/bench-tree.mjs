// Times the one tree builder on long chains (the O(n) claim of issue 19), no DOM:
//   node scripts/bench-tree.mjs [LIB_DIR] [N ...]   (after `jlpm build:lib`; default 32000 100000)
// Prints, per size, buildTree (messages -> tree) and buildTurnTree (-> turns) in ms, the
// best of three runs (the machine may be busy).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { joinModules } from './join-modules.mjs';

const args = process.argv.slice(2);
// A LIB_DIR compares builds (e.g. lib/ of an older checkout, compiled).
const lib = args[0] && !/^\d+$/.test(args[0]) ? pathToFileURL(resolve(args.shift()) + '/') : new URL('../lib/', import.meta.url);
const R = await import('data:text/javascript;base64,' + Buffer.from(joinModules(lib, ['render', 'tree'])).toString('base64'));

for (const n of (args.length ? args : ['32000', '100000']).map(Number)) {
  const messages = Array.from({ length: n }, (_, i) => ({ id: `m${i}`, parent_id: i ? `m${i - 1}` : null, role: i % 2 ? 'assistant' : 'user', content: `message ${i}` }));
  const head = `m${n - 1}`;
  let built = Infinity;
  let grouped = Infinity;
  let tree;
  let turns;
  for (let run = 0; run < 3; run++) {
    let t = performance.now();
    tree = R.buildTree(messages);
    built = Math.min(built, performance.now() - t);
    t = performance.now();
    turns = R.buildTurnTree(tree, [head]);
    grouped = Math.min(grouped, performance.now() - t);
  }
  if (R.pathTo(tree, head).length !== n || turns.turnOf.size !== n) throw new Error('wrong tree');
  console.log(`${n.toLocaleString('en')} messages: buildTree ${built.toFixed(0)} ms, buildTurnTree ${grouped.toFixed(0)} ms`);
}
