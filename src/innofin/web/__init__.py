"""The web pages: server-rendered HTML (Jinja2) beside the API, in Chinese and English.

Pages call the same services and the same access policy as the API: each page names its policy
action (`page("enterprise:read")`), rows outside the caller's scope answer a 404 page, actions
its role may not take a 403 page, and a visitor who is not signed in is sent to the sign-in page.
Only the composition root mounts this package (`create_pages`); it imports rooms' services and
the API's toolkit, never the composition root.
"""
