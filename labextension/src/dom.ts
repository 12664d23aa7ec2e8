/**
 * The DOM kit of the views: elements with text content only and inert attributes.
 *
 * SECURITY: everything that comes from a payload (model text, tool arguments, names, ids)
 * is inserted with `textContent` / text nodes only. Nothing in the views assigns
 * `innerHTML`, `outerHTML` or `insertAdjacentHTML`, creates links, or sets attributes other
 * than class, title, type, value, role, tabindex, data-* and aria-* (see `h`). Every element
 * is created through `el.ownerDocument`, so the views work in any document (or a test's
 * fake one).
 */

// DOM building

type Attrs = Record<string, string | undefined>;
const ALLOWED_ATTR = /^(class|title|type|value|role|tabindex|data-[a-z-]+|aria-[a-z]+)$/;

/** An element with text content only; attributes limited to inert ones. */
export function h(
  doc: Document,
  tag: string,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElement {
  const el = doc.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined) {
      continue;
    }
    if (!ALLOWED_ATTR.test(key)) {
      throw new Error(`attribute ${key} is not allowed`);
    }
    el.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(typeof child === 'string' ? doc.createTextNode(child) : child);
  }
  return el;
}

export function clear(el: HTMLElement): void {
  while (el.firstChild) {
    el.removeChild(el.firstChild);
  }
}

export function addClass(el: HTMLElement, name: string): void {
  el.classList.toggle(name, true);
}

/** Whether `node` is `ancestor` or inside it. */
export function within(node: Node | null, ancestor: Node): boolean {
  for (let n = node; n; n = n.parentNode) {
    if (n === ancestor) {
      return true;
    }
  }
  return false;
}
