/**
 * Model text as Markdown, the way JupyterLab renders an untrusted Markdown cell: the one
 * place this extension turns untrusted text into HTML.
 *
 * - JupyterLab's own `renderMarkdown` (from @jupyterlab/rendermime) with the application's
 *   Markdown parser (marked, with CodeMirror highlighting of fenced code), its sanitizer and
 *   `trusted: false`, so the sanitizer always runs, even for outputs of a trusted notebook.
 * - It renders into a host inside an inert document (no browsing context: nothing loads,
 *   nothing runs), where ./scrub's allowlist pass runs before anything reaches the page:
 *   no `style`, no foreign class, no attribute that can name a URL but a checked link
 *   `href`; images become links to them ("image: alt"). The Python side
 *   (vel_jupyter/render.py) applies the same link and image rules.
 * - The parser itself sees the text with ```mermaid blocks renamed (`withoutDiagrams`):
 *   it would draw them in the live page, where a diagram's images load.
 * - The result is moved into the page and math is typeset there, as in a Markdown cell.
 *
 * Every path that shows model Markdown comes here: turns, transcripts, the tree's detail
 * pane and saved notebooks (MarkdownQueue.fill in ./markdownQueue), and the fork-tree widget
 * (MARKDOWN_EVENT, answered in ./index). One-line previews (`plain`) are text only.
 */
import { renderMarkdown } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import type { MarkdownHook } from './markdownQueue';
import { CodeActions, addCodeTools } from './codeTools';
import { scrubModelHtml, withoutDiagrams } from './scrub';

/** Classes of JupyterLab's rendered Markdown: its styles for headings, tables and code. */
export const MARKDOWN_CLASSES = ['jp-RenderedHTMLCommon', 'jp-RenderedMarkdown', 'vel-md'];

/** Characters of Markdown a one-line preview is read from (as vel_jupyter/render.py). */
const PLAIN_SOURCE = 2000;

/** A Markdown hook built on the renderer options JupyterLab gives a MIME renderer; code blocks
 * get ./codeTools' box (``code``: what its buttons can do where the output is). */
export function labMarkdown(options: IRenderMime.IRendererOptions, code: CodeActions = {}): MarkdownHook | undefined {
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
        source: withoutDiagrams(source),
        trusted: false,
        sanitizer: options.sanitizer,
        resolver: null,
        linkHandler: null,
        shouldTypeset: false,
        latexTypesetter: null,
        markdownParser: parser,
        translator: options.translator
      });
      scrubModelHtml(scratch);
      // A static copy first: adopting a node takes it out of the live `childNodes` list.
      const nodes = Array.from(scratch.childNodes).map(node => document.adoptNode(node));
      host.replaceChildren(...nodes);
      host.classList.add(...MARKDOWN_CLASSES);
      addCodeTools(host, code);
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
      const html = await parser.render(withoutDiagrams(source.slice(0, PLAIN_SOURCE)));
      return new DOMParser().parseFromString(html, 'text/html').body.textContent ?? '';
    }
  };
}
