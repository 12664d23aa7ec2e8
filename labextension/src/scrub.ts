/**
 * The last pass over model HTML, run by ./markdown after JupyterLab's Markdown renderer and
 * sanitizer, in the inert document it was rendered in: only what this pass keeps reaches
 * the page. It is an allowlist, so it holds whatever the sanitizer lets through. (Measured
 * in Chromium: JupyterLab's sanitizer keeps CSS `url()` in `style`, which fetched a model's
 * URL as soon as an answer rendered, even from a saved notebook with no kernel; it also
 * keeps `position: absolute`, any class, and command-linker buttons that run Lab commands.)
 *
 * - Elements: those of Markdown and a few inline ones (KEEP) stay. Images and other media
 *   become a link to their source ("image: alt"), as in vel_jupyter/render.py. Script-like
 *   and foreign elements (SVG, MathML, style, link, meta, base, …) go with their content;
 *   any other (form, button, dialog, custom elements) gives way to its content.
 * - Attributes: only those in ATTRIBUTES; no `style`, no `id`/`name`, no `data-*` or event
 *   handler, and none that can name a URL, except a link's `href` when it is an absolute
 *   http, https or mailto URL or a `#fragment` (a relative link would point into the Jupyter
 *   server the user is logged in to).
 * - Classes: only CodeMirror's highlighting of fenced code, and JupyterLab's heading
 *   anchors; their CSS colours text, it neither positions nor fetches anything.
 *
 * One thing happens before this pass can see it: JupyterLab's Markdown parser renders a
 * ```mermaid block in the live page, where its labels and image shapes fetch URLs; so
 * `withoutDiagrams` shows such blocks as their source.
 *
 * Imports nothing: test/scrub.test.mjs runs it in node on a parsed DOM.
 */

const HTML_NS = 'http://www.w3.org/1999/xhtml';

const KEEP = new Set(
  ('a abbr b bdi bdo blockquote br caption code col colgroup dd del details dfn div dl dt em figcaption figure ' +
    'h1 h2 h3 h4 h5 h6 hr i input ins kbd li mark ol p pre q rp rt ruby s samp small span strike strong sub ' +
    'summary sup table tbody td tfoot th thead tr tt u ul var wbr').split(' ')
);

/** Replaced by a link to what they would load. */
const MEDIA = new Set(['img', 'audio', 'video', 'source', 'track', 'picture', 'iframe', 'object', 'embed', 'input']);

/** Removed with their content (code, not text to read). */
const DROP = new Set(
  'script style template noscript noembed noframes frame frameset applet param link meta base title head textarea select option datalist'.split(' ')
);

const COMMON = ['title', 'lang', 'dir', 'class'];
const CELL = ['align', 'colspan', 'rowspan'];
const ATTRIBUTES: Record<string, Set<string> | undefined> = Object.fromEntries(
  Object.entries({
    a: ['href', 'rel', 'target'],
    input: ['type', 'checked', 'disabled'], // task-list checkboxes only
    ol: ['start', 'reversed', 'type'],
    li: ['value'],
    td: CELL,
    th: CELL,
    col: ['span'],
    colgroup: ['span'],
    details: ['open'],
    // JupyterLab's heading ids (what its `#fragment` anchors point at)
    ...Object.fromEntries(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(tag => [tag, ['data-jupyter-id']]))
  }).map(([tag, names]) => [tag, new Set([...COMMON, ...names])])
);
const COMMON_SET = new Set(COMMON);

/**
 * CodeMirror's highlighter, which JupyterLab's Markdown parser runs on fenced code: class
 * names its StyleModule generates ("ͼ" and a base-36 number), on spans inside `<pre>`.
 */
const HIGHLIGHT = /^ͼ[0-9a-z]+$/;
/** JupyterLab's heading anchors (the "¶" after a heading), kept on `#fragment` links only. */
const ANCHOR_CLASS = 'jp-InternalAnchorLink';

const LINK_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/** An absolute http, https or mailto URL (what a link from model text may point to). */
export function allowedTarget(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url); // no base: relative URLs throw
  } catch {
    return false;
  }
  return LINK_SCHEMES.has(parsed.protocol);
}

/** Apply the rules above to everything below `root` (not to `root` itself). */
export function scrubModelHtml(root: Element): void {
  // Top down, each element once; nothing below a removed element is visited.
  const stack: Element[] = Array.from(root.children).reverse();
  while (stack.length) {
    const el = stack.pop()!;
    const children = Array.from(el.children);
    const tag = el.localName;
    if (el.namespaceURI !== HTML_NS || DROP.has(tag)) {
      el.remove();
      continue;
    }
    if (MEDIA.has(tag) && !harmlessMedia(el)) {
      el.replaceWith(mediaLink(el));
      continue;
    }
    if (!KEEP.has(tag)) {
      el.replaceWith(...Array.from(el.childNodes));
    } else {
      scrubAttributes(el);
    }
    for (let i = children.length - 1; i >= 0; i--) {
      stack.push(children[i]);
    }
  }
}

/** A task-list checkbox (the only input kept; it is disabled below). */
function harmlessMedia(el: Element): boolean {
  return el.localName === 'input' && (el.getAttribute('type') ?? '').toLowerCase() === 'checkbox';
}

/** "image: alt", linking to the source when it is an allowed target. */
function mediaLink(el: Element): Element {
  const src = el.getAttribute('src') ?? '';
  const link = el.ownerDocument.createElement('a');
  link.textContent = `${el.localName === 'img' ? 'image' : el.localName}: ${el.getAttribute('alt') || src}`;
  if (allowedTarget(src)) {
    link.setAttribute('href', src);
    link.setAttribute('rel', 'noopener noreferrer nofollow');
    link.setAttribute('target', '_blank');
  }
  return link;
}

function scrubAttributes(el: Element): void {
  const tag = el.localName;
  const allowed = ATTRIBUTES[tag] ?? COMMON_SET;
  for (const name of Array.from(el.attributes, a => a.name)) {
    if (!allowed.has(name)) {
      el.removeAttribute(name);
    }
  }
  if (tag === 'a') {
    linkRules(el);
  } else if (tag === 'input') {
    el.setAttribute('disabled', ''); // a checkbox the reader cannot tick
  }
  const classes = (el.getAttribute('class') ?? '').split(/\s+/).filter(name => name && keepClass(el, name));
  if (classes.length) {
    el.setAttribute('class', classes.join(' '));
  } else {
    el.removeAttribute('class');
  }
}

/** A link keeps its target only for http, https, mailto or a `#fragment` of the page. */
function linkRules(a: Element): void {
  const href = a.getAttribute('href');
  if (href !== null && href.startsWith('#')) {
    a.removeAttribute('rel');
    a.setAttribute('target', '_self');
  } else if (href !== null && allowedTarget(href)) {
    a.setAttribute('rel', 'noopener noreferrer nofollow');
    a.setAttribute('target', '_blank');
  } else {
    for (const name of ['href', 'rel', 'target']) {
      a.removeAttribute(name);
    }
  }
}

function keepClass(el: Element, name: string): boolean {
  if (HIGHLIGHT.test(name)) {
    return el.localName === 'span' && el.closest('pre') !== null;
  }
  return name === ANCHOR_CLASS && el.localName === 'a' && (el.getAttribute('href') ?? '').startsWith('#');
}

/**
 * A fence whose info string is `mermaid` (what makes JupyterLab's parser draw a diagram)
 * named `mermaid-source`, so it shows as code. Matched anywhere in a line (list and quote
 * prefixes included): at worst a line that only looks like such a fence changes that word.
 */
export function withoutDiagrams(source: string): string {
  return source.replace(/((?:`{3,}|~{3,})[^\S\r\n]*)mermaid(?=[^\S\r\n]*$)/gm, '$1mermaid-source');
}
