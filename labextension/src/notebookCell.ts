/**
 * The notebook an output sits in, through its public model: a new code cell below the output's
 * cell ("Insert as a cell" on a code block). Like ./kernel, found among the output's Lumino
 * ancestors (a MIME renderer is given no notebook); typed structurally, so the extension needs
 * no dependency on @jupyterlab/notebook.
 */
import type { Widget } from '@lumino/widgets';

interface NotebookLike {
  readonly widgets: readonly Widget[];
  readonly model: { readonly sharedModel: { insertCell(index: number, cell: { cell_type: 'code'; source: string }): unknown } } | null;
}

function isNotebook(w: unknown): w is NotebookLike {
  const nb = w as Partial<NotebookLike> | null;
  return !!nb && Array.isArray(nb.widgets) && !!nb.model && typeof nb.model.sharedModel?.insertCell === 'function';
}

/** Insert a code cell holding `source` below the cell `widget` is in; false outside a notebook. */
export function insertCellBelow(widget: Widget, source: string): boolean {
  let child: Widget = widget;
  for (let w = widget.parent; w; child = w, w = w.parent) {
    if (isNotebook(w)) {
      const index = w.widgets.indexOf(child);
      if (index < 0 || !w.model) {
        return false;
      }
      w.model.sharedModel.insertCell(index + 1, { cell_type: 'code', source });
      return true;
    }
  }
  return false;
}
