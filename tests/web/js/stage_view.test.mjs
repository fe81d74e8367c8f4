// The stage's view arithmetic (lookout/web/static/stage.js): zoom at a point, zoom on a box,
// pan kept on the image. node --test tests/web/js/ (run by tests/web/test_review_model_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { clampPan, zoomAtPoint, zoomOnBox } from "../../../lookout/web/static/stage.js";

// A 1000 x 500 image in an 800 x 600 stage: fitted at 0.8, 800 x 400, 100 px bands above and below.
const DIMS = { w: 1000, h: 500, cssWidth: 800, cssHeight: 600 };

function toScreen(dims, { zoom, panX, panY }, xn, yn) {
  const s = Math.min(dims.cssWidth / dims.w, dims.cssHeight / dims.h) * zoom;
  return [(dims.cssWidth - dims.w * s) / 2 + panX + xn * dims.w * s, (dims.cssHeight - dims.h * s) / 2 + panY + yn * dims.h * s];
}

const near = (a, b, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test("clampPan keeps a zoomed image over the stage and an unzoomed one centred", () => {
  assert.deepEqual(clampPan(DIMS, { zoom: 1, panX: 50, panY: -20 }), { zoom: 1, panX: 0, panY: 0 });
  // zoom 2: 1600 x 800 shown, 400 px to spare either side, 100 px up and down
  assert.deepEqual(clampPan(DIMS, { zoom: 2, panX: 900, panY: -150 }), { zoom: 2, panX: 400, panY: -100 });
  assert.deepEqual(clampPan(DIMS, { zoom: 2, panX: 10, panY: 20 }), { zoom: 2, panX: 10, panY: 20 });
});

test("zoomAtPoint keeps the point under the pointer in place", () => {
  const start = { zoom: 1, panX: 0, panY: 0 };
  const next = zoomAtPoint(DIMS, start, 500, 250, 2);
  assert.equal(next.zoom, 2);
  const [x, y] = toScreen(DIMS, next, 0.625, 0.375); // the image point that was under (500, 250)
  near(x, 500);
  near(y, 250);
  assert.equal(zoomAtPoint(DIMS, next, 500, 250, 0.1).zoom, 1);
  assert.equal(zoomAtPoint(DIMS, start, 500, 250, 1000).zoom, 40);
});

test("zoomOnBox centres the box with its margin", () => {
  const view = zoomOnBox(DIMS, [0.45, 0.45, 0.55, 0.5], { margin: 0.5 });
  // 0.2 x 0.1 of the image with the margin: 160 x 40 px at the fit, so zoom 5 across
  near(view.zoom, 5);
  const [x1] = toScreen(DIMS, view, 0.45, 0.45);
  const [x2] = toScreen(DIMS, view, 0.55, 0.5);
  near((x1 + x2) / 2, 400);
  near(x2 - x1, 400); // half the stage's width: the margin is a quarter on each side
  assert.equal(zoomOnBox(DIMS, [0.5, 0.5, 0.5004, 0.5004]).zoom, 16);
  assert.deepEqual(zoomOnBox(DIMS, [0, 0, 1, 1]), { zoom: 1, panX: 0, panY: 0 });
});

test("zoomOnBox on a box at the image's edge stays on the image", () => {
  const view = zoomOnBox(DIMS, [0.95, 0.45, 1, 0.5]);
  const [right] = toScreen(DIMS, view, 1, 0.5);
  near(right, 800); // the image's right edge at the stage's right edge, not past it
});
