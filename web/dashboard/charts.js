// ECharts lays a chart out in its box. In a box without width or height (hidden, collapsed,
// or between two layouts) a map's view transform is singular and ECharts fails on it
// ("Cannot read properties of null (reading '0')"). So a chart is drawn only in a box with a
// size, a chart asked to draw without one is drawn when its box gets one, and charts follow
// their boxes' size (not the window's: a panel also changes width when the grid reflows).
const pending = new Map();

const hasSize = (box) => box.clientWidth > 0 && box.clientHeight > 0;

const observer = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    if (!hasSize(target)) continue;
    const paint = pending.get(target);
    if (paint) {
      pending.delete(target);
      paint();
    } else {
      echarts.getInstanceByDom(target)?.resize();
    }
  }
});

// Runs `paint` (which inits the box's chart and sets its option) now, or once the box has a size.
export function draw(box, paint) {
  observer.observe(box);
  if (hasSize(box)) {
    pending.delete(box);
    paint();
  } else {
    pending.set(box, paint);
  }
}
