// Browser tests: one real `jupyter lab` (kernels talk to loopback OpenAI-compatible
// servers), the system Chromium through playwright-core, real ipykernel kernels.
//
//   VEL_JUPYTER=/path/to/venv/bin/jupyter VEL_LABEXT_DIR=/repo/vel_jupyter/labextension \
//     node --test-reporter=spec ui.test.mjs
//   (add --test-name-pattern=saved for the no-kernel tests only; see harness.mjs for the
//   other variables; VEL_SCREENSHOTS=1 writes pictures to test-results/)
//
// Scenarios: a live %%chat cell streams and ends in our renderer; a saved notebook renders
// with no kernel; hostile model output stays inert everywhere it is shown, and makes the
// browser fetch nothing (a recording server on loopback sees no request); the fork-tree
// widget forks a session and, saved, shows its last state with no kernel; a 5,000-token
// answer arrives whole. The run ends with the line
// "ui-test: N passed, N failed" (then node's own summary).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  closeSessions,
  code,
  getNotebook,
  here,
  kernelsOf,
  launchBrowser,
  log,
  newPage,
  notebook,
  openNotebook,
  outputOf,
  putNotebook,
  python,
  runCell,
  startCell,
  startLab,
  startLoopback,
  startRecorder,
  stopAll,
  tempRoot,
  versions,
  waitRun
} from './harness.mjs';

const TREE_MIME = 'application/vnd.vel.tree+json';
const SLOW_WORDS = 300; // streamed at 20 ms a word: ~6 s, so the answer visibly grows
const BIG_WORDS = 5000;
const words = n => Array.from({ length: n }, (_, i) => `tok${i}`).join(' ');
// Every way model text could try to become live markup in a notebook.
const HOSTILE = [
  'Sure! <img src=x onerror=window.__pwned=1>',
  '<script>window.__pwned=2</script>',
  '[x](javascript:window.__pwned=3)',
  '<a href="javascript:window.__pwned=4">click me</a>',
  '<iframe src="javascript:window.__pwned=5"></iframe>',
  '<svg onload=window.__pwned=6></svg>',
  '[y](JaVaScRiPt:window.__pwned=7) <javascript:window.__pwned=8>',
  '**done**'
].join(' ');
// Model HTML that names the recording server `r` in every way we know to make a browser
// fetch (issue 19); each path says which way. Blank lines keep each HTML block apart for
// the Markdown parser; the words and the code block must still read well.
const fetchingAnswer = r =>
  [
    'Here is the answer, **in bold**, with its HTML.',
    `<span style="background-image:url(${r}/style-background-image?secret=s3cr3t)">styled span</span>`,
    `<div style="background:url('${r}/style-background')">styled div</div>`,
    `<ul style="list-style-image:url(${r}/style-list-style-image)"><li style="list-style:url(${r}/style-list-style)">listed item</li></ul>`,
    `<div style="cursor:url(${r}/style-cursor),auto;border-image:url(${r}/style-border-image) 30 round;border:5px solid">bordered</div>`,
    `<div style="position:absolute;top:0;left:0;width:100%;height:100%;z-index:1000;background:#fff" class="jp-Dialog">FAKE OVERLAY</div>`,
    `<img src="${r}/img-src" alt="tracking pixel"> <img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" srcset="${r}/img-srcset 2x" alt="dot">`,
    `<picture><source srcset="${r}/picture-source"><img src="${r}/picture-img" alt="pic"></picture>`,
    `<svg width="20" height="20"><image href="${r}/svg-image" width="20" height="20"/><image xlink:href="${r}/svg-xlink-image"/><use href="${r}/svg-use#x"/><filter id="f"><feImage href="${r}/svg-feimage"/></filter><rect width="5" height="5" filter="url(#f)" fill="url(${r}/svg-fill)"/></svg>`,
    `<link rel="stylesheet" href="${r}/link-stylesheet"><link rel="preload" as="image" href="${r}/link-preload">`,
    `<style>@import url(${r}/style-import); .jp-Notebook { background: url(${r}/style-rule) }</style>`,
    `<meta http-equiv="refresh" content="0;url=${r}/meta-refresh">`,
    `<base href="${r}/base/"><a href="relative-after-base">relative link</a>`,
    `<video poster="${r}/video-poster" src="${r}/video-src" autoplay></video><audio src="${r}/audio-src" autoplay></audio>`,
    `<iframe src="${r}/iframe"></iframe><object data="${r}/object"></object><embed src="${r}/embed">`,
    `<table background="${r}/table-background"><tr><td background="${r}/td-background">cell</td></tr></table>`,
    `<input type="image" src="${r}/input-image" alt="input">`,
    `<form action="${r}/form"><button formaction="${r}/formaction" data-commandlinker-command="help:about">Submit</button></form>`,
    `<a href="${r}/link-click" ping="${r}/ping">a plain link</a> and ![markdown image](${r}/markdown-image)`,
    `Math: $\\style{background-image:url(${r}/mathjax-style)}{x} + \\href{${r}/mathjax-href}{y}$ and $\\unicode[Arial; src:url(${r}/mathjax-font)]{x41}$.`,
    '```python\nimport os\n\ndef size(path):\n    return os.path.getsize(path)  # bytes\n```',
    `\`\`\`mermaid\nflowchart TD\n  A@{ img: "${r}/mermaid-image-shape", label: "pic", pos: "t", h: 60 } --> B["<img src='${r}/mermaid-label-img'> label"]\n\`\`\``,
    'The end.'
  ].join('\n\n');

// A Markdown-rich answer, as models write them (issue 11's screenshots).
const RICH = [
  '## Grouping in pandas',
  '',
  '**Split** the rows by a key, *apply* a function to each group, then ~~guess~~ **combine** the results:',
  '',
  '1. `df.groupby("city")` splits,',
  '2. an aggregation such as `.sum()` applies and combines.',
  '',
  '```python',
  'import pandas as pd',
  '',
  'df = pd.DataFrame({"city": ["Lima", "Oslo", "Lima"], "sales": [3, 5, 4]})',
  'totals = df.groupby("city")["sales"].sum()  # Lima 7, Oslo 5',
  '```',
  '',
  '| city | sales |',
  '|------|------:|',
  '| Lima | 7 |',
  '| Oslo | 5 |',
  '',
  'See [the pandas user guide](https://pandas.pydata.org/docs/user_guide/groupby.html); the mean is $\\bar{x} = \\frac{1}{n}\\sum_i x_i$.'
].join('\n');

const STALE = 'not asked on this branch — run the cell to ask it here';

let lab;
let browser;
let urls;
let recorder;
let fixture;
let setupError = null;
let scenarios = 0;
let started = 0;
let passed = 0;

before(async () => {
  const v = versions();
  log(`node ${v.node}, playwright-core ${v.playwright}, ${v.chromium}, jupyterlab ${v.jupyterlab}, ipykernel ${v.ipykernel}, anywidget ${v.anywidget}`);
  try {
    const root = tempRoot('vel-ui-');
    fixture = join(root, 'fixture.ipynb');
    // A fresh fixture every run, written by the real engine (make_fixture.py).
    const fixtureDone = new Promise((ok, fail) => {
      const proc = spawn(python, [join(here, 'make_fixture.py'), fixture], { stdio: ['ignore', 'inherit', 'inherit'] });
      proc.once('error', fail);
      proc.once('exit', code => (code === 0 ? ok() : fail(new Error(`make_fixture.py exited with ${code}`))));
    });
    recorder = await startRecorder();
    const [slow, hostile, big, echo, rich, fetching] = await Promise.all([
      startLoopback({ words: SLOW_WORDS, delay: 0.02 }),
      startLoopback({ text: HOSTILE, delay: 0.1 }),
      startLoopback({ words: BIG_WORDS }),
      startLoopback(), // "Echo: <the prompt>", at once
      startLoopback({ text: RICH, delay: 0.04 }),
      startLoopback({ text: fetchingAnswer(recorder.url), delay: 0.01 })
    ]);
    urls = { slow, hostile, big, echo, rich, fetching };
    // Kernels started by this server use the openai provider against the slow server;
    // cells reach the others with --base-url.
    [lab, browser] = await Promise.all([
      startLab({ root, env: { OPENAI_BASE_URL: slow, OPENAI_API_KEY: 'test' } }),
      launchBrowser(),
      fixtureDone
    ]);
    log(`jupyter lab on ${lab.base}; loopback servers ${JSON.stringify(urls)}`);
  } catch (e) {
    setupError = e;
    throw e;
  }
});

after(async () => {
  await stopAll();
  if (setupError) console.log(`ui-test: setup failed: ${setupError.message}`);
  console.log(`ui-test: ${passed} passed, ${(setupError ? scenarios : started) - passed} failed`);
});

/** A test with its own page; the page is closed and its notebooks' kernels stopped after. */
function scenario(name, fn, timeout = 150000) {
  scenarios++;
  test(name, { timeout }, async () => {
    started++;
    const page = await newPage(browser);
    const paths = [];
    const t = Date.now();
    try {
      await fn(page, paths);
      if (page.velConsole.length) log(`console errors (not failures):\n  ${page.velConsole.join('\n  ')}`);
      assert.deepEqual(page.velErrors, [], 'no uncaught errors in the page');
      passed++;
      log(`ok: ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    } catch (e) {
      if (process.env.VEL_SCREENSHOTS || process.env.CI) {
        mkdirSync(join(here, 'test-results'), { recursive: true });
        await page.screenshot({ path: join(here, 'test-results', `failed-${started}.png`), fullPage: true }).catch(() => {});
      }
      log(`FAILED: ${name}: ${e.message}\n--- server log (tail) ---\n${lab.output().split('\n').slice(-25).join('\n')}`);
      throw e;
    } finally {
      await page.context().close();
      for (const path of paths) await closeSessions(lab, path).catch(() => {});
    }
  });
}

/** Write a notebook of code cells, open it with a running kernel, run %load_ext in cell 0. */
async function liveNotebook(page, paths, name, sources) {
  const path = `${name}.ipynb`;
  paths.push(path);
  await putNotebook(lab, path, notebook(['%load_ext vel_jupyter', ...sources].map(s => code(s))));
  await openNotebook(page, lab, path);
  await runCell(page, path, 0);
  return path;
}

const watch = (page, path, i, options = {}) => page.evaluate(([p, n, o]) => window.__velui.watch(p, n, o), [path, i, options]);
const record = (page, key) => page.evaluate(k => {
  const { stop, ...rest } = window.__velui.watches[k];
  return rest;
}, key);
// Our final view (a live frame is `.vel-root.vel-live`).
const waitVel = (page, path, i, timeout = 90000) =>
  page.waitForFunction(([p, n]) => !!window.__velui.outputNode(p, n).querySelector('.vel-root:not(.vel-live)'), [path, i], { timeout, polling: 50 });
const answerOf = async (page, i) => (await outputOf(page, i).locator('.vel-root .vel-role-assistant .vel-msg-content').last().textContent()).trim();
const unsafeIn = (page, selector) => page.evaluate(s => [...document.querySelectorAll(s)].flatMap(el => window.__velui.unsafe(el)), selector);
// Elements the hostile text names that must never be made from it, inside the rendered
// outputs of cell i (Lab's own prompt and collapse icons are outside them). Markdown is
// rendered (JupyterLab's renderer and sanitizer in our extension): an <a> or <b> of the
// model's may be shown, but never an image, a script, a frame or an SVG, and links only
// to http(s)/mailto.
const madeOf = (page, i) =>
  outputOf(page, i)
    .locator('.jp-OutputArea-output')
    .locator('img, script, iframe, svg, object, embed, a[href]:not([href^="http:"]):not([href^="https:"]):not([href^="mailto:"])')
    .evaluateAll(els => els.map(e => e.outerHTML.slice(0, 200)));
/** Screenshot `locator` to test-results/NAME.png (kept with the test run's output). */
async function shot(locator, name) {
  mkdirSync(join(here, 'test-results'), { recursive: true });
  await locator.scrollIntoViewIfNeeded();
  await locator.screenshot({ path: join(here, 'test-results', `${name}.png`) });
  log(`screenshot: test-results/${name}.png`);
}
/** Screenshot cells `from`..`to` (inputs and outputs) of the open notebook to test-results/NAME.png. */
async function shotCells(page, from, to, name) {
  mkdirSync(join(here, 'test-results'), { recursive: true });
  const cells = page.locator('.jp-Notebook .jp-Cell');
  await cells.nth(from).scrollIntoViewIfNeeded();
  const a = await cells.nth(from).boundingBox();
  const b = await cells.nth(to).boundingBox();
  const clip = { x: a.x, y: a.y, width: Math.max(a.width, b.width), height: b.y + b.height - a.y };
  await page.screenshot({ path: join(here, 'test-results', `${name}.png`), clip });
  log(`screenshot: test-results/${name}.png`);
}
const unsafeOf = (page, path, i) => page.evaluate(([p, n]) => window.__velui.unsafe(window.__velui.outputNode(p, n)), [path, i]);
const pwned = page => page.evaluate(() => [window.__pwned, document.body.dataset.pwned]);

/**
 * Save the notebook at `path`, write it as `savedPath` with no kernel, open it in a new page
 * and run `read(reader)` there (`keep`: which cells to keep). The page is closed after.
 */
async function readSaved(page, paths, server, path, savedPath, read, keep = null) {
  await page.evaluate(p => window.__velui.panelOf(p).context.save(), path);
  const saved = await getNotebook(server, path);
  saved.metadata = notebook([], { kernel: null }).metadata;
  if (keep) saved.cells = saved.cells.slice(0, keep);
  paths.push(savedPath);
  await putNotebook(server, savedPath, saved);
  const reader = await newPage(browser);
  try {
    await openNotebook(reader, server, savedPath, { kernel: false });
    await read(reader);
    assert.deepEqual([...reader.velErrors, ...reader.velDialogs], []);
  } finally {
    await reader.context().close();
  }
}

function increases(lengths) {
  let n = 0;
  for (let i = 1; i < lengths.length; i++) if (lengths[i] > lengths[i - 1]) n++;
  return n;
}

scenario('live %%chat: the answer streams in, then our renderer shows all of it', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'live', ['%%chat live\nTell me a long story.']);
  const key = await watch(page, path, 1);
  const run = await runCell(page, path, 1);
  await waitVel(page, path, 1);
  const rec = await record(page, key);
  log(`streamed: ${rec.streamingSnapshots} streaming states (lengths ${rec.lengths.slice(0, 8).join(', ')}, ... ${rec.lengths.at(-1)}), cell took ${(run.ms / 1000).toFixed(1)} s`);
  assert.ok(increases(rec.lengths) >= 2, `the output grew at least twice before the end: ${rec.lengths}`);
  assert.ok(rec.liveOurs >= 2, `our renderer drew the stream: ${rec.liveOurs} of ${rec.streamingSnapshots} states`);
  assert.equal(await outputOf(page, 1).locator('.vel-live').count(), 0, 'the live view was replaced by the final output');
  assert.equal(await outputOf(page, 1).locator('.jp-OutputArea-output').count(), 1, 'one output');
  assert.equal(await answerOf(page, 1), words(SLOW_WORDS));
  const finalLength = (await outputOf(page, 1).textContent()).length;
  assert.ok(rec.lengths.every(l => l <= finalLength), `no streaming state was longer than the final output (${finalLength})`);
  const footer = await outputOf(page, 1).locator('.vel-turn-footer').textContent();
  assert.match(footer, /live/, 'the footer names the session');
});

scenario('saved notebook with turns and a %chat export renders with no kernel', async (page, paths) => {
  const path = 'saved.ipynb';
  paths.push(path);
  const nb = JSON.parse(readFileSync(fixture, 'utf8'));
  nb.metadata = notebook([], { kernel: null }).metadata; // no such kernel: opens with none
  await putNotebook(lab, path, nb);
  const t = Date.now();
  await openNotebook(page, lab, path, { kernel: false });
  // 2 turns, a session, a %chat export and a 1,000-turn session: all rendered by us.
  await page.waitForFunction(() => document.querySelectorAll('.jp-OutputArea-output .vel-root').length === 5, null, { timeout: 60000 });
  log(`5 vel outputs rendered ${((Date.now() - t) / 1000).toFixed(1)} s after navigation`);
  const report = await page.evaluate(() => {
    const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
    const sessions = document.querySelectorAll('.vel-session');
    return {
      ours: outputs.filter(o => o.querySelector('.vel-root')).length,
      markdownFallback: outputs.filter(o => o.classList.contains('jp-RenderedMarkdown')).length,
      turns: document.querySelectorAll('.vel-turn').length,
      sessions: sessions.length,
      toolCalls: document.querySelectorAll('.vel-turn details.vel-tool-call').length,
      markers: [...document.querySelectorAll('.vel-turn .vel-branch-marker')].map(e => e.textContent),
      treeNodes: [...sessions].map(s => s.querySelectorAll('.vel-ft-node').length),
      elements: document.querySelectorAll('.vel-root img, .vel-root script, .vel-root iframe, .vel-root svg').length,
      links: [...document.querySelectorAll('.vel-root a[href]')].map(a => a.getAttribute('href')),
      hostileTextShown: [...document.querySelectorAll('.vel-msg-content')].some(e => e.textContent.includes('a link') && e.textContent.includes('bold?')),
      bigMsgs: sessions[2]?.querySelectorAll('.vel-msg').length ?? -1,
      kernelName: document.querySelector('.jp-Toolbar-kernelName')?.textContent ?? null
    };
  });
  log('page report', JSON.stringify(report));
  assert.equal(report.ours, 5, 'every output rendered by vel-jupyter');
  assert.equal(report.markdownFallback, 0);
  assert.equal(report.turns, 2);
  assert.equal(report.sessions, 3);
  assert.ok(report.toolCalls >= 1, 'a tool call is shown');
  // Footers say only what helps: no "branch k of n" (a cell with several answers has its ‹ k/n ›).
  assert.deepEqual(report.markers, [], `branch markers ${report.markers}`);
  assert.ok(report.treeNodes.every(n => n > 0), `every session draws its fork tree: ${report.treeNodes}`);
  assert.equal(report.bigMsgs, 50, 'the long transcript shows its last 50 messages');
  assert.equal(report.elements, 0, 'no img, script, iframe or svg inside our outputs');
  assert.ok(report.links.every(h => /^(https?:|mailto:|#)/.test(h)), `links only to http(s), mailto or the page: ${report.links}`);
  assert.ok(report.hostileTextShown, 'hostile text is shown as text');
  assert.deepEqual(await unsafeIn(page, '.jp-OutputArea'), []);
  assert.deepEqual(await pwned(page), [undefined, undefined]);
  assert.deepEqual(await kernelsOf(lab, path), [], 'no kernel was started');
  // The fixture's answers are the offline echo provider's: each says so, above the answer.
  const badge = page.locator('.vel-turn .vel-echo-badge').first();
  assert.equal(await badge.textContent(), 'offline echo — set OPENAI_API_KEY or --base-url to use a model');
  assert.ok(await badge.isVisible());
  await shot(page.locator('.jp-OutputArea-output:has(.vel-turn)').first(), 'echo-badge');

  // Branch navigation in the first full session switches the transcript.
  const session = page.locator('.vel-session').first();
  const before = await session.locator('.vel-branch-marker').textContent();
  await session.locator('.vel-branch-prev').click();
  await page.waitForFunction(b => document.querySelector('.vel-session .vel-branch-marker').textContent !== b, before);
  log(`branch nav: "${before}" -> "${await session.locator('.vel-branch-marker').textContent()}"`);
  // The 1,000-turn session: open a collapsed branch, show a hidden run, switch branch.
  const big = page.locator('.vel-session').nth(2);
  const rows = await big.locator('.vel-ft-node').count();
  await big.locator('.vel-ft-toggle').first().click();
  await big.locator('.vel-ft-toggle[aria-expanded="true"]').first().waitFor();
  await big.locator('.vel-ft-more').first().click();
  await page.waitForFunction(n => document.querySelectorAll('.vel-session')[2].querySelectorAll('.vel-ft-node').length > n, rows);
  const expanded = await big.locator('.vel-ft-node').count();
  const marker = await big.locator('.vel-branch-marker').textContent();
  await big.locator('.vel-branch-select').selectOption('0');
  await page.waitForFunction(m => document.querySelectorAll('.vel-session')[2].querySelector('.vel-branch-marker').textContent !== m, marker);
  log(`1,000-turn session: ${rows} tree rows at first, ${expanded} after expanding; "${marker}" -> "${await big.locator('.vel-branch-marker').textContent()}"`);
  if (process.env.VEL_SCREENSHOTS) {
    mkdirSync(join(here, 'test-results'), { recursive: true });
    const outputs = page.locator('.jp-OutputArea-output:has(.vel-root)');
    for (let i = 0; i < (await outputs.count()); i++) {
      await outputs.nth(i).scrollIntoViewIfNeeded();
      await outputs.nth(i).screenshot({ path: join(here, 'test-results', `output-${i}.png`) });
    }
  }
  assert.deepEqual(page.velDialogs, []);
});

scenario('hostile model output stays inert: streaming, final output, tree widget, saved notebook', async (page, paths) => {
  const control =
    'from IPython.display import HTML, Markdown, display\n' +
    'display(Markdown("[x](javascript:window.__control=2)"), HTML("<img src=x onerror=window.__control=1>"))';
  const path = await liveNotebook(page, paths, 'hostile', [`%%chat evil --base-url ${urls.hostile}\nSay something.`, '%chat tree evil', control]);
  // Control: in a trusted output, a javascript: link in Markdown stays a live link and an
  // <img onerror> in HTML runs (its src=x also logs a 404); the checks below see both.
  await runCell(page, path, 3);
  await page.waitForFunction(() => window.__control === 1, null, { timeout: 10000 });
  assert.deepEqual(await unsafeOf(page, path, 3), ['<a href="javascript:window.__control=2">', '<img onerror>']);
  const key = await watch(page, path, 1, { keep: true });
  await runCell(page, path, 1);
  await waitVel(page, path, 1);
  const rec = await record(page, key);
  const hostileStates = rec.texts.filter(t => t.includes('Sure!')).length;
  log(`streaming: ${rec.streamingSnapshots} states checked (${rec.liveOurs} drawn by us), ${hostileStates} of them showing hostile text`);
  assert.ok(hostileStates >= 2, 'the hostile text was checked while it streamed');
  assert.deepEqual(rec.unsafe, [], 'no live markup while streaming');
  // The final output: our renderer, the Markdown rendered and sanitized.
  const answer = await answerOf(page, 1);
  assert.ok(answer.startsWith('Sure!') && answer.includes('click me'), answer);
  assert.equal(await outputOf(page, 1).locator('.vel-msg-content strong', { hasText: 'done' }).count(), 1, '**done** is bold');
  assert.deepEqual(await unsafeOf(page, path, 1), [], 'no live markup in the final output');
  assert.deepEqual(await madeOf(page, 1), [], 'no element made from model text');

  // The fork tree: the row and the selected turn below it.
  await runCell(page, path, 2);
  const tree = outputOf(page, 2);
  await tree.locator('.vel-tree-view .vel-ft-node').first().waitFor({ timeout: 60000 });
  assert.match(await tree.locator('.vel-ft-node .vel-ft-a').first().textContent(), /^Sure! <img src=x onerror=/, 'the row shows the text, as text');
  await tree.locator('.vel-tree-view .vel-ft-node').first().click();
  const text = tree.locator('.vel-tree-detail .vel-role-assistant .vel-msg-content');
  await text.waitFor();
  await tree.locator('.vel-tree-detail .vel-role-assistant .vel-msg-content strong', { hasText: 'done' }).waitFor();
  assert.ok((await text.textContent()).includes('click me'));
  assert.deepEqual(await unsafeOf(page, path, 2), [], 'no live markup in the tree');
  assert.deepEqual(await madeOf(page, 2), [], 'no element made from model text in the tree');
  assert.deepEqual(await pwned(page), [undefined, undefined]);
  assert.deepEqual(page.velDialogs, []);

  // The same notebook saved, reopened with no kernel: our renderer on the saved output.
  await readSaved(page, paths, lab, path, 'hostile-saved.ipynb', async reader => {
    await reader.locator('.jp-OutputArea .vel-root').first().waitFor({ timeout: 60000 });
    assert.equal(await answerOf(reader, 1), answer);
    await outputOf(reader, 2).locator('.vel-tree-view .vel-ft-node').first().click({ timeout: 30000 });
    await outputOf(reader, 2).locator('.vel-transcript .vel-role-assistant .vel-msg-content strong', { hasText: 'done' }).waitFor();
    assert.ok((await outputOf(reader, 2).locator('.vel-transcript .vel-role-assistant .vel-msg-content').textContent()).includes('click me'));
    assert.deepEqual(await unsafeIn(reader, '.jp-OutputArea'), [], 'no live markup in the saved notebook (turn and tree)');
    assert.deepEqual(await madeOf(reader, 1), []);
    assert.deepEqual(await pwned(reader), [undefined, undefined]);
  }, 3); // without the control
});

/** What our pass left of a rendered answer: its words, highlighting, and anything styled, classed or fetching. */
const answerReport = locator =>
  locator.evaluate(el => {
    const ours = [...el.querySelectorAll('*')].filter(e => !e.closest('mjx-container')); // MathJax styles its own output
    const spans = [...el.querySelectorAll('pre span')].filter(s => /ͼ/.test(s.className));
    const overlay = [...el.querySelectorAll('div')].find(d => d.textContent.trim() === 'FAKE OVERLAY');
    return {
      text: el.innerText,
      highlighted: spans.length,
      colours: new Set(spans.map(s => getComputedStyle(s).color)).size,
      styled: ours.filter(e => e.hasAttribute('style')).map(e => e.outerHTML.slice(0, 120)),
      classes: [...new Set(ours.flatMap(e => [...e.classList]))],
      overlay: overlay ? getComputedStyle(overlay).position : null,
      fetching: ours.filter(e => e.matches('img, svg, picture, source, video, audio, iframe, object, embed, link, style, meta, base, form, input[type=image], [srcset], [background], [poster]')).map(e => e.outerHTML.slice(0, 120))
    };
  });

scenario('model HTML makes the browser fetch nothing: live, final, %chat tree, %chat export, saved with no kernel', async (page, paths) => {
  const r = recorder.url;
  // Control (run last): a trusted HTML output with the same CSS does fetch, so the recorder hears the page.
  const control = `from IPython.display import HTML, display\ndisplay(HTML('<span style="background-image:url(${r}/control)">control</span>'))`;
  const path = await liveNotebook(page, paths, 'fetches', [`%%chat leak --base-url ${urls.fetching}\nAnswer with HTML.`, '%chat tree leak', '%chat export leak', control]);
  recorder.hits.length = 0;
  /** Give the page time to fetch whatever it would, then check that it fetched nothing. */
  const nothingFetched = async (where, on = page) => {
    await on.waitForTimeout(1500);
    assert.deepEqual(recorder.hits, [], `${where}: the page fetched URLs from model text`);
    log(`${where}: no request reached the recorder`);
  };
  const assertReads = (report, where) => {
    const about = `${where}: ${JSON.stringify({ ...report, text: report.text.slice(0, 200) })}`;
    const words = ['in bold', 'styled span', 'listed item', 'bordered', 'FAKE OVERLAY', 'image: tracking pixel', 'image: dot', 'a plain link', 'import os', 'flowchart TD', 'The end.'];
    for (const word of words) {
      assert.ok(report.text.includes(word), `"${word}" is shown: ${about}`);
    }
    assert.ok(report.highlighted >= 3 && report.colours >= 2, `the code is highlighted: ${about}`);
    assert.deepEqual(report.styled, [], `no style attribute: ${about}`);
    assert.ok(report.classes.every(c => /^ͼ[0-9a-z]+$/.test(c) || /^vel-code-(box|tools|copy|insert)$/.test(c)), `only the highlighter's classes (and our code box's): ${about}`);
    assert.equal(report.overlay, 'static', `the "overlay" is in the flow: ${about}`);
    assert.deepEqual(report.fetching, [], `nothing that fetches: ${about}`);
  };

  // Live and final.
  const key = await watch(page, path, 1, { keep: true });
  await runCell(page, path, 1);
  await waitVel(page, path, 1);
  const rec = await record(page, key);
  assert.ok(rec.liveOurs >= 2, 'the answer streamed through our renderer');
  assert.deepEqual(rec.unsafe, [], 'no live markup while streaming');
  const answer = outputOf(page, 1).locator('.vel-role-assistant .vel-msg-content');
  await answer.locator('strong', { hasText: 'in bold' }).waitFor();
  await nothingFetched('live and final answer');
  assertReads(await answerReport(answer), 'final answer');
  await shot(outputOf(page, 1), 'no-fetch-1-answer');

  // `%chat tree`: the turn read in full in the detail pane.
  await runCell(page, path, 2);
  const tree = outputOf(page, 2);
  await tree.locator('.vel-tree-view .vel-ft-node').first().click({ timeout: 60000 });
  const detail = tree.locator('.vel-tree-detail .vel-role-assistant .vel-msg-content');
  await detail.locator('strong', { hasText: 'in bold' }).waitFor();
  await nothingFetched('%chat tree detail pane');
  assertReads(await answerReport(detail), 'tree detail');
  await shot(tree, 'no-fetch-2-tree-detail');

  // `%chat export`: the session's transcript.
  await runCell(page, path, 3);
  const transcript = outputOf(page, 3).locator('.vel-session .vel-transcript .vel-role-assistant .vel-msg-content');
  await transcript.locator('strong', { hasText: 'in bold' }).waitFor({ timeout: 60000 });
  await nothingFetched('%chat export transcript');
  assertReads(await answerReport(transcript), 'transcript');

  // Saved, reopened with no kernel (without the control cell).
  await readSaved(page, paths, lab, path, 'fetches-saved.ipynb', async reader => {
    const saved = outputOf(reader, 1).locator('.vel-role-assistant .vel-msg-content');
    await saved.locator('strong', { hasText: 'in bold' }).waitFor({ timeout: 60000 });
    await outputOf(reader, 3).locator('.vel-transcript .vel-role-assistant .vel-msg-content strong', { hasText: 'in bold' }).waitFor({ timeout: 60000 });
    await outputOf(reader, 2).locator('.vel-tree-view .vel-ft-node').first().click({ timeout: 30000 });
    await outputOf(reader, 2).locator('.vel-tree-detail .vel-role-assistant .vel-msg-content strong', { hasText: 'in bold' }).waitFor();
    await nothingFetched('saved notebook, no kernel (answer, tree detail, transcript)', reader);
    assertReads(await answerReport(saved), 'saved answer');
    await shot(outputOf(reader, 1), 'no-fetch-3-saved-no-kernel');
  }, 4);

  // The control: the same CSS in a trusted HTML output (no sanitizer, no pass of ours) is fetched.
  await runCell(page, path, 4);
  for (let i = 0; i < 50 && !recorder.hits.length; i++) await page.waitForTimeout(100);
  assert.deepEqual(recorder.hits, ['GET /control'], 'the recorder hears what the page fetches');
});

/** What a person reads in a tree output: header, sessions, rows (number, question, answer, labels), folds. */
const treeReport = tree =>
  tree.evaluate(el => {
    const view = el.querySelector('.vel-tree-view');
    const visible = n => !n.closest('[hidden]');
    return {
      header: view?.querySelector('.vel-session-header')?.textContent ?? null,
      sessions: [...(view?.querySelectorAll('.vel-tree-session') ?? [])].map(c => c.textContent),
      rows: [...(view?.querySelectorAll('.vel-ft-node') ?? [])]
        .filter(visible)
        .map(r => [r.querySelector('.vel-ft-num').textContent, r.querySelector('.vel-ft-q').textContent, [...r.querySelectorAll('.vel-head-label')].map(l => l.textContent).join(',')].join('|')),
      folds: [...(view?.querySelectorAll('.vel-ft-toggle') ?? [])].filter(visible).map(t => t.querySelector('.vel-ft-toggle-label').textContent),
      width: view ? Math.round((view.querySelector('.vel-ft').getBoundingClientRect().width / el.querySelector('.jp-OutputArea-output').getBoundingClientRect().width) * 100) : 0,
      text: el.innerText
    };
  });

scenario('%chat tree: HEAD\'s path in one column, read a turn, fork and continue from it with the kernel, by mouse and keyboard', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'tree', [
    `%%chat fam --base-url ${urls.echo}\nFirst question`,
    '%%chat fam\nSecond question',
    '%chat tree fam',
    '%chat list',
    '%%chat fam\nThird question'
  ]);
  for (const i of [1, 2, 2, 3]) await runCell(page, path, i); // cell 2 re-run: another answer to turn 2
  const tree = outputOf(page, 3);
  await tree.locator('.vel-tree-view .vel-ft-node').nth(1).waitFor({ timeout: 60000 });
  let report = await treeReport(tree);
  log('tree', JSON.stringify({ ...report, text: undefined }));
  assert.match(report.header, /^fam\s*fork tree · 3 turns · 1 session$/);
  assert.deepEqual(report.rows, ['1|First question|', '2|Second question|current']);
  assert.deepEqual(report.folds, ['another answer to turn 2: “Echo: Second question”']);
  assert.ok(report.width >= 95, `the tree takes the output's width (${report.width} %)`);
  assert.doesNotMatch(report.text, /Loading widget|Error displaying widget|\*\*/);
  await shot(tree, 'tree-1-head-path');

  // Read a turn: click it; its messages below, the buttons enabled (a kernel is connected).
  await tree.locator('.vel-ft-node', { hasText: 'First question' }).click();
  await tree.locator('.vel-tree-detail-head', { hasText: "Turn 1 · on fam's path" }).waitFor();
  assert.equal((await tree.locator('.vel-tree-detail .vel-role-assistant .vel-msg-content').textContent()).trim(), 'Echo: First question');
  assert.equal(await tree.locator('.vel-tree-checkout').isEnabled(), true);
  // The keyboard: one tab stop, arrows move it, Right opens a fold, Enter reads the turn.
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.querySelector('.vel-ft-q')?.textContent), 'Second question');
  await page.keyboard.press('ArrowDown');
  assert.match(await page.evaluate(() => document.activeElement.textContent), /another answer to turn 2/);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await tree.locator('.vel-tree-detail-head', { hasText: "Turn 2 · not on fam's current path" }).waitFor();
  await shot(tree, 'tree-2-keyboard-fold-open');

  // "Fork here" on turn 1, named: %chat fork in the kernel; the kernel redraws the tree.
  await tree.locator('.vel-ft-node', { hasText: 'First question' }).click();
  await tree.locator('.vel-tree-fork-name').fill('fam-fork');
  await tree.locator('.vel-tree-fork').click();
  await tree.locator('.vel-tree-status', { hasText: "into 'fam-fork'" }).waitFor({ timeout: 30000 });
  await tree.locator('.vel-tree-session', { hasText: 'fam-fork' }).waitFor({ timeout: 30000 });
  report = await treeReport(tree);
  assert.match(report.header, /2 sessions/);
  assert.deepEqual(report.rows.slice(0, 1), ['1|First question|fam-fork'], 'the fork is labelled on its turn');
  assert.equal(await tree.locator('.vel-ft-selected .vel-ft-q').textContent(), 'First question', 'the reader keeps their place');

  // "Continue fam from here" on turn 1: HEAD moves there; what came after folds.
  await tree.locator('.vel-tree-checkout').click();
  await tree.locator('.vel-tree-status', { hasText: "'fam' continues from turn 1" }).waitFor({ timeout: 30000 });
  await page.waitForFunction(() => [...document.querySelectorAll('.vel-tree-view .vel-ft-node.vel-ft-current .vel-ft-q')].some(e => e.textContent === 'First question'), null, { timeout: 30000 });
  report = await treeReport(tree);
  // (The fold opened with the keyboard above stays open across redraws.)
  assert.deepEqual(report.rows, ['1|First question|fam-fork,current', '2|Second question|fam · branch 1']);
  assert.deepEqual(report.folds, ['continues at turn 2: “Second question”', 'continues at turn 2: “Second question”']);
  // The next %%chat fam cell continues from there; the tree follows.
  await runCell(page, path, 5);
  await page.waitForFunction(() => document.querySelectorAll('.vel-tree-view .vel-ft-node:not([hidden] *)').length >= 2 && document.querySelector('.vel-tree-view .vel-session-header').textContent.includes('4 turns'), null, { timeout: 30000 });
  report = await treeReport(tree);
  assert.deepEqual(report.rows, ['1|First question|fam-fork', '2|Third question|current', '2|Second question|fam · branch 1']);
  assert.deepEqual(report.folds, ['another question at turn 2: “Second question”', 'another question at turn 2: “Second question”']);
  await shot(tree, 'tree-3-after-fork-and-continue');
  await runCell(page, path, 4);
  // (%chat list is an HTML table in a notebook)
  const listing = await outputOf(page, 4).locator('tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim())));
  const rows = Object.fromEntries(listing.map(cols => [cols[0], cols]));
  assert.equal(rows['fam-fork'][2], '2', 'the fork holds the first turn (2 messages)');
  assert.equal(rows.fam[2], '4', 'fam: first and third question');

  // JupyterLab's dark theme: the tree follows the theme variables.
  await page.evaluate(() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Dark' }));
  await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false', null, { timeout: 30000 });
  await page.waitForTimeout(500);
  const colours = await tree.evaluate(el => {
    const lum = c => c.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b, 0) / 3;
    return { text: lum(getComputedStyle(el.querySelector('.vel-ft-q')).color), chip: getComputedStyle(el.querySelector('.vel-tree-session')).backgroundColor };
  });
  assert.ok(colours.text > 150, `light text on the dark theme: ${JSON.stringify(colours)}`);
  await shot(tree, 'tree-4-dark-theme');
  await page.evaluate(() => window.jupyterapp.commands.execute('apputils:change-theme', { theme: 'JupyterLab Light' }));

  // The kernel goes away: the tree stays readable, its buttons disabled, saying why; no errors.
  for (const id of await kernelsOf(lab, path)) await lab.api(`api/kernels/${id}`, { method: 'DELETE' });
  await tree.locator('.vel-tree-checkout[disabled]').waitFor({ timeout: 30000 });
  assert.match(await tree.locator('.vel-tree-checkout').getAttribute('title'), /^no kernel connected/);
  await tree.locator('.vel-ft-node', { hasText: 'Third question' }).click();
  assert.equal(await tree.locator('.vel-tree-fork').isDisabled(), true);
  await shot(tree, 'tree-5-no-kernel');
  assert.deepEqual(page.velConsole.filter(e => /Cannot send|vel/i.test(e)), [], 'no errors in the console');

  // Saved and reopened with no kernel: the same tree, read-only.
  await readSaved(page, paths, lab, path, 'tree-saved.ipynb', async reader => {
    const saved = outputOf(reader, 3);
    await saved.locator('.vel-tree-view .vel-ft-node').first().waitFor({ timeout: 30000 });
    assert.deepEqual((await treeReport(saved)).rows, ['1|First question|fam-fork', '2|Third question|current'], 'a new reader starts with the folds closed');
    await saved.locator('.vel-ft-node', { hasText: 'Third question' }).click();
    assert.equal((await saved.locator('.vel-tree-detail .vel-role-assistant .vel-msg-content').textContent()).trim(), 'Echo: Third question');
    assert.equal(await saved.locator('.vel-tree-checkout').isDisabled(), true);
    assert.match(await saved.locator('.vel-tree-checkout').getAttribute('title'), /^no kernel connected/);
  });
});

scenario('the tree widget (vel_jupyter.tree(session), %chat tree --widget): live, it forks through its kernel; saved, it shows its last tree with no kernel and with a new one', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'widget', [`%%chat fam --base-url ${urls.echo}\nFirst question`, '%%chat fam\nSecond question', '%chat tree fam --widget']);
  for (const i of [1, 2, 3]) await runCell(page, path, i);
  const tree = outputOf(page, 3);
  const widget = tree.locator('.vel-tree-widget');
  await widget.locator('.vel-ft-node').nth(1).waitFor({ timeout: 60000 });
  assert.match(await widget.locator('.vel-session-header').textContent(), /fam.*2 turns · 1 session\b/);
  await widget.locator('.vel-ft-node', { hasText: 'First question' }).click();
  await widget.locator('.vel-tree-fork-name').fill('fam-fork');
  await widget.locator('.vel-tree-fork').click();
  await widget.locator('.vel-tree-status', { hasText: 'forked into fam-fork' }).waitFor({ timeout: 30000 });
  await widget.locator('.vel-ft-node', { hasText: 'First question' }).locator('.vel-head-label', { hasText: 'fam-fork' }).waitFor({ timeout: 30000 });
  await widget.locator('.vel-ft-selected', { hasText: 'First question' }).waitFor(); // still selected after the redraw
  assert.equal(await tree.locator('.vel-tree-saved').isVisible(), false, 'while live, only the widget is drawn');

  // Saved, the output keeps the widget's last state (the fork included)...
  await page.evaluate(p => window.__velui.panelOf(p).context.save(), path);
  const saved = await getNotebook(lab, path);
  const data = saved.cells[3].outputs[0].data;
  assert.deepEqual(data[TREE_MIME].sessions.map(s => s.session_id), ['fam', 'fam-fork'], 'the saved tree has the fork');
  assert.match(data['text/html'], /class="vel-tree"/, 'and a picture for viewers without a widget manager');
  // ...and shows it with no kernel, and with a new kernel that no longer has the widget.
  const savedPath = 'widget-saved.ipynb';
  paths.push(savedPath);
  for (const kernel of [false, true]) {
    await putNotebook(lab, savedPath, { ...saved, metadata: notebook([], { kernel: kernel ? 'python3' : null }).metadata });
    const reader = await newPage(browser);
    try {
      await openNotebook(reader, lab, savedPath, { kernel });
      const view = outputOf(reader, 3).locator('.vel-tree-view');
      await view.waitFor({ timeout: 30000 });
      const header = await view.locator('.vel-session-header').textContent();
      assert.match(header, /fam.*2 turns · 2 sessions/, header);
      await view.locator('.vel-ft-node', { hasText: 'Second question' }).click();
      await view.locator('.vel-tree-detail .vel-role-user .vel-msg-content', { hasText: 'Second question' }).waitFor();
      assert.equal(await view.locator('.vel-tree-checkout').isDisabled(), true, 'a saved widget cannot act');
      assert.match(await view.locator('.vel-tree-checkout').getAttribute('title'), /session\.tree\(\) widget: run its cell again/);
      const shown = await outputOf(reader, 3).innerText();
      assert.doesNotMatch(shown, /Loading widget|Error displaying widget/, `kernel=${kernel}: ${shown.slice(0, 200)}`);
      log(`saved tree widget shown ${kernel ? 'with a new kernel' : 'with no kernel'}: ${header}`);
      assert.deepEqual([...reader.velErrors, ...reader.velDialogs], []);
    } finally {
      await reader.context().close();
      await closeSessions(lab, savedPath).catch(() => {});
    }
  }
});

scenario(`a ${BIG_WORDS.toLocaleString('en')}-token answer streams to completion with its last tokens`, async (page, paths) => {
  const path = await liveNotebook(page, paths, 'big', [`%%chat big --base-url ${urls.big}\nGo.`]);
  const key = await watch(page, path, 1, { marker: `tok${BIG_WORDS - 1}` });
  const run = await waitRun(page, await startCell(page, path, 1));
  await waitVel(page, path, 1);
  const rec = await record(page, key);
  const answer = await answerOf(page, 1);
  log(`${BIG_WORDS} tokens: ${rec.streamingSnapshots} streaming states, cell ${(run.ms / 1000).toFixed(1)} s, answer ${answer.length} chars`);
  assert.ok(answer.trim().endsWith(`tok${BIG_WORDS - 1}`), `ends with the last token: ...${answer.slice(-40)}`);
  assert.equal(answer.split(' ').length, BIG_WORDS, 'every token is there');
  assert.equal(answer, words(BIG_WORDS));
  const plain = await page.evaluate(p => window.__velui.cell(p, 1).model.outputs.get(0).data['text/plain'], path);
  assert.equal(plain, words(BIG_WORDS), 'the saved text/plain is the whole answer too');
});

// What a person reads: a Markdown-rich answer in every place it is shown.
/** The rendering of cell i's output: headings, tables, highlighted code, math, leftovers of Markdown source. */
const richReport = (page, path, i) =>
  page.evaluate(([p, n]) => {
    const area = window.__velui.outputNode(p, n);
    const pre = [...area.querySelectorAll('pre')].find(e => e.textContent.includes('import pandas as pd'));
    const styled = pre ? [...pre.querySelectorAll('span')].filter(s => s.className || s.getAttribute('style')) : [];
    return {
      h2: [...area.querySelectorAll('h2')].map(e => e.textContent.replace('¶', '').trim()), // ¶: Lab's heading anchor
      tableRows: [...area.querySelectorAll('table tr')].map(r => [...r.cells].map(c => c.textContent.trim()).join('|')),
      strong: [...area.querySelectorAll('strong')].map(e => e.textContent),
      lists: area.querySelectorAll('ol li').length,
      highlighted: styled.length,
      colours: new Set(styled.map(s => getComputedStyle(s).color)).size,
      links: [...area.querySelectorAll('a[href]:not(.jp-InternalAnchorLink)')].map(a => a.getAttribute('href')),
      math: area.querySelectorAll('mjx-container, .MathJax').length,
      literal: /\*\*|^##|^```|^\|[-|]/m.test(area.innerText),
      usage: area.querySelectorAll('.vel-usage').length,
      text: area.innerText
    };
  }, [path, i]);

function assertRich(report, where) {
  const about = `${where}: ${JSON.stringify({ ...report, text: report.text.slice(0, 300) })}`;
  assert.deepEqual(report.h2, ['Grouping in pandas'], about);
  assert.deepEqual(report.tableRows, ['city|sales', 'Lima|7', 'Oslo|5'], about);
  assert.ok(report.strong.includes('Split') && report.strong.includes('combine'), about);
  assert.equal(report.lists, 2, about);
  assert.ok(report.highlighted >= 5 && report.colours >= 2, `highlighted code: ${about}`);
  assert.deepEqual(report.links, ['https://pandas.pydata.org/docs/user_guide/groupby.html'], about);
  assert.equal(report.literal, false, `no Markdown source shown: ${about}`);
  assert.equal(report.usage, 1, `the usage line once: ${about}`);
}

// A live frame of our text/html: a turn without its usage line yet.
const LIVE_HTML = '.vel-turn:not(:has(.vel-usage))';

/** Run the rich cell (1) and the hostile cell (2) of a new notebook in `server`; then save it and reopen it with no kernel. */
async function richFlow(page, paths, server, name, { extension }) {
  const path = `${name}.ipynb`;
  paths.push(path);
  const sources = ['%load_ext vel_jupyter', `%%chat md --base-url ${urls.rich}\nHow does groupby work?`, `%%chat evil --base-url ${urls.hostile}\nSay something.`];
  await putNotebook(server, path, notebook(sources.map(s => code(s))));
  await openNotebook(page, server, path);
  await runCell(page, path, 0);
  const key = await watch(page, path, 1, { probes: ['.vel-live h2', '.vel-live table', '.vel-live pre span', LIVE_HTML + ' h2', LIVE_HTML + ' table'] });
  const run = await startCell(page, path, 1);
  // Mid-stream: wait for the table's first row, then take the picture.
  await page.waitForFunction(([p, n]) => window.__velui.outputNode(p, n).querySelector('table'), [path, 1], { timeout: 60000, polling: 50 });
  await shot(outputOf(page, 1), `${name}-1-streaming`);
  await waitRun(page, run);
  if (extension) await waitVel(page, path, 1);
  const rec = await record(page, key);
  log(`${name}: ${rec.streamingSnapshots} streaming states (${rec.liveOurs} drawn by us); probes ${JSON.stringify(rec.probes)}`);
  const live = await richReport(page, path, 1);
  assertRich(live, `${name}, final`);
  if (extension) {
    assert.ok(rec.liveOurs >= 2, 'our renderer drew the stream');
    assert.ok(rec.probes['.vel-live h2'] >= 1 && rec.probes['.vel-live table'] >= 1 && rec.probes['.vel-live pre span'] >= 1, 'the stream was rendered Markdown');
    assert.ok(live.math >= 1, 'math is typeset like a Markdown cell');
    // The end of the stream does not move the answer: it starts where it did while live.
    const finalTop = await page.evaluate(([p, n]) => {
      const area = window.__velui.outputNode(p, n);
      return area.querySelector('.vel-msg-content').getBoundingClientRect().top - area.getBoundingClientRect().top;
    }, [path, 1]);
    assert.ok(Math.abs(finalTop - rec.lastLive.top) < 2, `the answer stayed in place: live ${rec.lastLive.top}, final ${finalTop}`);
    assert.ok(await outputOf(page, 1).locator('.vel-msg-content').evaluate(e => e.getBoundingClientRect().height) >= rec.lastLive.height - 1);
    // A code block is boxed with Copy and Insert as a cell; inserting puts its code in a new cell below.
    const box = outputOf(page, 1).locator('.vel-code-box').first();
    assert.deepEqual(await box.locator('.vel-code-tools button').allTextContents(), ['Copy', 'Insert as a cell']);
    const code = await box.locator('pre').textContent();
    const cells = await page.evaluate(p => window.__velui.panelOf(p).content.widgets.length, path);
    await box.locator('.vel-code-insert').click();
    await page.waitForFunction(([p, n]) => window.__velui.panelOf(p).content.widgets.length === n + 1, [path, cells], { timeout: 10000 });
    const inserted = await page.evaluate(p => window.__velui.cell(p, 2).model.sharedModel.getSource(), path);
    assert.equal(inserted, code, 'the new cell below holds the code, as text');
    await page.evaluate(p => window.__velui.panelOf(p).content.model.sharedModel.deleteCell(2), path); // (cell 2 is the hostile one)
  } else {
    assert.ok(rec.probes[LIVE_HTML + ' h2'] >= 1 && rec.probes[LIVE_HTML + ' table'] >= 1, 'the stream was rendered Markdown (our text/html)');
  }
  await shot(outputOf(page, 1), `${name}-2-final`);
  await runCell(page, path, 2);
  if (extension) await waitVel(page, path, 2);
  assert.deepEqual(await unsafeOf(page, path, 2), [], 'the hostile answer is inert');
  assert.deepEqual(await madeOf(page, 2), []);
  assert.deepEqual(await pwned(page), [undefined, undefined]);
  assert.deepEqual(page.velDialogs, []);
  await shot(outputOf(page, 2), `${name}-3-hostile`);

  const savedPath = `${name}-saved.ipynb`;
  await readSaved(page, paths, server, path, savedPath, async reader => {
    await reader.waitForFunction(p => window.__velui.outputNode(p, 1).querySelector('table'), savedPath, { timeout: 60000 });
    if (extension) await waitVel(reader, savedPath, 1);
    const reopened = await richReport(reader, savedPath, 1);
    assertRich(reopened, `${name}, saved and reopened with no kernel`);
    if (extension) assert.ok(reopened.math >= 1, 'math is typeset in the saved notebook');
    assert.deepEqual(await unsafeIn(reader, '.jp-OutputArea'), []);
    assert.deepEqual(await pwned(reader), [undefined, undefined]);
    await shot(outputOf(reader, 1), `${name}-4-saved-no-kernel`);
  });
  return live;
}

scenario('a Markdown-rich answer reads like a Markdown cell: live, final, hostile, saved with no kernel (our extension)', async (page, paths) => {
  await richFlow(page, paths, lab, 'rich-extension', { extension: true });
});

scenario('the same without our extension: the sanitized text/html renders as well', async (page, paths) => {
  const root = tempRoot('vel-ui-plain-');
  const plain = await startLab({ root, env: { OPENAI_BASE_URL: urls.echo, OPENAI_API_KEY: 'test' }, disabled: ['vel-jupyter'] });
  try {
    const probe = await newPage(browser);
    await probe.goto(`${plain.base}lab`);
    const disabled = await probe.evaluate(() => JSON.parse(document.getElementById('jupyter-config-data').textContent).disabledExtensions);
    await probe.context().close();
    assert.ok(JSON.stringify(disabled).includes('vel-jupyter'), `the extension is disabled: ${JSON.stringify(disabled)}`);
    const report = await richFlow(page, paths, plain, 'rich-plain', { extension: false });
    assert.equal(await page.locator('.vel-root').count(), 0, 'nothing of ours rendered it');
    log(`without the extension: ${report.highlighted} highlighted spans, ${report.math} math`);

    // A %chat tree is a picture here, live and saved (with a new kernel), never a widget error.
    const path = 'tree-plain.ipynb';
    paths.push(path);
    const sources = ['%load_ext vel_jupyter', '%%chat fam\nFirst question', '%%chat fam\nSecond question', '%chat tree fam', '%chat fork fam side', '%%chat side\nA side question'];
    await putNotebook(plain, path, notebook(sources.map(s => code(s))));
    await openNotebook(page, plain, path);
    for (const i of [0, 1, 2, 3]) await runCell(page, path, i);
    const picture = outputOf(page, 3);
    await picture.locator('.vel-tree').waitFor({ timeout: 30000 });
    const lines = async o => (await o.innerText()).split('\n').map(l => l.trim()).filter(Boolean);
    let text = await lines(picture);
    assert.deepEqual(text.slice(0, 2), ['fam · fork tree · 2 turns · 1 session', 'sessions: fam (current: turn 2)']);
    assert.ok(text.some(l => /^2 Second question current$/.test(l)), text.join(' | '));
    for (const i of [4, 5]) await runCell(page, path, i); // the picture follows the family
    await picture.locator('.vel-tree', { hasText: 'side (at turn 3)' }).waitFor({ timeout: 30000 });
    await picture.locator('details.vel-tree-fork summary').first().click(); // <details>: no script needed
    text = await lines(picture);
    assert.ok(text.includes('3 A side question side'), text.join(' | '));
    await shot(picture, 'tree-plain-picture');
    await readSaved(page, paths, plain, path, 'tree-plain-saved.ipynb', async reader => {
      await outputOf(reader, 3).locator('.vel-tree').waitFor({ timeout: 30000 });
      assert.doesNotMatch(await outputOf(reader, 3).innerText(), /Loading widget|Error displaying widget/);
    });
  } finally {
    await page.goto('about:blank').catch(() => {}); // before its server goes away
    for (const path of paths.splice(0)) await closeSessions(plain, path).catch(() => {});
    await plain.stop();
  }
}, 200000);

scenario('re-running an upstream cell marks later outputs "not on the current branch", live; a checkout clears it', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'stale', [`%%chat st --base-url ${urls.echo}\nFirst question`, '%%chat st\nSecond question\n\nwith a *second* paragraph', '%chat checkout st 1', 'df = %chat history st\ndf']);
  for (const i of [1, 2]) await runCell(page, path, i);
  const marker = i => outputOf(page, i).locator('.vel-stale-marker');
  assert.equal(await marker(2).count(), 0);
  await runCell(page, path, 1); // a new answer to the first question: a new branch
  await marker(2).waitFor({ timeout: 30000 });
  assert.equal(await marker(2).locator('.vel-stale-text').textContent(), STALE);
  assert.equal(await outputOf(page, 1).locator('.vel-alt-position').getAttribute('title'), 'answer 2 of 2');
  assert.equal(await outputOf(page, 1).locator('.vel-branch-marker').count(), 0, 'no "branch k of n" in a turn footer');
  await shotCells(page, 1, 2, 'stale-1-after-rerun');
  await runCell(page, path, 3); // back to branch 1: the second answer is current again
  await marker(2).waitFor({ state: 'detached', timeout: 30000 });
  // The re-run cell's own answer is off the path now; it opens on the answer the session is on.
  await outputOf(page, 1).locator('.vel-alt-current', { hasText: 'the session continues from this answer' }).waitFor({ timeout: 30000 });
  assert.equal(await outputOf(page, 1).locator('.vel-alt-position').textContent(), '1/2');
  await outputOf(page, 1).locator('.vel-alt-next').click();
  await marker(1).waitFor({ timeout: 30000 });
  assert.equal(await outputOf(page, 2).locator('.vel-branch-marker').count(), 0, 'no "branch 1 of 1"');
  await shotCells(page, 1, 3, 'stale-2-after-checkout');

  // The history DataFrame as a notebook shows it: what a person reads first, one line per message.
  await runCell(page, path, 4);
  const table = outputOf(page, 4).locator('table');
  await table.waitFor({ timeout: 30000 });
  const frame = await table.evaluate(t => {
    const heads = [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()).filter(Boolean);
    const rows = [...t.querySelectorAll('tbody tr')].map(tr => Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [heads[i], td])));
    const content = rows.map(r => r.content);
    return {
      heads,
      contents: content.map(td => td.textContent),
      align: [...new Set(content.map(td => getComputedStyle(td).textAlign))],
      wraps: [...new Set(content.map(td => getComputedStyle(td).whiteSpace))],
      latency: rows.map(r => r.latency_ms.textContent),
      caption: t.querySelector('caption')?.textContent ?? ''
    };
  });
  log('history frame', JSON.stringify(frame));
  assert.deepEqual(frame.heads.slice(0, 10), ['turn', 'role', 'content', 'model', 'provider', 'prompt_tokens', 'completion_tokens', 'latency_ms', 'ttft_ms', 'finish_reason']);
  assert.deepEqual(frame.contents, ['First question', 'Echo: First question', 'Second question with a *second* paragraph', 'Echo: Second question with a *second* paragraph']);
  assert.deepEqual(frame.align, ['left']);
  assert.deepEqual(frame.wraps, ['nowrap']);
  assert.ok(frame.latency.every(v => /^(\d[\d,]*)?$/.test(v)), `whole ms, blanks for users: ${frame.latency}`);
  assert.match(frame.caption, /^4 messages, 18 columns/);
  await shot(outputOf(page, 4), 'history-dataframe');
});

scenario('after a page reload the "not asked on this branch" markers follow the kernel, and agree with %chat branches', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'reload', [`%%chat rl --base-url ${urls.echo}\nFirst question`, '%%chat rl\nSecond question', '%chat checkout rl 2', '%chat checkout rl 1', '%chat branches rl']);
  for (const i of [1, 2, 1]) await runCell(page, path, i); // cell 1 re-run: branch 2, cell 2 left behind
  await outputOf(page, 2).locator('.vel-stale-marker').waitFor({ timeout: 30000 });
  await page.evaluate(p => window.__velui.panelOf(p).context.save(), path); // saved with cell 2 stale
  await runCell(page, path, 4); // back to branch 1, not saved: the file still says cell 2 is stale
  await outputOf(page, 2).locator('.vel-stale-marker').waitFor({ state: 'detached', timeout: 30000 });
  const current = async p => {
    await runCell(p, path, 5);
    const rows = await outputOf(p, 5).locator('tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim()).join('|')));
    return Number(rows.find(r => r.startsWith('*|'))?.split('|')[1]);
  };
  // The reload: the same kernel, outputs restored from the file (JupyterLab forgets their display ids).
  const reloaded = await newPage(browser);
  try {
    await openNotebook(reloaded, lab, path);
    const stale = () => outputOf(reloaded, 2).locator('.vel-stale-marker');
    await stale().waitFor({ state: 'detached', timeout: 30000 }); // the kernel's state, not the file's
    assert.equal(await current(reloaded), 1);
    await shotCells(reloaded, 1, 2, 'reload-1-markers-from-the-kernel');
    await runCell(reloaded, path, 3); // checkout 2 in the reloaded page: no redraw reaches restored outputs
    await stale().waitFor({ timeout: 30000 });
    assert.equal(await stale().locator('.vel-stale-text').textContent(), STALE);
    assert.equal(await current(reloaded), 2);
    assert.equal(await outputOf(reloaded, 1).locator('.vel-stale-marker').count(), 0);
    await runCell(reloaded, path, 4); // and back
    await stale().waitFor({ state: 'detached', timeout: 30000 });
    assert.equal(await current(reloaded), 1);
    assert.equal(await outputOf(reloaded, 2).locator('.vel-branch-marker').count(), 0);
    await shotCells(reloaded, 1, 2, 'reload-2-after-checkouts');
    assert.deepEqual(reloaded.velErrors, []);
  } finally {
    await reloaded.context().close();
  }
});

scenario('flipping a re-run cell to ‹ 1/2 › and continuing with that answer brings back the cells below, as a chat app does', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'follow', [`%%chat fw --base-url ${urls.echo}\nFirst question`, '%%chat fw\nSecond question', '%chat branches fw']);
  for (const i of [1, 2, 1]) await runCell(page, path, i); // cell 1 re-run: branch 2, without cell 2's turn
  await waitVel(page, path, 1);
  const first = outputOf(page, 1);
  const marker = () => outputOf(page, 2).locator('.vel-stale-marker');
  await marker().waitFor({ timeout: 30000 });
  await first.locator('.vel-alt-prev').click();
  assert.equal(await first.locator('.vel-alt-position').textContent(), '1/2');
  const button = first.locator('.vel-alt-checkout');
  assert.equal(await button.textContent(), 'continue with this answer');
  assert.match(await button.getAttribute('title'), /with the turns that followed it: the cells below show them \(%chat checkout fw \S+ --follow\)$/);
  await shotCells(page, 1, 2, 'follow-1-flipped');
  await button.click();
  // The session is back on branch 1, which goes on to cell 2's turn: cell 2 shows its answer, no marker.
  await marker().waitFor({ state: 'detached', timeout: 30000 });
  assert.equal(await answerOf(page, 2), 'Echo: Second question');
  assert.equal(await outputOf(page, 2).locator('.vel-stale-text').count(), 0);
  assert.equal(await first.locator('.vel-alt-position').textContent(), '1/2', 'cell 1 stays on the answer chosen');
  await shotCells(page, 1, 2, 'follow-2-continued');
  const current = async () => {
    await runCell(page, path, 3);
    // (%chat branches is an HTML table in a notebook: its rows, cells joined by |)
    const rows = await outputOf(page, 3).locator('tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim()).join('|')));
    log(`%chat branches fw:\n${rows.join('\n')}`);
    return Number(rows.find(r => r.startsWith('*|'))?.split('|')[1]);
  };
  assert.equal(await current(), 1, 'branch 1 is current in the kernel');
  // And back to answer 2: its branch has no second turn, so cell 2 says so plainly.
  await first.locator('.vel-alt-next').click();
  await first.locator('.vel-alt-checkout').click();
  await marker().waitFor({ timeout: 30000 });
  assert.equal(await marker().locator('.vel-stale-text').textContent(), STALE);
  assert.equal(await current(), 2);
  assert.deepEqual(page.velErrors, []);
});

scenario('a re-run cell flips between its answers with ‹ 2/2 ›, continues from one with a click, and flips saved with no kernel', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'alternatives', ['n = 1', `%%chat alt --base-url ${urls.echo}\nQuestion {n}`, 'n = 2', '%chat branches alt']);
  for (const i of [1, 2, 3, 2]) await runCell(page, path, i); // cell 2 re-run with {n} = 2: a second answer
  await waitVel(page, path, 2);
  const out = outputOf(page, 2);
  const answer = async o => (await o.locator('.vel-msg-content').last().textContent()).trim();
  assert.equal(await out.locator('.vel-alt-position').textContent(), '2/2');
  assert.equal(await answer(out), 'Echo: Question 2');
  await out.locator('.vel-alt-prev').click();
  assert.equal(await answer(out), 'Echo: Question 1');
  assert.equal(await out.locator('.vel-alt-position').textContent(), '1/2');
  assert.equal(await out.locator('.vel-alt-note').textContent(), 'another answer of this cell');
  await shot(out, 'alternatives-1-flipped');
  // One click with a kernel: the session continues from answer 1, and the kernel redraws the output there.
  await out.locator('.vel-alt-checkout').click();
  await out.locator('.vel-alt-current', { hasText: 'the session continues from this answer' }).waitFor({ timeout: 30000 });
  assert.equal(await answer(out), 'Echo: Question 1');
  await shot(out, 'alternatives-2-continued');
  await runCell(page, path, 4);
  // (%chat branches is an HTML table in a notebook: its rows, cells joined by |)
  const branches = (await outputOf(page, 4).locator('tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim()).join('|')))).join('\n');
  log(`%chat branches alt after the click:\n${branches}`);
  assert.match(branches, /^\*\|1\|/m, 'branch 1 is current in the kernel');
  await out.locator('.vel-alt-next').click();
  assert.equal(await answer(out), 'Echo: Question 2');
  assert.equal(await out.locator('.vel-stale-text').textContent(), STALE);
  assert.equal(await out.locator('.vel-alt-checkout').isEnabled(), true, 'a stale answer can be continued from');

  const savedPath = 'alternatives-saved.ipynb';
  await readSaved(page, paths, lab, path, savedPath, async reader => {
    const o = outputOf(reader, 2);
    await o.locator('.vel-alt-current').waitFor({ timeout: 30000 });
    assert.equal(await answer(o), 'Echo: Question 1', 'saved as last seen: on the answer the session continues from');
    await o.locator('.vel-alt-next').click();
    assert.equal(await answer(o), 'Echo: Question 2', 'flipping works from the saved notebook');
    assert.equal(await o.locator('.vel-alt-checkout').isDisabled(), true, 'no kernel: "continue from this answer" is disabled');
    assert.match(await o.locator('.vel-alt-checkout').getAttribute('title'), /^no kernel connected/);
    await o.locator('.vel-alt-prev').click();
    assert.equal(await answer(o), 'Echo: Question 1');
  });
});

scenario('stopping a streaming turn keeps the answer so far, marked stopped (issue 22)', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'stop', ['%%chat stop\nTell me a long story.']);
  const key = await startCell(page, path, 1);
  // Wait for some of the answer, then press the live output's ■ Stop (it interrupts the kernel).
  await page.waitForFunction(([p, n]) => window.__velui.outputText(p, n).includes('tok20'), [path, 1], { timeout: 60000, polling: 50 });
  await outputOf(page, 1).locator('.vel-live .vel-stop').click();
  await page.waitForFunction(k => window.__velui.runs[k].done, key, { timeout: 60000, polling: 50 });
  await waitVel(page, path, 1);
  const out = outputOf(page, 1);
  const answer = await answerOf(page, 1);
  assert.ok(answer.startsWith(words(21)), `the answer so far is shown: ${answer.slice(0, 80)}…`);
  assert.ok(!answer.endsWith(`tok${SLOW_WORDS - 1}`), 'it was stopped before the end');
  assert.equal(
    (await out.locator('.vel-finish-note').textContent()).trim(),
    '■ stopped — the answer so far is kept; re-run the cell for a whole one'
  );
  assert.equal(await out.locator('.vel-live').count(), 0, 'the live view was replaced by the final output');
  const error = await out.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').textContent();
  assert.match(error, /^TurnInterrupted: stopped; the answer so far is kept in session 'stop'/);
  assert.doesNotMatch(await out.textContent(), /not kept/);
  await shotCells(page, 1, 1, 'stop-keeps-the-answer');
});

scenario('after a kernel restart the %chat tree offers to restore the notebook\'s sessions, then its buttons act again (issue 22)', async (page, paths) => {
  const path = await liveNotebook(page, paths, 'restart tree', [
    `%%chat rs --base-url ${urls.echo}\nFirst question`,
    '%%chat rs\nSecond question',
    '%chat tree rs',
    '%chat list'
  ]);
  for (const i of [1, 2, 3]) await runCell(page, path, i);
  const tree = outputOf(page, 3);
  await tree.locator('.vel-tree-view .vel-ft-node').nth(1).waitFor({ timeout: 60000 });
  await page.evaluate(p => window.__velui.panelOf(p).context.save(), path);
  // Kernel ▸ Restart, without its dialog: the kernel forgets the sessions and %load_ext.
  await page.evaluate(p => window.__velui.panelOf(p).sessionContext.restartKernel(), path);
  await page.waitForFunction(p => window.__velui.kernelIdle(p), path, { timeout: 60000, polling: 100 });

  await tree.locator('.vel-ft-node', { hasText: 'First question' }).click();
  const restore = tree.locator('.vel-tree-restore');
  await restore.waitFor({ timeout: 30000 });
  assert.equal(await restore.textContent(), "Restore this notebook's sessions");
  assert.match(await restore.getAttribute('title'), /%chat restore --notebook restart tree\.ipynb/);
  assert.equal(await tree.locator('.vel-tree-checkout').isDisabled(), true, 'continuing waits for the restore');
  assert.match(await tree.locator('.vel-tree-status').textContent(), /^the kernel has no session rs: /);
  await shot(tree, 'restart-1-offers-restore');

  await restore.click();
  await tree.locator('.vel-tree-status', { hasText: /^restored 1 session and 2 turns from restart tree\.ipynb: rs/ }).waitFor({ timeout: 30000 });
  await tree.locator('.vel-tree-restore').waitFor({ state: 'detached', timeout: 30000 });
  await tree.locator('.vel-tree-checkout:not([disabled])').waitFor({ timeout: 30000 });
  await shot(tree, 'restart-2-restored');
  await tree.locator('.vel-tree-checkout').click();
  await tree.locator('.vel-tree-status', { hasText: "'rs' continues from turn 1" }).waitFor({ timeout: 30000 });
  // The restored kernel draws this tree again (it had never seen it) and keeps it up to date.
  await tree.locator('.vel-ft-node.vel-ft-current .vel-ft-q', { hasText: 'First question' }).waitFor({ timeout: 30000 });
  assert.equal(await tree.locator('.vel-ft-selected .vel-ft-q').textContent(), 'First question', 'the reader keeps their place');
  await shot(tree, 'restart-3-continued');

  // The kernel has the session again, where the tree put it.
  await runCell(page, path, 4);
  const listing = await outputOf(page, 4).locator('tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim())));
  log('%chat list after the restore', JSON.stringify(listing));
  const rows = Object.fromEntries(listing.map(cols => [cols[0], cols]));
  assert.ok(rows.rs, 'rs is listed again');
  assert.equal(rows.rs[2], '2', 'rs continues from turn 1 (2 messages on its path)');
});
