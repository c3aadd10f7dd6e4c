"""The Content-Security-Policy header (Django 5.2 has none built in).

One fixed policy from settings (CONTENT_SECURITY_POLICY) on every response that does not
set its own. The admin, our templates and the API docs load scripts and styles only from
our static files (no inline script or style, no event-handler attribute, no CDN), so the policy needs
neither 'unsafe-inline' nor a nonce. The JSON config block of a live page
(<script type="application/json">) is data, not a script: CSP does not apply to it.
"""

from django.conf import settings

HEADER = "Content-Security-Policy"
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        # Report-only lets a deployment try a changed policy without breaking a page.
        self.header = REPORT_ONLY_HEADER if settings.CONTENT_SECURITY_POLICY_REPORT_ONLY else HEADER

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and self.header not in response:
            response[self.header] = self.policy
        return response
