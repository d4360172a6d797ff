import Foundation
import HeraldCore
import HeraldTokens

/// `GET /console` with `--dev` on a loopback address: a page to connect, subscribe, watch pushes
/// arrive, publish a test event and see the server's figures (SPEC §10). It uses `/herald.js`,
/// asks `/console/token` for tokens, and holds the generated publish key, which is why it is
/// never served otherwise. `?demo` runs one round on its own (the browser test uses it).
enum ConsolePage {
    /// The page, with the development publish key written in.
    static func html(publishKey: String) -> String {
        template.replacingOccurrences(of: "__PUBLISH_KEY__", with: scriptLiteral(publishKey))
    }

    /// `text` as a JavaScript string literal that is safe inside `<script>`: JSON, with `<`, `>`,
    /// `&` and the line separators escaped, so no value can close the script or the page's markup.
    static func scriptLiteral(_ text: String) -> String {
        var literal = ""
        for character in String(decoding: JSON.encode(JSONValue.string(text)), as: UTF8.self).unicodeScalars {
            switch character {
            case "<": literal += "\\u003c"
            case ">": literal += "\\u003e"
            case "&": literal += "\\u0026"
            case "\u{2028}": literal += "\\u2028"
            case "\u{2029}": literal += "\\u2029"
            default: literal.unicodeScalars.append(character)
            }
        }
        return literal
    }

    private static let template = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Herald console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 60rem; color: #222; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .3rem 0; }
  input { font: inherit; padding: .2rem .4rem; } button { font: inherit; padding: .2rem .7rem; }
  #state { font-weight: bold; } #stats span { margin-right: 1.2rem; }
  #log { background: #f5f5f5; padding: .6rem; max-height: 24rem; overflow: auto; white-space: pre-wrap; }
  .warning { color: #a40; }
</style>
</head>
<body>
<h1>Herald console</h1>
<p class="warning">Development mode only: this page holds the server's generated publish key.</p>

<h2>Connection: <span id="state">closed</span></h2>
<form id="connect"><label>user id <input id="user" value="myuserid"></label><button>Connect</button><button type="button" id="disconnect">Disconnect</button></form>

<h2>Subscriptions</h2>
<form id="subscribe"><label>entity id <input id="entity" value="myEntityId"></label><button>Subscribe</button></form>
<div id="subscriptions"></div>

<h2>Publish a test event</h2>
<form id="publish-entity"><label>entity id <input id="publish-entity-id" value="myEntityId"></label><label>message <input id="publish-entity-message" value="hello from the console"></label><button>Publish update</button></form>
<form id="publish-user"><label>user id <input id="publish-user-id" value="myuserid"></label><label>message <input id="publish-user-message" value="a notification"></label><button>Send notification</button></form>

<h2>Server</h2>
<div id="stats"><span>connections <b id="stat-connections">–</b></span><span>subscriptions <b id="stat-subscriptions">–</b></span><span>entities <b id="stat-entities">–</b></span></div>

<h2>What arrived</h2>
<pre id="log"></pre>

<script type="module">
import { Herald } from "/herald.js";

const publishKey = __PUBLISH_KEY__;
const $ = (id) => document.getElementById(id);
const stops = new Map();
let herald = null;

function log(kind, value) {
  const line = `${new Date().toISOString().slice(11, 23)}  ${kind}  ${typeof value === "string" ? value : JSON.stringify(value)}\n`;
  $("log").textContent = line + $("log").textContent;
}

async function token(userId) {
  const answer = await fetch(`/console/token?userId=${encodeURIComponent(userId)}`);
  if (!answer.ok) throw new Error(`no token: ${answer.status}`);
  return (await answer.json()).authToken;
}

function connect(userId) {
  herald?.close();
  stops.clear();
  $("subscriptions").textContent = "";
  herald = new Herald({ url: new URL("/", location.href.replace(/^http/, "ws")).toString(), token: () => token(userId) });
  herald.on("state", (state) => { $("state").textContent = state; log("state", state); });
  herald.on("subscribed", (ack) => log("subscribed", ack));
  herald.on("notification", (note) => log("notification", note));
  herald.on("reset", (reset) => log("reset", reset));
  herald.on("error", (error) => log("error", error));
  herald.on("closed", (closed) => log("closed", closed));
  return herald;
}

function subscribe(entityId) {
  if (!herald || stops.has(entityId)) return;
  stops.set(entityId, herald.subscribe(entityId, (update) => log("update", update)));
  const item = document.createElement("div");
  item.textContent = `${entityId} `;
  const button = document.createElement("button");
  button.textContent = "Unsubscribe";
  button.onclick = () => { stops.get(entityId)?.(); stops.delete(entityId); item.remove(); };
  item.append(button);
  $("subscriptions").append(item);
}

async function publish(path, body) {
  const answer = await fetch(path, { method: "POST", headers: { Authorization: `Bearer ${publishKey}` }, body: JSON.stringify(body) });
  log("published", { status: answer.status, ...(await answer.json()) });
}

async function refreshStats() {
  try {
    const answer = await fetch("/admin/stats", { headers: { Authorization: `Bearer ${publishKey}` } });
    const stats = await answer.json();
    for (const name of ["connections", "subscriptions", "entities"]) $(`stat-${name}`).textContent = stats[name];
  } catch {}
}

const submit = (id, action) => $(id).addEventListener("submit", (event) => { event.preventDefault(); action(); });
submit("connect", () => connect($("user").value));
submit("subscribe", () => subscribe($("entity").value));
submit("publish-entity", () => publish(`/entities/${encodeURIComponent($("publish-entity-id").value)}/updates`, { message: $("publish-entity-message").value }));
submit("publish-user", () => publish(`/users/${encodeURIComponent($("publish-user-id").value)}/notifications`, { message: $("publish-user-message").value }));
$("disconnect").onclick = () => herald?.close();
setInterval(refreshStats, 1000);
refreshStats();

// ?demo: connect, subscribe, publish one update once subscribed, and mark the page done when it arrives.
if (new URLSearchParams(location.search).has("demo")) {
  const client = connect($("user").value);
  const entityId = $("entity").value;
  let published = false;
  subscribe(entityId);
  client.on("subscribed", (ack) => {
    if (ack.entityId !== entityId || published) return;
    published = true;
    publish(`/entities/${encodeURIComponent(entityId)}/updates`, { message: $("publish-entity-message").value });
  });
  const done = client.subscribe(entityId, async () => {
    done();
    await refreshStats();
    $("state").dataset.demo = "done";
  });
}
</script>
</body>
</html>
"""#
}
