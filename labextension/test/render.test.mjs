// Pure-function and fake-DOM tests for the views (src/render.ts and what it imports); no browser.
// Run: jlpm test  (compiles lib/ with tsc, then `node --test test/`).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

import { importBundle } from '../scripts/bundle.mjs';

const here = new URL('..', import.meta.url);
// src/render.ts (the views' public surface) bundled by esbuild into one data: module.
const R = await importBundle('render');

// ---------------------------------------------------------------------------------------
// A minimal DOM: just what render.ts uses. Setting innerHTML/outerHTML throws.

class FakeNode {
  constructor(doc) {
    this.ownerDocument = doc;
    this.childNodes = [];
    this.parentNode = null;
  }
  get firstChild() {
    return this.childNodes[0] ?? null;
  }
  get parentElement() {
    return this.parentNode instanceof FakeElement ? this.parentNode : null;
  }
  get nextSibling() {
    const siblings = this.parentNode?.childNodes ?? [];
    return siblings[siblings.indexOf(this) + 1] ?? null;
  }
  appendChild(child) {
    if (child instanceof FakeFragment) {
      for (const c of [...child.childNodes]) this.appendChild(c);
      return child;
    }
    child.parentNode?.removeChild(child);
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }
  insertBefore(child, ref) {
    const nodes = child instanceof FakeFragment ? [...child.childNodes] : [child];
    for (const n of nodes) {
      n.parentNode?.removeChild(n);
      n.parentNode = this;
      const at = ref ? this.childNodes.indexOf(ref) : this.childNodes.length;
      this.childNodes.splice(at < 0 ? this.childNodes.length : at, 0, n);
    }
    return child;
  }
  removeChild(child) {
    this.childNodes.splice(this.childNodes.indexOf(child), 1);
    child.parentNode = null;
    return child;
  }
  replaceChild(child, old) {
    this.insertBefore(child, old);
    return this.removeChild(old);
  }
  remove() {
    this.parentNode?.removeChild(this);
  }
  get textContent() {
    return this.childNodes.map(c => c.textContent).join('');
  }
  set textContent(value) {
    for (const c of [...this.childNodes]) this.removeChild(c);
    if (value) this.appendChild(new FakeText(this.ownerDocument, String(value)));
  }
}

class FakeText extends FakeNode {
  constructor(doc, data) {
    super(doc);
    this.data = data;
  }
  get textContent() {
    return this.data;
  }
}

class FakeFragment extends FakeNode {}

class FakeElement extends FakeNode {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.listeners = {};
    this.hidden = false;
    this.open = false;
    this.disabled = false;
    this.value = '';
    const el = this;
    this.classList = {
      contains: c => el.classes().includes(c),
      toggle: (c, on) => {
        const set = new Set(el.classes());
        (on ?? !set.has(c)) ? set.add(c) : set.delete(c);
        el.setAttribute('class', [...set].join(' '));
      }
    };
  }
  classes() {
    return (this.attributes.get('class') ?? '').split(/\s+/).filter(Boolean);
  }
  setAttribute(k, v) {
    this.attributes.set(k, String(v));
  }
  getAttribute(k) {
    return this.attributes.has(k) ? this.attributes.get(k) : null;
  }
  set innerHTML(_) {
    throw new Error('innerHTML used');
  }
  set outerHTML(_) {
    throw new Error('outerHTML used');
  }
  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML used');
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  focus() {
    this.ownerDocument.activeElement = this;
  }
  dispatch(type, target = this, key = undefined) {
    const event = { type, target, key, preventDefault() {} };
    for (let n = target; n; n = n.parentNode) for (const fn of n.listeners?.[type] ?? []) fn(event);
  }
  click() {
    this.dispatch('click');
  }
  matches(selector) {
    if (selector.includes(',')) return selector.split(',').some(part => this.matches(part.trim()));
    if (selector.startsWith('.')) return this.classList.contains(selector.slice(1));
    const attr = /^\[([a-z-]+)(?:="([^"]*)")?\]$/.exec(selector);
    if (attr) return attr[2] === undefined ? this.attributes.has(attr[1]) : this.attributes.get(attr[1]) === attr[2];
    return this.tagName === selector.toUpperCase();
  }
  closest(selector) {
    for (let n = this; n instanceof FakeElement; n = n.parentNode) if (n.matches(selector)) return n;
    return null;
  }
  querySelectorAll(selector) {
    const out = [];
    const walk = n => {
      for (const c of n.childNodes) {
        if (c instanceof FakeElement) {
          if (c.matches(selector)) out.push(c);
          walk(c);
        }
      }
    };
    walk(this);
    return out;
  }
}

class FakeDocument {
  createElement(tag) {
    return new FakeElement(this, tag);
  }
  createTextNode(data) {
    return new FakeText(this, data);
  }
  createDocumentFragment() {
    return new FakeFragment(this);
  }
}

const host = () => new FakeDocument().createElement('div');
const all = (el, sel) => el.querySelectorAll(sel);

// ---------------------------------------------------------------------------------------
// Payloads

function msg(id, parent, role, content, extra = {}) {
  return { id, parent_id: parent, session_id: 's', created_at: '2026-01-01T00:00:00+00:00', role, content, ...extra };
}

/** A session of `turns` user/assistant turns with a regenerated answer every `forkEvery` turns. */
function bigSession(turns, forkEvery = 100) {
  const messages = [];
  const heads = [];
  let parent = null;
  for (let i = 0; i < turns; i++) {
    const u = `u${i}`;
    messages.push(msg(u, parent, 'user', `question ${i}`));
    if (i % forkEvery === forkEvery / 2) {
      messages.push(msg(`alt${i}`, u, 'assistant', `first answer ${i}`, { meta: { prompt_tokens: 3, completion_tokens: 4 } }));
      heads.push(`alt${i}`);
    }
    messages.push(msg(`a${i}`, u, 'assistant', `answer ${i}`, { meta: { prompt_tokens: 10, completion_tokens: 20, latency_ms: 12.5 } }));
    parent = `a${i}`;
  }
  heads.push(parent);
  return {
    version: 1,
    kind: 'vel_jupyter.session',
    session_id: 'big',
    system: null,
    head: parent,
    heads,
    current: heads.length - 1,
    messages
  };
}

const HOSTILE = '<img src=x onerror=alert(1)><script>alert(2)</script><a href="javascript:alert(3)">x</a>';

// ---------------------------------------------------------------------------------------

test('src never assigns HTML; markdown.ts is the one way to HTML, always untrusted', () => {
  const codeOf = name =>
    readFileSync(new URL(`src/${name}`, here), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, ''); // the header comments name them; code must not use them
  const names = readdirSync(new URL('src/', here)).filter(name => name.endsWith('.ts'));
  assert.deepEqual(names.sort(), [
    'codeTools.ts', 'dom.ts', 'forkTree.ts', 'forkTreeKeys.ts', 'index.ts', 'kernel.ts', 'markdown.ts', 'markdownQueue.ts', 'messages.ts',
    'notebookCell.ts', 'payload.ts', 'render.ts', 'scrub.ts', 'sessionView.ts', 'stateSync.ts', 'texts.ts', 'transcript.ts', 'treeView.ts', 'turn.ts', 'turnState.ts', 'turns.ts', 'widget.ts'
  ]);
  for (const name of names) {
    const code = codeOf(name);
    // The views are framework-free: only the JupyterLab side (the widgets, the kernel, the Markdown hook) imports packages.
    if (!['index.ts', 'kernel.ts', 'markdown.ts'].includes(name)) {
      assert.ok(!/^import (?!type )[^;]*from '[^.]/m.test(code), `${name} imports a package at run time`);
    }
    assert.ok(code.split('\n').length <= 400, `${name} is over 400 lines: split it by job`);
    for (const bad of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'renderHTML', 'trusted: true']) {
      assert.ok(!code.includes(bad), `${name} uses ${bad}`);
    }
    if (name !== 'markdown.ts' && name !== 'scrub.ts') {
      // Only markdown.ts makes markup from text (through JupyterLab), and only it and its last pass touch links.
      for (const bad of ['href', 'renderMarkdown', '@jupyterlab/rendermime\'']) assert.ok(!code.includes(bad), `${name} uses ${bad}`);
    }
  }
  const markdown = codeOf('markdown.ts');
  assert.equal(markdown.match(/renderMarkdown\(/g).length, 1, 'one call of JupyterLab\'s renderMarkdown');
  assert.match(markdown, /trusted: false,/);
  assert.match(markdown, /createHTMLDocument\(/, 'rendered in an inert document');
  // Our allowlist pass runs on every render, between JupyterLab's and the page.
  assert.match(markdown, /await renderMarkdown\(\{[^}]*\}\);\s*scrubModelHtml\(scratch\);\s*[^\n]*\n\s*const nodes = Array\.from\(scratch\.childNodes\)/);
  assert.ok(!/^import /m.test(codeOf('scrub.ts')), 'scrub.ts imports nothing (it is tested in node)');
  // The parser never sees a ```mermaid block (it would draw it in the live page).
  assert.match(markdown, /source: withoutDiagrams\(source\),/);
  assert.match(markdown, /parser\.render\(withoutDiagrams\(/);
  assert.equal(markdown.match(/parser\.render\(/g).length, 1, 'one direct call of the parser');
});

test('classify: turn, session, export, garbage', () => {
  assert.equal(R.classify({ kind: 'vel_jupyter.turn', messages: [] }).kind, 'turn');
  assert.equal(R.classify({ kind: 'vel_jupyter.session', messages: [] }).kind, 'session');
  const exp = R.classify({ kind: 'vel_jupyter.export', version: 1, session: { kind: 'vel_jupyter.session', session_id: 'x', messages: [msg('m', null, 'user', 'hi')] } });
  assert.equal(exp.kind, 'session');
  assert.equal(exp.session.messages.length, 1);
  for (const bad of [null, 3, 'x', [], {}, { kind: 'other' }, { kind: 'vel_jupyter.export' }]) {
    assert.equal(R.classify(bad).kind, 'unknown');
  }
  // malformed message entries are dropped, not fatal
  assert.equal(R.classify({ kind: 'vel_jupyter.turn', messages: [null, 1, { role: 'user' }, msg('ok', null, 'user', '')] }).turn.messages.length, 1);
});

test('buildTree: roots, orphans, duplicates, cycles, sizes', () => {
  const t = R.buildTree([
    msg('a', null, 'user', ''),
    msg('b', 'a', 'assistant', ''),
    msg('c', 'a', 'assistant', ''),
    msg('o', 'missing', 'user', ''),
    msg('b', 'zzz', 'user', 'dup'),
    msg('x', 'y', 'user', ''),
    msg('y', 'x', 'user', '')
  ]);
  assert.deepEqual(t.roots.map(n => n.message.id), ['a', 'o', 'y']);
  assert.equal(t.byId.get('a').size, 3);
  assert.deepEqual(R.pathTo(t, 'c').map(m => m.id), ['a', 'c']);
  assert.deepEqual(R.pathTo(t, 'x').map(m => m.id), ['y', 'x']);
  assert.deepEqual(R.pathTo(t, null), []);
  assert.deepEqual(R.pathTo(t, 'nope'), []);
});

test('groupTurns (a session record): a turn is a user message and what follows; forks split turns, as formats/turns.py', () => {
  const messages = [
    msg('u0', null, 'user', 'weather?'),
    msg('a0', 'u0', 'assistant', '', { tool_calls: [{ id: 'c', name: 'w', arguments: '{}' }], meta: { prompt_tokens: 5, completion_tokens: 1 } }),
    msg('t0', 'a0', 'tool', 'sunny', { tool_call_id: 'c' }),
    msg('b0', 't0', 'assistant', 'It is sunny', { meta: { prompt_tokens: 9, completion_tokens: 3 } }),
    msg('u1', 'b0', 'user', 'thanks'),
    msg('x1', 'u1', 'assistant', 'first answer'),
    msg('y1', 'u1', 'assistant', 'second answer'),
    msg('u2', 'y1', 'user', 'more')
  ];
  const turns = R.groupTurns(R.buildTree(messages), ['x1', 'u2']);
  const show = t => [t.messages.map(m => m.id).join(','), t.children.map(show)];
  assert.deepEqual(turns.roots.map(show), [['u0,a0,t0,b0', [['u1', [['x1', []], ['y1', [['u2', []]]]]]]]]);
  const first = turns.roots[0];
  assert.equal(first.last, 'b0');
  assert.equal(first.tokens, 18);
  assert.equal(first.size, 5);
  assert.deepEqual(turns.headsBelow(first), [0, 1]);
  assert.deepEqual(turns.headsBelow(turns.turnOf.get('y1')), [1]);
  assert.deepEqual(turns.headsBelow(turns.turnOf.get('x1')), [0]);
  assert.equal(turns.turnOf.get('t0'), first);
});

test('branch labels and formatting', () => {
  assert.equal(R.branchLabel(1, 3), 'branch 2 of 3');
  assert.equal(R.branchLabel(null, 2), 'detached head (2 branches)');
  assert.equal(R.preview('a\n\n b   c', 80), 'a b c');
  assert.equal(R.preview('x'.repeat(100), 10).length, 10);
  assert.equal(R.formatMs(1500), '1.50 s');
  assert.equal(R.formatMs(0.4), '0.40 ms');
});

test('a hostile turn is inert text', () => {
  const el = host();
  R.renderTurn(el, {
    kind: 'vel_jupyter.turn', session_id: '<b>s</b>', branch: 1, branches: 3, model: '<i>m</i>',
    usage: { prompt_tokens: 14, completion_tokens: 19 },
    messages: [
      msg('u', null, 'user', HOSTILE),
      msg('a', 'u', 'assistant', HOSTILE, { tool_calls: [{ id: 'c', name: '<script>n</script>', arguments: HOSTILE }], meta: { model: 'echo', prompt_tokens: 14, completion_tokens: 19, latency_ms: 412 } }),
      msg('t', 'a', 'tool', HOSTILE, { name: 'get_weather', tool_call_id: 'c' }),
      msg('z', 't', '<script>', HOSTILE)
    ]
  });
  for (const tag of ['img', 'script', 'a', 'iframe']) assert.equal(all(el, tag).length, 0, tag);
  assert.ok(el.textContent.includes(HOSTILE));
  assert.equal(all(el, '.vel-branch-marker').length, 0, 'no "branch k of n" in a turn footer');
  assert.equal(all(el, '.vel-usage')[0].textContent, '14 → 19 tokens · <i>m</i> · 412 ms');
  assert.equal(all(el, '.vel-msg-meta').length, 0, 'the usage line is shown once, in the footer');
  assert.equal(all(el, '.vel-role-user').length, 0, "the user's message is the cell body: not repeated");
  assert.equal(all(el, '.vel-tool-call').length, 1);
  assert.equal(all(el, '.vel-role-other').length, 1);
  for (const node of all(el, 'div')) for (const k of node.attributes.keys()) assert.match(k, /^(class|title|data-[a-z-]+|role|tabindex|aria-[a-z]+)$/);
});

test('a cut-off, filtered or refused answer says so; a whole one does not', () => {
  const turn = meta => ({
    kind: 'vel_jupyter.turn', session_id: 's', branch: 0, branches: 1, model: 'm',
    usage: { prompt_tokens: 1, completion_tokens: 2 },
    messages: [msg('u', null, 'user', 'hi'), msg('a', 'u', 'assistant', 'half of', { meta })]
  });
  const cases = [
    [{ finish_reason: 'length' }, /cut off at max_tokens — raise --max-tokens/],
    [{ finish_reason: 'content_filter' }, /content filter/],
    [{ finish_reason: 'stop', refusal: 'no' }, /declined/]
  ];
  for (const [meta, expected] of cases) {
    const el = host();
    R.renderTurn(el, turn(meta));
    const notes = all(el, '.vel-finish-note');
    assert.equal(notes.length, 1, JSON.stringify(meta));
    assert.match(notes[0].textContent, expected);
  }
  const whole = host();
  R.renderTurn(whole, turn({ finish_reason: 'stop' }));
  assert.equal(all(whole, '.vel-finish-note').length, 0);
});

test('session view: branch navigation switches the transcript; the tree is turns, one per row', () => {
  const el = host();
  const data = bigSession(4, 4); // a regenerated answer at turn 2
  R.render(el, data);
  const transcript = () => all(el, '.vel-msg').map(n => n.getAttribute('data-id'));
  assert.deepEqual(transcript(), ['u0', 'a0', 'u1', 'a1', 'u2', 'a2', 'u3', 'a3']);
  assert.match(all(el, '.vel-branch-marker')[0].textContent, /branch 2 of 2 \(current\)/);
  all(el, '.vel-branch-prev')[0].click();
  assert.deepEqual(transcript(), ['u0', 'a0', 'u1', 'a1', 'u2', 'alt2']);
  assert.equal(all(el, '.vel-branch-marker')[0].textContent, 'branch 1 of 2');
  assert.equal(all(el, '.vel-branch-checkout').length, 0, 'an export is a record: no checkout from it');
  // Tree rows are turns: a number, the question, the answer; they name the turn's last message.
  const row = all(el, '.vel-ft-node').find(n => n.getAttribute('data-turn') === 'u1');
  assert.equal(row.getAttribute('data-id'), 'a1');
  assert.equal(all(row, '.vel-ft-num')[0].textContent, '2');
  assert.equal(all(row, '.vel-ft-q')[0].textContent, 'question 1');
  assert.equal(all(row, '.vel-ft-a')[0].textContent, 'answer 1');
  assert.equal(all(row, '.vel-ft-role').length, 0, 'no role label: a row is a turn');
  // clicking a row shows the path to it
  row.click();
  assert.deepEqual(transcript(), ['u0', 'a0', 'u1', 'a1']);
});

test('1,000 turns: pure functions are fast and the DOM stays small until asked', () => {
  const data = bigSession(1000);
  let t0 = performance.now();
  const tree = R.buildTree(data.messages);
  assert.equal(R.pathTo(tree, data.head).length, 2000);
  const pureMs = performance.now() - t0;
  assert.ok(pureMs < 500, `buildTree+pathTo took ${pureMs} ms`);

  const el = host();
  t0 = performance.now();
  R.render(el, data);
  const renderMs = performance.now() - t0;
  const rows = all(el, '.vel-ft-node').length;
  const msgs = all(el, '.vel-msg').length;
  // 1,020 turns (each fork splits one); runs longer than 80 turns collapse to 33 rows
  assert.ok(rows < 500, `${rows} tree rows built`);
  assert.equal(msgs, 50); // transcript window
  assert.equal(all(el, '.vel-ft-branch').length, 10); // one collapsed alternative per fork
  assert.equal(all(el, '.vel-ft-current').length, 1);
  // a collapsed branch builds its rows on first open
  const toggle = all(el, '.vel-ft-toggle')[0];
  const before = all(el, '.vel-ft-node').length;
  toggle.click();
  assert.equal(all(el, '.vel-ft-node').length, before + 1);
  assert.equal(toggle.getAttribute('aria-expanded'), 'true');
  // "show earlier" loads the next window
  all(el, '.vel-show-earlier')[0].click();
  assert.equal(all(el, '.vel-msg').length, 100);
  // the hidden middle of a long run (a50 … u150: 101 turns, 3 + 30 shown) is built on demand
  all(el, '.vel-ft-more')[0].click();
  assert.equal(all(el, '.vel-ft-node').length, before + 1 + 68);
  console.log(`1,000 turns: buildTree+pathTo ${pureMs.toFixed(1)} ms, first render ${renderMs.toFixed(1)} ms (fake DOM), ${rows} tree rows`);
});

// ---------------------------------------------------------------------------------------
// Fork trees (tree_data.py::tree_payload): `%chat tree` outputs, the widget, saved trees.

/** A tree payload from turns given as [id, parent, question, answer, number], as tree_data.py writes it. */
function treePayload(focus, turns, heads, extra = {}) {
  const byId = Object.fromEntries(turns.map(t => [t[0], t]));
  const lastOf = id => `${id}-a`;
  return {
    version: 1,
    kind: 'vel_jupyter.tree',
    focus,
    sessions: [...new Set(heads.map(hd => hd.session_id))].sort().map(session_id => ({ session_id, head: null, forked_from: null, system: null })),
    turns: turns.map(([id, parent, question, answer, number]) => ({
      id,
      parent,
      number,
      question,
      answer,
      preview: question,
      messages: [
        msg(id, parent ? lastOf(parent) : null, 'user', `**${question}**`),
        msg(lastOf(id), id, 'assistant', `## ${answer}`, { meta: { prompt_tokens: 5, completion_tokens: 7 } })
      ],
      tokens: 12,
      last: lastOf(id),
      cell_id: null
    })),
    heads: heads.map(hd => ({ branch: 0, current: true, ...hd, turn: hd.turn, message: lastOf(hd.turn) })),
    ...extra
  };
  void byId;
}

/** The family of ux/04: demo re-ran turn 2 and went on to turn 3; alt forked at turn 3; from-turn-1 at turn 1. */
function familyTree(extra = {}) {
  return treePayload(
    'demo',
    [
      ['t1', null, 'Give me a quick overview of pandas groupby.', 'Grouping in pandas Here is a quick overview', 1],
      ['t2', 't1', 'How would I do the same with a pivot table?', 'Pivot tables reshape', 2],
      ['t2b', 't1', 'How would I do the same with a pivot table?', 'A pivot table is', 2],
      ['t3', 't2b', 'Which one is faster?', 'groupby is usually faster', 3],
      ['t4', 't3', 'Explain it for a spreadsheet user instead.', 'Imagine an Excel sheet', 4]
    ],
    [
      { session_id: 'demo', turn: 't2', branch: 0, current: false },
      { session_id: 'demo', turn: 't3', branch: 1, current: true },
      { session_id: 'alt', turn: 't4' },
      { session_id: 'from-turn-1', turn: 't1' }
    ],
    extra
  );
}

const rowsOf = el => all(el, '.vel-ft-node').filter(r => !hiddenIn(r, el)).map(r => r.getAttribute('data-turn'));
function hiddenIn(node, root) {
  for (let n = node.parentNode; n && n !== root; n = n.parentNode) if (n.hidden) return true;
  return false;
}

test('tree view: the HEAD path is one column, each fork folded and named by where it diverges, sessions always shown', () => {
  const data = familyTree();
  assert.equal(R.classify(data).kind, 'tree');
  assert.equal(R.classify({ kind: 'vel_jupyter.tree' }).tree.turns.length, 0, 'missing fields are empty, not errors');
  const el = host();
  R.render(el, data);
  assert.equal(all(el, '.vel-tree-view').length, 1);
  assert.match(all(el, '.vel-session-header')[0].textContent, /demo.*5 turns · 3 sessions/);
  // The sessions, each with where it stands; the followed one pressed.
  const chips = all(el, '.vel-tree-session').map(c => c.textContent);
  assert.deepEqual(chips, ['altturn 4', 'demoturn 3', 'from-turn-1turn 1']);
  assert.equal(all(el, '.vel-tree-session-focus')[0].getAttribute('data-session'), 'demo');
  // HEAD's path, flat: turns 1, 2 (the re-run), 3, HEAD on 3; nothing else until opened.
  assert.deepEqual(rowsOf(el), ['t1', 't2b', 't3']);
  const rows = all(el, '.vel-ft-node');
  assert.deepEqual(rows.map(r => all(r, '.vel-ft-num')[0].textContent), ['1', '2', '3']);
  assert.equal(all(rows[2], '.vel-head-current')[0].textContent, 'current');
  assert.equal(all(rows[2], '.vel-ft-tokens')[0].textContent, '5 → 7 tokens', 'tokens say what they count');
  assert.deepEqual(all(rows[0], '.vel-head-label').map(e => e.textContent), ['from-turn-1'], 'a session with one branch is named alone');
  assert.equal(all(rows[1], '.vel-ft-q')[0].textContent, 'How would I do the same with a pivot table?', 'the row shows the words, not **');
  assert.equal(all(rows[1], '.vel-ft-a')[0].textContent, 'A pivot table is', 'and the answer, not ##');
  const folds = all(el, '.vel-ft-toggle').map(t => t.textContent);
  assert.deepEqual(folds, [
    '▸another answer to turn 2: “Pivot tables reshape”1 turn · demo · branch 1',
    '▸continues at turn 4: “Explain it for a spreadsheet user instead.”1 turn · alt'
  ]);
  // Opened, a fold shows its rows; the state remembers it for the next redraw.
  all(el, '.vel-ft-toggle')[1].click();
  assert.deepEqual(rowsOf(el), ['t1', 't2b', 't3', 't4']);
});

test('tree view: a click reads the turn in full below the tree; actions are disabled, with a reason, without a kernel', () => {
  const el = host();
  R.render(el, familyTree());
  assert.match(all(el, '.vel-tree-hint')[0].textContent, /Click a turn/);
  all(el, '.vel-ft-node')[1].click();
  assert.equal(all(el, '.vel-ft-selected').length, 1);
  assert.match(all(el, '.vel-tree-detail-head')[0].textContent, /Turn 2 · on demo's path/);
  const shown = all(all(el, '.vel-tree-detail')[0], '.vel-msg-content').map(e => e.textContent);
  assert.deepEqual(shown, ['**How would I do the same with a pivot table?**', '## A pivot table is'], 'the whole messages (Markdown through the hook)');
  for (const cls of ['.vel-tree-checkout', '.vel-tree-fork', '.vel-tree-fork-name']) {
    const control = all(el, cls)[0];
    assert.equal(control.disabled, true, `${cls} is disabled`);
    assert.match(control.getAttribute('title'), /saved view: run the cell/);
  }
  assert.match(all(el, '.vel-tree-checkout')[0].getAttribute('class'), /jp-mod-styled jp-mod-accept/, "JupyterLab's own button style");
});

test('tree view: with actions, continue and fork act on the selected turn and say what happened', async () => {
  const el = host();
  const calls = [];
  let kernel = true;
  const actions = {
    unavailable: () => (kernel ? '' : 'no kernel connected'),
    checkout: async (sid, id) => (calls.push(['checkout', sid, id]), `'${sid}' now at message ${id}`),
    fork: async (sid, id, name) => (calls.push(['fork', sid, id, name]), `forked '${sid}' into '${name || 'x'}'`)
  };
  const state = R.newTreeViewState();
  await R.render(el, familyTree({ commands: '%chat' }), { actions, state });
  all(el, '.vel-ft-node')[0].click();
  assert.equal(all(el, '.vel-tree-checkout')[0].disabled, false);
  assert.match(all(el, '.vel-tree-checkout')[0].textContent, /Continue demo from here/);
  all(el, '.vel-tree-checkout')[0].click();
  await new Promise(r => setTimeout(r, 0));
  assert.deepEqual(calls, [['checkout', 'demo', 't1-a']]);
  assert.equal(all(el, '.vel-tree-status')[0].textContent, "'demo' now at message t1-a");
  all(el, '.vel-tree-fork-name')[0].value = 'a bad {name}';
  all(el, '.vel-tree-fork')[0].click();
  assert.equal(calls.length, 1, 'an id the kernel would refuse is not sent');
  assert.match(all(el, '.vel-tree-status')[0].textContent, /cannot name a session/);
  all(el, '.vel-tree-fork-name')[0].value = 'branch-b';
  all(el, '.vel-tree-fork')[0].click();
  await new Promise(r => setTimeout(r, 0));
  assert.deepEqual(calls.at(-1), ['fork', 'demo', 't1-a', 'branch-b']);
  // A redraw (the kernel sends the new tree) keeps the selection and the status.
  await R.render(el, familyTree({ commands: '%chat' }), { actions, state });
  assert.equal(all(el, '.vel-ft-selected')[0].getAttribute('data-turn'), 't1');
  assert.match(all(el, '.vel-tree-status')[0].textContent, /forked 'demo' into 'branch-b'/);
  // The kernel goes: the buttons say why they cannot act.
  kernel = false;
  await R.render(el, familyTree({ commands: '%chat' }), { actions, state });
  assert.equal(all(el, '.vel-tree-checkout')[0].disabled, true);
  assert.equal(all(el, '.vel-tree-checkout')[0].getAttribute('title'), 'no kernel connected');
});

test('tree view: following another session makes its path the main column', () => {
  const el = host();
  const state = R.newTreeViewState();
  R.render(el, familyTree(), { state });
  all(el, '.vel-tree-session').find(c => c.getAttribute('data-session') === 'alt').click();
  assert.equal(state.focus, 'alt');
  assert.match(all(el, '.vel-session-header')[0].textContent, /^alt/);
  assert.deepEqual(rowsOf(el), ['t1', 't2b', 't3', 't4']);
  assert.equal(all(el, '.vel-ft-current')[0].getAttribute('data-turn'), 't4', "alt's HEAD");
  assert.equal(all(el, '.vel-ft-selected')[0].getAttribute('data-turn'), 't4', 'and it is selected');
});

test('tree view: the keyboard moves one tab stop with the arrows, opens folds, and reads a turn with Enter', () => {
  const el = host();
  const state = R.newTreeViewState();
  R.render(el, familyTree(), { state });
  const stops = () => all(el, '[tabindex="0"]');
  assert.equal(stops().length, 1, 'one tab stop');
  assert.equal(stops()[0].getAttribute('data-turn'), 't3', 'HEAD when nothing is selected');
  const press = key => stops()[0].dispatch('keydown', stops()[0], key);
  press('Home');
  assert.equal(stops()[0].getAttribute('data-turn'), 't1');
  press('ArrowDown');
  assert.equal(stops()[0].getAttribute('data-turn'), 't2b');
  press('ArrowDown');
  assert.match(stops()[0].textContent, /another answer to turn 2/, 'a fold is a stop too');
  press('ArrowRight');
  assert.equal(stops()[0].getAttribute('aria-expanded'), 'true', 'Right opens it');
  press('ArrowRight');
  assert.equal(stops()[0].getAttribute('data-turn'), 't2', 'Right again enters it');
  press('ArrowLeft');
  assert.match(stops()[0].textContent, /another answer/, 'Left goes up to its fold');
  press('ArrowDown');
  press('Enter');
  assert.equal(state.selected, 't2-a', 'Enter reads the turn');
  assert.match(all(el, '.vel-tree-detail-head')[0].textContent, /Turn 2 · not on demo's current path/);
  press('End');
  assert.match(stops()[0].textContent, /continues at turn 4/);
});

test('tree view: 1,000 turns build a few hundred rows, and HEAD shows whatever is folded', () => {
  const turns = [];
  for (let i = 0; i < 1000; i++) turns.push([`t${i}`, i ? `t${i - 1}` : null, `question ${i}`, `answer ${i}`, i + 1]);
  turns.push(['side', 't499', 'a side question', 'a side answer', 501]);
  const data = treePayload('long', turns, [{ session_id: 'long', turn: 't999' }, { session_id: 'side', turn: 'side' }]);
  const el = host();
  const t0 = performance.now();
  R.render(el, data);
  const ms = performance.now() - t0;
  const rows = rowsOf(el);
  assert.ok(rows.length < 100, `${rows.length} rows built`);
  assert.ok(rows.includes('t999') && rows.includes('t499'), 'HEAD and the fork point stay visible in a long run');
  assert.equal(all(el, '.vel-ft-more').length, 2, 'the runs between them fold into "show N more"');
  all(el, '.vel-ft-more')[0].click();
  assert.ok(rowsOf(el).length > rows.length + 400);
  console.log(`tree view of 1,001 turns: ${rows.length} rows, ${ms.toFixed(1)} ms (fake DOM)`);
});

test('buildTree: a self-parented message and every parent cycle become roots, each cycle cut once, at its last member', () => {
  const t = R.buildTree([
    msg('self', 'self', 'user', ''),
    msg('c1', 'c3', 'user', ''),
    msg('c2', 'c1', 'assistant', ''),
    msg('c3', 'c2', 'user', ''),
    msg('leaf', 'c2', 'assistant', ''),
    msg('r2', 'r1', 'user', ''),
    msg('r1', 'r2', 'assistant', '')
  ]);
  assert.deepEqual(t.roots.map(n => n.message.id), ['self', 'c3', 'r1']);
  assert.deepEqual(R.pathTo(t, 'leaf').map(m => m.id), ['c3', 'c1', 'c2', 'leaf']);
  assert.deepEqual(R.pathTo(t, 'r2').map(m => m.id), ['r1', 'r2']);
  assert.equal(t.byId.get('c3').size, 4);
  assert.equal(t.byId.get('self').size, 1);
});

/** `items` in a fixed pseudo-random order (a small LCG: the same every run). */
function shuffled(items) {
  const out = [...items];
  let seed = 19;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test('100,000 messages: a chain in any order, and a chain closed into one cycle, build whole (O(n): scripts/bench-tree.mjs times it)', () => {
  const n = 100000;
  const chain = Array.from({ length: n }, (_, i) => msg(`m${i}`, i ? `m${i - 1}` : null, i % 2 ? 'assistant' : 'user', `message ${i}`));
  for (const messages of [chain, [...chain].reverse(), shuffled(chain)]) {
    const tree = R.buildTree(messages);
    assert.deepEqual(tree.roots.map(r => r.message.id), ['m0']);
    assert.equal(tree.roots[0].size, n);
    assert.equal(R.pathTo(tree, `m${n - 1}`).length, n);
  }
  // m0's parent is the last message: one cycle through all of them, cut at its last member.
  const ring = R.buildTree(chain.map((m, i) => (i ? m : { ...m, parent_id: `m${n - 1}` })));
  assert.deepEqual(ring.roots.map(r => r.message.id), [`m${n - 1}`]);
  assert.deepEqual(R.pathTo(ring, `m${n - 2}`).slice(0, 3).map(m => m.id), [`m${n - 1}`, 'm0', 'm1']);
  assert.equal(R.pathTo(ring, `m${n - 2}`).length, n);
  // Turns, with a head every 100 messages: each head is found below the turns above it.
  const heads = Array.from({ length: n / 100 }, (_, i) => `m${i * 100 + 99}`);
  const turns = R.groupTurns(R.buildTree(chain), heads);
  assert.equal(turns.roots.length, 1);
  assert.equal(turns.roots[0].size, n / 2);
  assert.equal(turns.headsBelow(turns.roots[0]).length, heads.length);
  assert.deepEqual(turns.headsBelow(turns.turnOf.get(`m${n - 2}`)), [heads.length - 1]);
  // The session view (1,000 branches) and a `%chat tree` payload of the same chain draw.
  const el = host();
  R.render(el, { kind: 'vel_jupyter.session', session_id: 'long', messages: chain, heads, head: heads.at(-1), current: heads.length - 1 });
  assert.equal(all(el, '.vel-branch-select')[0].childNodes.length, heads.length);
  assert.equal(all(el, '.vel-branch-marker')[0].textContent, `branch ${heads.length} of ${heads.length} (current)`);
  assert.equal(all(el, '.vel-msg').length, 50);
  const turnRows = Array.from({ length: n / 2 }, (_, i) => [`t${i}`, i ? `t${i - 1}` : null, `q${i}`, `a${i}`, i + 1]);
  const tree = host();
  R.render(tree, treePayload('long', turnRows, [{ session_id: 'long', turn: `t${n / 2 - 1}` }]));
  assert.ok(all(tree, '.vel-session-header')[0].textContent.includes(`${R.formatCount(n / 2)} turns`));
  assert.ok(rowsOf(tree).includes(`t${n / 2 - 1}`), 'HEAD is drawn');
});

test('a crafted tree payload (self-parented and cyclic turns) draws every message once, and stops', () => {
  const data = treePayload(
    'loop',
    [
      ['t1', 't3', 'first', 'one', 1],
      ['t2', 't1', 'second', 'two', 2],
      ['t3', 't2', 'third', 'three', 3]
    ],
    [{ session_id: 'loop', turn: 't2' }]
  );
  data.turns.push({ id: 'me', messages: [msg('me', 'me', 'user', 'my own parent')] });
  const messages = data.turns.flatMap(t => t.messages);
  // The payload's turns are linked as they are (Python grouped them): `me` is a root of its
  // own; the loop t1 → t2 → t3 → t1 is cut at its last turn.
  const turns = R.linkTurns(data.turns);
  assert.deepEqual(turns.roots.map(t => t.id), ['me', 't3']);
  assert.equal(turns.turnOf.size, messages.length, 'every message in one turn');
  assert.deepEqual(turns.roots[1].children.map(t => t.id), ['t1']);
  const el = host();
  R.render(el, data);
  assert.deepEqual(rowsOf(el), ['t3', 't1', 't2'], 'the path to HEAD');
  assert.deepEqual(all(el, '.vel-ft-branch').map(b => b.getAttribute('data-start')).sort(), ['me'], 'the rest folded');
});

test('absurd counts in a payload are words, never sizes', () => {
  const el = host();
  const turn = (extra = {}) => ({ kind: 'vel_jupyter.turn', session_id: 's', messages: [msg('a', null, 'assistant', 'hi', { meta: { prompt_tokens: 1e12, completion_tokens: 1e300 } })], ...extra });
  R.render(el, turn({ branch: 0, branches: 30000000 }));
  assert.equal(all(el, '.vel-branch-marker').length, 0, 'a turn shows no branch counter');
  R.render(el, turn({ branch: 1e12, branches: 1e12, usage: { prompt_tokens: 1e12, completion_tokens: -5 }, latency_ms: 1e300 }));
  assert.ok(all(el, '.vel-usage')[0].textContent.startsWith(`${R.formatCount(1e12)} → -5 tokens`));
  R.render(el, { kind: 'vel_jupyter.session', session_id: 's', messages: [msg('a', null, 'user', 'q')], heads: ['a'], head: 'a', current: 3e7 });
  assert.equal(all(el, '.vel-branch-select')[0].childNodes.length, 2, 'the branch and the detached head it names');
  const data = familyTree();
  for (const t of data.turns) Object.assign(t, { number: 1e12, tokens: 1e300 });
  data.heads[0].branch = 3e7;
  R.render(el, data);
  assert.equal(all(el, '.vel-ft-node').length > 0, true);
});

test('forkLabel and treeHeadLabel: the words Python uses too', () => {
  assert.equal(R.forkLabel({ number: 2, question: 'q', answer: 'b' }, { question: 'q' }), 'another answer to turn 2: “b”');
  assert.equal(R.forkLabel({ number: 3, question: 'other', answer: 'b' }, { question: 'q' }), 'another question at turn 3: “other”');
  assert.equal(R.forkLabel({ number: 4, question: 'later', answer: '' }, null), 'continues at turn 4: “later”');
  assert.equal(R.forkLabel({ number: 2, question: '', answer: 'x' }, { question: 'q' }), 'another answer to turn 2: “x”');
  assert.equal(R.treeHeadLabel({ session_id: 'a', branch: 2 }), 'a · branch 3', 'the payload’s 0-based index, read from 1');
  assert.equal(R.treeHeadLabel({ session_id: 'a', branch: null }), 'a (detached)');
});

// ---------------------------------------------------------------------------------------
// Markdown through a hook (in JupyterLab: src/markdown.ts), live frames, less noise

/** A hook that renders `**x**` as <strong>-like elements (text only), when released. */
function fakeMarkdown() {
  const calls = [];
  const typeset = [];
  const hook = {
    render(host, source) {
      let release;
      const done = new Promise((ok, fail) => {
        release = how => (how === 'fail' ? fail(new Error('renderer failed')) : ok());
      });
      calls.push({ host, source, release });
      return done.then(() => {
        host.textContent = '';
        host.appendChild(host.ownerDocument.createElement('h2')).textContent = `md:${source}`;
      });
    },
    typeset(host) {
      typeset.push(host);
    }
  };
  return { hook, calls, typeset };
}

const settle = () => new Promise(r => setTimeout(r, 0));

test('turn: Markdown renders off the page and replaces the old view in one step', async () => {
  const el = host();
  const { hook, calls, typeset } = fakeMarkdown();
  const turn = text => ({
    kind: 'vel_jupyter.turn', session_id: 's', branch: 0, branches: 1, model: 'm',
    usage: { prompt_tokens: 1, completion_tokens: 2 }, latency_ms: 1200, ttft_ms: 80,
    messages: [msg('u', null, 'user', 'q'), msg('a', 'u', 'assistant', text)]
  });
  const first = R.render(el, turn('## one'), { markdown: hook });
  assert.equal(el.textContent, '', 'nothing is shown before the Markdown is rendered');
  calls[0].release();
  await first;
  assert.equal(all(el, 'h2')[0].textContent, 'md:## one');
  assert.equal(typeset.length, 1, 'typeset once the view is in the page');
  assert.equal(all(el, '.vel-usage')[0].textContent, '1 → 2 tokens · m · 1.20 s · first token 80 ms');
  // A second frame: the first stays until the second is rendered; an overtaken one is dropped.
  const second = R.render(el, turn('two'), { markdown: hook });
  const third = R.render(el, turn('three'), { markdown: hook });
  assert.equal(all(el, 'h2')[0].textContent, 'md:## one');
  calls[2].release();
  await third;
  assert.equal(all(el, 'h2')[0].textContent, 'md:three');
  calls[1].release();
  await second;
  assert.equal(all(el, 'h2')[0].textContent, 'md:three', 'the overtaken render did not replace the newer one');
  assert.equal(all(el, '.vel-root').length, 1);
});

test('turn: a failing Markdown renderer leaves the text', async () => {
  const el = host();
  const { hook, calls } = fakeMarkdown();
  const done = R.render(el, { kind: 'vel_jupyter.turn', messages: [msg('a', null, 'assistant', '**x**')] }, { markdown: hook });
  calls[0].release('fail');
  await done;
  const [content] = all(el, '.vel-msg-content');
  assert.equal(content.textContent, '**x**');
  assert.ok(content.classList.contains('vel-plain'));
});

test('turn: the interpolated prompt is collapsed, a live frame has the same layout, formats stay verbatim', async () => {
  const el = host();
  R.render(el, {
    kind: 'vel_jupyter.turn', session_id: 's', prompt: 'Summarize <b>42</b>',
    messages: [msg('u', null, 'user', 'Summarize <b>42</b>'), msg('a', 'u', 'assistant', 'ok')]
  });
  const [details] = all(el, 'details');
  assert.ok(details.classList.contains('vel-prompt'));
  assert.equal(details.textContent, 'prompt sent (after {name} interpolation)Summarize <b>42</b>');
  // Without `prompt` (the cell body was sent as written), no prompt at all.
  R.render(el, { kind: 'vel_jupyter.turn', messages: [msg('u', null, 'user', 'q'), msg('a', 'u', 'assistant', 'ok')] });
  assert.equal(all(el, '.vel-prompt').length, 0);
  assert.ok(!el.textContent.includes('q'));

  const { hook, calls } = fakeMarkdown();
  const live = {
    kind: 'vel_jupyter.turn', live: true, session_id: 's',
    messages: [
      { id: 'live-0', role: 'assistant', content: '', tool_calls: [{ id: 'c', name: 'add', arguments: '{"a": 1}' }] },
      { id: 'live-1', role: 'tool', name: 'add', content: '2' },
      { id: 'live-2', role: 'assistant', content: 'The sum is' }
    ]
  };
  const frame = R.render(el, live, { markdown: hook });
  calls[0].release();
  await frame;
  const layout = () => all(el, 'div').map(d => d.getAttribute('class')).filter(c => !c.startsWith('vel-msg-content'));
  const liveLayout = layout();
  assert.match(all(el, '.vel-usage')[0].textContent, /streaming/);
  assert.equal(all(el, '.vel-tool-call').length, 1);
  assert.equal(all(el, '.vel-tool-result').length, 1);
  const final = R.render(el, {
    kind: 'vel_jupyter.turn', session_id: 's', branch: 0, branches: 1, usage: { prompt_tokens: 3, completion_tokens: 4 },
    messages: [
      msg('u', null, 'user', 'q'),
      msg('a1', 'u', 'assistant', '', { tool_calls: [{ id: 'c', name: 'add', arguments: '{"a": 1}' }] }),
      msg('t', 'a1', 'tool', '2', { name: 'add', tool_call_id: 'c' }),
      msg('a2', 't', 'assistant', 'The sum is 2.')
    ]
  }, { markdown: hook });
  calls[1].release();
  await final;
  assert.deepEqual(layout().map(c => c.replace(' vel-live', '')), liveLayout.map(c => c.replace(' vel-live', '')), 'live and final views have the same blocks');
  // A stopped live frame is labelled once, in its note (the error line under it says why).
  R.render(el, { ...live, note: 'partial answer, not kept' });
  assert.equal(all(el, '.vel-finish-note')[0].textContent, 'partial answer, not kept');
  assert.equal(all(el, '.vel-streaming')[0].textContent, '', 'and no second word in the footer');
  // format=code: the answer is verbatim, not Markdown.
  R.render(el, { kind: 'vel_jupyter.turn', format: 'code', messages: [msg('a', null, 'assistant', '# not a heading')] }, { markdown: hook });
  assert.equal(calls.length, 2, 'no Markdown render for a code answer');
  assert.equal(all(el, 'pre')[0].textContent, '# not a heading');
});

test('session and saved tree: user and assistant text through the hook, tool results verbatim', async () => {
  const el = host();
  const { hook, calls } = fakeMarkdown();
  const data = bigSession(2, 4);
  data.messages.push(msg('t', data.head, 'tool', '## verbatim', { name: 'x' }));
  data.heads = [data.head = 't'];
  const done = R.render(el, data, { markdown: hook });
  assert.deepEqual(calls.map(c => c.source), ['question 0', 'answer 0', 'question 1', 'answer 1']);
  for (const c of calls) c.release();
  await done;
  assert.equal(all(el, 'h2').length, 4);
  assert.equal(all(all(el, '.vel-tool-result')[0], 'pre')[0].textContent, '## verbatim');
  // After the first render, content built on the page (a branch switch) renders in place.
  all(el, '.vel-branch-next')[0].click();
  assert.ok(calls.length > 4);
});

test('markdownFromAncestors: with no listener the text stays', async () => {
  const el = host();
  await R.render(el, { kind: 'vel_jupyter.turn', messages: [msg('a', null, 'assistant', '**x**')] }, { markdown: R.markdownFromAncestors(el) });
  assert.equal(all(el, '.vel-msg-content')[0].textContent, '**x**');
});

test('turn: a turn off the current path says so plainly, above its footer; no branch counter either way', () => {
  const el = host();
  const data = { kind: 'vel_jupyter.turn', session_id: 's', branch: 0, branches: 2, current: false, messages: [{ id: 'a', role: 'assistant', content: 'old answer' }] };
  R.renderTurn(el, data);
  const marker = all(el, '.vel-stale-marker')[0];
  assert.equal(all(marker, '.vel-stale-text')[0].textContent, 'not asked on this branch — run the cell to ask it here');
  assert.equal(marker.getAttribute('role'), 'note');
  assert.equal(all(all(el, '.vel-turn-footer')[0], '.vel-stale-marker').length, 0, 'not a footnote');
  assert.equal(all(el, '.vel-branch-marker').length, 0);
  assert.equal(all(el, '.vel-stale').length, 1);
  R.renderTurn(el, { ...data, current: true });
  assert.equal(all(el, '.vel-stale-marker').length, 0);
  assert.equal(all(el, '.vel-branch-marker').length, 0, 'no "branch 1 of 2": it changes as the tree grows');
});

test('turn state: the kernel\'s %chat state reply decides the markers; without one, the saved payload does', () => {
  const alt = (n, current) => ({ head: `a${n}`, current, messages: [{ id: `u${n}`, role: 'user', content: 'q' }, { id: `a${n}`, role: 'assistant', content: `answer ${n}` }] });
  // Saved when it was current; the page reloads after `%chat checkout s 1`.
  const data = { kind: 'vel_jupyter.turn', session_id: 's', current: true, alternatives: [alt(1, false), alt(2, true)], messages: alt(2, true).messages };
  assert.deepEqual(R.askedIds(data), ['a2', 'a1']);
  const reply = R.parseStateReply('{"sessions":{"s":{"known":true,"head":"a1","heads":["a1","a2"],"branch":0,"on":["a1"]},"gone":{"known":false}}}');
  assert.deepEqual(reply.gone, R.UNKNOWN);
  const moved = R.deriveTurn(data, reply.s);
  assert.deepEqual(moved, { current: false, showing: 'a1' });
  const el = host();
  R.renderTurn(el, R.withDerived(data, moved));
  assert.equal(all(el, '.vel-msg-content')[0].textContent, 'answer 1', 'opens on the answer the session continues from');
  assert.equal(all(el, '.vel-alt-current')[0].textContent, 'the session continues from this answer');
  all(el, '.vel-alt-next')[0].click();
  assert.equal(all(el, '.vel-stale-text')[0].textContent, R.STALE_NOTE, 'its own answer: not on this branch');
  // Back on answer 2: the marker goes, whatever the payload said.
  const back = R.deriveTurn({ ...data, current: false }, R.parseStateReply('{"sessions":{"s":{"known":true,"on":["a2"]}}}').s);
  assert.deepEqual(back, { current: true, showing: null });
  const again = host();
  R.renderTurn(again, R.withDerived({ ...data, current: false, showing: 'a1' }, back));
  assert.equal(all(again, '.vel-stale-marker').length, 0);
  assert.equal(all(again, '.vel-msg-content')[0].textContent, 'answer 2');
  // No kernel, a kernel without the session, or a reply that is no JSON: the saved payload.
  for (const state of [null, R.UNKNOWN, R.parseStateReply('UsageError: Line magic function `%chat` not found.').s]) {
    assert.deepEqual(R.deriveTurn({ ...data, current: false }, state), { current: false, showing: null });
    assert.deepEqual(R.deriveTurn(data, state), { current: true, showing: null });
  }
  // A turn with no alternatives that the path left: stale, nothing to show instead.
  const lone = { kind: 'vel_jupyter.turn', session_id: 's', messages: [{ id: 'u9', role: 'user' }, { id: 'a9', role: 'assistant', content: 'x' }] };
  assert.deepEqual(R.deriveTurn(lone, { known: true, on: [] }), { current: false, showing: null });
});

test('turn state: the questions of a notebook\'s outputs go in one %chat state request per delay', async () => {
  const sent = [];
  let fire = null;
  const queue = new R.StateQueue(
    async words => {
      sent.push(words);
      return JSON.stringify({ sessions: { s: { known: true, on: ['a1'] }, t: { known: false } } });
    },
    200,
    fn => { fire = fn; }
  );
  const got = [];
  queue.ask('s', ['a1', 'a2'], state => got.push(['s1', state.on]));
  queue.ask('s', ['a2', 'a3'], state => got.push(['s2', state.on]));
  queue.ask('t', ['b1'], state => got.push(['t', state.known]));
  assert.equal(sent.length, 0, 'nothing before the delay');
  fire();
  await settle();
  assert.deepEqual(sent, [['state', 's', 't', '--on', 'a1', 'a2', 'a3', 'b1']]);
  assert.deepEqual(got, [['s1', ['a1']], ['s2', ['a1']], ['t', false]]);
  const failing = new R.StateQueue(async () => { throw new Error('no kernel'); }, 200, fn => { fire = fn; });
  let state = null;
  failing.ask('s', ['a1'], s => { state = s; });
  fire();
  await settle();
  assert.deepEqual(state, R.UNKNOWN, 'a failed request: unknown, the payload decides');
});

test('turn: the ‹ 2/3 › switcher flips between the answers of a re-run cell, with no kernel', () => {
  const el = host();
  const alt = (n, current) => ({
    head: `a${n}`,
    current,
    messages: [
      { id: `u${n}`, role: 'user', content: 'same question' },
      { id: `a${n}`, role: 'assistant', content: `answer ${n}`, meta: { model: 'm', prompt_tokens: n, completion_tokens: 10 * n } }
    ]
  });
  const data = {
    kind: 'vel_jupyter.turn', session_id: 's', branch: 1, branches: 3, model: 'm',
    usage: { prompt_tokens: 2, completion_tokens: 20 }, alternatives: [alt(1, false), alt(2, true), alt(3, false)],
    messages: alt(2, true).messages
  };
  R.renderTurn(el, data);
  const text = () => all(el, '.vel-msg-content').map(e => e.textContent).join('|');
  const position = () => all(el, '.vel-alt-position')[0].textContent;
  assert.equal(text(), 'answer 2');
  assert.equal(position(), '2/3');
  assert.equal(all(el, '.vel-alt-position')[0].getAttribute('title'), 'answer 2 of 3');
  assert.equal(all(el, '.vel-branch-marker').length, 0);
  all(el, '.vel-alt-prev')[0].click();
  assert.equal(text(), 'answer 1');
  assert.equal(position(), '1/3');
  assert.equal(all(el, '.vel-alt-note')[0].textContent, 'another answer of this cell');
  const button = all(el, '.vel-alt-checkout')[0];
  assert.equal(button.disabled, true, 'no kernel hook: reading only');
  assert.match(button.getAttribute('title'), /^no kernel connected: .*%chat checkout s a1/);
  assert.match(all(el, '.vel-usage')[0].textContent, /^1 → 10 tokens · m/);
  assert.equal(all(el, '.vel-alt-prev')[0].disabled, true);
  all(el, '.vel-alt-next')[0].click();
  all(el, '.vel-alt-next')[0].click();
  assert.equal(text(), 'answer 3');
  assert.equal(all(el, '.vel-alt-next')[0].disabled, true);
  all(el, '.vel-alt-prev')[0].click();
  assert.equal(text(), 'answer 2');
  assert.equal(all(el, '.vel-alt-note').length, 0, 'its own answer: no "another answer" note');
  const single = host();
  R.renderTurn(single, { ...data, alternatives: [alt(2, true)] });
  assert.equal(all(single, '.vel-alt-switcher').length, 0, 'one answer: no switcher');
});

test('turn: "continue with this answer" asks the kernel hook; a failure says why; the kernel can reopen it there', async () => {
  const calls = [];
  let fail = false;
  const checkout = {
    available: () => true,
    run: (sid, head) => {
      calls.push([sid, head]);
      return fail ? Promise.reject(new Error('no kernel connected: run the notebook first')) : Promise.resolve();
    }
  };
  const alt = (n, current) => ({ head: `a${n}`, current, messages: [{ id: `u${n}`, role: 'user', content: 'q' }, { id: `a${n}`, role: 'assistant', content: `answer ${n}` }] });
  const data = { kind: 'vel_jupyter.turn', session_id: 's', alternatives: [alt(1, false), alt(2, true)], messages: alt(2, true).messages };
  const el = host();
  await R.renderTurn(el, data, { checkout });
  all(el, '.vel-alt-prev')[0].click();
  const button = all(el, '.vel-alt-checkout')[0];
  assert.equal(button.disabled, false);
  assert.equal(button.textContent, 'continue with this answer');
  assert.match(button.getAttribute('title'), /^make this answer current in s, with the turns that followed it: .*%chat checkout s a1 --follow\)$/);
  button.click();
  assert.deepEqual(calls, [['s', 'a1']]);
  assert.equal(button.disabled, true, 'one click: disabled while the kernel works');
  await settle();
  fail = true;
  button.disabled = false;
  button.click();
  await settle();
  assert.equal(all(el, '.vel-alt-status')[0].textContent, 'no kernel connected: run the notebook first');
  assert.equal(button.disabled, false, 'it can be tried again');
  // Redrawn by the kernel after the session moved to answer 1: it opens there.
  const moved = host();
  await R.renderTurn(moved, { ...data, current: false, showing: 'a1' }, { checkout });
  assert.equal(all(moved, '.vel-msg-content')[0].textContent, 'answer 1');
  assert.equal(all(moved, '.vel-alt-current')[0].textContent, 'the session continues from this answer');
  assert.equal(all(moved, '.vel-alt-checkout').length, 0);
});

test('turn: after "continue with this answer" moves the path, a cell below shows its answer on it, or the plain marker', async () => {
  // Cell 2 asked twice: on branch 1 (after answer 1 of cell 1) and on branch 2; its output was
  // last drawn on branch 2. The kernel's state after `--follow` to branch 1 puts b1 on the path.
  const alt = (n, current) => ({ head: `b${n}`, current, messages: [{ id: `q${n}`, role: 'user', content: 'then' }, { id: `b${n}`, role: 'assistant', content: `follow-up ${n}` }] });
  const cell2 = { kind: 'vel_jupyter.turn', session_id: 's', alternatives: [alt(1, false), alt(2, true)], messages: alt(2, true).messages };
  const state = on => R.parseStateReply(JSON.stringify({ sessions: { s: { known: true, head: on.at(-1) ?? null, branch: 0, heads: [], on } } })).s;
  const shown = async (data, s) => {
    const el = host();
    await R.renderTurn(el, R.withDerived(data, R.deriveTurn(data, s)), {});
    return el;
  };
  const followed = await shown(cell2, state(['a1', 'b1']));
  assert.equal(all(followed, '.vel-msg-content').map(e => e.textContent).join('|'), 'follow-up 1');
  assert.equal(all(followed, '.vel-alt-position')[0].textContent, '1/2');
  assert.equal(all(followed, '.vel-stale-marker').length, 0, 'its answer on the new path: no marker');
  // Asked only once, on branch 1: its own answer is back on the path.
  const once = { ...cell2, alternatives: [], messages: alt(1, true).messages, current: false };
  const back = await shown(once, state(['a1', 'b1']));
  assert.equal(all(back, '.vel-stale-marker').length, 0);
  assert.equal(all(back, '.vel-msg-content')[0].textContent, 'follow-up 1');
  // Not asked on the new path at all: the plain marker, at full weight.
  const none = await shown(cell2, state(['a2']));
  assert.equal(all(none, '.vel-stale-text')[0].textContent, 'not asked on this branch — run the cell to ask it here');
  assert.equal(all(none, '.vel-alt-position')[0].textContent, '2/2');
});

test('an answer of the offline echo provider says so, live, final and in a transcript', () => {
  const echo = { model: 'echo', provider: 'echo', prompt_tokens: 1, completion_tokens: 3 };
  for (const data of [
    { kind: 'vel_jupyter.turn', provider: 'echo', live: true, messages: [msg('live-0', null, 'assistant', 'You said')] },
    { kind: 'vel_jupyter.turn', provider: 'echo', messages: [msg('u', null, 'user', 'hi'), msg('a', 'u', 'assistant', 'You said: "hi"', { meta: echo })] },
    { kind: 'vel_jupyter.turn', messages: [msg('u', null, 'user', 'hi'), msg('a', 'u', 'assistant', 'older payload', { meta: echo })] }
  ]) {
    const el = host();
    R.render(el, data);
    assert.equal(all(el, '.vel-echo-badge')[0]?.textContent, R.ECHO_NOTE, JSON.stringify(data).slice(0, 80));
  }
  const model = host();
  R.render(model, { kind: 'vel_jupyter.turn', provider: 'openai', messages: [msg('a', null, 'assistant', 'real', { meta: { ...echo, provider: 'openai' } })] });
  assert.equal(all(model, '.vel-echo-badge').length, 0, 'a model answer has no badge');
  const el = host();
  R.render(el, { kind: 'vel_jupyter.session', session_id: 's', head: 'a', heads: ['a'], current: 0, messages: [msg('u', null, 'user', 'hi'), msg('a', 'u', 'assistant', 'x', { meta: echo })] });
  assert.match(all(el, '.vel-msg-meta')[0].textContent, /offline echo, not a model/);
});

test('the words a payload carries are the ones shown (Python writes them); without them the fallbacks say the same', () => {
  const el = host();
  const turn = {
    kind: 'vel_jupyter.turn',
    session_id: 's',
    branch: 0,
    branches: 1,
    provider: 'echo',
    usage: { prompt_tokens: 1, completion_tokens: 2 },
    usage_line: 'USAGE FROM PYTHON',
    finish_note: 'NOTE FROM PYTHON',
    echo_note: 'ECHO FROM PYTHON',
    messages: [msg('a', null, 'assistant', 'hi', { meta: { finish_reason: 'length' } })]
  };
  R.render(el, turn);
  assert.equal(all(el, '.vel-usage')[0].textContent, 'USAGE FROM PYTHON');
  assert.equal(all(el, '.vel-finish-note')[0].textContent, 'NOTE FROM PYTHON');
  assert.equal(all(el, '.vel-echo-badge')[0].textContent, 'ECHO FROM PYTHON');
  R.render(el, { ...turn, finish_note: '', echo_note: undefined, provider: 'openai' });
  assert.equal(all(el, '.vel-finish-note').length, 0, "'' is a carried word too: the answer is whole");
  assert.equal(all(el, '.vel-echo-badge').length, 0);
  const { usage_line, finish_note, echo_note, ...old } = turn; // an output saved before the words were carried
  R.render(el, old);
  assert.equal(all(el, '.vel-usage')[0].textContent, '1 → 2 tokens');
  assert.equal(all(el, '.vel-finish-note')[0].textContent, R.finishNote(old.messages));
  assert.equal(all(el, '.vel-echo-badge')[0].textContent, R.ECHO_NOTE);

  const data = treePayload(
    'demo',
    [
      ['t1', null, 'one', 'a', 1],
      ['t2', 't1', 'two', 'b', 2],
      ['t3', 't1', 'three', 'c', 2]
    ],
    [
      { session_id: 'demo', turn: 't2', current: true },
      { session_id: 'side', turn: 't3', current: true }
    ]
  );
  data.heads[1].label = 'SIDE FROM PYTHON';
  data.texts = { stats: 'STATS FROM PYTHON', fork_labels: { ...R.FORK_LABELS, question: 'OTHER QUESTION {number}: {question}' } };
  R.render(el, data);
  assert.equal(all(el, '.vel-session-stats')[0].textContent, 'STATS FROM PYTHON');
  assert.equal(all(el, '.vel-ft-toggle-label')[0].textContent, 'OTHER QUESTION 2: three');
  assert.ok(all(el, '.vel-ft-toggle-info')[0].textContent.endsWith('SIDE FROM PYTHON'));
});

// ---------------------------------------------------------------------------------------
// After a kernel restart (issue 22, item 5): the tree offers to restore the notebook's sessions.

const K = await importBundle('kernel');
const turnOver = () => new Promise(r => setTimeout(r, 0));

test('kernel: a notebook file for %chat restore --notebook is one plain relative path ending in .ipynb', () => {
  for (const ok of ['nb.ipynb', 'Untitled 1.ipynb', 'Untitled(1).ipynb', 'a,b+c@d-e_f.ipynb', 'sub/dir/nb.ipynb', 'v1.2.ipynb']) {
    assert.equal(K.isNotebookFile(ok), true, ok);
  }
  for (const bad of [
    '', 'nb.py', 'nb.ipynb ', "it's.ipynb", 'a"b.ipynb', '{x}.ipynb', '$x.ipynb', 'a\\b.ipynb', 'a\nb.ipynb', 'a;b.ipynb',
    '../nb.ipynb', 'a/../nb.ipynb', './nb.ipynb', '/abs/nb.ipynb', 'a//nb.ipynb', '-x.ipynb', ' nb.ipynb', 'sub/-x.ipynb', 'ünï.ipynb', 'x'.repeat(250) + '.ipynb'
  ]) {
    assert.equal(K.isNotebookFile(bad), false, JSON.stringify(bad));
  }
});

test('kernel: the notebook file is found on the panel holding the session context, by name; a console has none', () => {
  const context = { kernelChanged: {} };
  const under = panel => ({ parent: { parent: panel } });
  assert.equal(K.notebookFileOf(under({ sessionContext: context, context: { path: 'work/sub/My nb (2).ipynb' } })), 'My nb (2).ipynb');
  assert.equal(K.notebookFileOf(under({ sessionContext: context, context: { path: 'RTC:work/nb.ipynb' } })), 'nb.ipynb', 'a drive prefix is dropped');
  assert.equal(K.notebookFileOf(under({ sessionContext: context, context: { path: "it's.ipynb" } })), null, 'a name we cannot quote');
  assert.equal(K.notebookFileOf(under({ sessionContext: context })), null, 'a console');
  assert.equal(K.notebookFileOf(under({ context: { path: 'x.ipynb' } })), null, 'no session context');
});

test('kernel: sessionsMissing reads %chat state; a kernel without %chat lacks them all', async () => {
  const kernelSaying = reply => ({
    requestExecute({ code }) {
      const future = { code, onIOPub: null };
      future.done = Promise.resolve().then(() => {
        if (reply instanceof Error) return { content: { status: 'error', evalue: reply.message } };
        future.onIOPub({ header: { msg_type: 'stream' }, content: { name: 'stdout', text: reply } });
        return { content: { status: 'ok' } };
      });
      this.sent = code;
      return future;
    }
  });
  const kernel = kernelSaying('{"sessions":{"demo":{"known":false},"alt":{"known":true,"head":"x"}}}\n');
  assert.deepEqual(await K.sessionsMissing(kernel, ['demo', 'alt', 'bad id{}']), ['demo']);
  assert.equal(kernel.sent, '%chat state demo alt', 'only safe ids are asked about');
  assert.deepEqual(await K.sessionsMissing(kernelSaying(new Error('Line magic function `%chat` not found.')), ['demo']), ['demo']);
  await assert.rejects(K.sessionsMissing(kernelSaying(new Error('boom')), ['demo']), /boom/);
  await assert.rejects(K.sessionsMissing(null, ['demo']), /no kernel connected/);
});

test('tree view: when the kernel lacks the followed session, it offers to restore the notebook\'s sessions, then acts', async () => {
  const el = host();
  const calls = [];
  let lacking = ['demo', 'alt'];
  let failRestore = true;
  const actions = {
    unavailable: () => '',
    checkout: async (sid, id) => (calls.push(['checkout', sid, id]), `'${sid}' now at message ${id}`),
    fork: async () => '',
    missing: async ids => (calls.push(['missing', ...ids]), lacking.filter(id => ids.includes(id))),
    restoreFrom: () => 'nb.ipynb',
    restore: async () => {
      calls.push(['restore']);
      if (failRestore) throw new Error('cannot restore from nb.ipynb: no such file\nTraceback …');
      lacking = [];
      return 'restored 2 sessions and 5 turns from nb.ipynb: demo, alt\n  session  server\n  demo     echo\n';
    }
  };
  const state = R.newTreeViewState();
  await R.render(el, familyTree({ commands: '%chat' }), { actions, state });
  all(el, '.vel-ft-node')[0].click();
  await turnOver();
  assert.deepEqual(calls[0], ['missing', 'alt', 'demo', 'from-turn-1'], "asked about the tree's sessions");
  const restore = all(el, '.vel-tree-restore')[0];
  assert.equal(restore.textContent, "Restore this notebook's sessions");
  assert.match(restore.getAttribute('title'), /%chat restore --notebook nb\.ipynb/);
  assert.equal(all(el, '.vel-tree-checkout')[0].disabled, true, 'continuing needs the session first');
  assert.match(all(el, '.vel-tree-checkout')[0].getAttribute('title'), /does not have demo, alt \(was it restarted\?\)/);
  assert.match(all(el, '.vel-tree-status')[0].textContent, /the kernel has no session demo, alt: .*nb\.ipynb/);
  // A failed restore says its one line, and can be tried again.
  restore.click();
  await turnOver();
  assert.equal(all(el, '.vel-tree-status')[0].textContent, 'cannot restore from nb.ipynb: no such file');
  assert.equal(restore.disabled, false);
  failRestore = false;
  restore.click();
  await turnOver();
  await turnOver();
  assert.equal(all(el, '.vel-tree-status')[0].textContent, 'restored 2 sessions and 5 turns from nb.ipynb: demo, alt');
  assert.equal(all(el, '.vel-tree-restore').length, 0, 'restored: the offer is gone');
  assert.equal(all(el, '.vel-tree-checkout')[0].disabled, false);
  all(el, '.vel-tree-checkout')[0].click();
  await turnOver();
  assert.deepEqual(calls.at(-1), ['checkout', 'demo', 't1-a']);
});

test('tree view: without a notebook file (a console) or when the kernel cannot say, the buttons stay as they were', async () => {
  for (const extra of [{ restoreFrom: () => null }, { missing: async () => { throw new Error('no'); } }]) {
    const el = host();
    const actions = {
      unavailable: () => '',
      checkout: async () => '',
      fork: async () => '',
      missing: async () => ['demo'],
      restoreFrom: () => 'nb.ipynb',
      restore: async () => '',
      ...extra
    };
    await R.render(el, familyTree({ commands: '%chat' }), { actions, state: R.newTreeViewState() });
    all(el, '.vel-ft-node')[0].click();
    await turnOver();
    assert.equal(all(el, '.vel-tree-restore').length, 0);
    assert.equal(all(el, '.vel-tree-checkout')[0].disabled, false);
  }
});

test('kernel: followTree draws the tree again in the kernel, silently, and follows its redraws until stopped', () => {
  const sent = [];
  let future;
  const kernel = {
    requestExecute(content, disposeOnDone) {
      sent.push([content, disposeOnDone]);
      future = { onIOPub: null, done: Promise.resolve(), disposed: false, dispose() { this.disposed = true; } };
      return future;
    }
  };
  const seen = [];
  const stop = K.followTree(kernel, 'rs', 'application/x-tree', data => seen.push(data.n));
  assert.deepEqual(sent, [[{ code: '%chat tree rs', silent: true, store_history: false }, false]], 'kept after done: updates by display id reach it');
  const msg = (type, data) => ({ header: { msg_type: type }, content: { data } });
  future.onIOPub(msg('display_data', { 'application/x-tree': { n: 1 }, 'text/plain': 'tree' }));
  future.onIOPub(msg('update_display_data', { 'application/x-tree': { n: 2 } }));
  future.onIOPub(msg('stream', { 'application/x-tree': { n: 3 } }));
  future.onIOPub(msg('display_data', { 'text/plain': 'other' }));
  assert.deepEqual(seen, [1, 2]);
  stop();
  assert.equal(future.disposed, true);
  K.followTree(kernel, "x'; import os", 'application/x-tree', () => {});
  assert.equal(sent.length, 1, 'an unusual id is not sent');
});
