// Shared by the browser tests (ui.test.mjs) and the browser benchmark
// (benchmarks/bench_browser.mjs): a real `jupyter lab` on a free loopback port with no
// token, loopback OpenAI-compatible servers (python -m vel_jupyter._loopback), the system
// Chromium driven by playwright-core, and page-side helpers to open notebooks, run cells
// and watch their outputs. Every process started here is stopped by stopAll(), also when
// the run fails or is interrupted.
//
//   VEL_JUPYTER=/path/to/venv/bin/jupyter  (a venv with jupyterlab and vel-jupyter installed)
//   VEL_PYTHON=/path/to/python              (default: the python next to VEL_JUPYTER)
//   CHROMIUM=/usr/bin/chromium              (default)
//   VEL_LABEXT_DIR=/repo/vel_jupyter/labextension  (optional: serve this build of the
//                                            extension ahead of any installed copy)
//
// Never run `npx playwright install`: playwright-core drives the system Chromium.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));
export const jupyter = process.env.VEL_JUPYTER ?? 'jupyter';
export const python = process.env.VEL_PYTHON ?? join(dirname(jupyter), 'python');
export const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const SESSION_MIME = 'application/vnd.vel.session+json';

const t0 = Date.now();
export const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
export const log = (...args) => console.log(`[${elapsed()}]`, ...args);

/** Versions of everything the run depends on, one line. */
export function versions() {
  const pw = JSON.parse(readFileSync(join(here, 'node_modules', 'playwright-core', 'package.json'), 'utf8')).version;
  const run = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '?';
    }
  };
  const lab = run(python, ['-c', 'import jupyterlab, ipykernel, anywidget; print(jupyterlab.__version__, ipykernel.__version__, anywidget.__version__)']).split(' ');
  const chrome = run(executablePath, ['--version']).split('\n').pop();
  return { node: process.version, playwright: pw, jupyterlab: lab[0], ipykernel: lab[1], anywidget: lab[2], chromium: chrome };
}

// -- processes ------------------------------------------------------------------------

const children = new Set();
const cleanups = [];

function track(proc, name) {
  proc.velName = name;
  proc.velError = null;
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  proc.once('error', e => {
    proc.velError = e; // cannot run it (ENOENT, EACCES): reported by the caller
    children.delete(proc);
  });
  return proc;
}

function waitExit(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise(done => {
    const timer = setTimeout(() => done(false), ms);
    proc.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

async function stopProcess(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  if (!(await waitExit(proc, 10000))) {
    log(`${proc.velName} (pid ${proc.pid}) ignored SIGTERM: SIGKILL`);
    proc.kill('SIGKILL');
    await waitExit(proc, 5000);
  }
}

/** Run `fn` at stopAll(), newest first (browsers before servers). */
export function onStop(fn) {
  cleanups.push(fn);
}

let stopping = null;
/** Close browsers and stop every server this process started (idempotent). */
export function stopAll() {
  stopping ??= (async () => {
    while (cleanups.length) {
      try {
        await cleanups.pop()();
      } catch (e) {
        log('cleanup failed:', String(e));
      }
    }
    await Promise.all([...children].map(stopProcess));
  })();
  return stopping;
}

// Interrupted (Ctrl-C, a CI timeout): stop everything, then exit as the signal asks.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    log(`${signal}: stopping servers`);
    stopAll().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1)));
  });
}
// Last resort (an uncaught error, process.exit): no awaiting here, so signal synchronously.
process.once('exit', () => {
  for (const proc of children) proc.kill('SIGKILL');
});

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** A temporary directory removed at stopAll(). */
export function tempRoot(prefix) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  onStop(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/**
 * An HTTP server on 127.0.0.1 that answers 204 to everything and records each request
 * ("GET /path?query"): where model HTML points, so a test can tell whether the page ever
 * fetched it. Resolves to { url, hits }; closed at stopAll().
 */
export async function startRecorder() {
  const hits = [];
  const server = createHttpServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(204, { 'Access-Control-Allow-Origin': '*' });
    res.end();
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  onStop(
    () =>
      new Promise(done => {
        server.close(() => done());
        server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
      })
  );
  return { url: `http://127.0.0.1:${server.address().port}`, hits };
}

/**
 * `python -m vel_jupyter._loopback` in its own process: `words` (tok0 ... tok<N-1>) or
 * exactly `text` for every request (else an echo), `delay` seconds between chunks.
 * Resolves to its base URL (http://127.0.0.1:PORT/v1).
 */
export async function startLoopback({ words, text, delay } = {}) {
  const args = ['-m', 'vel_jupyter._loopback', '--port', '0'];
  if (words !== undefined) args.push('--words', String(words));
  if (text !== undefined) args.push('--text', text);
  if (delay) args.push('--delay', String(delay));
  const proc = track(spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'] }), 'loopback');
  const line = await new Promise((ok, fail) => {
    const rl = createInterface({ input: proc.stdout });
    const timer = setTimeout(() => fail(new Error('loopback server did not start in 30 s')), 30000);
    rl.once('line', l => {
      clearTimeout(timer);
      ok(l);
    });
    proc.once('exit', code => fail(new Error(`loopback server exited with ${code}`)));
    proc.once('error', e => fail(new Error(`cannot run ${python}: ${e.message} (set VEL_PYTHON)`)));
  });
  const match = /^READY (\S+)$/.exec(line);
  if (!match) throw new Error(`unexpected loopback output: ${line}`);
  return match[1];
}

/**
 * A real `jupyter lab` with no token on a free port, its config, runtime, settings and
 * workspaces under `root` (so nothing of the user's leaks in), serving `root`.
 * `env` is added to the server's (and so its kernels') environment. With
 * `kernels: false` no kernel can start; `args` are more command-line options.
 * `window.jupyterapp` is exposed to the page. `disabled`: extensions to disable, as
 * `jupyter labextension disable` would (page_config.json in the config dir).
 */
export async function startLab({ root, env = {}, kernels = true, args = [], disabled = [] }) {
  // No "Would you like to get notified about news?" toast over the outputs we look at.
  const notification = join(root, '.settings', '@jupyterlab', 'apputils-extension');
  mkdirSync(notification, { recursive: true });
  writeFileSync(join(notification, 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false' }));
  if (disabled.length) {
    const labconfig = join(root, '.jupyter', 'labconfig');
    mkdirSync(labconfig, { recursive: true });
    const disabledExtensions = Object.fromEntries(disabled.map(name => [name, true]));
    writeFileSync(join(labconfig, 'page_config.json'), JSON.stringify({ disabledExtensions }));
  }
  let labextDir = null;
  if (process.env.VEL_LABEXT_DIR) {
    // Lab serves an extension from <dir>/<package name>/: link the build there.
    labextDir = join(root, '.labextensions');
    mkdirSync(labextDir, { recursive: true });
    symlinkSync(resolve(process.env.VEL_LABEXT_DIR), join(labextDir, 'vel-jupyter'), 'dir');
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/`;
  const serverEnv = {
    ...process.env,
    PATH: `${dirname(python)}:${process.env.PATH ?? ''}`,
    JUPYTER_CONFIG_DIR: join(root, '.jupyter'),
    JUPYTER_RUNTIME_DIR: join(root, '.runtime'),
    JUPYTERLAB_SETTINGS_DIR: join(root, '.settings'),
    JUPYTERLAB_WORKSPACES_DIR: join(root, '.workspaces'),
    IPYTHONDIR: join(root, '.ipython'),
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    ...env
  };
  delete serverEnv.VEL_STORE; // kernels keep their sessions in memory
  const proc = track(
    spawn(
      jupyter,
      [
        'lab',
        '--no-browser',
        `--port=${port}`,
        '--ServerApp.ip=127.0.0.1',
        "--IdentityProvider.token=''",
        '--allow-root', // CI containers often run as root
        '--ServerApp.disable_check_xsrf=True',
        `--ServerApp.root_dir=${root}`,
        '--LabApp.expose_app_in_browser=True',
        '--LabApp.news_url=None',
        '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
        ...(kernels ? [] : ['--KernelSpecManager.allowed_kernelspecs=["vel-no-kernel"]']),
        ...(labextDir ? [`--LabApp.extra_labextensions_path=${labextDir}`] : []),
        ...args
      ],
      { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] }
    ),
    'jupyter lab'
  );
  let output = '';
  proc.stdout.on('data', d => (output += d));
  proc.stderr.on('data', d => (output += d));
  const lab = {
    base,
    root,
    proc,
    output: () => output,
    api: (path, init) => api(base, path, init),
    async stop() {
      if (proc.exitCode !== null) return;
      // Through the API first: the server then shuts its kernels down too (they run in
      // their own process groups and would outlive a killed server).
      try {
        await fetch(`${base}api/shutdown`, { method: 'POST' });
      } catch {
        /* already gone */
      }
      if (!(await waitExit(proc, 15000))) await stopProcess(proc);
    }
  };
  onStop(() => lab.stop());
  const deadline = Date.now() + 90000;
  for (;;) {
    if (proc.velError) throw new Error(`cannot run ${jupyter}: ${proc.velError.message} (set VEL_JUPYTER)`);
    if (proc.exitCode !== null) throw new Error(`jupyter lab exited with ${proc.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${base}api/status`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`jupyter lab did not start:\n${output}`);
    await new Promise(r => setTimeout(r, 200));
  }
  return lab;
}

async function api(base, path, init = {}) {
  const r = await fetch(base + path, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) },
    body: init.body === undefined || typeof init.body === 'string' ? init.body : JSON.stringify(init.body)
  });
  if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run']
  });
  onStop(() => browser.close());
  return browser;
}

// -- notebooks --------------------------------------------------------------------------

/** A code cell (nbformat 4.5). */
export function code(source, outputs = []) {
  return { cell_type: 'code', execution_count: null, id: `c${Math.random().toString(36).slice(2, 10)}`, metadata: {}, outputs, source };
}

/** The notebook document; `kernel: null` names a kernel that does not exist (opens with none). */
export function notebook(cells, { kernel = 'python3' } = {}) {
  const kernelspec =
    kernel === null ? { display_name: 'none', language: '', name: 'vel-no-kernel' } : { display_name: 'Python 3', language: 'python', name: kernel };
  return { cells, metadata: { kernelspec }, nbformat: 4, nbformat_minor: 5 };
}

export async function putNotebook(lab, path, nb) {
  await lab.api(`api/contents/${encodeURIComponent(path)}`, { method: 'PUT', body: { type: 'notebook', format: 'json', content: nb } });
}

export async function getNotebook(lab, path) {
  return (await lab.api(`api/contents/${encodeURIComponent(path)}?content=1`)).content;
}

/** Kernels of the sessions open on `path` (ids). */
export async function kernelsOf(lab, path) {
  const sessions = await lab.api('api/sessions');
  return sessions.filter(s => s.path === path && s.kernel).map(s => s.kernel.id);
}

/** Shut down the sessions (and kernels) open on `path`. */
export async function closeSessions(lab, path) {
  for (const s of await lab.api('api/sessions')) {
    if (s.path === path) await lab.api(`api/sessions/${s.id}`, { method: 'DELETE' });
  }
}

// Installed in every page: finds a notebook panel by path, runs cells through Lab's own
// commands, and watches output areas with MutationObservers.
function pageHelpers() {
  const panelOf = path => {
    const app = window.jupyterapp;
    if (!app) return null;
    for (const w of app.shell.widgets('main')) if (w.context && w.context.path === path) return w;
    return null;
  };
  const cell = (path, i) => panelOf(path).content.widgets[i];
  const outputNode = (path, i) => cell(path, i).outputArea.node;
  // What model text must never become: live markup (script, frames, event handlers,
  // javascript: URLs). Returns a description of each offending element.
  const unsafe = root => {
    const bad = [];
    for (const el of root.querySelectorAll('*')) {
      const tag = el.localName;
      if (['script', 'iframe', 'object', 'embed', 'frame', 'base', 'meta', 'form'].includes(tag)) bad.push(`<${tag}>`);
      for (const a of el.attributes) {
        if (a.name.startsWith('on')) bad.push(`<${tag} ${a.name}>`);
        if (['href', 'src', 'xlink:href', 'action', 'formaction', 'srcdoc', 'data'].includes(a.name) && /^[\s\0-\x1f]*(javascript|vbscript|data):/i.test(a.value.replace(/[\t\n\r]/g, '')))
          bad.push(`<${tag} ${a.name}="${a.value}">`);
      }
    }
    return bad;
  };
  window.__velui = {
    panelOf,
    cell,
    outputNode,
    unsafe,
    outputText: (path, i) => outputNode(path, i).textContent,
    ready(path) {
      const p = panelOf(path);
      return !!p && p.context.isReady && p.content.widgets.length > 0;
    },
    kernelIdle(path) {
      const p = panelOf(path);
      const kernel = p?.sessionContext?.session?.kernel;
      return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
    },
    runs: {},
    /** Run cell i with Lab's own `notebook:run-cell`; progress in runs[path#i]. */
    run(path, i) {
      const app = window.jupyterapp;
      const p = panelOf(path);
      app.shell.activateById(p.id);
      p.content.activeCellIndex = i;
      p.content.deselectAll();
      const key = `${path}#${i}`;
      const state = (this.runs[key] = { done: false, ok: null, error: null, started: performance.now(), ended: null });
      Promise.resolve(app.commands.execute('notebook:run-cell')).then(
        ok => Object.assign(state, { done: true, ok, ended: performance.now() }),
        e => Object.assign(state, { done: true, ok: false, error: String(e), ended: performance.now() })
      );
      return key;
    },
    watches: {},
    /**
     * Record the output area of cell i on every DOM change: text length, whether our
     * renderer's final view is showing (a live frame is `.vel-root.vel-live`), the unsafe
     * elements seen; `keep` texts are kept (short ones); `marker`: when it first appears
     * in the text; `probes`: selectors, each counted over the streaming states it matched.
     */
    watch(path, i, { keep = false, marker = null, probes = [] } = {}) {
      const node = cell(path, i).node;
      const rec = {
        lengths: [], texts: [], streamingSnapshots: 0, liveOurs: 0, probes: Object.fromEntries(probes.map(p => [p, 0])),
        unsafe: [], vel: false, velAt: null, markerAt: null, start: performance.now(), mutations: 0, lastLive: null
      };
      const check = () => {
        rec.mutations++;
        const area = node.querySelector('.jp-OutputArea');
        if (!area) return;
        const text = area.textContent;
        const vel = !!area.querySelector('.vel-root:not(.vel-live)');
        if (vel && !rec.vel) rec.velAt = performance.now();
        rec.vel = vel;
        if (marker && rec.markerAt === null && text.includes(marker)) rec.markerAt = performance.now();
        if (!vel && text.length && rec.lengths[rec.lengths.length - 1] !== text.length) {
          rec.lengths.push(text.length);
          rec.streamingSnapshots++;
          const live = area.querySelector('.vel-root.vel-live');
          if (live) {
            rec.liveOurs++;
            const content = live.querySelector('.vel-msg-content');
            const top = content ? content.getBoundingClientRect().top - area.getBoundingClientRect().top : null;
            rec.lastLive = { top, height: content ? content.getBoundingClientRect().height : null };
          }
          for (const p of probes) if (area.querySelector(p)) rec.probes[p]++;
          if (keep) rec.texts.push(text);
        }
        if (keep) for (const bad of unsafe(area)) if (!rec.unsafe.includes(bad)) rec.unsafe.push(bad);
      };
      const observer = new MutationObserver(check);
      observer.observe(node, { subtree: true, childList: true, characterData: true, attributes: true });
      rec.stop = () => observer.disconnect();
      this.watches[`${path}#${i}`] = rec;
      return `${path}#${i}`;
    }
  };
}

/** A fresh browser context and page with the helpers; page errors, console errors and dialogs are kept. */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.addInitScript(pageHelpers);
  const page = await context.newPage();
  page.velErrors = [];
  page.velDialogs = [];
  page.velConsole = [];
  page.on('pageerror', e => page.velErrors.push(String(e)));
  page.on('console', m => m.type() === 'error' && page.velConsole.push(`${m.text().slice(0, 500)} (${m.location().url})`));
  page.on('dialog', d => {
    page.velDialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return page;
}

/**
 * Open `path` in Lab (its own workspace, so earlier tests' documents do not reopen) and
 * wait until the notebook is loaded; with `kernel` until its kernel is idle, else
 * answer Lab's "Select Kernel" dialog with "No Kernel".
 */
export async function openNotebook(page, lab, path, { kernel = true, timeout = 90000 } = {}) {
  const workspace = `w${Math.random().toString(36).slice(2, 10)}`;
  await page.goto(`${lab.base}lab/workspaces/${workspace}/tree/${encodeURIComponent(path)}`);
  await page.waitForFunction(p => window.__velui.ready(p), path, { timeout });
  if (kernel) {
    await page.waitForFunction(p => window.__velui.kernelIdle(p), path, { timeout, polling: 100 });
  } else {
    const dialog = page.locator('.jp-Dialog');
    await dialog.waitFor({ timeout: 20000 });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: 10000 });
  }
}

/** Run cell i and wait until Lab says it finished; returns the run state (ok, ms). */
export async function runCell(page, path, i, { timeout = 90000 } = {}) {
  const key = await page.evaluate(([p, n]) => window.__velui.run(p, n), [path, i]);
  await page.waitForFunction(k => window.__velui.runs[k].done, key, { timeout, polling: 50 });
  const state = await page.evaluate(k => window.__velui.runs[k], key);
  if (!state.ok) {
    const text = await page.evaluate(([p, n]) => window.__velui.outputText(p, n), [path, i]);
    throw new Error(`cell ${i} of ${path} failed${state.error ? ` (${state.error})` : ''}: ${text.slice(0, 2000)}`);
  }
  return { ...state, ms: state.ended - state.started };
}

/** Start running cell i without waiting; returns the key to pass to waitRun. */
export function startCell(page, path, i) {
  return page.evaluate(([p, n]) => window.__velui.run(p, n), [path, i]);
}

export async function waitRun(page, key, { timeout = 90000 } = {}) {
  await page.waitForFunction(k => window.__velui.runs[k].done, key, { timeout, polling: 50 });
  const state = await page.evaluate(k => window.__velui.runs[k], key);
  if (!state.ok) throw new Error(`${key} failed${state.error ? ` (${state.error})` : ''}`);
  return { ...state, ms: state.ended - state.started };
}

/** Text of the output area of cell i. */
export function outputText(page, path, i) {
  return page.evaluate(([p, n]) => window.__velui.outputText(p, n), [path, i]);
}

/** A locator for the output area of cell i (the i-th cell of the open notebook). */
export function outputOf(page, i) {
  return page.locator('.jp-Notebook .jp-Cell').nth(i).locator('.jp-OutputArea');
}
