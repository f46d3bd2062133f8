// The API documentation page (/api/v1/docs/): renders /api/v1/openapi.json with plain DOM calls,
// offline (nothing is loaded from elsewhere). Operations are grouped by tag; each is a
// <details> element (keyboard-operable without script) with its parameters, body and answers.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  // resolve follows a local $ref into the document's components.
  function resolve(doc, s) {
    if (s && s.$ref) {
      return s.$ref.replace(/^#\//, "").split("/").reduce(function (o, k) { return o && o[k]; }, doc);
    }
    return s;
  }

  // sketch writes a schema as an example-like outline: {"field": "string", ...}.
  function sketch(doc, s, depth) {
    var name = s && s.$ref ? s.$ref.split("/").pop() : "";
    s = resolve(doc, s) || {};
    if (depth > 3) { return name || "object"; }
    if (s.allOf) {
      var merged = {};
      s.allOf.forEach(function (part) {
        var v = sketch(doc, part, depth);
        if (v && typeof v === "object") { Object.keys(v).forEach(function (k) { merged[k] = v[k]; }); }
      });
      return merged;
    }
    if (s.type === "object" || s.properties) {
      if (!s.properties) { return s.additionalProperties ? { "<key>": sketch(doc, s.additionalProperties, depth + 1) } : {}; }
      var out = {};
      Object.keys(s.properties).forEach(function (k) {
        var optional = !(s.required || []).includes(k);
        out[k + (optional ? "?" : "")] = sketch(doc, s.properties[k], depth + 1);
      });
      return out;
    }
    if (s.type === "array") { return [sketch(doc, s.items, depth + 1)]; }
    if (s.enum) { return s.enum.map(String).join(" | "); }
    if (s.const !== undefined) { return s.const; }
    var t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || name || "any");
    return s.format ? t + " (" + s.format + ")" : t;
  }

  function pre(doc, schema) {
    return el("pre", {}, [JSON.stringify(sketch(doc, schema, 0), null, 2)]);
  }

  function security(op) {
    var reqs = op.security || [];
    if (reqs.length === 0) { return "Public: no credentials."; }
    return "Credentials: " + reqs.map(function (r) {
      var name = Object.keys(r)[0];
      return r[name].length ? name + " (scope " + r[name].join(", ") + ")" : name;
    }).join(" or ") + ".";
  }

  function operation(doc, path, method, op) {
    var body = el("div", { "class": "body" }, []);
    if (op.description) { body.appendChild(el("p", {}, [op.description])); }
    body.appendChild(el("p", {}, [security(op)]));
    if (op.parameters && op.parameters.length) {
      body.appendChild(el("h3", {}, ["Parameters"]));
      var rows = op.parameters.map(function (p) {
        return el("tr", {}, [el("td", {}, [p.name]), el("td", {}, [p.in + (p.required ? ", required" : "")]), el("td", {}, [p.description || ""])]);
      });
      body.appendChild(el("table", {}, [el("thead", {}, [el("tr", {}, [el("th", { scope: "col" }, ["Name"]), el("th", { scope: "col" }, ["In"]), el("th", { scope: "col" }, ["Description"])])]), el("tbody", {}, rows)]));
    }
    if (op.requestBody) {
      var types = Object.keys(op.requestBody.content);
      body.appendChild(el("h3", {}, ["Request body (" + types.join(", ") + ")"]));
      body.appendChild(pre(doc, op.requestBody.content[types[0]].schema));
    }
    body.appendChild(el("h3", {}, ["Responses"]));
    Object.keys(op.responses).sort().forEach(function (status) {
      var r = op.responses[status];
      body.appendChild(el("p", {}, [el("strong", {}, [status]), " " + r.description]));
      var json = r.content && r.content["application/json"];
      if (json && status < "400") { body.appendChild(pre(doc, json.schema)); }
    });
    var summary = el("summary", {}, [
      el("span", { "class": "method " + method }, [method.toUpperCase()]),
      el("span", { "class": "path" }, [path]), " — " + op.summary
    ]);
    return el("details", { "class": "op", id: op.operationId }, [summary, body]);
  }

  function render(doc) {
    document.getElementById("intro").textContent = (doc.info.description || "");
    var groups = {};
    Object.keys(doc.paths).sort().forEach(function (path) {
      ["get", "post", "put", "patch", "delete"].forEach(function (m) {
        var op = doc.paths[path][m];
        if (!op) { return; }
        var tag = (op.tags && op.tags[0]) || "Other";
        (groups[tag] = groups[tag] || []).push(operation(doc, path, m, op));
      });
    });
    var root = document.getElementById("operations");
    (doc.tags || []).map(function (t) { return t.name; }).forEach(function (tag) {
      if (!groups[tag]) { return; }
      var id = "tag-" + tag.toLowerCase().replace(/[^a-z0-9]+/g, "-");
      root.appendChild(el("section", { "aria-labelledby": id }, [el("h2", { id: id }, [tag])].concat(groups[tag])));
    });
  }

  function start() {
    fetch("/api/v1/openapi.json", { headers: { "Accept": "application/json" } })
      .then(function (res) { return res.json(); })
      .then(render, function () {
        document.getElementById("intro").textContent = "The OpenAPI document could not be loaded.";
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
