"""HTTP around the streams and the Dash app: the body limit, security headers and the pages' CSP,
gzip, the signed-in user of an authenticating proxy, the host's authorize hook, JSON bodies, request
ids, and URLs under the mount path."""
