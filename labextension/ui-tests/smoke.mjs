// Headless smoke test: a real JupyterLab server, system Chromium, a saved (untrusted)
// notebook with vel_jupyter outputs, and no kernel. Asserts our renderer is used and
// that hostile model text stays inert.
//
//   VEL_JUPYTER=/path/to/venv/bin/jupyter  (a venv with jupyterlab and vel-jupyter installed)
//   VEL_PYTHON=/path/to/python              (writes the fixture; needs vel_jupyter importable)
//   CHROMIUM=/usr/bin/chromium              (default)
//   VEL_LABEXT_DIR=/repo/vel_jupyter/labextension  (optional: serve this build of the
//                                            extension ahead of any installed copy)
//   node smoke.mjs
//
// Never run `npx playwright install`: playwright-core drives the system Chromium.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const jupyter = process.env.VEL_JUPYTER ?? 'jupyter';
const python = process.env.VEL_PYTHON ?? join(dirname(jupyter), 'python');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const log = (...args) => console.log(`[${elapsed()}]`, ...args);
const fail = message => {
  throw new Error(message);
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForServer(url, proc, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) fail(`jupyter lab exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`${url}api/status`);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise(r => setTimeout(r, 250));
  }
  fail('jupyter lab did not start');
}

const fixture = join(here, 'fixtures', 'vel-session.ipynb');
if (!existsSync(fixture) || process.env.VEL_REFRESH_FIXTURE) {
  log('writing fixture with', python);
  execFileSync(python, [join(here, 'make_fixture.py')], { stdio: 'inherit' });
}
const root = mkdtempSync(join(tmpdir(), 'vel-smoke-'));
copyFileSync(fixture, join(root, 'vel-session.ipynb'));
// Lab serves an extension from <dir>/<package name>/: link the build there.
let labextDir = null;
if (process.env.VEL_LABEXT_DIR) {
  labextDir = join(root, '.labextensions');
  mkdirSync(labextDir);
  symlinkSync(resolve(process.env.VEL_LABEXT_DIR), join(labextDir, 'vel-jupyter'), 'dir');
}
const port = await freePort();
const base = `http://127.0.0.1:${port}/`;
const lab = spawn(
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
    // No kernel can start: the notebook opens with its saved outputs only.
    '--KernelSpecManager.allowed_kernelspecs=["vel-smoke-none"]',
    '--LabApp.news_url=None',
    ...(labextDir ? [`--LabApp.extra_labextensions_path=${labextDir}`] : []),
    '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'
  ],
  { env: { ...process.env, JUPYTER_CONFIG_DIR: join(root, '.jupyter'), JUPYTER_RUNTIME_DIR: join(root, '.runtime'), JUPYTERLAB_SETTINGS_DIR: join(root, '.settings'), JUPYTERLAB_WORKSPACES_DIR: join(root, '.workspaces') }, stdio: ['ignore', 'pipe', 'pipe'] }
);
let serverLog = '';
lab.stdout.on('data', d => (serverLog += d));
lab.stderr.on('data', d => (serverLog += d));

let browser;
let ok = false;
try {
  await waitForServer(base, lab);
  log(`jupyter lab up on ${base}`);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', e => pageErrors.push(String(e)));
  page.on('dialog', d => d.dismiss()); // an alert() from hostile text would land here
  let alerts = 0;
  page.on('dialog', () => alerts++);

  await page.goto(`${base}lab/tree/vel-session.ipynb`);
  const tOpen = Date.now();
  await page.waitForSelector('.vel-root', { timeout: 60000 });
  // All five outputs are rendered by us (2 turns, session, export, 1,000-turn session).
  await page.waitForFunction(() => document.querySelectorAll('.jp-OutputArea-output .vel-root').length === 5, null, { timeout: 60000 });
  log(`5 vel outputs rendered ${((Date.now() - tOpen) / 1000).toFixed(1)} s after navigation`);

  // No kernel can start, so Lab asks which kernel to use: answer "No Kernel".
  const dialog = page.locator('.jp-Dialog');
  if (await dialog.waitFor({ timeout: 10000 }).then(() => true, () => false)) {
    log('dialog:', (await dialog.locator('.jp-Dialog-header').textContent())?.trim());
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached', timeout: 10000 });
  }

  const report = await page.evaluate(() => {
    const outputs = [...document.querySelectorAll('.jp-OutputArea-output')];
    return {
      ours: outputs.filter(o => o.querySelector('.vel-root')).length,
      markdownFallback: outputs.filter(o => o.classList.contains('jp-RenderedMarkdown')).length,
      mimeTypes: outputs.map(o => o.getAttribute('data-mime-type')),
      turns: document.querySelectorAll('.vel-turn').length,
      sessions: document.querySelectorAll('.vel-session').length,
      toolCalls: document.querySelectorAll('.vel-turn details.vel-tool-call').length,
      markers: [...document.querySelectorAll('.vel-turn .vel-branch-marker')].map(e => e.textContent),
      hostileImgs: document.querySelectorAll('.vel-root img, .vel-root script, .vel-root a, .vel-root iframe').length,
      hostileTextShown: [...document.querySelectorAll('.vel-msg-content')].some(e => e.textContent.includes('<img src=x onerror=')),
      pwned: document.body.dataset.pwned ?? null,
      bigRows: document.querySelectorAll('.vel-session')[2]?.querySelectorAll('.vel-ft-node').length ?? -1,
      bigMsgs: document.querySelectorAll('.vel-session')[2]?.querySelectorAll('.vel-msg').length ?? -1,
      kernelStatus: document.querySelector('.jp-Notebook-ExecutionIndicator, .jp-KernelName, .jp-Toolbar-kernelName')?.textContent ?? null
    };
  });
  log('page report', JSON.stringify(report));
  const kernels = await (await fetch(`${base}api/kernels`)).json();

  // Branch navigation in the first full session: prev switches the transcript.
  const session = page.locator('.vel-session').first();
  const before = await session.locator('.vel-branch-marker').textContent();
  await session.locator('.vel-branch-prev').click();
  const after = await session.locator('.vel-branch-marker').textContent();
  log(`branch nav: "${before}" -> "${after}"`);

  // The 1,000-turn session: open a collapsed branch and a hidden run, timing each.
  const big = page.locator('.vel-session').nth(2);
  let t = Date.now();
  await big.locator('.vel-ft-toggle').first().click();
  await big.locator('.vel-ft-toggle[aria-expanded="true"]').first().waitFor();
  const toggleMs = Date.now() - t;
  t = Date.now();
  await big.locator('.vel-ft-more').first().click();
  const moreMs = Date.now() - t;
  const rowsAfter = await big.locator('.vel-ft-node').count();
  t = Date.now();
  await big.locator('.vel-branch-select').selectOption('0');
  const switchMs = Date.now() - t;
  log(`1,000-turn session: ${report.bigRows} tree rows at first, ${rowsAfter} after expanding; toggle ${toggleMs} ms, show-more ${moreMs} ms, branch switch ${switchMs} ms`);
  if (process.env.VEL_SCREENSHOTS) {
    // One picture per output, for a human to look at (ui-tests/test-results/).
    const outputs = page.locator('.jp-OutputArea-output:has(.vel-root)');
    for (let i = 0; i < (await outputs.count()); i++) {
      await outputs.nth(i).scrollIntoViewIfNeeded();
      await outputs.nth(i).screenshot({ path: join(here, 'test-results', `output-${i}.png`) });
    }
    await big.locator('.vel-ft-panel').scrollIntoViewIfNeeded();
    await big.locator('.vel-ft-panel').screenshot({ path: join(here, 'test-results', 'big-tree.png') });
  }

  const problems = [];
  if (report.ours !== 5) problems.push(`expected 5 outputs rendered by vel-jupyter, got ${report.ours}`);
  if (report.markdownFallback) problems.push(`${report.markdownFallback} outputs fell back to Markdown`);
  if (report.bigMsgs !== 50) problems.push(`big transcript shows ${report.bigMsgs} messages`);
  if (report.turns !== 2 || report.sessions !== 3) problems.push(`turns ${report.turns}, sessions ${report.sessions}`);
  if (report.toolCalls < 1) problems.push('no tool call rendered');
  if (!report.markers.includes('branch 2 of 2')) problems.push(`branch markers ${report.markers}`);
  if (report.hostileImgs || report.pwned || alerts) problems.push(`hostile payload not inert: ${report.hostileImgs} elements, pwned=${report.pwned}, alerts=${alerts}`);
  if (!report.hostileTextShown) problems.push('hostile text not shown as text');
  if (kernels.length) problems.push(`a kernel is running: ${JSON.stringify(kernels)}`);
  if (before === after) problems.push('branch navigation did not change the branch');
  if (pageErrors.length) problems.push(`page errors: ${pageErrors.join('; ')}`);
  if (problems.length) fail(problems.join('\n'));
  ok = true;
  log('SMOKE OK');
} finally {
  await browser?.close();
  lab.kill('SIGTERM');
  await new Promise(r => (lab.exitCode !== null ? r() : lab.once('exit', r)));
  if (!ok) console.error(serverLog.split('\n').slice(-40).join('\n'));
  rmSync(root, { recursive: true, force: true });
}
