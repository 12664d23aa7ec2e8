/**
 * JupyterLab MIME renderer for application/vnd.vel.session+json.
 *
 * The DOM is built by ./render (framework-free, shared with the anywidget fork tree).
 * The renderer is `safe`: it shows untrusted outputs (a notebook opened without trust or
 * without a kernel), because every payload string is inserted as text only.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { MIME_TYPE, render } from './render';

export { MIME_TYPE };

/**
 * Rank: lower wins. JupyterLab's defaults are html 50, markdown 60, latex 70, svg 80,
 * images 90, javascript 110, plain text 120, and the JSON viewer (application/json) 0.
 * At 0 we beat the Markdown fallback every turn carries; for a bundle that also carries
 * application/json (format=json or structured output) the JSON viewer, registered
 * earlier at the same rank, wins the tie.
 */
export const RANK = 0;

export class VelSessionRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('vel-jupyter-output');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    render(this.node, model.data[this._mimeType]);
    return Promise.resolve();
  }

  private _mimeType: string;
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [MIME_TYPE],
  defaultRank: RANK,
  createRenderer: options => new VelSessionRenderer(options)
};

const extension: IRenderMime.IExtension = {
  id: 'vel-jupyter:renderer',
  description: 'Renders vel_jupyter turns and sessions (application/vnd.vel.session+json).',
  rendererFactory,
  rank: RANK,
  dataType: 'json'
};

export default extension;
