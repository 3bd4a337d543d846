"""Fault injection for the moto front: AWS as a busy fleet answers it, not as one healthy endpoint.

Enabled only when BUTLER_MOTO_FAULTS is set (a test or benchmark that starts its own emulator sets it; the
emulator ./dev/test shares between tests never injects anything). Its value sets the starting point, e.g.
`rate=0.1,lost=0.25,seed=7,delay=0`; `POST /butler-faults` with a JSON object of the same keys (and `deny`, a
list of `service:Operation`, e.g. `iam:CreateRole`) changes them at run time, and `GET /butler-faults` returns
them with what was injected so far.

For each signed AWS request, with probability `rate`, the answer is a fault: throttling (in the service's own
words and status), 500 or 503. A share `lost` of the faults happen after moto has acted: the request takes
effect and its answer is lost, as when a connection drops after AWS has committed the change, which is what
makes a client's retry meet "already exists". `deny` answers AccessDenied, a permanent error. `delay` adds that
many seconds to every AWS request (slow AWS).
"""

import json
import random
import re
import threading
import time
import urllib.parse
import uuid

# Throttling as each protocol's services say it: (status, code).
THROTTLE = {
    "json": (400, "ThrottlingException"),
    "rest-json": (429, "ThrottlingException"),
    "query": (400, "Throttling"),
    "rest-xml": (400, "Throttling"),
    "ec2": (503, "RequestLimitExceeded"),
}
DENIED = {"json": "AccessDeniedException", "rest-json": "AccessDeniedException", "ec2": "UnauthorizedOperation"}


class Faults:
    """What to inject, changeable at run time, and what was injected."""

    def __init__(self, spec):
        self.lock = threading.Lock()
        self.rate, self.lost, self.delay, self.deny = 0.0, 0.0, 0.0, set()
        self.random = random.Random(0)
        self.injected = {"throttled": 0, "500": 0, "503": 0, "lost": 0, "denied": 0, "requests": 0}
        self.update(dict(part.split("=", 1) for part in spec.split(",") if "=" in part))

    def update(self, settings):
        with self.lock:
            if "rate" in settings:
                self.rate = float(settings["rate"])
            if "lost" in settings:
                self.lost = float(settings["lost"])
            if "delay" in settings:
                self.delay = float(settings["delay"])
            if "seed" in settings:
                self.random = random.Random(int(settings["seed"]))
            if "deny" in settings:
                self.deny = set(settings["deny"])

    def state(self):
        with self.lock:
            return {"rate": self.rate, "lost": self.lost, "delay": self.delay, "deny": sorted(self.deny),
                    "injected": dict(self.injected)}

    def draw(self, operation):
        """None (answer normally), or the fault for this request: ("deny"|"throttled"|"500"|"503", lost?)."""
        with self.lock:
            self.injected["requests"] += 1
            if operation in self.deny:
                self.injected["denied"] += 1
                return "denied", False
            if self.random.random() >= self.rate:
                return None
            kind = self.random.choice(["throttled", "500", "503"])
            lost = kind != "throttled" and self.random.random() < self.lost
            self.injected["lost" if lost else kind] += 1
            return kind, lost


def operation_of(signing, environ, body):
    """`service:Operation` where it is cheap to tell (json target, query Action); else `service:*`."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"{signing}:{target.rsplit('.', 1)[-1]}"
    fields = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")) | urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    action = fields.get("Action", ["*"])[0]
    return f"{signing}:{action}"


def error_response(protocol, status, code, message, namespace):
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    elif protocol == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>").encode()
        headers = [("Content-Type", "text/xml")]
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{code}</Code>'
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error",
              503: "Service Unavailable"}[status]
    return f"{status} {reason}", headers + [("Content-Length", str(len(body)))], body


class FaultMiddleware:
    """Answers a share of AWS requests with faults; everything else goes to the app it wraps."""

    def __init__(self, app, faults, protocol_of, namespace_of, signing_name, take_body):
        self.app, self.faults = app, faults
        self.protocol_of, self.namespace_of = protocol_of, namespace_of
        self.signing_name, self.take_body = signing_name, take_body

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/butler-faults":
            return self.control(environ, start_response)
        signing = self.signing_name(environ)
        protocol = self.protocol_of(signing) if signing else None
        if protocol is None or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        if self.faults.delay > 0:
            time.sleep(self.faults.delay)
        body = self.take_body(environ)
        operation = operation_of(signing, environ, body)
        fault = self.faults.draw(operation)
        if fault is None:
            return self.app(environ, start_response)
        kind, lost = fault
        if lost:
            # AWS acted; the answer never arrives.
            list(self.app(environ, lambda *args, **kwargs: None))
        status, code = {
            "denied": (403, DENIED.get(protocol, "AccessDenied")),
            "throttled": THROTTLE[protocol],
            "500": (500, "InternalFailure" if protocol != "ec2" else "InternalError"),
            "503": (503, "ServiceUnavailable" if protocol != "ec2" else "Unavailable"),
        }[kind]
        message = f"injected fault ({kind}{', after the change was made' if lost else ''}) on {operation}"
        line, headers, payload = error_response(protocol, status, code, message, self.namespace_of(signing))
        start_response(line, headers)
        return [payload]

    def control(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            self.faults.update(json.loads(environ["wsgi.input"].read(length) or b"{}"))
        body = json.dumps(self.faults.state()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
