// A stage: an image drawn on a base canvas, overlays on a second canvas, fitted to its box,
// with optional wheel zoom and drag pan. Stages can share one view (side by side).

export class ViewState {
  constructor() {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.stages = new Set();
  }

  changed() {
    for (const stage of this.stages) stage.render();
  }

  reset() {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.changed();
  }
}

export class Stage {
  /**
   * @param {HTMLElement} container holds canvas.base and (optionally) canvas.overlay
   * @param {{onRender?: Function, zoomable?: boolean, viewState?: ViewState}} options
   */
  constructor(container, { onRender = null, zoomable = true, viewState = null } = {}) {
    this.container = container;
    this.base = container.querySelector("canvas.base");
    this.overlay = container.querySelector("canvas.overlay");
    this.onRender = onRender;
    this.image = null;
    this.imageWidth = Number(container.dataset.imageWidth) || 1;
    this.imageHeight = Number(container.dataset.imageHeight) || 1;
    this.cssWidth = 1;
    this.cssHeight = 1;
    this.dpr = 1;
    this.viewState = viewState || new ViewState();
    this.viewState.stages.add(this);
    this.frame = 0;
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(container);
    if (zoomable) this.enableZoom();
    this.resize();
  }

  setImage(image, width, height) {
    this.image = image;
    if (width && height) {
      this.imageWidth = width;
      this.imageHeight = height;
    }
    this.render();
  }

  resize() {
    const rect = this.container.getBoundingClientRect();
    if (rect.width < 2 || rect.height < 2) return;
    this.dpr = window.devicePixelRatio || 1;
    this.cssWidth = rect.width;
    this.cssHeight = rect.height;
    for (const canvas of [this.base, this.overlay]) {
      if (!canvas) continue;
      canvas.width = Math.round(rect.width * this.dpr);
      canvas.height = Math.round(rect.height * this.dpr);
    }
    this.render();
  }

  /** Image pixels to CSS pixels: x_css = ox + x_px * scale. */
  get view() {
    const w = this.imageWidth;
    const h = this.imageHeight;
    const fit = Math.min(this.cssWidth / w, this.cssHeight / h);
    const scale = fit * this.viewState.zoom;
    return {
      scale,
      ox: (this.cssWidth - w * scale) / 2 + this.viewState.panX,
      oy: (this.cssHeight - h * scale) / 2 + this.viewState.panY,
      w,
      h,
      cssWidth: this.cssWidth,
      cssHeight: this.cssHeight,
      dpr: this.dpr,
    };
  }

  toScreen(xn, yn, view = this.view) {
    return [view.ox + xn * view.w * view.scale, view.oy + yn * view.h * view.scale];
  }

  toNorm(x, y, view = this.view) {
    return [(x - view.ox) / (view.w * view.scale), (y - view.oy) / (view.h * view.scale)];
  }

  /** Redraw on the next animation frame (many calls in one frame draw once). */
  render() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderNow();
    });
  }

  renderNow() {
    const view = this.view;
    const ctx = this.base.getContext("2d");
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, view.cssWidth, view.cssHeight);
    if (this.image) {
      ctx.imageSmoothingQuality = "high";
      ctx.drawImage(this.image, view.ox, view.oy, view.w * view.scale, view.h * view.scale);
    }
    this.renderOverlayNow(view);
  }

  renderOverlayNow(view = this.view) {
    if (!this.overlay) return;
    const ctx = this.overlay.getContext("2d");
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, view.cssWidth, view.cssHeight);
    if (this.onRender) this.onRender(ctx, view, this);
  }

  enableZoom() {
    const target = this.overlay || this.base;
    target.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const rect = target.getBoundingClientRect();
        const x = event.clientX - rect.left;
        const y = event.clientY - rect.top;
        const before = this.toNorm(x, y);
        const state = this.viewState;
        const factor = Math.exp(-event.deltaY * 0.0015);
        state.zoom = Math.min(40, Math.max(1, state.zoom * factor));
        if (state.zoom === 1) {
          state.panX = 0;
          state.panY = 0;
        } else {
          const after = this.toScreen(before[0], before[1]);
          state.panX += x - after[0];
          state.panY += y - after[1];
        }
        state.changed();
      },
      { passive: false },
    );
    let drag = null;
    target.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || this.viewState.zoom === 1) return;
      drag = { x: event.clientX, y: event.clientY, panX: this.viewState.panX, panY: this.viewState.panY };
      target.setPointerCapture(event.pointerId);
      target.classList.add("grab");
    });
    target.addEventListener("pointermove", (event) => {
      if (!drag) return;
      this.viewState.panX = drag.panX + event.clientX - drag.x;
      this.viewState.panY = drag.panY + event.clientY - drag.y;
      this.viewState.changed();
    });
    const end = () => {
      drag = null;
      target.classList.remove("grab");
    };
    target.addEventListener("pointerup", end);
    target.addEventListener("pointercancel", end);
  }

  get dragging() {
    return this.container.querySelector("canvas.grab") !== null;
  }
}

/** Load an image element; resolves when decoded. */
export function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = "async";
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not load the image ${url}`));
    image.src = url;
  });
}

// --- view arithmetic (pure; tests/web/js/stage_view.test.mjs) ---
// `dims` is a stage's view (or any {w, h, cssWidth, cssHeight}: the image's pixels and the
// stage's CSS size); a view state is {zoom, panX, panY} as in ViewState.

export const MAX_ZOOM = 40;

/** The pan kept within what shows the image: a zoomed image never leaves a gap at its edges. */
export function clampPan(dims, { zoom, panX, panY }) {
  const fit = Math.min(dims.cssWidth / dims.w, dims.cssHeight / dims.h);
  const limitX = Math.max(0, (dims.w * fit * zoom - dims.cssWidth) / 2);
  const limitY = Math.max(0, (dims.h * fit * zoom - dims.cssHeight) / 2);
  const clamp = (v, limit) => (limit > 0 ? Math.min(limit, Math.max(-limit, v)) : 0);
  return { zoom, panX: clamp(panX, limitX), panY: clamp(panY, limitY) };
}

/** The view state zoomed by `factor` (within 1 and maxZoom) keeping the image point under CSS (x, y) in place. */
export function zoomAtPoint(dims, state, x, y, factor, maxZoom = MAX_ZOOM) {
  const fit = Math.min(dims.cssWidth / dims.w, dims.cssHeight / dims.h);
  const scale = fit * state.zoom;
  const xn = (x - ((dims.cssWidth - dims.w * scale) / 2 + state.panX)) / (dims.w * scale);
  const yn = (y - ((dims.cssHeight - dims.h * scale) / 2 + state.panY)) / (dims.h * scale);
  const zoom = Math.min(maxZoom, Math.max(1, state.zoom * factor));
  const next = fit * zoom;
  return clampPan(dims, {
    zoom,
    panX: x - xn * dims.w * next - (dims.cssWidth - dims.w * next) / 2,
    panY: y - yn * dims.h * next - (dims.cssHeight - dims.h * next) / 2,
  });
}

/**
 * The view state showing a normalized box [x1, y1, x2, y2] centred (as far as the image's edges
 * allow) with `margin` times its size around it on each side, at most maxZoom.
 */
export function zoomOnBox(dims, [x1, y1, x2, y2], { margin = 0.5, maxZoom = 16 } = {}) {
  const fit = Math.min(dims.cssWidth / dims.w, dims.cssHeight / dims.h);
  const width = Math.max(x2 - x1, 0.004) * (1 + 2 * margin) * dims.w * fit;
  const height = Math.max(y2 - y1, 0.004) * (1 + 2 * margin) * dims.h * fit;
  const zoom = Math.min(maxZoom, Math.max(1, Math.min(dims.cssWidth / width, dims.cssHeight / height)));
  const scale = fit * zoom;
  return clampPan(dims, {
    zoom,
    panX: dims.w * scale * (0.5 - (x1 + x2) / 2),
    panY: dims.h * scale * (0.5 - (y1 + y2) / 2),
  });
}
