// What jsdom lacks and the components use, stubbed for component tests (import it first):
// matchMedia (uPlot asks it when its module loads), ResizeObserver (bind:clientWidth and
// bind:clientHeight; sizes keep their first guess), and pointer capture (drag to zoom).
window.matchMedia ??= ((media: string) => ({
  matches: false,
  media,
  onchange: null,
  addListener() {},
  removeListener() {},
  addEventListener() {},
  removeEventListener() {},
  dispatchEvent: () => false,
})) as unknown as typeof window.matchMedia;

globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

Element.prototype.setPointerCapture ??= () => {};
Element.prototype.hasPointerCapture ??= () => true;
Element.prototype.releasePointerCapture ??= () => {};

// jsdom has MouseEvent but no PointerEvent: without it a pointer event carries no button or
// position, and a drag reads as nothing.
globalThis.PointerEvent ??= class PointerEvent extends MouseEvent {
  readonly pointerId: number;
  constructor(type: string, init: PointerEventInit = {}) {
    super(type, init);
    this.pointerId = init.pointerId ?? 0;
  }
} as unknown as typeof globalThis.PointerEvent;
