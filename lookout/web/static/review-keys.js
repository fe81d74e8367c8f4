// Keyboard shortcuts of the review page (listed in its help dialog): which key does what, given
// the model and the page's state; the actions themselves are the page's (review.js).
import { helpIsOpen, isTyping } from "./api.js";

export const SMOKE_KEYS = { 1: "wildfire", 2: "industrial", 3: "other" };
export const FP_KEYS = {
  antenna: "a", building: "b", cliff: "c", dark: "d", dust: "u", high_cloud: "h", low_cloud: "l",
  lens_flare: "f", lens_droplet: "p", light: "i", rain: "r", trail: "t", road: "o", sky: "s",
  tree: "e", water_body: "w", combine_harvester: "v", unlabeled: "n", other: "x",
};
/** Alt+arrows move (with Shift resize) the selected box by NUDGE of the image; with Ctrl too, by FINE_NUDGE. */
export const NUDGE = 0.01;
export const FINE_NUDGE = 0.002;

/**
 * A keydown listener for the review. `act` holds the page's actions: save, undo, nudge(dx, dy,
 * resize), setSmoke(type), toggleFp(type), closePicker, placeDefaultBox, setPlaying(on),
 * goTo(index), select(index), markSmoke, markFalsePositive, toggleDrawMode(on?), toggleRaw,
 * setSpeed(step), toggleMissed, toggleUnsure, toggleSequenceUnsure, toggleHistory, deleteBox, deleteTrack, next, deselect; zoomToTrack, resetZoom,
 * toggleCrop(on?), copyPrevious, interpolate, extend, adoptPrediction, adoptPredictions,
 * acceptSuggestion.
 */
export function reviewKeys(model, ui, act) {
  return (event) => {
    if (event.defaultPrevented || !ui.ready) return;
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    if (ctrl && (key === "s" || key === "S")) {
      event.preventDefault();
      act.save();
      return;
    }
    if (helpIsOpen() || isTyping(event)) return;
    if (ctrl && (key === "z" || key === "Z")) {
      event.preventDefault();
      act.undo();
      return;
    }
    if (event.altKey) {
      const step = ctrl ? FINE_NUDGE : NUDGE;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[key]) {
        event.preventDefault();
        act.nudge(...moves[key], event.shiftKey);
      }
      return;
    }
    if (ctrl) return;
    const onButton =
      event.target instanceof HTMLButtonElement ||
      event.target instanceof HTMLAnchorElement ||
      (event.target instanceof HTMLElement && event.target.tagName === "SUMMARY");
    // Pickers take their keys first.
    if (ui.picker === "smoke" && SMOKE_KEYS[key]) {
      event.preventDefault();
      act.setSmoke(SMOKE_KEYS[key]);
      return;
    }
    if (ui.picker === "fp") {
      const type = Object.keys(FP_KEYS).find((t) => FP_KEYS[t] === key.toLowerCase());
      if (type && model.falsePositiveTypes.includes(type)) {
        event.preventDefault();
        act.toggleFp(type);
        return;
      }
      if (key === "Enter" || key === "Escape") {
        // Enter closes the picker and nothing else: never also a save or a focused button's click.
        event.preventDefault();
        event.stopPropagation();
        act.closePicker();
        return;
      }
      return;
    }
    if (ui.drawMode && key === "Enter") {
      event.preventDefault();
      act.placeDefaultBox();
      return;
    }
    const actions = {
      " ": () => act.setPlaying(!ui.playing),
      ArrowLeft: () => act.goTo(model.frameIndex - 1),
      ArrowRight: () => act.goTo(model.frameIndex + 1),
      Home: () => act.goTo(0),
      End: () => act.goTo(model.frames.length - 1),
      j: () => act.select(model.selected + 1),
      k: () => act.select(model.selected < 0 ? -1 : model.selected - 1),
      s: act.markSmoke,
      f: act.markFalsePositive,
      g: act.acceptSuggestion,
      n: () => act.toggleDrawMode(),
      o: act.toggleRaw,
      "<": () => act.setSpeed(-1),
      ">": () => act.setSpeed(1),
      m: act.toggleMissed,
      u: act.toggleUnsure,
      h: act.toggleHistory,
      U: act.toggleSequenceUnsure,
      Delete: () => (event.shiftKey ? act.deleteTrack() : act.deleteBox()),
      Backspace: () => (event.shiftKey ? act.deleteTrack() : act.deleteBox()),
      Enter: act.save,
      "]": act.next,
      z: act.zoomToTrack,
      Z: act.resetZoom,
      0: act.resetZoom,
      c: () => act.toggleCrop(),
      p: act.copyPrevious,
      i: act.interpolate,
      x: act.extend,
      e: act.adoptPrediction,
      E: act.adoptPredictions,
      Escape: () => {
        if (ui.picker) act.closePicker();
        else if (ui.drawMode) act.toggleDrawMode(false);
        else if (ui.crop) act.toggleCrop(false);
        else if (model.selected >= 0) act.deselect();
      },
    };
    const action = actions[key] || actions[key.length === 1 ? key.toLowerCase() : key];
    if (!action) return;
    if (onButton && (key === " " || key === "Enter")) return; // the focused button's own action
    event.preventDefault();
    action();
  };
}
