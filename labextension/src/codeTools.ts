/**
 * Code blocks in answers get a box with "Copy" and "Insert as a cell" (jupyter-ai has both):
 * the code is read as text from the rendered block and never becomes markup; the buttons are
 * made with the DOM kit. Inserting puts a new code cell below the output's cell, through the
 * notebook's public model (./kernel finds it); outside a notebook only "Copy" is offered.
 */
import { h } from './dom';

export interface CodeActions {
  /** Put `code` in a new cell below the output's cell; false when there is no notebook. */
  insertCell?: (code: string) => boolean;
}

const DONE_MS = 1500;

/** Wrap every `pre` of rendered Markdown in `host` in a box with its tools (once). */
export function addCodeTools(host: HTMLElement, actions: CodeActions = {}): void {
  const doc = host.ownerDocument;
  for (const pre of Array.from(host.querySelectorAll('pre'))) {
    if (pre.parentElement?.classList.contains('vel-code-box')) {
      continue;
    }
    const box = h(doc, 'div', { class: 'vel-code-box' });
    const tools = h(doc, 'div', { class: 'vel-code-tools' });
    const copy = h(doc, 'button', { class: 'vel-code-copy', type: 'button', title: 'copy the code' }, 'Copy') as HTMLButtonElement;
    copy.addEventListener('click', () => {
      void copyText(doc, pre.textContent ?? '').then(ok => flash(copy, ok ? 'Copied' : 'Select the code and press Ctrl+C', 'Copy'));
    });
    tools.appendChild(copy);
    const insert = actions.insertCell;
    if (insert) {
      const button = h(doc, 'button', { class: 'vel-code-insert', type: 'button', title: 'a new code cell below, holding this code' }, 'Insert as a cell') as HTMLButtonElement;
      button.addEventListener('click', () => {
        flash(button, insert(pre.textContent ?? '') ? 'Inserted below' : 'No notebook to insert into', 'Insert as a cell');
      });
      tools.appendChild(button);
    }
    pre.replaceWith(box);
    box.appendChild(tools);
    box.appendChild(pre);
  }
}

function flash(button: HTMLButtonElement, text: string, back: string): void {
  button.textContent = text;
  const win = button.ownerDocument.defaultView;
  win?.setTimeout(() => {
    button.textContent = back;
  }, DONE_MS);
}

/** The clipboard API where the page may use it, else the selection and the copy command. */
async function copyText(doc: Document, text: string): Promise<boolean> {
  const clipboard = doc.defaultView?.navigator.clipboard;
  if (clipboard) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // not allowed here (an insecure origin, no permission): the older way below
    }
  }
  const area = doc.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  doc.body.appendChild(area);
  area.select();
  try {
    return doc.execCommand('copy');
  } catch {
    return false;
  } finally {
    area.remove();
  }
}
