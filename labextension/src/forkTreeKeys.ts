/**
 * The fork tree for the keyboard and the mouse: one tab stop (the selected row, else HEAD,
 * else the first), arrows move, Home/End jump, Right/Left open and close blocks, Enter
 * chooses; a click on a row chooses it.
 */

/** Wires `root` (a drawn ./forkTree); returns how to move its tab stop to an item. */
export function treeKeyboard(root: HTMLElement, onSelect?: (messageId: string) => void): (item: HTMLElement | null) => void {
  const items = (): HTMLElement[] =>
    Array.from(root.querySelectorAll('.vel-ft-node, .vel-ft-toggle, .vel-ft-more') as ArrayLike<HTMLElement>).filter(
      item => !hiddenInside(item, root)
    );
  const focusItem = (item: HTMLElement | null): void => {
    if (!item) {
      return;
    }
    for (const other of Array.from(root.querySelectorAll('[tabindex="0"]') as ArrayLike<HTMLElement>)) {
      other.setAttribute('tabindex', '-1');
    }
    item.setAttribute('tabindex', '0');
    item.focus?.();
  };
  const stop =
    (root.querySelectorAll('.vel-ft-selected')[0] as HTMLElement | undefined) ??
    (root.querySelectorAll('.vel-ft-current')[0] as HTMLElement | undefined) ??
    items()[0];
  stop?.setAttribute('tabindex', '0');

  root.addEventListener('click', (event: Event) => {
    const target = event.target as HTMLElement | null;
    const nodeEl = target?.closest?.('.vel-ft-node') as HTMLElement | null;
    const id = nodeEl?.getAttribute('data-id');
    if (nodeEl && id) {
      focusItem(nodeEl);
      onSelect?.(id);
    }
  });
  root.addEventListener('keydown', (event: Event) => {
    const key = (event as KeyboardEvent).key;
    const target = event.target as HTMLElement | null;
    if (!target) {
      return;
    }
    const list = items();
    const at = list.indexOf(target);
    if (at < 0) {
      return;
    }
    const isToggle = target.classList.contains('vel-ft-toggle');
    const expanded = target.getAttribute('aria-expanded') === 'true';
    let handled = true;
    if (key === 'ArrowDown') {
      focusItem(list[at + 1] ?? null);
    } else if (key === 'ArrowUp') {
      focusItem(list[at - 1] ?? null);
    } else if (key === 'Home') {
      focusItem(list[0] ?? null);
    } else if (key === 'End') {
      focusItem(list[list.length - 1] ?? null);
    } else if (key === 'ArrowRight' && isToggle) {
      if (!expanded) {
        target.click();
      } else {
        focusItem(items()[at + 1] ?? null);
      }
    } else if (key === 'ArrowLeft') {
      if (isToggle && expanded) {
        target.click();
      } else {
        // Up to the toggle of the block this item is in.
        const block = target.parentElement?.closest?.('.vel-ft-branch') as HTMLElement | null;
        const toggle = (block?.querySelectorAll('.vel-ft-toggle')[0] as HTMLElement | undefined) ?? null;
        focusItem(toggle && toggle !== target ? toggle : null);
      }
    } else if (key === 'Enter' || key === ' ') {
      if (target.classList.contains('vel-ft-node')) {
        const id = target.getAttribute('data-id');
        if (id) {
          onSelect?.(id);
        }
      } else {
        target.click();
      }
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  });
  return focusItem;
}

/** Whether `item` sits in a folded block (not shown) below `root`. */
function hiddenInside(item: HTMLElement, root: HTMLElement): boolean {
  for (let n: HTMLElement | null = item.parentElement; n && n !== root; n = n.parentElement) {
    if (n.hidden) {
      return true;
    }
  }
  return false;
}
