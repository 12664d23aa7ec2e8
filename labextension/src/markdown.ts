/**
 * Model text as Markdown, the way JupyterLab renders an untrusted Markdown cell: the one
 * place this extension turns untrusted text into HTML.
 *
 * - JupyterLab's own `renderMarkdown` (from @jupyterlab/rendermime) with the application's
 *   Markdown parser (marked, with CodeMirror highlighting of fenced code), its sanitizer and
 *   `trusted: false`, so the sanitizer always runs, even for outputs of a trusted notebook.
 * - It renders into a host inside an inert document (no browsing context: nothing loads,
 *   nothing runs), where two rules of ours apply before anything reaches the page, the same
 *   rules as the Python side (vel_jupyter/render.py):
 *   - an image becomes a link to it ("image: alt"), so a model cannot make the browser
 *     fetch a URL of its choosing; `data:` images (mermaid diagrams) stay;
 *   - a link keeps its target only for http, https, mailto or a `#fragment`; a relative
 *     link (into the Jupyter server the user is logged in to) becomes plain text.
 * - The result is moved into the page and math is typeset there, as in a Markdown cell.
 */
import { renderMarkdown } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import type { MarkdownHook } from './render';

/** Classes of JupyterLab's rendered Markdown: its styles for headings, tables and code. */
export const MARKDOWN_CLASSES = ['jp-RenderedHTMLCommon', 'jp-RenderedMarkdown', 'vel-md'];

/** Characters of Markdown a one-line preview is read from (as vel_jupyter/render.py). */
const PLAIN_SOURCE = 2000;

const LINK_SCHEMES = new Set(['http:', 'https:', 'mailto:']);
const FETCHING = 'img, audio, video, source, track, picture, iframe, object, embed, link, input';

/** A Markdown hook built on the renderer options JupyterLab gives a MIME renderer. */
export function labMarkdown(options: IRenderMime.IRendererOptions): MarkdownHook | undefined {
  const parser = options.markdownParser;
  if (!parser) {
    return undefined; // no Markdown parser in this application: text stays text
  }
  return {
    async render(host: HTMLElement, source: string): Promise<void> {
      const inert = document.implementation.createHTMLDocument('');
      const scratch = inert.createElement('div');
      inert.body.appendChild(scratch);
      await renderMarkdown({
        host: scratch,
        source,
        trusted: false,
        sanitizer: options.sanitizer,
        resolver: null,
        linkHandler: null,
        shouldTypeset: false,
        latexTypesetter: null,
        markdownParser: parser,
        translator: options.translator
      });
      applyLinkRules(scratch);
      // A static copy first: adopting a node takes it out of the live `childNodes` list.
      const nodes = Array.from(scratch.childNodes).map(node => document.adoptNode(node));
      host.replaceChildren(...nodes);
      host.classList.add(...MARKDOWN_CLASSES);
    },
    typeset(host: HTMLElement): void | Promise<void> {
      return options.latexTypesetter?.typeset(host);
    },
    /**
     * The words of `source` once rendered, for one-line previews: the parser's HTML is read
     * by a DOMParser (an inert document: nothing loads, nothing runs) and only its text is
     * kept; nothing of it reaches the page.
     */
    async plain(source: string): Promise<string> {
      const html = await parser.render(source.slice(0, PLAIN_SOURCE));
      return new DOMParser().parseFromString(html, 'text/html').body.textContent ?? '';
    }
  };
}

/** Our two rules (see the module comment), applied to sanitized HTML in an inert document. */
export function applyLinkRules(root: HTMLElement): void {
  const doc = root.ownerDocument;
  for (const el of Array.from(root.querySelectorAll(FETCHING))) {
    const src = el.getAttribute('src') ?? '';
    if (el.tagName === 'IMG' && /^data:image\//i.test(src)) {
      continue;
    }
    const label = `${el.tagName === 'IMG' ? 'image' : el.tagName.toLowerCase()}: ${el.getAttribute('alt') || src}`;
    const link = doc.createElement('a');
    link.textContent = label;
    if (allowedTarget(src)) {
      link.setAttribute('href', src);
      link.setAttribute('rel', 'noopener noreferrer nofollow');
      link.setAttribute('target', '_blank');
    }
    el.replaceWith(link);
  }
  for (const el of Array.from(root.querySelectorAll('[srcset], [poster], [background], [formaction], [action]'))) {
    for (const name of ['srcset', 'poster', 'background', 'formaction', 'action']) {
      el.removeAttribute(name);
    }
  }
  for (const a of Array.from(root.querySelectorAll('a[href]'))) {
    const target = a.getAttribute('href') ?? '';
    if (target.startsWith('#')) {
      continue;
    }
    if (!allowedTarget(target)) {
      a.removeAttribute('href');
      continue;
    }
    a.setAttribute('rel', 'noopener noreferrer nofollow');
    a.setAttribute('target', '_blank');
  }
}

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
