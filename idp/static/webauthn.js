// Passkeys and security keys (W3C WebAuthn): forms marked data-webauthn="register" (account page),
// "assert" (second step after the password) or "login" (passwordless, login page).
// No framework and nothing from another site. The server checks everything; this only carries bytes.
(function () {
  "use strict";

  function toBuffer(text) {  // base64url (RFC 4648 §5) to ArrayBuffer
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var binary = atob(b64), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(options) {
    options.challenge = toBuffer(options.challenge);
    options.user.id = toBuffer(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBuffer(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return options;
  }

  function credentialJSON(credential) {  // RegistrationResponseJSON / AuthenticationResponseJSON
    var r = credential.response;
    var out = {id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type,
               response: {clientDataJSON: toBase64url(r.clientDataJSON)},
               clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}};
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      out.response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return out;
  }

  function show(form, message) {
    var box = form.querySelector("[data-webauthn-error]");
    if (box) { box.textContent = message || form.dataset.msgFailed; box.hidden = false; }
  }

  function postJSON(form, url, body) {
    var token = form.querySelector('input[name="csrf_token"]');
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token ? token.value : ""},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          if (data.redirect) { window.location.assign(data.redirect); }
          throw new Error(data.error_description || form.dataset.msgFailed);
        }
        return data;
      });
    });
  }

  function failed(form, error) {
    if (error && error.name === "NotAllowedError") { show(form, form.dataset.msgCancelled); }
    else if (error && error.name === "InvalidStateError") { show(form, form.dataset.msgExists); }
    // Any other browser error (SecurityError, AbortError, ...) carries the browser's own text, often in
    // another language than the page (WCAG 3.1.2): say the page's own "could not be used" instead. The
    // server's messages (plain Errors from postJSON) are already translated and are shown as they are.
    else if (typeof DOMException !== "undefined" && error instanceof DOMException) { show(form, form.dataset.msgFailed); }
    else { show(form, error && error.message); }
    var button = form.querySelector("button");
    if (button) { button.disabled = false; }
  }

  var ceremonies = {
    register: function (form) {
      var name = form.elements.name.value;
      return postJSON(form, form.dataset.optionsUrl, {name: name}).then(function (options) {
        return navigator.credentials.create({publicKey: creationOptions(options)});
      }).then(function (credential) {
        return postJSON(form, form.action, {name: name, credential: credentialJSON(credential)});
      }).then(function (data) { window.location.assign(data.redirect); });
    },
    assert: function (form) {
      var options = requestOptions(JSON.parse(form.dataset.options));
      return navigator.credentials.get({publicKey: options}).then(function (credential) {
        form.elements.credential.value = JSON.stringify(credentialJSON(credential));
        form.submit();
      });
    },
    login: function (form) {
      return postJSON(form, form.dataset.optionsUrl, {}).then(function (options) {
        return navigator.credentials.get({publicKey: requestOptions(options)});
      }).then(function (credential) {
        return postJSON(form, form.action, {credential: credentialJSON(credential), next: form.elements.next.value});
      }).then(function (data) { window.location.assign(data.redirect); });
    }
  };

  var supported = Boolean(window.PublicKeyCredential && navigator.credentials && window.fetch);
  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var run = ceremonies[form.dataset.webauthn];
    if (!run) { return; }
    if (!supported) {
      var note = form.parentNode.querySelector("[data-webauthn-unsupported]");
      if (note) { note.hidden = false; }
      form.hidden = true;
      return;
    }
    var section = form.closest("[data-webauthn-section]");
    if (section) { section.hidden = false; }  // the login page shows its passkey button only when it can work
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      if (button) { button.disabled = true; }
      try {
        run(form).catch(function (error) { failed(form, error); });
      } catch (error) {
        failed(form, error);
      }
    });
  });
}());
