// The reset-password page (/reset-password/), also the HTML variant of
// GET /api/v1/users/password/reset/. With a token in the URL fragment (#token=..., which browsers
// never send to a server; the page drops it from the address bar at once) it sets a new password:
// staff tokens are checked with the JSON variant of that endpoint, then posted to
// POST /api/v1/users/password/reset/; with ?kind=employee it uses the employee endpoints. Without
// a token it is the forgot-password form, which emails a reset link.
(function () {
  "use strict";

  var G = window.Gatehouse;
  var $ = G.$;
  var STAFF = {
    check: "/api/v1/users/password/reset/",
    submit: "/api/v1/users/password/reset/",
    forgot: "/api/v1/users/password/forgot/",
    password: "password",
    confirm: "password_confirm"
  };
  var EMPLOYEE = {
    check: null, // the employee flow has no token check endpoint: the POST answers for the token
    submit: "/api/v1/hdts/employees/api/password/reset/",
    forgot: "/api/v1/hdts/employees/api/password/forgot/",
    password: "new_password",
    confirm: "confirm_password"
  };
  var INVALID_LINK = "This reset link is invalid or has expired. Request a new one below.";
  var CAPTCHA = { required: "/api/v1/users/captcha/required/", generate: "/api/v1/users/captcha/generate/" };

  var kind = new URLSearchParams(window.location.search).get("kind") === "employee" ? EMPLOYEE : STAFF;
  var captchaId = "";

  function alertText(text) { G.setStatus($("alert"), text, text ? "error" : ""); }
  function status(text, kind) { G.setStatus($("status"), text, kind); }

  function readToken() {
    var hash = window.location.hash.replace(/^#/, "");
    var token = new URLSearchParams(hash).get("token") || "";
    if (hash !== "" && window.history && window.history.replaceState) {
      // keep ?kind=..., drop the fragment (and with it the token) from the address bar and history
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return token;
  }

  // Forgot password ---------------------------------------------------------------------------

  function loadCaptcha() {
    return G.call("POST", CAPTCHA.generate).then(function (r) {
      if (r.status !== 200) { alertText(G.message(r)); return; }
      captchaId = r.data.captcha_id;
      $("captcha-image").src = r.data.image;
      $("captcha-answer").value = "";
      $("captcha").hidden = false;
    });
  }

  function checkCaptcha() {
    return G.call("GET", CAPTCHA.required).then(function (r) {
      if (r.status === 200 && r.data.required === true && !captchaId) { return loadCaptcha(); }
      return null;
    });
  }

  function showForgot(message) {
    $("reset-form").hidden = true;
    $("forgot-form").hidden = false;
    $("title").textContent = "Forgot your password?";
    if (message) {
      alertText(message);
      status("");
    } else {
      status("");
    }
    checkCaptcha();
  }

  function forgot(ev) {
    ev.preventDefault();
    alertText("");
    var fields = { email: "email", captcha_answer: "captcha-answer" };
    var email = $("email").value.trim();
    var errors = {};
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) { errors.email = ["Enter a valid email address."]; }
    if (captchaId && $("captcha-answer").value.trim() === "") { errors.captcha_answer = ["Type the characters shown in the image."]; }
    G.fieldErrors(fields, { data: { errors: errors } });
    if (Object.keys(errors).length) {
      alertText("Please correct the highlighted fields.");
      return;
    }
    var body = { email: email };
    if (captchaId) {
      body.captcha_id = captchaId;
      body.captcha_answer = $("captcha-answer").value.trim();
    }
    $("forgot-submit").disabled = true;
    G.call("POST", kind.forgot, body).then(function (r) {
      $("forgot-submit").disabled = false;
      captchaId = "";
      $("captcha").hidden = true;
      if (r.status === 200) {
        $("forgot-form").hidden = true;
        status((r.data.message || "If an account with that email exists, a password reset link has been sent.") +
          " Check your inbox; the link is valid for one hour.", "success");
        $("done").hidden = false;
        return;
      }
      if (r.data.code === "captcha_required") {
        loadCaptcha().then(function () { $("captcha-answer").focus(); });
        alertText(r.data.detail === "CAPTCHA verification required."
          ? "Please complete the security check below." : "The characters did not match. Please try the new image.");
        return;
      }
      var rest = r.data.code === "invalid" ? G.fieldErrors(fields, r) : [G.message(r)];
      alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
    });
  }

  // New password ------------------------------------------------------------------------------

  function showReset() {
    status("");
    $("reset-form").hidden = false;
    $("password").focus();
  }

  function reset(token) {
    return function (ev) {
      ev.preventDefault();
      alertText("");
      var fields = {};
      fields[kind.password] = "password";
      fields[kind.confirm] = "password-confirm";
      var password = $("password").value;
      var confirm = $("password-confirm").value;
      var errors = {};
      if (password === "") { errors[kind.password] = ["Enter a new password."]; }
      if (password !== confirm) { errors[kind.confirm] = ["Passwords do not match."]; }
      G.fieldErrors(fields, { data: { errors: errors } });
      if (Object.keys(errors).length) {
        alertText("Please correct the highlighted fields.");
        return;
      }
      var body = { token: token };
      body[kind.password] = password;
      body[kind.confirm] = confirm;
      $("submit").disabled = true;
      G.call("POST", kind.submit, body).then(function (r) {
        $("submit").disabled = false;
        if (r.status === 200) {
          $("reset-form").hidden = true;
          $("password").value = "";
          $("password-confirm").value = "";
          status(r.data.message || "Your password has been reset.", "success");
          $("done").hidden = false;
          $("done").querySelector("a").focus();
          return;
        }
        var errs = r.data.errors || {};
        if (errs.token) {
          showForgot(INVALID_LINK);
          return;
        }
        var rest = r.data.code === "invalid" ? G.fieldErrors(fields, r) : [G.message(r)];
        alertText(rest.length ? rest.join(" ") : "Please correct the highlighted fields.");
      });
    };
  }

  G.ready(function () {
    var token = readToken();
    $("forgot-form").addEventListener("submit", forgot);
    if (token === "") {
      showForgot("");
      return;
    }
    $("reset-form").addEventListener("submit", reset(token));
    if (!kind.check) {
      showReset();
      return;
    }
    G.call("GET", kind.check + "?token=" + encodeURIComponent(token)).then(function (r) {
      if (r.status === 200 && r.data.valid === true) {
        showReset();
      } else if (r.status === 200 || r.status === 400) {
        showForgot(INVALID_LINK);
      } else {
        status(G.message(r), "error");
      }
    });
  });
})();
