/**
 * One `%%chat` turn, while it streams (`live`) and when it is done, in one layout so the
 * output does not jump when the stream ends. Its words (usage line, finish note, echo note)
 * are the payload's, written by Python (./texts has the fallbacks for old outputs).
 */
import { h, within } from './dom';
import { CheckoutHook, MarkdownQueue, RenderOptions, swapIn } from './markdownQueue';
import { TurnAlternative, TurnPayload, isObject, messagesOf, num, str } from './payload';
import { ECHO_NOTE, STALE_NOTE, answerLabel, carried, finishNote, messageTokens, turnUsage } from './texts';
import { VERBATIM_FORMATS, messageContent, roleClass, toolCall, toolCallsOf, toolResult } from './transcript';

/**
 * One `%%chat` turn, while it streams (`live`) and when it is done, in one layout so the
 * output does not jump when the stream ends: the prompt as sent (collapsed, and only when
 * interpolation changed the cell body), tool calls and results as one-line rows, the
 * answer, the note of a cut-off or failed answer, and one footer line (usage, model,
 * latency, first token; session). A turn the session's current path no longer goes through
 * says so above its footer, plainly. The user's message is the cell body: not shown.
 */
export function buildTurn(doc: Document, data: TurnPayload, md: MarkdownQueue, checkout?: CheckoutHook, stop?: () => void): HTMLElement {
  const stale = data.current === false && !data.live;
  const root = h(doc, 'div', {
    class: 'vel-root vel-turn' + (data.live ? ' vel-live' : ''),
    'data-session': str(data.session_id)
  });
  const alternatives = (Array.isArray(data.alternatives) ? data.alternatives : []).filter(
    a => isObject(a) && messagesOf(a.messages).length > 0
  );
  const own = alternatives.findIndex(a => a.current === true);
  // The kernel redraws an output whose session moved to another answer of its cell: start there.
  const showing = typeof data.showing === 'string' ? alternatives.findIndex(a => a.head === data.showing) : -1;
  const body = (index: number) => turnBody(doc, data, md, stale, alternatives, own, index, showing, checkout, stop);
  let part = body(showing >= 0 ? showing : own);
  root.appendChild(part);
  // The ‹ › switcher: show another answer of this cell in place (reading; no kernel needed);
  // "continue with this answer" asks the kernel to move the session onto the branch through it,
  // so the cells below switch to their turns there (the chat app's ‹ k/n ›).
  root.addEventListener('click', event => {
    const target = event.target as HTMLElement | null;
    if (!target || !within(target, part)) {
      return;
    }
    if (target.getAttribute?.('data-action') === 'checkout' && checkout) {
      const head = target.getAttribute('data-head') ?? '';
      const status = (part.querySelectorAll('.vel-alt-status')[0] as HTMLElement | undefined) ?? null;
      (target as HTMLButtonElement).disabled = true;
      if (status) {
        status.textContent = 'switching…';
      }
      checkout.run(str(data.session_id), head).then(
        () => {
          if (status) {
            status.textContent = '';
          }
        },
        (error: unknown) => {
          (target as HTMLButtonElement).disabled = false;
          if (status) {
            status.textContent = String((error as Error)?.message ?? error);
          }
        }
      );
      return;
    }
    const step = target.getAttribute?.('data-step');
    if (!step) {
      return;
    }
    const at = Number(part.getAttribute('data-alternative'));
    const next = Math.min(alternatives.length - 1, Math.max(0, at + Number(step)));
    if (next !== at) {
      const replacement = body(next);
      root.replaceChild(replacement, part);
      part = replacement;
    }
  });
  return root;
}

/** What one answer of a turn looks like: a payload built from an alternative's messages. */
function alternativeView(data: TurnPayload, alternative: TurnAlternative): TurnPayload {
  const messages = messagesOf(alternative.messages);
  let prompt = 0;
  let completion = 0;
  let model = '';
  for (const m of messages) {
    const tokens = messageTokens(m);
    if (tokens) {
      prompt += tokens.prompt;
      completion += tokens.completion;
    }
    const meta = isObject(m.meta) ? m.meta : null;
    if (meta && m.role === 'assistant' && meta.model) {
      model = str(meta.model);
    }
  }
  return {
    ...data,
    messages,
    usage: { prompt_tokens: prompt, completion_tokens: completion },
    model: model || data.model,
    latency_ms: null,
    ttft_ms: null,
    note: undefined,
    // Its own words (absent in outputs saved before they were carried: then computed here).
    usage_line: alternative.usage_line,
    finish_note: alternative.finish_note,
    echo_note: alternative.echo_note
  };
}

/** The answer, its note and its footer, for alternative `index` (`own`: this output's; -1: none). */
function turnBody(
  doc: Document,
  data: TurnPayload,
  md: MarkdownQueue,
  stale: boolean,
  alternatives: TurnAlternative[],
  own: number,
  index: number,
  showing = -1,
  checkout?: CheckoutHook,
  stop?: () => void
): HTMLElement {
  const mine = index === own;
  const view = mine || index < 0 ? data : alternativeView(data, alternatives[index]);
  const part = h(doc, 'div', {
    class: 'vel-turn-body' + (mine ? '' : ' vel-alternative') + (mine && stale ? ' vel-stale' : ''),
    'data-alternative': String(index)
  });
  // The prompt as sent, when interpolation changed it: this answer's own.
  const sent = mine || index < 0 ? data.prompt : view.messages.find(m => m.role === 'user')?.content;
  if (typeof data.prompt === 'string' && typeof sent === 'string') {
    part.appendChild(
      h(
        doc,
        'details',
        { class: 'vel-prompt' },
        h(doc, 'summary', {}, 'prompt sent (after {name} interpolation)'),
        h(doc, 'pre', { class: 'vel-msg-content' }, sent)
      )
    );
  }
  const echo = carried(view.echo_note, () => (isEcho(view) ? ECHO_NOTE : ''));
  if (echo) {
    part.appendChild(h(doc, 'div', { class: 'vel-echo-badge', role: 'note', title: 'the offline echo provider answered, not a model' }, echo));
  }
  const list = h(doc, 'div', { class: 'vel-transcript-list' });
  const shown = view.messages.filter(m => m.role !== 'user');
  const format = str(view.format) || 'markdown';
  // The format names a class: one of ours, never the payload's word (it could be any class).
  const formatClass = `vel-format-${VERBATIM_FORMATS.has(format) ? format : 'text'}`;
  const answer = [...shown].reverse().find(m => m.role === 'assistant');
  for (const message of shown) {
    const role = roleClass(message.role);
    const el = h(doc, 'div', { class: `vel-msg vel-role-${role}`, 'data-id': message.id });
    const content = str(message.content);
    if (role === 'tool') {
      el.appendChild(toolResult(doc, message));
    } else if (content && message === answer && format !== 'markdown') {
      el.appendChild(h(doc, 'pre', { class: `vel-msg-content vel-verbatim ${formatClass}` }, content));
    } else if (content) {
      el.appendChild(messageContent(doc, content, role === 'assistant' ? md : null));
    }
    for (const call of toolCallsOf(message)) {
      el.appendChild(toolCall(doc, call));
    }
    list.appendChild(el);
  }
  part.appendChild(list);
  const note = str(view.note) || carried(view.finish_note, () => finishNote(view.messages, num(data.default_cap)));
  if (note) {
    part.appendChild(h(doc, 'div', { class: 'vel-finish-note', role: 'note' }, note));
  }
  const sid = str(data.session_id);
  if (mine && stale) {
    // As plain as the answer: this cell's turn is not on the path the session continues from.
    const marker = h(doc, 'div', { class: 'vel-stale-marker', role: 'note', title: `%chat branches ${sid} lists the branches` });
    marker.appendChild(h(doc, 'span', { class: 'vel-stale-text' }, STALE_NOTE));
    const head = own >= 0 ? str(alternatives[own].head) : '';
    if (head) {
      marker.appendChild(checkoutButton(doc, sid, head, checkout));
      marker.appendChild(h(doc, 'span', { class: 'vel-alt-status', role: 'status' }));
    }
    part.appendChild(marker);
  }
  const footer = h(doc, 'div', { class: 'vel-turn-footer' });
  if (alternatives.length > 1 && !data.live && index >= 0) {
    const switcher = h(doc, 'span', { class: 'vel-alt-switcher', role: 'group', 'aria-label': 'answers of this cell' });
    const prev = h(doc, 'button', { class: 'vel-alt-prev', type: 'button', 'data-step': '-1', title: 'previous answer', 'aria-label': 'previous answer' }, '‹');
    const next = h(doc, 'button', { class: 'vel-alt-next', type: 'button', 'data-step': '1', title: 'next answer', 'aria-label': 'next answer' }, '›');
    (prev as HTMLButtonElement).disabled = index === 0;
    (next as HTMLButtonElement).disabled = index === alternatives.length - 1;
    switcher.appendChild(prev);
    switcher.appendChild(
      h(doc, 'span', { class: 'vel-alt-position', title: answerLabel(index, alternatives.length) }, `${index + 1}/${alternatives.length}`)
    );
    switcher.appendChild(next);
    footer.appendChild(switcher);
  }
  if (data.live) {
    // A stopped frame's note labels the text; the error line under it says why, once.
    footer.appendChild(h(doc, 'span', { class: 'vel-usage vel-streaming' }, data.note ? '' : '▌ streaming…'));
    if (stop && !data.note) {
      // The kernel interrupt a chat app's stop button is: the turn keeps what was said so far
      // (%config ChatMagics.keep_stopped) and the cell ends with one line.
      const button = h(doc, 'button', { class: 'vel-stop', type: 'button', title: 'stop this answer: what was said so far is kept' }, '■ Stop') as HTMLButtonElement;
      button.addEventListener('click', () => {
        button.disabled = true;
        stop();
      });
      footer.appendChild(button);
    }
  } else {
    footer.appendChild(h(doc, 'span', { class: 'vel-usage' }, carried(view.usage_line, () => turnUsage(view))));
    // No "branch k of n" here: branch numbers change as the tree grows, and the ‹ k/n ›
    // switcher already says "answer k of n" where a cell has several.
    if (index >= 0 && index === showing) {
      footer.appendChild(h(doc, 'span', { class: 'vel-alt-note vel-alt-current' }, 'the session continues from this answer'));
    } else if (!mine && index >= 0) {
      footer.appendChild(h(doc, 'span', { class: 'vel-alt-note' }, 'another answer of this cell'));
      footer.appendChild(checkoutButton(doc, sid, str(alternatives[index].head), checkout));
      footer.appendChild(h(doc, 'span', { class: 'vel-alt-status', role: 'status' }));
    }
  }
  if (data.session_id) {
    footer.appendChild(h(doc, 'span', { class: 'vel-session-id', title: 'session id' }, str(data.session_id)));
  }
  part.appendChild(footer);
  return part;
}

/** Whether the offline echo provider answered (for outputs saved without `echo_note`). */
function isEcho(data: TurnPayload): boolean {
  if (str(data.provider) === 'echo') {
    return true;
  }
  return data.messages.some(m => m.role === 'assistant' && isObject(m.meta) && m.meta.provider === 'echo');
}

/** "continue with this answer": enabled when a kernel is connected, else disabled with a tooltip. */
function checkoutButton(doc: Document, sid: string, head: string, checkout?: CheckoutHook): HTMLElement {
  const can = !!checkout && checkout.available();
  const button = h(
    doc,
    'button',
    {
      class: 'vel-alt-checkout',
      type: 'button',
      'data-action': 'checkout',
      'data-head': head,
      title: can
        ? `make this answer current in ${sid}, with the turns that followed it: the cells below show them (%chat checkout ${sid} ${head} --follow)`
        : `no kernel connected: run the notebook, then continue with it (%chat checkout ${sid} ${head} --follow)`
    },
    'continue with this answer'
  );
  (button as HTMLButtonElement).disabled = !can;
  return button;
}

/** A turn, live or finished (see `buildTurn`). */
export function renderTurn(el: HTMLElement, data: TurnPayload, options: RenderOptions = {}): Promise<void> {
  return swapIn(el, options, md => buildTurn(el.ownerDocument, data, md, options.checkout, options.stop));
}
