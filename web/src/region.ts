// One region in the page: its variables' live values, plots of the
// numeric ones, its update rate, and a field for each writable variable.

import { isNumeric, numbers, parse, show, Unreadable, type Value, type Variable } from "./format";
import { ArrayPlot, type Plot, ValuePlot } from "./plot";

/** What the page uses of the client's mirror of a region. */
export interface Mirror {
  readonly schema: Variable[];
  readonly generation: bigint | number;
  read(name: string): Value;
  onChange(cb: (names: string[], generation: bigint | number) => void): () => void;
  set(name: string, value: Value): Promise<bigint | number>;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A region's section of the page. */
export class RegionView {
  readonly element: HTMLElement;
  private readonly values = new Map<string, HTMLElement>();
  private readonly plots = new Map<string, Plot>();
  private readonly dirty = new Set<string>();
  private readonly generation: HTMLElement;
  private readonly rate: HTMLElement;
  /** The times (ms) of the updates of the last second. */
  private readonly updates: number[] = [];
  private readonly stop: () => void;

  constructor(readonly path: string, private readonly mirror: Mirror) {
    this.element = element("section", "region");
    this.element.dataset.region = path;
    const head = element("h2", undefined, path);
    this.generation = element("span", "generation");
    this.rate = element("span", "rate", "0 updates/s");
    head.append(this.generation, this.rate);
    const table = element("table", "variables");
    table.createTHead().innerHTML = "<tr><th>variable</th><th>kind</th><th>value</th><th>write</th></tr>";
    const body = table.createTBody();
    const plots = element("div", "region-plots");
    for (const v of mirror.schema) {
      body.append(this.row(v));
      if (isNumeric(v)) {
        const plot = v.count === 1 ? new ValuePlot(v.name) : new ArrayPlot(v.name, v.count);
        plot.element.dataset.var = v.name;
        this.plots.set(v.name, plot);
        plots.append(plot.element);
      }
      this.dirty.add(v.name);
    }
    this.element.append(head, table, plots);
    this.stop = mirror.onChange((names) => {
      this.updates.push(Date.now());
      for (const n of names) this.dirty.add(n);
    });
  }

  private row(v: Variable): HTMLTableRowElement {
    const tr = element("tr");
    tr.dataset.var = v.name;
    tr.append(element("td", "name", v.name), element("td", "kind", v.count === 1 ? v.kind : `${v.kind}[${v.count}]`));
    const value = element("td", "value");
    this.values.set(v.name, value);
    tr.append(value);
    const cell = element("td", "write");
    if (v.writable) cell.append(this.field(v));
    tr.append(cell);
    return tr;
  }

  /** The form that writes `v`: a text field, a button and the outcome. */
  private field(v: Variable): HTMLFormElement {
    const form = element("form");
    const input = element("input");
    input.name = v.name;
    input.placeholder = v.count === 1 ? v.kind : `${v.count} values, comma separated`;
    input.setAttribute("aria-label", `new value of ${v.name}`);
    const button = element("button", undefined, "Set");
    button.type = "submit";
    const result = element("span", "result");
    result.setAttribute("role", "status");
    form.append(input, button, result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      result.className = "result";
      result.textContent = "writing…";
      try {
        const generation = await this.mirror.set(v.name, parse(v, input.value));
        result.textContent = `written, generation ${generation}`;
        result.classList.add("ok");
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        result.textContent = e instanceof Unreadable ? why : `refused: ${why}`;
        result.classList.add("error");
      }
    });
    return form;
  }

  /** Shows the changed values and samples the plots; called ten times a second. */
  refresh(now: number): void {
    for (const name of this.dirty) {
      const v = this.mirror.schema.find((x) => x.name === name);
      const cell = this.values.get(name);
      if (v && cell) cell.textContent = show(v, this.mirror.read(name));
    }
    this.dirty.clear();
    for (const [name, plot] of this.plots) plot.sample(now / 1000, numbers(this.mirror.read(name)));
    while (this.updates.length > 0 && this.updates[0] < now - 1000) this.updates.shift();
    this.generation.textContent = `generation ${this.mirror.generation}`;
    this.rate.textContent = `${this.updates.length} updates/s`;
  }

  /** Stops following the mirror's changes. */
  close(): void {
    this.stop();
  }
}
