// Plots of numeric variables, drawn with uPlot: a scalar over time, and an
// array both over time (its smallest, mean and largest element) and as it
// is now (one point per element).

import uPlot from "uplot";

/** How far back a plot over time reaches, in seconds. */
const SPAN = 60;
/** The most samples a plot over time keeps (10 a second over the span). */
const SAMPLES = SPAN * 10;
const WIDTH = 420;
const HEIGHT = 180;

/** The colours of the series, in order: the value (or the mean), then the smallest and largest. */
export const COLOURS = ["#1f77b4", "#2ca02c", "#d62728"];

/** Samples of a few series over time, the oldest dropped past the span. */
class Samples {
  readonly times: number[] = [];
  readonly series: number[][];

  constructor(count: number) {
    this.series = Array.from({ length: count }, () => []);
  }

  push(time: number, values: number[]): void {
    this.times.push(time);
    values.forEach((v, i) => this.series[i].push(v));
    while (this.times.length > SAMPLES || this.times[0] < time - SPAN) {
      this.times.shift();
      for (const s of this.series) s.shift();
    }
  }

  data(): uPlot.AlignedData {
    return [this.times, ...this.series];
  }
}

function options(title: string, labels: string[], time: boolean): uPlot.Options {
  return {
    title,
    width: WIDTH,
    height: HEIGHT,
    legend: { show: labels.length > 1, live: false },
    cursor: { show: false },
    scales: { x: { time } },
    // Wide enough for "-32,768" or "1,014.75" beside the plot.
    axes: [{}, { size: 76 }],
    series: [
      {},
      ...labels.map((label, i) => ({ label, stroke: COLOURS[i], width: 1.5, points: { show: false } })),
    ],
  };
}

/** A plot that takes a new sample of its variable now and then. */
export interface Plot {
  /** The plot's element, to place in the page. */
  readonly element: HTMLElement;
  /** Takes `values` (the variable's elements) as sampled at `time` (seconds). */
  sample(time: number, values: number[]): void;
}

/** A scalar over the last minute. */
export class ValuePlot implements Plot {
  readonly element: HTMLElement;
  private readonly samples = new Samples(1);
  private readonly plot: uPlot;

  constructor(name: string) {
    this.element = document.createElement("div");
    this.element.className = "plot";
    this.plot = new uPlot(options(name, [name], true), this.samples.data(), this.element);
  }

  sample(time: number, values: number[]): void {
    this.samples.push(time, [values[0]]);
    this.plot.setData(this.samples.data());
  }
}

/** An array: its mean, smallest and largest element over the last minute, and its elements now. */
export class ArrayPlot implements Plot {
  readonly element: HTMLElement;
  private readonly samples = new Samples(3);
  private readonly overTime: uPlot;
  private readonly now: uPlot;
  private readonly index: number[];

  constructor(name: string, count: number) {
    this.element = document.createElement("div");
    this.element.className = "plots";
    const left = document.createElement("div");
    const right = document.createElement("div");
    left.className = right.className = "plot";
    this.element.append(left, right);
    this.overTime = new uPlot(options(`${name} over time`, ["mean", "min", "max"], true), this.samples.data(), left);
    this.index = Array.from({ length: count }, (_, i) => i);
    this.now = new uPlot(options(`${name} now`, [name], false), [this.index, []], right);
  }

  sample(time: number, values: number[]): void {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    this.samples.push(time, [sum / values.length, min, max]);
    this.overTime.setData(this.samples.data());
    this.now.setData([this.index, values]);
  }
}
