/**
 * `/docs`: a browsable API reference rendered in the browser from `/openapi.json`. Self-contained (no
 * CDN, no external asset), so it works offline and needs no dependency; the page only reads the
 * document and builds DOM nodes with `textContent` (no HTML from the document is ever injected).
 */
export const docsHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mta proxy — API reference</title>
<style>
  :root { --fg:#1d2330; --muted:#5b6476; --line:#e3e6ec; --bg:#f7f8fa; --accent:#2455d6; }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
  header { background:#111827; color:#fff; padding:20px 32px; }
  header h1 { margin:0 0 4px; font-size:22px; }
  header p { margin:0; color:#cbd5e1; max-width:900px; }
  main { display:grid; grid-template-columns:260px 1fr; gap:24px; padding:24px 32px; }
  nav { position:sticky; top:16px; align-self:start; font-size:13px; }
  nav h3 { margin:16px 0 4px; font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
  nav a { display:block; color:var(--fg); text-decoration:none; padding:2px 0; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
  nav a:hover { color:var(--accent); }
  section.tag > h2 { margin:8px 0 12px; font-size:18px; text-transform:capitalize; }
  .endpoint { background:#fff; border:1px solid var(--line); border-radius:8px; margin:0 0 12px; }
  .endpoint > summary { list-style:none; cursor:pointer; padding:10px 14px; display:flex; gap:12px; align-items:center; }
  .endpoint > summary::-webkit-details-marker { display:none; }
  .method { font:600 12px/1 ui-monospace, monospace; padding:5px 8px; border-radius:4px; color:#fff; min-width:62px; text-align:center; }
  .GET { background:#1f8a4c; } .POST { background:#2455d6; } .PATCH { background:#b7791f; } .DELETE { background:#c53030; }
  .path { font:14px ui-monospace, SFMono-Regular, Menlo, monospace; }
  .summary { color:var(--muted); margin-left:auto; text-align:right; }
  .scope { font:12px ui-monospace, monospace; background:#eef2ff; color:#3730a3; padding:2px 6px; border-radius:4px; }
  .body { padding:0 14px 14px; border-top:1px solid var(--line); }
  .body h4 { margin:14px 0 6px; font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
  table { border-collapse:collapse; width:100%; font-size:13px; }
  td, th { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  pre { background:#0f172a; color:#e2e8f0; padding:10px 12px; border-radius:6px; overflow:auto; font-size:12px; max-height:360px; }
  #status { color:var(--muted); }
</style>
</head>
<body>
<header>
  <h1 id="title">mta proxy — API reference</h1>
  <p id="description">Loading /openapi.json …</p>
</header>
<main>
  <nav id="nav" aria-label="Endpoints"></nav>
  <div id="content"><p id="status">Loading…</p></div>
</main>
<script>
(function () {
  "use strict";
  var el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  };
  var resolve = function (doc, schema) {
    if (schema && typeof schema.$ref === "string") {
      var name = schema.$ref.split("/").pop();
      return { name: name, schema: (doc.components && doc.components.schemas && doc.components.schemas[name]) || {} };
    }
    return { name: null, schema: schema || {} };
  };
  var expand = function (doc, schema, depth) {
    if (depth > 6 || !schema || typeof schema !== "object") return schema;
    var r = resolve(doc, schema);
    var s = r.schema, out = Array.isArray(s) ? [] : {};
    for (var k in s) out[k] = typeof s[k] === "object" ? expand(doc, s[k], depth + 1) : s[k];
    if (r.name) out.title = out.title || r.name;
    return out;
  };
  var schemaBlock = function (doc, schema) {
    return el("pre", { text: JSON.stringify(expand(doc, schema, 0), null, 2) });
  };
  var render = function (doc) {
    document.title = doc.info.title + " — API reference";
    document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
    document.getElementById("description").textContent = doc.info.description || "";
    var groups = {};
    var order = (doc.tags || []).map(function (t) { return t.name; });
    Object.keys(doc.paths).forEach(function (path) {
      var item = doc.paths[path];
      ["get", "post", "patch", "put", "delete"].forEach(function (m) {
        var op = item[m];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "other";
        if (order.indexOf(tag) < 0) order.push(tag);
        (groups[tag] = groups[tag] || []).push({ path: path, method: m.toUpperCase(), op: op });
      });
    });
    var content = document.getElementById("content");
    var nav = document.getElementById("nav");
    content.textContent = "";
    order.forEach(function (tag) {
      var ops = groups[tag];
      if (!ops) return;
      nav.appendChild(el("h3", { text: tag }));
      var section = el("section", { class: "tag", id: "tag-" + tag.replace(/\\W+/g, "-") }, [el("h2", { text: tag })]);
      ops.forEach(function (e) {
        var id = e.op.operationId || (e.method + e.path);
        nav.appendChild(el("a", { href: "#" + id, text: e.method + " " + e.path }));
        var body = el("div", { class: "body" });
        if (e.op.description) body.appendChild(el("p", { text: e.op.description }));
        var params = e.op.parameters || [];
        if (params.length) {
          var rows = params.map(function (p) {
            return el("tr", null, [
              el("td", null, [el("code", { text: p.name })]),
              el("td", { text: p.in }),
              el("td", { text: p.required ? "required" : "optional" }),
              el("td", { text: p.description || "" })
            ]);
          });
          body.appendChild(el("h4", { text: "Parameters" }));
          body.appendChild(el("table", null, [el("tbody", null, rows)]));
        }
        if (e.op.requestBody) {
          var rc = e.op.requestBody.content || {};
          var rtype = Object.keys(rc)[0];
          body.appendChild(el("h4", { text: "Request body (" + rtype + ")" }));
          body.appendChild(schemaBlock(doc, rc[rtype].schema));
        }
        body.appendChild(el("h4", { text: "Responses" }));
        Object.keys(e.op.responses || {}).forEach(function (status) {
          var r = e.op.responses[status];
          var d = el("details", null, [el("summary", { text: status + " — " + (r.description || "") })]);
          var c = r.content || {};
          var ctype = Object.keys(c)[0];
          if (ctype) d.appendChild(schemaBlock(doc, c[ctype].schema));
          body.appendChild(d);
        });
        var scope = e.op["x-scope"];
        var summary = el("summary", null, [
          el("span", { class: "method " + e.method, text: e.method }),
          el("span", { class: "path", text: e.path }),
          scope ? el("span", { class: "scope", text: scope }) : null,
          el("span", { class: "summary", text: e.op.summary || "" })
        ]);
        section.appendChild(el("details", { class: "endpoint", id: id, "data-method": e.method, "data-path": e.path }, [summary, body]));
      });
      content.appendChild(section);
    });
    document.body.setAttribute("data-ready", "true");
  };
  fetch("openapi.json").then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(render).catch(function (err) {
    document.getElementById("status").textContent = "Could not load openapi.json: " + err.message;
  });
})();
</script>
</body>
</html>
`
