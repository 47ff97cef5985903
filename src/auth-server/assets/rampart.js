// The only script of the login pages (CSP script-src 'self'): submits the OAuth form_post
// response form on load, as the inline script oidc-provider would use otherwise. Nothing else.
document.addEventListener('DOMContentLoaded', function () {
  var form = document.querySelector('form[data-autosubmit]');
  if (form) form.submit();
});
