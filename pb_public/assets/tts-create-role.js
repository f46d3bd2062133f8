// The role creation page: the HTML variant of GET /api/v1/tts/create-role/ (§5.13.5), for a
// signed-in admin of the system (cookies; a 401 refreshes the session once, then sends the user
// to the sign-in page and back). The system comes from ?system= (default tts); the list of systems
// to choose from is the admin's scope (the JSON variant of GET /api/v1/users/invite-agent/). The
// roles are the JSON variant of the page's endpoint; creating is a POST to it.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var API = "/api/v1/tts/create-role/";
  var SCOPE = "/api/v1/users/invite-agent/";
  var FIELDS = { name: "name", description: "description" };
  var system = new URLSearchParams(window.location.search).get("system") || "tts";

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function url() { return API + "?system=" + encodeURIComponent(system); }

  function fillRoles(roles) {
    var body = document.querySelector("#roles tbody");
    body.textContent = "";
    roles.forEach(function (r) {
      var tr = document.createElement("tr");
      [r.name, r.description || "—", r.is_custom ? "Yes" : "No"].forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  // loadRoles reads the JSON variant for the chosen system; false when it failed (shown).
  function loadRoles() {
    return G.authed("GET", url()).then(function (r) {
      if (r.status === 401) { return false; } // on the way to the sign-in page
      if (r.status !== 200) {
        $("list").hidden = true;
        alertText(G.message(r));
        return false;
      }
      $("list-system").textContent = $("system").options.length
        ? $("system").options[$("system").selectedIndex].textContent : r.data.system.toUpperCase();
      fillRoles(r.data.roles || []);
      $("list").hidden = false;
      return true;
    });
  }

  // loadSystems fills the system choice from the admin's scope; the system of the URL is kept
  // even when the scope cannot be read (the role endpoint decides).
  function loadSystems() {
    return G.authed("GET", SCOPE).then(function (r) {
      var sel = $("system");
      var list = r.status === 200 ? (r.data.systems || []) : [];
      var found = false;
      list.forEach(function (s) {
        sel.appendChild(option(s.slug, s.name));
        if (s.slug === system) { found = true; }
      });
      if (!found) { sel.appendChild(option(system, system.toUpperCase())); }
      sel.value = system;
      return r.status !== 401;
    });
  }

  function submit(ev) {
    ev.preventDefault();
    alertText("");
    var name = $("name").value.trim();
    var description = $("description").value.trim();
    var errors = {};
    if (name === "") { errors.name = ["Role name is required"]; }
    G.fieldErrors(FIELDS, { data: { errors: errors } });
    if (errors.name) {
      alertText("Please correct the highlighted field.");
      return;
    }
    $("submit").disabled = true;
    G.authed("POST", url(), { name: name, description: description === "" ? null : description }).then(function (r) {
      $("submit").disabled = false;
      if (r.status === 401) { return; }
      if (r.status === 201) {
        G.clearFieldErrors(FIELDS);
        $("name").value = "";
        $("description").value = "";
        status(r.data.message, "success");
        loadRoles();
        return;
      }
      status("");
      var rest = r.data.code === "invalid" ? G.fieldErrors(FIELDS, r) : [G.message(r)];
      alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
    });
  }

  G.ready(function () {
    $("role-form").addEventListener("submit", submit);
    $("system").addEventListener("change", function () {
      system = $("system").value;
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", window.location.pathname + "?system=" + encodeURIComponent(system));
      }
      alertText("");
      status("");
      loadRoles();
    });
    loadSystems().then(function (go) {
      if (!go) { return; }
      return loadRoles().then(function (ok) {
        status("");
        if (ok || $("system").options.length > 1) {
          $("role-form").hidden = false;
          $("name").focus();
        }
      });
    });
  });
})();
