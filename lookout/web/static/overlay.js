// Drawing analyses on a canvas: boxes, polygons, RLE masks, keypoints, classification badges
// and heatmap artifacts. Boxes are grouped per style and drawn as separate rectangles (10,000
// boxes in about 30 ms, pixels included); labels are only drawn while there are few enough to
// read.

export const KINDS = ["bounding_box", "polygon", "mask", "keypoint", "classification", "heatmap"];
export const KIND_LABELS = {
  bounding_box: ["box", "boxes"],
  polygon: ["polygon", "polygons"],
  mask: ["mask", "masks"],
  keypoint: ["keypoint set", "keypoint sets"],
  classification: ["classification", "classifications"],
  heatmap: ["heatmap", "heatmaps"],
};

export function kindCount(kind, n) {
  return `${n.toLocaleString()} ${KIND_LABELS[kind][n === 1 ? 0 : 1]}`;
}
export const PALETTE = ["#ff8c1a", "#3d9bff", "#f25ccf", "#2fbf71", "#ffd23f", "#9d7bff", "#ff5a6e", "#19c6c6"];
const MAX_LABELS = 300;

export function kindOf(annotation) {
  if (annotation.annotation_type === "segmentation") {
    const data = annotation.data || {};
    return data.format === "rle" || (data.format === undefined && data.rle) ? "mask" : "polygon";
  }
  return annotation.annotation_type;
}

export function passes(annotation, threshold) {
  return annotation.confidence === null || annotation.confidence === undefined || annotation.confidence >= threshold;
}

export function percent(confidence) {
  return confidence === null || confidence === undefined ? "" : confidence.toFixed(2);
}

/** Polygon points in pixels ([[x, y], ...] or flat [x1, y1, ...]) as normalized pairs. */
export function polygonPoints(data, width, height) {
  let raw = Array.isArray(data.points) ? data.points : [];
  if (raw.length && typeof raw[0] === "number") {
    const pairs = [];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
    raw = pairs;
  }
  return raw.map(([x, y]) => [x / width, y / height]);
}

function textColor(hex) {
  const n = parseInt(hex.slice(1), 16);
  const r = (n >> 16) & 255;
  const g = (n >> 8) & 255;
  const b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#111" : "#fff";
}

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * Draw a small filled tag with text. `placed` (optional) holds rectangles already used: the tag
 * moves down until it overlaps none of them, so labels of coinciding boxes stay readable.
 */
export function labelTag(ctx, text, x, y, color, { below = false, placed = null } = {}) {
  ctx.font = "600 11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  const width = ctx.measureText(text).width + 8;
  const height = 15;
  let top = Math.max(0, below ? y : y - height);
  if (placed) {
    for (let tries = 0; tries < 6; tries += 1) {
      const clash = placed.some((r) => x < r.x + r.w && r.x < x + width && top < r.y + r.h && r.y < top + height);
      if (!clash) break;
      top += height + 1;
    }
    placed.push({ x, y: top, w: width, h: height });
  }
  ctx.fillStyle = color;
  ctx.fillRect(x, top, width, height);
  ctx.fillStyle = textColor(color);
  ctx.textBaseline = "middle";
  ctx.fillText(text, x + 4, top + height / 2 + 0.5);
}

export class OverlayRenderer {
  /** @param {{onAsyncLoad?: Function}} options onAsyncLoad redraws when a heatmap arrives */
  constructor({ onAsyncLoad = null } = {}) {
    this.onAsyncLoad = onAsyncLoad;
    this.masks = new Map();
    this.heatmaps = new Map();
  }

  /**
   * Draw layers of annotations.
   * layer: {id, name, color, annotations, styleOf?(a) -> {color, dash, width} | null, heatmapUrl?(name)}
   * options: {kinds: Set, opacity, threshold, labels}
   * Returns {counts, drawn, hits} where hits are screen rectangles for hovering.
   */
  draw(ctx, view, layers, options) {
    const counts = Object.fromEntries(KINDS.map((k) => [k, 0]));
    const hits = [];
    const { kinds, opacity = 1, threshold = 0, labels = true } = options;
    const sx = view.w * view.scale;
    const sy = view.h * view.scale;
    const X = (xn) => view.ox + xn * sx;
    const Y = (yn) => view.oy + yn * sy;
    const grouped = layers.map((layer) => {
      const byKind = Object.fromEntries(KINDS.map((k) => [k, []]));
      for (const a of layer.annotations || []) {
        const kind = kindOf(a);
        if (!kinds.has(kind) || !passes(a, threshold) || !byKind[kind]) continue;
        if (layer.styleOf && layer.styleOf(a) === null) continue;
        byKind[kind].push(a);
      }
      return { layer, byKind };
    });
    const placed = [];
    const prefix = (layer) => (layers.length > 1 && layer.short ? `${layer.short} · ` : "");
    ctx.save();
    ctx.globalAlpha = opacity;

    // Heatmaps at the bottom.
    for (const { layer, byKind } of grouped) {
      for (const a of byKind.heatmap) {
        const url = layer.heatmapUrl ? layer.heatmapUrl(a.data.artifact_name) : null;
        const image = url ? this.heatmap(url) : null;
        if (!image) continue;
        ctx.globalAlpha = opacity * 0.7;
        ctx.drawImage(image, view.ox, view.oy, sx, sy);
        counts.heatmap += 1;
        hits.push({ x1: view.ox, y1: view.oy, x2: view.ox + sx, y2: view.oy + sy, area: sx * sy, text: `${layer.name} · heatmap ${a.data.artifact_name} (${a.class_name})`, background: true });
      }
    }
    // Masks.
    for (const { layer, byKind } of grouped) {
      for (const a of byKind.mask) {
        const mask = this.mask(a, tint(layer, a));
        if (!mask) continue;
        ctx.globalAlpha = opacity * 0.5;
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(mask.canvas, view.ox, view.oy, sx, sy);
        ctx.imageSmoothingEnabled = true;
        counts.mask += 1;
        if (mask.bounds) {
          const [x1, y1, x2, y2] = mask.bounds;
          hits.push(hit(X(x1), Y(y1), X(x2), Y(y2), `${layer.name} · mask ${a.class_name} ${percent(a.confidence)}`));
        }
      }
    }
    // Polygons.
    for (const { layer, byKind } of grouped) {
      for (const a of byKind.polygon) {
        const points = polygonPoints(a.data || {}, view.w, view.h);
        if (points.length < 3) continue;
        const path = new Path2D();
        points.forEach(([xn, yn], i) => (i ? path.lineTo(X(xn), Y(yn)) : path.moveTo(X(xn), Y(yn))));
        path.closePath();
        const color = tint(layer, a);
        ctx.globalAlpha = opacity * 0.3;
        ctx.fillStyle = color;
        ctx.fill(path);
        ctx.globalAlpha = opacity;
        ctx.lineWidth = 2;
        ctx.strokeStyle = color;
        ctx.setLineDash([]);
        ctx.stroke(path);
        counts.polygon += 1;
        const xs = points.map((p) => p[0]);
        const ys = points.map((p) => p[1]);
        const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
        hits.push(hit(X(box[0]), Y(box[1]), X(box[2]), Y(box[3]), `${layer.name} · polygon ${a.class_name} ${percent(a.confidence)}`));
        if (labels) {
          ctx.globalAlpha = opacity;
          labelTag(ctx, `${prefix(layer)}${a.class_name} ${percent(a.confidence)}`, X(box[0]), Y(box[3]) + 2, color, { below: true, placed });
        }
      }
    }
    // Boxes: grouped per style, halo first for contrast on any background. One strokeRect per
    // box: a single path of 10,000 rectangles takes Chromium's rasterizer over 300 ms (every
    // edge of the path is scan-converted together), separate rectangles about 25 ms. Corners
    // snap to device pixels: even line widths then cover whole pixels, with no antialiased
    // edges to blend (a third of the time again, two thirds on a 2x screen).
    const boxTotal = grouped.reduce((n, g) => n + g.byKind.bounding_box.length, 0);
    const showLabels = labels && boxTotal <= MAX_LABELS;
    const styles = new Map();
    const labelQueue = [];
    const dpr = view.dpr || 1;
    const snap = (v) => Math.round(v * dpr) / dpr;
    for (const { layer, byKind } of grouped) {
      for (const a of byKind.bounding_box) {
        const box = a.bbox_xyxyn;
        if (!box) continue;
        const style = (layer.styleOf && layer.styleOf(a)) || { color: tint(layer, a), dash: [], width: 2 };
        const key = `${style.color}|${(style.dash || []).join(",")}|${style.width || 2}`;
        if (!styles.has(key)) styles.set(key, { style, rects: [] });
        const x1 = X(box[0]);
        const y1 = Y(box[1]);
        const x2 = X(box[2]);
        const y2 = Y(box[3]);
        styles.get(key).rects.push(snap(x1), snap(y1), snap(x2) - snap(x1), snap(y2) - snap(y1));
        counts.bounding_box += 1;
        const text = `${a.class_name} ${percent(a.confidence)}`.trim();
        hits.push(hit(x1, y1, x2, y2, `${layer.name} · ${text}`));
        if (showLabels) labelQueue.push([`${prefix(layer)}${text}`, x1, y1, style.color]);
      }
    }
    ctx.globalAlpha = opacity;
    for (const { style, rects } of styles.values()) {
      ctx.setLineDash([]);
      ctx.lineWidth = (style.width || 2) + 2;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.55)";
      for (let i = 0; i < rects.length; i += 4) ctx.strokeRect(rects[i], rects[i + 1], rects[i + 2], rects[i + 3]);
      ctx.setLineDash(style.dash || []);
      ctx.lineWidth = style.width || 2;
      ctx.strokeStyle = style.color;
      for (let i = 0; i < rects.length; i += 4) ctx.strokeRect(rects[i], rects[i + 1], rects[i + 2], rects[i + 3]);
    }
    ctx.setLineDash([]);
    for (const [text, x, y, color] of labelQueue) labelTag(ctx, text, x - 1, y - 1, color, { placed });

    // Keypoints.
    for (const { layer, byKind } of grouped) {
      for (const a of byKind.keypoint) {
        const color = tint(layer, a);
        for (const point of (a.data && a.data.keypoints) || []) {
          const x = X(point.x / view.w);
          const y = Y(point.y / view.h);
          ctx.beginPath();
          ctx.arc(x, y, 5, 0, Math.PI * 2);
          ctx.fillStyle = color;
          ctx.fill();
          ctx.lineWidth = 2;
          ctx.strokeStyle = "#fff";
          ctx.stroke();
          const name = point.name || a.class_name;
          hits.push(hit(x - 6, y - 6, x + 6, y + 6, `${layer.name} · ${a.class_name} ${name} ${percent(point.confidence ?? a.confidence)}`));
          if (labels && name) labelTag(ctx, name, x + 7, y + 2, color, { below: true, placed });
        }
        counts.keypoint += 1;
      }
    }
    // Classification badges, in screen space at the top left.
    let badgeY = 8;
    for (const { layer, byKind } of grouped) {
      for (const a of byKind.classification) {
        const scores = a.data && a.data.scores ? Object.entries(a.data.scores).sort((p, q) => q[1] - p[1]) : [];
        const others = scores.filter(([name]) => name !== a.class_name).slice(0, 2);
        const text = `${a.class_name} ${percent(a.confidence)}` + (others.length ? `  ·  ${others.map(([n, s]) => `${n} ${s.toFixed(2)}`).join("  ")}` : "");
        ctx.font = "600 12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
        const width = ctx.measureText(text).width + 26;
        ctx.globalAlpha = opacity;
        ctx.fillStyle = "rgba(20, 23, 28, 0.82)";
        ctx.fillRect(8, badgeY, width, 22);
        ctx.fillStyle = tint(layer, a);
        ctx.fillRect(14, badgeY + 6, 10, 10);
        ctx.fillStyle = "#fff";
        ctx.textBaseline = "middle";
        ctx.fillText(text, 30, badgeY + 11.5);
        hits.push(hit(8, badgeY, 8 + width, badgeY + 22, `${layer.name} · classification ${text}`));
        badgeY += 26;
        counts.classification += 1;
      }
    }
    ctx.restore();
    const drawn = Object.values(counts).reduce((n, v) => n + v, 0);
    return { counts, drawn, hits };
  }

  heatmap(url) {
    const entry = this.heatmaps.get(url);
    if (entry) return entry.ready ? entry.image : null;
    const image = new Image();
    const record = { image, ready: false, failed: false };
    this.heatmaps.set(url, record);
    image.onload = () => {
      record.ready = true;
      if (this.onAsyncLoad) this.onAsyncLoad();
    };
    image.onerror = () => {
      record.failed = true;
      if (this.onAsyncLoad) this.onAsyncLoad(new Error(`the heatmap ${url} could not be loaded`));
    };
    image.src = url;
    return null;
  }

  /** An uncompressed COCO RLE (column-major runs, zeros first) as a colored canvas. */
  mask(annotation, color) {
    const key = `${annotation.id}|${color}`;
    if (this.masks.has(key)) return this.masks.get(key);
    const rle = annotation.data && annotation.data.rle;
    let result = null;
    if (rle && Array.isArray(rle.counts) && Array.isArray(rle.size)) {
      const [height, width] = rle.size;
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext("2d");
      const pixels = ctx.createImageData(width, height);
      const [r, g, b] = rgb(color);
      let index = 0;
      let on = false;
      let minX = width;
      let minY = height;
      let maxX = -1;
      let maxY = -1;
      for (const run of rle.counts) {
        if (on) {
          for (let p = index; p < index + run; p += 1) {
            const y = p % height;
            const x = (p - y) / height;
            const o = (y * width + x) * 4;
            pixels.data[o] = r;
            pixels.data[o + 1] = g;
            pixels.data[o + 2] = b;
            pixels.data[o + 3] = 255;
            if (x < minX) minX = x;
            if (x > maxX) maxX = x;
            if (y < minY) minY = y;
            if (y > maxY) maxY = y;
          }
        }
        index += run;
        on = !on;
      }
      ctx.putImageData(pixels, 0, 0);
      const bounds = maxX >= 0 ? [minX / width, minY / height, (maxX + 1) / width, (maxY + 1) / height] : null;
      result = { canvas, bounds };
    }
    this.masks.set(key, result);
    return result;
  }
}

/** An annotation's colour: the layer may colour by class (colorOf), else the layer's colour. */
function tint(layer, annotation) {
  return (layer.colorOf && layer.colorOf(annotation)) || layer.color;
}

/** A stable colour for a class name. */
export function classColor(name) {
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return CLASS_PALETTE[hash % CLASS_PALETTE.length];
}
const CLASS_PALETTE = ["#ff8c1a", "#3d9bff", "#f25ccf", "#2fbf71", "#ffd23f", "#9d7bff", "#ff5a6e", "#19c6c6", "#b5e655", "#ffa6c9"];

function hit(x1, y1, x2, y2, text) {
  return { x1, y1, x2, y2, area: Math.max(1, (x2 - x1) * (y2 - y1)), text };
}

/** The smallest hit rectangle under a point (foreground before background). */
export function hitAt(hits, x, y) {
  let best = null;
  for (const h of hits) {
    if (x < h.x1 || x > h.x2 || y < h.y1 || y > h.y2) continue;
    if (!best || (best.background && !h.background) || (h.area < best.area && !h.background)) best = h;
  }
  return best;
}
