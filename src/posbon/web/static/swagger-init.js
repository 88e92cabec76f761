// Starts Swagger UI on /docs from a static file (the Content-Security-Policy forbids inline script).
window.addEventListener("DOMContentLoaded", function () {
  "use strict";
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
