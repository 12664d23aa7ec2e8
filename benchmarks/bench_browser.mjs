// Browser benchmark: what a notebook user sees, measured in a real JupyterLab with the
// system Chromium (playwright-core) and real kernels. Reported, never asserted.
//
//   make bench   (or: VEL_JUPYTER=.venv/bin/jupyter VEL_LABEXT_DIR=vel_jupyter/labextension \
//                      node benchmarks/bench_browser.mjs [--runs 5] [--baseline-runs 3]
//                      [--tokens 5000] [--turns 1000] [--baseline-timeout 240])
//
// (a) A 1,000-turn tree (a main line and 10 side branches, built in the kernel with
//     replace_history / checkout / add_message): the fork tree from running
//     `%chat tree` to the tree painted, a click on a turn, and opening everything; our
//     MIME renderer on the saved `%chat export` of the same session, through Lab's
//     rendermime, and the saved notebook opened with no kernel (incl. JupyterLab start-up).
// (b) A 5,000-token answer from a loopback server (python -m vel_jupyter._loopback
//     --words 5000): OURS (a plain `%%chat` cell, coalesced display updates) against
//     PER-TOKEN (the raw openai client and `handle.update(...)` on every token, the naive
//     approach): display messages and their bytes (counted on the page's kernel
//     connection), the last token shown, the time until the final text is shown, until
//     the last message arrives, until the cell is done. PER-TOKEN runs against JupyterLab
//     as shipped (its IOPub rate limits drop part of the updates) and, once, against a
//     second server with the limits off (every update arrives).
// Times are medians of the runs, measured in the page (performance.now) from running the
// cell; "÷ OURS" is the ratio of medians.
import { cpus, platform, arch } from 'node:os';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';

import * as H from '../labextension/ui-tests/harness.mjs';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'baseline-runs': { type: 'string', default: '3' },
    tokens: { type: 'string', default: '5000' },
    turns: { type: 'string', default: '1000' },
    'baseline-timeout': { type: 'string', default: '240' }
  }
});
const RUNS = Number(opts.runs);
const BASELINE_RUNS = Number(opts['baseline-runs']);
const TOKENS = Number(opts.tokens);
const TURNS = Number(opts.turns);
const BASELINE_TIMEOUT = Number(opts['baseline-timeout']) * 1000;
const LAST = `tok${TOKENS - 1}`;

const median = xs => {
  const s = xs.filter(x => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = x => (x === null ? 'n/a' : x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x).toLocaleString('en')} ms`);
const count = x => (x === null ? 'n/a' : Math.round(x).toLocaleString('en'));
const bytes = x => (x === null ? 'n/a' : x >= 1e6 ? `${(x / 1e6).toFixed(1)} MB` : `${(x / 1e3).toFixed(1)} kB`);
const ratio = (a, b) => (a === null || b === null || !b ? 'n/a' : `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}×`);
const table = (header, rows) => [header, header.map(() => '---'), ...rows].map(r => `| ${r.join(' | ')} |`).join('\n');

// TURNS turns: a main line and 10 one-turn side branches (a fork every 100 turns), built
// with replace_history / checkout / add_message; the main line is checked out.
const BUILD = `import vel_jupyter
from vel_jupyter import Message

thousand = vel_jupyter.registry().get("thousand", create=True)
side = 10
thousand.replace_history(
    m
    for i in range(${TURNS} - side)
    for m in (Message.user(f"question {i}: " + "lorem ipsum " * 5), Message.assistant(f"answer {i}: " + "dolor sit amet " * 8))
)
main_head, ids = thousand.head, [n.id for n in thousand.nodes]
for k in range(side):
    thousand.checkout(ids[2 * (${Math.floor(TURNS / 10)} * k + ${Math.floor(TURNS / 20)}) - 1])
    thousand.add_message(Message.user(f"side question {k}"))
    thousand.add_message(Message.assistant(f"side answer {k}"))
thousand.checkout(main_head)
print(len(thousand.to_dict()["messages"]), "messages,", len(thousand.branches), "branches")`;

// The naive approach: the raw client, and the whole text re-sent on every token.
const PER_TOKEN = `import openai
from IPython.display import display

client = openai.OpenAI()
handle = display({"text/markdown": "", "text/plain": ""}, raw=True, display_id=True)
text, updates = "", 0
for chunk in client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Go."}], stream=True
):
    if chunk.choices and chunk.choices[0].delta.content:
        text += chunk.choices[0].delta.content
        handle.update({"text/markdown": text, "text/plain": text}, raw=True)
        updates += 1`;

const CELLS = ['%load_ext vel_jupyter', BUILD, '%chat tree thousand', '%chat export thousand', '%%chat ours\nGo.', PER_TOKEN, 'print(f"{updates + 1:,}")'];
const [TREE, EXPORT, OURS, NAIVE] = [2, 3, 4, 5];

/**
 * Run cell i and measure, in the page, from the run until: `rows` rows matching `selector`
 * are in its output, `marker` is in its text, our renderer shows, and the cell is done
 * (then two animation frames, so what is measured has been laid out and painted). Counts
 * the display messages reaching the page's kernel connection meanwhile. Gives up when the
 * cell is done but the rest never shows (`settle` ms later), when no display message came
 * for `stall` ms while the cell is not done, or after `timeout` ms.
 */
function measure(page, path, i, { selector = null, rows = 0, marker = null, vel = false, timeout = 120000, settle = 3000, stall = 20000 }) {
  return page.evaluate(
    ([p, n, sel, want, mark, needVel, limit, settleMs, stallMs]) =>
      new Promise(resolve => {
        const V = window.__velui;
        const node = V.cell(p, n).node;
        const kernel = V.panelOf(p).sessionContext.session.kernel;
        const r = { rowsAt: null, markerAt: null, velAt: null, doneAt: null, messages: 0, bytes: 0, lastMessageAt: null, outcome: 'complete' };
        let start = null;
        const onMessage = (_, msg) => {
          const type = msg.header.msg_type;
          if (type === 'display_data' || type === 'update_display_data' || type === 'execute_result') {
            r.messages++;
            r.bytes += JSON.stringify(msg.content).length;
            r.lastMessageAt = performance.now() - start;
          }
        };
        kernel.iopubMessage.connect(onMessage);
        let finished = false;
        const finish = outcome => {
          if (finished) return;
          finished = true;
          r.outcome = outcome;
          observer.disconnect();
          requestAnimationFrame(() =>
            requestAnimationFrame(() => {
              kernel.iopubMessage.disconnect(onMessage);
              r.paintedAt = performance.now() - start;
              const area = node.querySelector('.jp-OutputArea');
              // The answer's text: our renderer's last assistant message, else the outputs.
              const answer = area?.querySelector('.vel-root .vel-role-assistant:last-of-type .vel-msg-content');
              const text = answer ? answer.textContent : [...(area?.querySelectorAll('.jp-OutputArea-output') ?? [])].map(o => o.textContent).join('\n');
              const last = [...text.matchAll(/\btok(\d+)\b/g)].reduce((m, x) => Math.max(m, Number(x[1])), -1);
              r.lastToken = last < 0 ? null : `tok${last}`;
              r.rateLimited = /IOPub (data|message) rate exceeded/.test(area?.textContent ?? '');
              resolve(r);
            })
          );
        };
        const check = () => {
          const area = node.querySelector('.jp-OutputArea');
          const t = performance.now() - start;
          if (area) {
            if (sel && r.rowsAt === null && area.querySelectorAll(sel).length >= want) r.rowsAt = t;
            if (mark && r.markerAt === null && area.textContent.includes(mark)) r.markerAt = t;
            if (needVel && r.velAt === null && area.querySelector('.vel-root:not(.vel-live)')) r.velAt = t; // the final view, not a live frame
          }
          if (V.runs[key]?.done && r.doneAt === null) r.doneAt = V.runs[key].ended - start;
          const shown = (!sel || r.rowsAt !== null) && (!mark || r.markerAt !== null) && (!needVel || r.velAt !== null);
          if (shown && r.doneAt !== null) finish('complete');
          else if (r.doneAt !== null && t - r.doneAt > settleMs) finish('done, never shown');
          else if (r.doneAt === null && t - (r.lastMessageAt ?? 0) > stallMs) finish('stalled');
          else if (t > limit) finish('timeout');
        };
        const observer = new MutationObserver(check);
        observer.observe(node, { subtree: true, childList: true, characterData: true });
        start = performance.now();
        const key = V.run(p, n);
        const poll = () => {
          if (finished) return;
          check();
          setTimeout(poll, 20); // the run's end is not a DOM change
        };
        poll();
      }),
    [path, i, selector, rows, marker, vel, timeout, settle, stall]
  );
}

async function treeWidget(page, path) {
  const ends = [];
  const selects = [];
  const expands = [];
  let first = 0;
  let all = 0;
  for (let run = 0; run < RUNS; run++) {
    // The tree is built in one go: its first row painted is all of the first view (side
    // branches collapsed, long runs shown by their ends).
    const r = await measure(page, path, TREE, { selector: '.vel-tree-view .vel-ft-node', rows: 1 });
    if (r.outcome !== 'complete') throw new Error(`the fork tree did not show: ${r.outcome}`);
    ends.push(r.paintedAt);
    const step = await page.evaluate(
      ([p, n]) =>
        new Promise(resolve => {
          const area = window.__velui.outputNode(p, n);
          const widget = area.querySelector('.vel-tree-view');
          const rows = widget.querySelectorAll('.vel-ft-node');
          const paint = then => requestAnimationFrame(() => requestAnimationFrame(then));
          // A click selects a turn: its messages and the checkout / fork actions.
          let start = performance.now();
          rows[rows.length >> 1].click();
          void area.offsetHeight;
          paint(() => {
            const select = performance.now() - start;
            // Then everything: every collapsed branch opened and every hidden run shown.
            start = performance.now();
            for (;;) {
              const closed = widget.querySelectorAll('.vel-ft-toggle[aria-expanded="false"], .vel-ft-more');
              if (!closed.length) break;
              closed.forEach(button => button.click());
            }
            void area.offsetHeight;
            paint(() =>
              resolve({ first: rows.length, select, expand: performance.now() - start, all: widget.querySelectorAll('.vel-ft-node').length })
            );
          });
        }),
      [path, TREE]
    );
    selects.push(step.select);
    expands.push(step.expand);
    first = step.first;
    all = step.all;
  }
  return { end: median(ends), select: median(selects), expand: median(expands), first, all };
}

async function rendererPure(page, path, data) {
  const times = [];
  let rows = 0;
  for (let run = 0; run < RUNS; run++) {
    const r = await page.evaluate(
      async ([p, d, mime]) => {
        const rm = window.__velui.panelOf(p).content.rendermime;
        const host = document.createElement('div');
        host.style.cssText = 'position:absolute;left:0;top:0;width:1200px;z-index:10000;background:white';
        document.body.appendChild(host);
        const renderer = rm.createRenderer(mime);
        const start = performance.now();
        await renderer.renderModel({ data: { [mime]: d }, metadata: {}, trusted: false, setData() {} });
        host.appendChild(renderer.node);
        void host.offsetHeight;
        await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
        const ms = performance.now() - start;
        const rows = host.querySelectorAll('.vel-ft-node').length;
        renderer.dispose();
        host.remove();
        return { ms, rows };
      },
      [path, data, H.SESSION_MIME]
    );
    times.push(r.ms);
    rows = r.rows;
  }
  return { ms: median(times), rows };
}

async function rendererOpen(browser, lab, path) {
  const shown = [];
  const ready = [];
  for (let run = 0; run < RUNS; run++) {
    const page = await H.newPage(browser);
    try {
      await page.goto(`${lab.base}lab/workspaces/bench${run}/tree/${path}`);
      // From navigation start: the notebook model loaded, then our renderer's tree painted.
      const r = await page.evaluate(
        p =>
          new Promise(resolve => {
            const r = { ready: null };
            const tick = () => {
              if (r.ready === null && window.__velui.ready(p)) r.ready = performance.now();
              if (document.querySelector('.jp-OutputArea .vel-root .vel-ft-node')) {
                requestAnimationFrame(() => resolve({ ...r, shown: performance.now() }));
              } else if (performance.now() > 120000) {
                resolve({ ...r, shown: null });
              } else requestAnimationFrame(tick);
            };
            tick();
          }),
        path
      );
      shown.push(r.shown);
      ready.push(r.ready);
    } finally {
      await page.context().close();
    }
  }
  return { shown: median(shown), ready: median(ready) };
}

/** Runs of a streaming cell; a run that does not complete ends the series. */
async function stream(page, path, cell, runs) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    const r = await measure(page, path, cell, { marker: LAST, vel: cell === OURS, timeout: BASELINE_TIMEOUT });
    r.finalAt = cell === OURS ? r.velAt : r.markerAt;
    results.push(r);
    H.log(
      `  run ${run + 1}: ${r.outcome}; ${r.messages} display messages (${bytes(r.bytes)}) reached the page, the last at ${ms(r.lastMessageAt)}; ` +
        `last token shown ${r.lastToken}; final text ${ms(r.finalAt)}; cell done ${ms(r.doneAt)}${r.rateLimited ? '; "IOPub data rate exceeded"' : ''}`
    );
    if (r.outcome === 'stalled' || r.outcome === 'timeout') break; // the page lost track of the kernel
  }
  const pick = k => median(results.map(x => x[k]));
  return {
    runs: results.length,
    outcome: [...new Set(results.map(x => x.outcome))].join(', '),
    rateLimited: results.some(x => x.rateLimited),
    lastToken: results.at(-1).lastToken,
    messages: pick('messages'),
    bytes: pick('bytes'),
    lastMessage: pick('lastMessageAt'),
    final: pick('finalAt'), // over the runs that showed it
    shown: results.filter(x => x.finalAt !== null).length,
    done: pick('doneAt'),
    finished: results.filter(x => x.doneAt !== null).length,
    painted: pick('paintedAt')
  };
}

async function main() {
  const started = Date.now();
  const v = H.versions();
  const url = await H.startLoopback({ words: TOKENS });
  const browser = await H.launchBrowser();
  const env = { OPENAI_BASE_URL: url, OPENAI_API_KEY: 'test' };
  // JupyterLab as users run it (default IOPub rate limits).
  const lab = await H.startLab({ root: H.tempRoot('vel-bench-'), env });
  const page = await H.newPage(browser);
  const path = 'bench.ipynb';
  await H.putNotebook(lab, path, H.notebook(CELLS.map(s => H.code(s))));
  await H.openNotebook(page, lab, path);
  for (const i of [0, 1]) await H.runCell(page, path, i, { timeout: 120000 });
  H.log(`session "thousand": ${(await H.outputText(page, path, 1)).trim()}`);

  H.log(`(a) fork tree, ${RUNS} runs`);
  const widget = await treeWidget(page, path);
  await H.runCell(page, path, EXPORT);
  await page.evaluate(p => window.__velui.panelOf(p).context.save(), path);
  const saved = await H.getNotebook(lab, path);
  const exportOutput = saved.cells[EXPORT].outputs[0];
  const exportPath = 'export-1000.ipynb';
  await H.putNotebook(lab, exportPath, H.notebook([H.code('%chat export thousand', [exportOutput])], { kernel: null }));
  H.log(`(a) MIME renderer, ${RUNS} runs each`);
  const pure = await rendererPure(page, path, exportOutput.data[H.SESSION_MIME]);
  const open = await rendererOpen(browser, lab, exportPath);

  H.log(`(b) ${TOKENS}-token answer, OURS, ${RUNS} runs`);
  const ours = await stream(page, path, OURS, RUNS);
  H.log(`(b) ${TOKENS}-token answer, PER-TOKEN, ${BASELINE_RUNS} runs`);
  const naive = await stream(page, path, NAIVE, BASELINE_RUNS);
  const sent = (await H.runCell(page, path, NAIVE + 1), (await H.outputText(page, path, NAIVE + 1)).trim());
  await page.context().close();
  await lab.stop();

  // The same PER-TOKEN cell with the server's IOPub rate limits off: what it costs when
  // nothing stops it. One run: when the page loses messages it never sees the cell end.
  H.log(`(b) ${TOKENS}-token answer, PER-TOKEN, server rate limits off, 1 run`);
  const free = await H.startLab({ root: H.tempRoot('vel-bench-'), env, args: ['--ZMQChannelsWebsocketConnection.limit_rate=False'] });
  const page2 = await H.newPage(browser);
  await H.putNotebook(free, path, H.notebook(['', PER_TOKEN].map(s => H.code(s))));
  await H.openNotebook(page2, free, path);
  const unlimited = await stream(page2, path, 1, 1);
  await page2.context().close();
  await H.stopAll();

  const cpu = cpus();
  const command = process.env.VEL_BENCH_COMMAND ?? ['node', relative(process.cwd(), process.argv[1]), ...process.argv.slice(2)].join(' ');
  const out = [];
  out.push('## vel_jupyter browser benchmark\n');
  out.push(
    `- Environment: ${v.chromium} (headless), playwright-core ${v.playwright}, node ${v.node}, JupyterLab ${v.jupyterlab}, ipykernel ${v.ipykernel}, anywidget ${v.anywidget}; ` +
      `${cpu.length} CPUs (${cpu[0]?.model?.trim() ?? '?'}), ${platform()} ${arch()}`
  );
  out.push(`- Command: \`${command}\``);
  out.push(`- Medians of ${RUNS} runs; times measured in the page from running the cell (for "open": from navigation start) to painted.\n`);
  out.push(`### (a) A ${TURNS.toLocaleString('en')}-turn tree (11 branches)\n`);
  out.push(
    table(
      ['what', 'rows drawn', 'median'],
      [
        [`fork tree: \`%chat tree\` run → tree painted`, count(widget.first), ms(widget.end)],
        ['fork tree: click a turn → its messages and actions painted', count(widget.first), ms(widget.select)],
        ['fork tree: open every fold and run → all rows painted', count(widget.all), ms(widget.expand)],
        ['MIME renderer: render the saved `%chat export` (Lab rendermime, renderModel → painted)', count(pure.rows), ms(pure.ms)],
        ['MIME renderer: open the saved notebook, no kernel → tree painted', count(pure.rows), ms(open.shown)],
        ['… of which JupyterLab start → notebook loaded', '', ms(open.ready)]
      ]
    )
  );
  out.push(`\n### (b) A ${TOKENS.toLocaleString('en')}-token answer: OURS (\`%%chat\`) vs PER-TOKEN (raw openai client, \`handle.update\` on every token)\n`);
  // Each row: OURS, then each PER-TOKEN variant with its ratio to OURS.
  const row = (name, get, fmt, withRatio = true) => [
    name,
    fmt(get(ours), ours),
    ...[naive, unlimited].flatMap(c => [fmt(get(c), c), withRatio ? ratio(get(c), get(ours)) : ''])
  ];
  const some = (value, c, n, what) => (n === 0 ? `**never**` : n < c.runs ? `${ms(value)} (${what} in ${n} of ${c.runs} runs)` : ms(value));
  const rows = [
    row('display messages sent by the kernel', c => (c === ours ? ours.messages : TOKENS + 1), count),
    row('display messages that reached the page', c => c.messages, count),
    row('bytes of those messages (JSON)', c => c.bytes, bytes),
    row('last token shown (last run)', c => c.lastToken, x => `\`${x}\``, false),
    row(`time until the final text (\`${LAST}\`) is shown`, c => c.final, (x, c) => some(x, c, c.shown, 'shown')),
    row('time until the last display message reached the page', c => c.lastMessage, ms),
    row('time until the cell is done', c => c.done, (x, c) => some(x, c, c.finished, 'done')),
    row('outcome', c => c.outcome + (c.rateLimited ? ' ("IOPub … rate exceeded")' : ''), x => x, false)
  ];
  out.push(table(['median', 'OURS', `PER-TOKEN (${naive.runs} runs)`, '÷ OURS', `PER-TOKEN, server rate limits off (${unlimited.runs} run)`, '÷ OURS'], rows));
  out.push(`\nKernel-side count of PER-TOKEN's display messages (printed by the kernel): ${sent}.`);
  out.push(
    `\nOURS' final output is our renderer's (\`.vel-root\`), after the coalesced Markdown view; PER-TOKEN's is its last update. ` +
      `"IOPub … rate exceeded": jupyter_server's default limits (1,000 msgs/s, 1 MB/s over 3 s) dropped updates; ` +
      `"done, never shown": the cell finished but its last updates were among them; "stalled": no message for 20 s and the cell never finished in the page. ` +
      `_Took ${((Date.now() - started) / 1000).toFixed(0)} s; reported, not asserted._`
  );
  console.log(`\n${out.join('\n')}`);
}

main().catch(async e => {
  console.error(e);
  await H.stopAll();
  process.exit(1);
});
