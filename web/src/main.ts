// The live web view: asks the hub where its WebSocket listener is
// (/web.json), logs in there as a client of the hub's configuration (the
// URL's fragment, #tenant=…&client=…&secret=…, or the form), and shows
// every region the client may read.

import { Client } from "memwire";
import { RegionView, type Mirror } from "./region";

/** Who the page logs in as. */
interface Login {
  tenant: string;
  client: string;
  secret: string;
}

const byId = (id: string) => document.getElementById(id) as HTMLElement;
const form = byId("login") as HTMLFormElement;
const loginError = byId("login-error");
const state = byId("state");
const who = byId("who");
const traffic = byId("traffic");
const regions = byId("regions");
const logout = byId("logout") as HTMLButtonElement;

/** The WebSocket URL of the hub that served the page, from /web.json. */
async function endpoint(): Promise<string> {
  const answer = await fetch("web.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`web.json: ${answer.status} ${answer.statusText}`);
  const web = (await answer.json()) as { ws: number | null; wss: number | null };
  // A page loaded over HTTPS (through a proxy) may only open wss://.
  const secure = location.protocol === "https:";
  if (web.ws !== null && !secure) return `ws://${location.hostname}:${web.ws}`;
  if (web.wss !== null) return `wss://${location.hostname}:${web.wss}`;
  throw new Error("the hub has no WebSocket listener the page can use (listen.ws or listen.wss in its configuration)");
}

/** The login the URL's fragment carries, if it carries one; the fragment never reaches the hub. */
function fromFragment(): Login | null {
  const words = new URLSearchParams(location.hash.slice(1));
  const [tenant, client, secret] = [words.get("tenant"), words.get("client"), words.get("secret")];
  if (!tenant || !client || !secret) return null;
  for (const name of ["tenant", "client"] as const) {
    (form.elements.namedItem(name) as HTMLInputElement).value = words.get(name) ?? "";
  }
  return { tenant, client, secret };
}

/** The region's full path for a name the client lists. */
function path(tenant: string, name: string): string {
  return name.includes("/") ? name : `${tenant}/${name}`;
}

let session: { client: Client; views: RegionView[]; timer: number } | null = null;

function showLogin(error: string): void {
  form.hidden = false;
  loginError.textContent = error;
  logout.hidden = true;
}

async function open(url: string, login: Login): Promise<void> {
  form.hidden = true;
  state.textContent = "connecting";
  let client: Client;
  try {
    client = await Client.connect(url, login);
  } catch (e) {
    state.textContent = "not connected";
    showLogin(`cannot log in as ${login.client} of ${login.tenant}: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  client.onState((s: string) => {
    state.textContent = s;
    state.dataset.state = s;
  });
  state.textContent = "connected";
  state.dataset.state = "connected";
  who.textContent = `${login.client} @ ${login.tenant}`;
  logout.hidden = false;
  const views: RegionView[] = [];
  const listed = client.regions();
  if (listed.length === 0) regions.append(Object.assign(document.createElement("p"), { textContent: "This client may read no region." }));
  for (const region of listed) {
    const name = path(login.tenant, region.name);
    try {
      const mirror = (await client.subscribe(name)) as unknown as Mirror;
      const view = new RegionView(name, mirror);
      views.push(view);
      regions.append(view.element);
    } catch (e) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = `${name}: ${e instanceof Error ? e.message : String(e)}`;
      regions.append(p);
    }
  }
  let last = { time: Date.now(), bytes: received(client) };
  const timer = window.setInterval(() => {
    const now = Date.now();
    for (const view of views) view.refresh(now);
    if (now - last.time >= 1000) {
      const bytes = received(client);
      traffic.textContent = `${rate((bytes - last.bytes) / ((now - last.time) / 1000))} received`;
      last = { time: now, bytes };
    }
  }, 100);
  session = { client, views, timer };
}

/** The bytes the client received so far. */
function received(client: Client): number {
  return Number((client.stats() as { bytesIn?: number | bigint }).bytesIn ?? 0);
}

function rate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  if (bytesPerSecond >= 1e3) return `${(bytesPerSecond / 1e3).toFixed(1)} kB/s`;
  return `${Math.round(bytesPerSecond)} B/s`;
}

async function close(): Promise<void> {
  if (!session) return;
  window.clearInterval(session.timer);
  for (const view of session.views) view.close();
  await session.client.close();
  session = null;
  regions.replaceChildren();
  traffic.textContent = who.textContent = "";
  history.replaceState(null, "", location.pathname);
}

async function main(): Promise<void> {
  let url: string;
  try {
    url = await endpoint();
  } catch (e) {
    state.textContent = e instanceof Error ? e.message : String(e);
    return;
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const login = { tenant: String(data.get("tenant")), client: String(data.get("client")), secret: String(data.get("secret")) };
    (form.elements.namedItem("secret") as HTMLInputElement).value = "";
    void open(url, login);
  });
  logout.addEventListener("click", () => {
    void close().then(() => showLogin(""));
  });
  const login = fromFragment();
  if (login) await open(url, login);
  else showLogin("");
}

void main();
