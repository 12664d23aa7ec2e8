// Times the tree builders on long chains (the O(n) claim of issue 19), no DOM:
//   node scripts/bench-tree.mjs [N ...]   (default 32000 100000)
// Prints, per size, buildTree (messages -> tree), groupTurns (a session record's messages ->
// turns) and linkTurns (a tree payload's turns, grouped in Python, linked) in ms, the best of
// three runs (the machine may be busy). The views are bundled from src/ by esbuild.
import { importBundle } from './bundle.mjs';

const R = await importBundle('render');

for (const n of (process.argv.length > 2 ? process.argv.slice(2) : ['32000', '100000']).map(Number)) {
  const messages = Array.from({ length: n }, (_, i) => ({ id: `m${i}`, parent_id: i ? `m${i - 1}` : null, role: i % 2 ? 'assistant' : 'user', content: `message ${i}` }));
  const payloadTurns = Array.from({ length: n / 2 }, (_, i) => ({
    id: `m${2 * i}`,
    parent: i ? `m${2 * i - 2}` : null,
    number: i + 1,
    last: `m${2 * i + 1}`,
    tokens: 0,
    messages: [messages[2 * i], messages[2 * i + 1]]
  }));
  const head = `m${n - 1}`;
  let built = Infinity;
  let grouped = Infinity;
  let linked = Infinity;
  let tree;
  let turns;
  let links;
  for (let run = 0; run < 3; run++) {
    let t = performance.now();
    tree = R.buildTree(messages);
    built = Math.min(built, performance.now() - t);
    t = performance.now();
    turns = R.groupTurns(tree, [head]);
    grouped = Math.min(grouped, performance.now() - t);
    t = performance.now();
    links = R.linkTurns(payloadTurns, [head]);
    linked = Math.min(linked, performance.now() - t);
  }
  if (R.pathTo(tree, head).length !== n || turns.turnOf.size !== n || links.turnOf.size !== n) throw new Error('wrong tree');
  console.log(
    `${n.toLocaleString('en')} messages: buildTree ${built.toFixed(0)} ms, groupTurns ${grouped.toFixed(0)} ms, linkTurns ${linked.toFixed(0)} ms`
  );
}
