// The dashboard's throughput charts: line charts drawn on a canvas, a series per line,
// the time axis the last `windowS` seconds. Exposes window.LineChart.
"use strict";

(function (global) {
  /** The smallest "nice" number (1, 2, 2.5, 5 times a power of ten) at least `v`. */
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  class LineChart {
    /**
     * canvas: the element; series: [{key, label, color}]; format: a value's label;
     * windowS: seconds shown.
     */
    constructor(canvas, series, format, windowS) {
      this.canvas = canvas;
      this.series = series;
      this.format = format || String;
      this.windowS = windowS || 300;
      this.points = [];
    }

    /** Replaces the points ([{t, key: value, ...}], oldest first) and redraws. */
    set(points) {
      this.points = points.slice(-this.windowS);
      this.draw();
    }

    /** Adds one point and redraws. */
    push(point) {
      const last = this.points[this.points.length - 1];
      if (last && last.t >= point.t) return;
      this.points.push(point);
      if (this.points.length > this.windowS) this.points.splice(0, this.points.length - this.windowS);
      this.draw();
    }

    draw() {
      const canvas = this.canvas;
      const ratio = global.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = canvas.clientHeight;
      if (!width || !height) return;
      if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
        canvas.width = Math.round(width * ratio);
        canvas.height = Math.round(height * ratio);
      }
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, width, height);
      const style = getComputedStyle(canvas);
      const ink = style.getPropertyValue("--chart-ink").trim() || "#6b7280";
      const grid = style.getPropertyValue("--chart-grid").trim() || "#e5e7eb";
      const left = 64, right = 10, top = 10, bottom = 22;
      const plotW = Math.max(1, width - left - right);
      const plotH = Math.max(1, height - top - bottom);

      let max = 0;
      for (const p of this.points) for (const s of this.series) max = Math.max(max, Number(p[s.key]) || 0);
      // At least 4, so that the four grid steps are whole numbers.
    max = niceCeil(Math.max(max, 4));
      const now = this.points.length ? this.points[this.points.length - 1].t : Date.now();
      const start = now - this.windowS * 1000;
      const x = (t) => left + ((t - start) / (this.windowS * 1000)) * plotW;
      const y = (v) => top + plotH - (v / max) * plotH;

      ctx.font = "11px system-ui, sans-serif";
      ctx.lineWidth = 1;
      ctx.strokeStyle = grid;
      ctx.fillStyle = ink;
      ctx.textBaseline = "middle";
      ctx.textAlign = "right";
      for (let i = 0; i <= 4; i++) {
        const v = (max * i) / 4;
        const yy = Math.round(y(v)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(left, yy);
        ctx.lineTo(left + plotW, yy);
        ctx.stroke();
        ctx.fillText(this.format(v), left - 6, yy);
      }
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      const minutes = Math.floor(this.windowS / 60);
      for (let m = 0; m <= minutes; m++) {
        const xx = Math.round(x(now - m * 60000)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(xx, top);
        ctx.lineTo(xx, top + plotH);
        ctx.stroke();
        ctx.fillText(m === 0 ? "now" : "-" + m + " min", Math.min(xx, left + plotW - 18), top + plotH + 6);
      }

      ctx.lineWidth = 1.75;
      ctx.lineJoin = "round";
      for (const s of this.series) {
        ctx.strokeStyle = s.color;
        ctx.beginPath();
        let started = false;
        for (const p of this.points) {
          if (p.t < start) continue;
          const px = x(p.t), py = y(Number(p[s.key]) || 0);
          if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
        }
        ctx.stroke();
      }
    }
  }

  global.LineChart = LineChart;
})(window);
