// The reset-password page (pb_public/reset-password/index.html), also served as the HTML variant
// of GET /api/v1/users/password/reset/. The token arrives only in the URL fragment (#token=...),
// which browsers never send to a server; the page removes it from the address bar at once.
// Staff tokens are checked with the JSON variant of the same endpoint, then posted to
// POST /api/v1/users/password/reset/. With ?kind=employee the page posts to the employee endpoint.
(function () {
  "use strict";

  var STAFF = {
    check: "/api/v1/users/password/reset/",
    submit: "/api/v1/users/password/reset/",
    password: "password",
    confirm: "password_confirm"
  };
  var EMPLOYEE = {
    check: null, // the employee flow has no token check endpoint: the POST answers for the token
    submit: "/api/v1/hdts/employees/api/password/reset/",
    password: "new_password",
    confirm: "confirm_password"
  };
  var INVALID_LINK = "This reset link is invalid or has expired. Request a new one from the sign-in page.";

  function $(id) { return document.getElementById(id); }

  function readToken() {
    var hash = window.location.hash.replace(/^#/, "");
    var token = new URLSearchParams(hash).get("token") || "";
    if (hash !== "" && window.history && window.history.replaceState) {
      // keep ?kind=..., drop the fragment (and with it the token) from the address bar and history
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return token;
  }

  function setStatus(text, kind) {
    var el = $("status");
    el.textContent = text;
    el.className = "status" + (kind ? " " + kind : "");
    el.hidden = text === "";
  }

  function showErrors(listId, messages) {
    var list = $(listId);
    list.textContent = "";
    (messages || []).forEach(function (m) {
      var li = document.createElement("li");
      li.textContent = m;
      list.appendChild(li);
    });
  }

  function markInvalid(inputId, invalid) {
    if (invalid) {
      $(inputId).setAttribute("aria-invalid", "true");
    } else {
      $(inputId).removeAttribute("aria-invalid");
    }
  }

  function clearErrors() {
    showErrors("password-errors", []);
    showErrors("password-confirm-errors", []);
    showErrors("form-errors", []);
    markInvalid("password", false);
    markInvalid("password-confirm", false);
  }

  function requestJSON(method, url, body) {
    var init = {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Accept": "application/json" }
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data || {} };
      });
    });
  }

  function invalidLink() {
    setStatus(INVALID_LINK, "error");
    $("reset-form").hidden = true;
    $("done").hidden = false;
  }

  function start() {
    var kind = new URLSearchParams(window.location.search).get("kind") === "employee" ? EMPLOYEE : STAFF;
    var token = readToken();
    var form = $("reset-form");

    if (token === "") {
      invalidLink();
      return;
    }

    function showForm() {
      setStatus("", "");
      form.hidden = false;
      $("password").focus();
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors();
      var password = $("password").value;
      var confirm = $("password-confirm").value;
      if (password !== confirm) {
        showErrors("password-confirm-errors", ["Passwords do not match."]);
        markInvalid("password-confirm", true);
        return;
      }
      var body = { token: token };
      body[kind.password] = password;
      body[kind.confirm] = confirm;
      $("submit").disabled = true;
      requestJSON("POST", kind.submit, body).then(function (r) {
        $("submit").disabled = false;
        if (r.status === 200) {
          form.hidden = true;
          $("password").value = "";
          $("password-confirm").value = "";
          setStatus(r.data.message || "Your password has been reset.", "success");
          $("done").hidden = false;
          return;
        }
        var errors = r.data.errors || {};
        if (errors.token) {
          invalidLink();
          return;
        }
        showErrors("password-errors", errors[kind.password]);
        markInvalid("password", !!errors[kind.password]);
        showErrors("password-confirm-errors", errors[kind.confirm]);
        markInvalid("password-confirm", !!errors[kind.confirm]);
        var general = errors.non_field_errors || [];
        if (!errors[kind.password] && !errors[kind.confirm] && general.length === 0) {
          general = [r.data.detail || "Something went wrong. Please try again."];
        }
        showErrors("form-errors", general);
      }).catch(function () {
        $("submit").disabled = false;
        showErrors("form-errors", ["The service could not be reached. Please try again."]);
      });
    });

    if (!kind.check) {
      showForm();
      return;
    }
    requestJSON("GET", kind.check + "?token=" + encodeURIComponent(token)).then(function (r) {
      if (r.status === 200 && r.data.valid === true) {
        showForm();
      } else if (r.status === 200 || r.status === 400) {
        invalidLink();
      } else {
        setStatus(r.data.detail || "Something went wrong. Please reload the page.", "error");
      }
    }).catch(function () {
      setStatus("The service could not be reached. Please reload the page.", "error");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
