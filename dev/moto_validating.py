"""A validating front for the moto AWS emulator: moto_server, plus the input checks AWS makes.

moto is not AWS. It accepts requests that AWS refuses because they break the service's published model: a
role name one character too long, a missing required member three structures deep, an enum value that does not
exist. Code that only ever meets moto passes its tests and then fails against AWS. This program runs moto's
server exactly as the `moto_server` command does (same arguments, same environment variables), but hands
werkzeug a WSGI middleware in front of moto's app. For every AWS API request the middleware

1. finds the service (from the SigV4 credential scope: every service shares the one endpoint) and the
   operation (per protocol: X-Amz-Target, the query `Action`, or the HTTP method and request URI),
2. decodes the request's parameters the way the protocol encodes them, guided by botocore's model of that
   operation (botocore ships with moto),
3. checks them against the model's constraints: required members at every level, enums, string, list and map
   lengths, numeric ranges, patterns and scalar types, plus the few constraints AWS documents and enforces
   but the model leaves out (DOCUMENTED_CONSTRAINTS),
4. refuses a violating request with HTTP 400 and the protocol's error shape, as AWS does, and appends one JSON
   line per violation to the file named by BUTLER_MOTO_VIOLATIONS (if set).

Everything else reaches moto untouched, byte for byte: moto's own /moto-api/ paths, unsigned requests, services
not listed in MODELS_BY_SIGNING_NAME, and requests whose operation cannot be determined (those are logged to the
same file as {"unparsed": ...} so a gap in this front is visible rather than silent).

Patterns. Smithy says a pattern is not implicitly anchored, yet many AWS models carry unanchored patterns such as
CloudWatch Logs' `[\\.\\-_/#A-Za-z0-9]+` that only make sense as whole-value matches (AWS's Java front ends match
the whole value). So: a pattern with an explicit anchor (leading `^` or trailing `$`) is applied with
`re.search`, honouring exactly the anchoring its author wrote; a pattern without anchors must match the whole
value (`re.fullmatch`). Java-only syntax is translated (`\\p{L}` and the other Unicode categories, `\\p{Alnum}`
and the other POSIX classes, UTF-16 surrogate-pair ranges, a literal `-` after a class escape such as `[\\w-_]`);
a pattern that still cannot be compiled is skipped, with a note on stderr. `\\w`, `\\d` and `\\s` are ASCII-only,
as in Java.

Not checked: members the model does not know (ignored, as the JSON protocols ignore them), rules between members
("either A or B"), anything that needs state (does the role exist), and requests in the CBOR protocol (logged as
unparsed). A timestamp must parse in one of the wire formats; which format a location demands is not checked.

Run: python dev/moto_validating.py -H 127.0.0.1 -p 5055    (the arguments of moto_server)
"""

import base64
import email.utils
import io
import json
import re
import os
import sys
import threading
import unicodedata
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from os import environ as process_environ
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape as xml_escape

import botocore.session

# --------------------------------------------------------------------------------------------------------------
# Which services are validated, and how their errors look

# SigV4 signing name -> botocore model name. Only these services are validated; any other passes through.
# elasticloadbalancing is two APIs behind one signing name: the request's Version picks the model.
MODELS_BY_SIGNING_NAME = {
    "ecs": "ecs",
    "servicediscovery": "servicediscovery",
    "logs": "logs",
    "ssm": "ssm",
    "secretsmanager": "secretsmanager",
    "acm": "acm",
    "iam": "iam",
    "autoscaling": "autoscaling",
    "sts": "sts",
    "elasticloadbalancing": "elb",
    "ec2": "ec2",
    "elasticfilesystem": "efs",
    "route53": "route53",
}
ELBV2_API_VERSION = "2015-12-01"

# The error code AWS uses for a request that breaks the model, per protocol.
ERROR_CODE_BY_PROTOCOL = {
    "json": "ValidationException",
    "rest-json": "ValidationException",
    "query": "ValidationError",
    "ec2": "InvalidParameterValue",
    "rest-xml": "InvalidInput",
}
# Services whose front end answers with a code of their own. CloudWatch Logs reports model violations (e.g. a
# retentionInDays outside the allowed set) as InvalidParameterException.
ERROR_CODE_BY_SERVICE = {"logs": "InvalidParameterException"}
# EC2 tells a missing parameter apart from a bad one.
EC2_MISSING_CODE = "MissingParameter"

# Constraints that AWS documents and enforces but botocore's model does not carry (the model has only prose).
# Keyed by (model name, shape name) or (model name, "Operation.Member.Path" without list indices); the values
# are merged over the model's own constraints. Kept to what this project calls; add entries with their source.
_EC2_NAME_CHARS = r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]"
_ELBV2_NAME = {"max": 32, "pattern": r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"}
DOCUMENTED_CONSTRAINTS = {
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
    ("logs", "Days"): {
        "enum": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                 2922, 3288, 3653],
    },
    # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html (VPC constraints:
    # EC2-Classic is gone)
    ("ec2", "CreateSecurityGroup.Description"): {"max": 255, "pattern": f"{_EC2_NAME_CHARS}*"},
    ("ec2", "CreateSecurityGroup.GroupName"): {"max": 255, "pattern": f"(?!sg-){_EC2_NAME_CHARS}*"},
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html and
    # API_CreateLoadBalancer.html: at most 32 alphanumerics or hyphens, not starting or ending with a hyphen.
    ("elbv2", "CreateTargetGroup.Name"): _ELBV2_NAME,
    ("elbv2", "CreateLoadBalancer.Name"): _ELBV2_NAME,
}
# Security group rule descriptions: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html (and
# Ipv6Range, PrefixListId, UserIdGroupPair): up to 255 characters from the same set as group descriptions.
for _operation in ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"):
    for _list in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
        DOCUMENTED_CONSTRAINTS[("ec2", f"{_operation}.IpPermissions.{_list}.Description")] = {
            "max": 255, "pattern": f"{_EC2_NAME_CHARS}*",
        }

# AWS integers are Java ints and longs.
INTEGER_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


# --------------------------------------------------------------------------------------------------------------
# botocore models

class Models:
    """botocore service models, loaded once on first use (werkzeug serves requests on many threads)."""

    def __init__(self):
        self._session = botocore.session.get_session()
        self._models = {}
        self._lock = threading.Lock()

    def get(self, name):
        with self._lock:
            if name not in self._models:
                self._models[name] = self._session.get_service_model(name)
            return self._models[name]


# --------------------------------------------------------------------------------------------------------------
# Decoding requests into parameters keyed by model member names

class Text(str):
    """A scalar that arrived as text (query string, form field, header, URI label, XML), so that numbers and
    booleans are still to be parsed; a scalar from a JSON body keeps its JSON type instead."""


MISSING = object()


@dataclass
class Call:
    """A request attributed to one operation, with its parameters decoded."""
    service: str  # botocore model name
    protocol: str  # as botocore names it: json, query, ec2, rest-json, rest-xml
    model: object  # botocore ServiceModel
    operation: object  # botocore OperationModel
    params: dict
    # Violations found while decoding (an unreadable body): reported like any other.
    decode_violations: list


@dataclass
class Unparsed:
    """A request for a validated service whose operation could not be determined."""
    reason: str


@dataclass
class Request:
    """What the decoders need of a WSGI request."""
    method: str
    path: str  # raw, still percent-encoded
    query: str
    headers: dict  # lower-case name -> value
    body: bytes


def request_from_environ(environ, body):
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw_uri:
        # werkzeug hands the raw request target over as latin-1 ("the WSGI encoding dance").
        parts = urlsplit(raw_uri.encode("latin-1").decode("utf-8", "replace"))
        path, query = parts.path, parts.query
    else:
        path, query = environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", "")
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return Request(environ.get("REQUEST_METHOD", "GET").upper(), path or "/", query, headers, body)


# ---- json protocol: X-Amz-Target names the operation, the body is the input structure

def decode_json_call(service, model, request):
    target = request.headers.get("x-amz-target", "")
    prefix, _, name = target.rpartition(".")
    if not target:
        return Unparsed("no X-Amz-Target header")
    if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
        return Unparsed(f"X-Amz-Target {target!r} is not an operation of {service}")
    operation = model.operation_model(name)
    body, violations = parse_json_body(request.body, operation.name)
    params = from_json(body, operation.input_shape) if operation.input_shape else {}
    return Call(service, "json", model, operation, params, violations)


def parse_json_body(raw, operation_name):
    """The JSON object a body carries: an empty body is an empty input."""
    if not raw.strip():
        return {}, []
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {}, [Violation(operation_name, "The request body must be a JSON object", _display(raw))]
    return body, []


def from_json(value, shape):
    """Re-keys JSON objects from wire names (locationName) to member names; scalars stay as sent."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.metadata.get("document"):
        decoded = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if wire in value:
                decoded[name] = from_json(value[wire], member)
        return decoded
    if kind == "list" and isinstance(value, list):
        return [from_json(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: from_json(item, shape.value) for key, item in value.items()}
    return value


# ---- query and ec2 protocols: form fields `Action`, `Version`, and the input flattened into dotted names

def query_fields(request):
    """The form fields of a query-protocol request: the query string plus a form-encoded body."""
    fields = dict(parse_qsl(request.query, keep_blank_values=True))
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


def decode_query_call(service, model, request, fields):
    action = fields.get("Action")
    if not action:
        return Unparsed("no Action parameter")
    if action not in model.operation_names:
        return Unparsed(f"Action {action!r} is not an operation of {service}")
    operation = model.operation_model(action)
    protocol = model.metadata["protocol"]
    naming = Ec2Naming() if protocol == "ec2" else QueryNaming()
    params = {}
    if operation.input_shape:
        params = from_fields(FlatFields(fields), "", operation.input_shape, naming)
    return Call(service, protocol, model, operation, params, [])


class FlatFields:
    """Form fields with the lookups the shape-guided decoder needs."""

    def __init__(self, fields):
        self.values = fields

    def has_prefix(self, prefix):
        return any(key.startswith(prefix + ".") for key in self.values)

    def indices(self, prefix):
        """The N of every `prefix.N...` field, in numeric order (the protocols count from 1)."""
        found = set()
        for key in self.values:
            if key.startswith(prefix + "."):
                segment = key[len(prefix) + 1:].split(".", 1)[0]
                if segment.isdigit():
                    found.add(int(segment))
        return sorted(found)


class QueryNaming:
    """Field names of the query protocol: lists are `Name.member.N` unless flattened, maps `Name.entry.N.key`."""

    def member(self, shape, name):
        return shape.serialization.get("name", name)

    def list_items(self, prefix, shape):
        if shape.serialization.get("flattened"):
            item_name = shape.member.serialization.get("name")
            # A flattened list whose items have a name of their own repeats under that name.
            return ".".join(prefix.split(".")[:-1] + [item_name]) if item_name else prefix
        return f"{prefix}.{shape.member.serialization.get('name', 'member')}"


class Ec2Naming(QueryNaming):
    """Field names of the ec2 protocol: queryName, else the capitalised locationName; lists are `Name.N`."""

    def member(self, shape, name):
        if "queryName" in shape.serialization:
            return shape.serialization["queryName"]
        if "name" in shape.serialization:
            location_name = shape.serialization["name"]
            return location_name[:1].upper() + location_name[1:]
        return name

    def list_items(self, prefix, shape):
        return prefix


def from_fields(fields, prefix, shape, naming):
    """The value of shape stored under prefix in the flat fields, or MISSING."""
    kind = shape.type_name
    if kind == "structure":
        if prefix and not fields.has_prefix(prefix):
            return MISSING
        decoded = {}
        for name, member in shape.members.items():
            key = naming.member(member, name)
            value = from_fields(fields, f"{prefix}.{key}" if prefix else key, member, naming)
            if value is not MISSING:
                decoded[name] = value
        return decoded
    if kind == "list":
        items = naming.list_items(prefix, shape)
        indices = fields.indices(items)
        if not indices:
            # An empty list is sent as the bare name with an empty value.
            return [] if fields.values.get(prefix) == "" else MISSING
        return [_present(from_fields(fields, f"{items}.{i}", shape.member, naming)) for i in indices]
    if kind == "map":
        entries = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        indices = fields.indices(entries)
        if not indices:
            return MISSING
        return {
            fields.values.get(f"{entries}.{i}.{key_name}", ""):
                _present(from_fields(fields, f"{entries}.{i}.{value_name}", shape.value, naming))
            for i in indices
        }
    value = fields.values.get(prefix)
    return MISSING if value is None else Text(value)


def _present(value):
    """A list item or map value that decoded to nothing is a null, which validation then reports."""
    return None if value is MISSING else value


# ---- rest-json and rest-xml: the HTTP method and URI pick the operation; members live in the URI, the query
# string, headers and the body

@dataclass
class RestRoute:
    operation: str
    method: str
    path: re.Pattern
    labels: dict  # regex group name -> URI label name
    query_literals: list  # (name, value) pairs the requestUri itself carries, e.g. ?tagging
    specificity: tuple


def rest_routes(model):
    """One route per operation, from its `requestUri` template."""
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template_path, _, template_query = http.get("requestUri", "/").partition("?")
        regex, labels, literal_chars = uri_template_regex(template_path)
        literals = parse_qsl(template_query, keep_blank_values=True)
        routes.append(RestRoute(
            name, http.get("method", "POST").upper(), regex, labels, literals,
            # Where two templates match, the one that says the most wins: a literal segment beats a label.
            (len(literals), literal_chars, -len(labels)),
        ))
    return routes


def uri_template_regex(template):
    """A regex for a URI template's path: `{Name}` is one path segment, `{Name+}` any number of them."""
    if len(template) > 1:
        template = template.rstrip("/")
    pattern, labels, literal_chars = "", {}, 0
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            group = f"label{len(labels)}"
            labels[group] = name.rstrip("+")
            pattern += f"(?P<{group}>.+)" if name.endswith("+") else f"(?P<{group}>[^/]+)"
        else:
            pattern += re.escape(piece)
            literal_chars += len(piece)
    # SDKs differ on a trailing slash (route53's `.../rrset/`): accept either.
    return re.compile(pattern + "/?"), labels, literal_chars


def match_rest_route(routes, request):
    query = parse_qs(request.query, keep_blank_values=True)
    best = None
    for route in routes:
        if route.method != request.method:
            continue
        found = route.path.fullmatch(request.path)
        if not found or not _query_literals_present(route.query_literals, query):
            continue
        if best is None or route.specificity > best[0].specificity:
            best = (route, {route.labels[group]: unquote(value) for group, value in found.groupdict().items()})
    return best


def _query_literals_present(literals, query):
    return all(name in query and (not value or value in query[name]) for name, value in literals)


def decode_rest_call(service, model, request, routes):
    matched = match_rest_route(routes, request)
    if matched is None:
        return Unparsed(f"no {service} operation has the route {request.method} {request.path}")
    route, labels = matched
    protocol = model.metadata["protocol"]
    operation = model.operation_model(route.operation)
    shape = operation.input_shape
    if shape is None:
        return Call(service, protocol, model, operation, {}, [])
    params = located_members(shape, labels, parse_qs(request.query, keep_blank_values=True), request.headers)
    body, violations = decode_rest_body(protocol, shape, request.body, operation.name)
    params.update(body)
    return Call(service, protocol, model, operation, params, violations)


def located_members(shape, labels, query, headers):
    """The members carried by the URI, the query string and the headers."""
    params = {}
    claimed_query = {m.serialization.get("name", n) for n, m in shape.members.items()
                     if m.serialization.get("location") == "querystring" and m.type_name != "map"}
    for name, member in shape.members.items():
        location, wire = member.serialization.get("location"), member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            params[name] = Text(labels[wire])
        elif location == "querystring":
            value = querystring_member(member, wire, query, claimed_query)
            if value is not MISSING:
                params[name] = value
        elif location == "header" and wire.lower() in headers:
            value = headers[wire.lower()]
            params[name] = [Text(v.strip()) for v in value.split(",")] if member.type_name == "list" else Text(value)
        elif location == "headers":
            prefix = wire.lower()
            found = {k[len(prefix):]: Text(v) for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
    return params


def querystring_member(member, wire, query, claimed):
    if member.type_name == "map":
        # A map in the query string takes every parameter no other member names.
        rest = {k: v for k, v in query.items() if k not in claimed}
        if not rest:
            return MISSING
        if member.value.type_name == "list":
            return {k: [Text(x) for x in v] for k, v in rest.items()}
        return {k: Text(v[0]) for k, v in rest.items()}
    if wire not in query:
        return MISSING
    if member.type_name == "list":
        return [Text(v) for v in query[wire]]
    return Text(query[wire][0])


def decode_rest_body(protocol, shape, raw, operation_name):
    """The members carried by the body: one payload member, or every member without a location."""
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        if member.type_name != "structure":
            # A raw payload: the body itself is the member's value.
            if not raw:
                return {}, []
            return {payload: Text(raw.decode("utf-8", "replace")) if member.type_name == "string" else raw}, []
        body, violations = parse_rest_body(protocol, raw, operation_name)
        if body is None:
            return {}, violations
        return {payload: from_json(body, member) if protocol == "rest-json" else from_xml(body, member)}, []
    body_members = [n for n, m in shape.members.items() if not m.serialization.get("location")]
    if not body_members:
        return {}, []
    body, violations = parse_rest_body(protocol, raw, operation_name)
    if body is None:
        return {}, violations
    decoded = from_json(body, shape) if protocol == "rest-json" else from_xml(body, shape)
    return {n: decoded[n] for n in body_members if n in decoded}, []


def parse_rest_body(protocol, raw, operation_name):
    """The JSON object or XML root element of a body; None for an empty body."""
    if not raw.strip():
        return None, []
    if protocol == "rest-json":
        body, violations = parse_json_body(raw, operation_name)
        return (None if violations else body), violations
    try:
        return ElementTree.fromstring(raw), []
    except ElementTree.ParseError as error:
        return None, [Violation(operation_name, f"The request body must be well-formed XML ({error})", _display(raw))]


def from_xml(element, shape):
    """The value of shape held by an XML element (rest-xml: members are child elements named by locationName)."""
    kind = shape.type_name
    if kind == "structure":
        children = {}
        for child in element:
            children.setdefault(_local_name(child.tag), []).append(child)
        decoded = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if member.serialization.get("xmlAttribute"):
                value = _xml_attribute(element, wire)
                if value is not None:
                    decoded[name] = Text(value)
            elif member.type_name == "list" and member.serialization.get("flattened"):
                if wire in children:
                    decoded[name] = [from_xml(item, member.member) for item in children[wire]]
            elif wire in children:
                decoded[name] = from_xml(children[wire][0], member)
        return decoded
    if kind == "list":
        item_name = shape.member.serialization.get("name", "member")
        return [from_xml(item, shape.member) for item in element if _local_name(item.tag) == item_name]
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        decoded = {}
        for entry in element:
            parts = {_local_name(part.tag): part for part in entry}
            if key_name in parts:
                value = parts.get(value_name)
                decoded[parts[key_name].text or ""] = None if value is None else from_xml(value, shape.value)
        return decoded
    return Text(element.text or "")


def _local_name(tag):
    return tag.rsplit("}", 1)[-1]


def _xml_attribute(element, name):
    for key, value in element.attrib.items():
        if _local_name(key) == name.split(":")[-1]:
            return value
    return None


# --------------------------------------------------------------------------------------------------------------
# Validation

@dataclass(frozen=True)
class Violation:
    path: str  # Operation.member.path[0].member
    constraint: str  # AWS's wording: "Member must ..."
    value: str  # for display: 'text', null, a number
    missing: bool = False

    def message(self):
        return f"Value {self.value} at '{self.path}' failed to satisfy constraint: {self.constraint}"


class Checker:
    """Checks decoded parameters against one operation's input shape."""

    def __init__(self, service, patterns):
        self.service = service
        self.patterns = patterns

    def check(self, value, shape, path):
        if value is None:
            return [Violation(path, "Member must not be null", "null", missing=True)]
        constraints = self.constraints(shape, path)
        kind = shape.type_name
        if kind == "structure":
            return self.check_structure(value, shape, path, constraints)
        if kind == "list":
            return self.check_list(value, shape, path, constraints)
        if kind == "map":
            return self.check_map(value, shape, path, constraints)
        return self.check_scalar(value, kind, path, constraints)

    def constraints(self, shape, path):
        """The model's constraints of shape, with any documented ones merged over them."""
        merged = dict(shape.metadata)
        merged.update(DOCUMENTED_CONSTRAINTS.get((self.service, shape.name), {}))
        merged.update(DOCUMENTED_CONSTRAINTS.get((self.service, re.sub(r"\[[^\]]*\]", "", path)), {}))
        return merged

    def check_structure(self, value, shape, path, constraints):
        if constraints.get("document"):
            return []  # a free-form JSON document: nothing to check
        if not isinstance(value, dict):
            return [Violation(path, "Member must be a structure", _display(value))]
        violations = [
            Violation(f"{path}.{name}", "Member must not be null", "null", missing=True)
            for name in shape.required_members if value.get(name) is None
        ]
        if constraints.get("union"):
            set_members = [name for name in shape.members if value.get(name) is not None]
            if len(set_members) != 1:
                violations.append(Violation(path, "Member must have exactly one member set",
                                            _display(set_members)))
        for name, member in shape.members.items():
            if value.get(name) is not None:
                violations += self.check(value[name], member, f"{path}.{name}")
        return violations

    def check_list(self, value, shape, path, constraints):
        if not isinstance(value, list):
            return [Violation(path, "Member must be a list", _display(value))]
        violations = _length_violations(len(value), constraints, path, _display(value))
        for index, item in enumerate(value):
            violations += self.check(item, shape.member, f"{path}[{index}]")
        return violations

    def check_map(self, value, shape, path, constraints):
        if not isinstance(value, dict):
            return [Violation(path, "Member must be a map", _display(value))]
        violations = _length_violations(len(value), constraints, path, _display(value))
        for key, item in value.items():
            violations += self.check(key, shape.key, f"{path}[{key}].key")
            violations += self.check(item, shape.value, f"{path}[{key}].value")
        return violations

    def check_scalar(self, value, kind, path, constraints):
        display = "'***'" if constraints.get("sensitive") else _display(value)
        typed, problem = parse_scalar(value, kind)
        if problem:
            return [Violation(path, problem, display)]
        if "enum" in constraints and typed not in constraints["enum"]:
            allowed = ", ".join(str(v) for v in constraints["enum"])
            return [Violation(path, f"Member must satisfy enum value set: [{allowed}]", display)]
        if kind == "string":
            return (_length_violations(_utf16_length(typed), constraints, path, display)
                    + self.pattern_violations(typed, constraints, path, display))
        if kind == "blob":
            return _length_violations(len(typed), constraints, path, display)
        if kind in ("integer", "long", "float", "double"):
            return _range_violations(typed, constraints, path, display)
        return []

    def pattern_violations(self, text, constraints, path, display):
        pattern = constraints.get("pattern")
        if pattern is None:
            return []
        compiled = self.patterns.get(pattern)
        if compiled is None or compiled(text):
            return []
        return [Violation(path, f"Member must satisfy regular expression pattern: {pattern}", display)]


def _length_violations(length, constraints, path, display):
    if "min" in constraints and length < constraints["min"]:
        return [Violation(path, f"Member must have length greater than or equal to {constraints['min']}", display)]
    if "max" in constraints and length > constraints["max"]:
        return [Violation(path, f"Member must have length less than or equal to {constraints['max']}", display)]
    return []


def _range_violations(number, constraints, path, display):
    if "min" in constraints and number < constraints["min"]:
        return [Violation(path, f"Member must have value greater than or equal to {constraints['min']}", display)]
    if "max" in constraints and number > constraints["max"]:
        return [Violation(path, f"Member must have value less than or equal to {constraints['max']}", display)]
    return []


def _utf16_length(text):
    # AWS counts Java chars (UTF-16 code units): a character outside the BMP counts twice.
    return len(text.encode("utf-16-le")) // 2


def parse_scalar(value, kind):
    """(typed value, None), or (None, the constraint the value breaks) when it is not of the member's type."""
    textual = isinstance(value, Text)
    if kind == "string":
        return (value, None) if isinstance(value, str) else (None, "Member must be a string")
    if kind in INTEGER_BOUNDS:
        return _parse_integer(value, kind, textual)
    if kind in ("float", "double"):
        return _parse_float(value, textual)
    if kind == "boolean":
        if textual and value.lower() in ("true", "false"):
            return value.lower() == "true", None
        if isinstance(value, bool):
            return value, None
        return None, "Member must be a boolean (true or false)"
    if kind == "timestamp":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value, None
        if isinstance(value, str) and parse_timestamp(value) is not None:
            return value, None
        return None, "Member must be a timestamp"
    if kind == "blob":
        return _parse_blob(value)
    return value, None


def _parse_integer(value, kind, textual):
    if textual and re.fullmatch(r"[+-]?[0-9]+", value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return None, "Member must be an integer"
    low, high = INTEGER_BOUNDS[kind]
    if not low <= number <= high:
        return None, f"Member must be a {'32' if kind == 'integer' else '64'}-bit integer"
    return number, None


def _parse_float(value, textual):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value, None
    # Text, or the strings the JSON protocols use for the IEEE specials.
    if textual or value in ("NaN", "Infinity", "-Infinity"):
        try:
            return float(value), None
        except ValueError:
            pass
    return None, "Member must be a number"


def _parse_blob(value):
    if isinstance(value, bytes):
        return value, None  # a raw payload
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True), None
        except ValueError:
            pass
    return None, "Member must be base64-encoded binary data"


def parse_timestamp(text):
    """A timestamp in any of the wire formats (epoch seconds, ISO 8601, RFC 822), or None."""
    try:
        if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
            return datetime.fromtimestamp(float(text), timezone.utc)
        return datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


def _display(value, limit=120):
    """A value as AWS quotes it in messages ('text', null), cut short: a policy document can be 20 kB."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > limit:
        text = text[:limit] + f"…({len(text)} chars)"
    return f"'{text}'"


# --------------------------------------------------------------------------------------------------------------
# Patterns: AWS models are written for Java's regex engine

class Untranslatable(Exception):
    """Java regex syntax with no Python equivalent here."""


# Java's POSIX classes (ASCII-only, as Java has them by default), as character-class bodies.
POSIX_CLASSES = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": r"\x00-\x7F", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": r"!-/:-@\[-`{-~", "Graph": r"!-~", "Print": r"\x20-\x7E",
    "Blank": r" \t", "Cntrl": r"\x00-\x1F\x7F", "XDigit": "0-9a-fA-F", "Space": r" \t\n\x0B\f\r",
}
SURROGATE_PAIR = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")
CLASS_ESCAPES = set("wWdDsS")


class Patterns:
    """Compiled model patterns, translated from Java syntax once and cached; None for a skipped pattern."""

    def __init__(self, notes=sys.stderr):
        self._compiled = {}
        self._lock = threading.Lock()
        self._notes = notes

    def get(self, pattern):
        with self._lock:
            if pattern not in self._compiled:
                self._compiled[pattern] = self._compile(pattern)
            return self._compiled[pattern]

    def _compile(self, pattern):
        try:
            with warnings.catch_warnings():
                # Python warns about `[[`, `--` and `&&` in a class, which Java reads as literals here.
                warnings.simplefilter("ignore", FutureWarning)
                regex = re.compile(translate_pattern(pattern), re.ASCII)
        except (Untranslatable, re.error) as error:
            print(f"moto_validating: not checking pattern {pattern!r}: {error}", file=self._notes, flush=True)
            return None
        # See the module docstring: explicit anchors are honoured as written, otherwise the whole value.
        anchored = pattern.startswith("^") or (pattern.endswith("$") and not pattern.endswith("\\$"))
        return (lambda text: regex.search(text) is not None) if anchored else \
            (lambda text: regex.fullmatch(text) is not None)


def translate_pattern(java):
    """A Python regex equivalent to a Java one, for the Java syntax AWS models use."""
    # Java strings are UTF-16: a character beyond the BMP is written as a surrogate pair, Python wants one escape.
    python = SURROGATE_PAIR.sub(lambda m: "\\U%08X" % _combine_surrogates(m.group(1), m.group(2)), java)
    out, i, in_class, after_class_escape = [], 0, False, False
    while i < len(python):
        char = python[i]
        if char == "\\" and i + 1 < len(python):
            escaped = python[i + 1]
            if escaped in "pP":
                body, i = _property_class(python, i + 2)
                out.append(_place_property(body, negated=escaped == "P", in_class=in_class))
                after_class_escape = True
                continue
            if escaped == "Q":
                raise Untranslatable("\\Q...\\E quoting")
            out.append("\\Z" if escaped == "z" else python[i:i + 2])
            after_class_escape = escaped in CLASS_ESCAPES
            i += 2
            continue
        if in_class:
            if char == "-" and after_class_escape:
                char = "\\-"  # Java reads `[\w-_]` as \w, '-', '_'; Python sees a bad range
            elif char == "[":
                raise Untranslatable("nested character class")
            elif char == "&" and python.startswith("&&", i):
                raise Untranslatable("character class intersection")
            elif char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if python.startswith("[^", i):
                char, i = "[^", i + 1
        out.append(char)
        after_class_escape = False
        i += 1
    return "".join(out)


def _combine_surrogates(high, low):
    return 0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00)


def _property_class(pattern, start):
    """The character-class body for `\\p{Name}` or `\\pL` starting at start, and the index after it."""
    if pattern.startswith("{", start):
        end = pattern.find("}", start)
        if end < 0:
            raise Untranslatable("unterminated \\p{")
        name, after = pattern[start + 1:end], end + 1
    else:
        name, after = pattern[start:start + 1], start + 1
    if name in POSIX_CLASSES:
        return POSIX_CLASSES[name], after
    category = name[2:] if name.startswith("Is") else name
    if category in unicode_categories():
        return unicode_category_class(category), after
    raise Untranslatable(f"\\p{{{name}}}")


def _place_property(body, negated, in_class):
    if not in_class:
        return f"[^{body}]" if negated else f"[{body}]"
    if negated:
        raise Untranslatable("\\P{...} inside a character class")
    return body


_category_ranges = None
_category_lock = threading.Lock()


def unicode_categories():
    """Code point ranges per Unicode general category (two letters, e.g. Lu), computed once: Python's re has no
    \\p{...}. Takes about a second, so only when a pattern needs it."""
    global _category_ranges
    with _category_lock:
        if _category_ranges is None:
            ranges = {}
            start, current = 0, unicodedata.category(chr(0))
            for code in range(1, sys.maxunicode + 2):
                category = unicodedata.category(chr(code)) if code <= sys.maxunicode else None
                if category != current:
                    ranges.setdefault(current, []).append((start, code - 1))
                    start, current = code, category
            for category in list(ranges):
                ranges.setdefault(category[0], []).extend(ranges[category])
            _category_ranges = ranges
        return _category_ranges


def unicode_category_class(category):
    ranges = sorted(unicode_categories()[category])
    return "".join(f"\\U{a:08X}" if a == b else f"\\U{a:08X}-\\U{b:08X}" for a, b in ranges)


# --------------------------------------------------------------------------------------------------------------
# Refusals, in each protocol's error shape

def refusal(call, violations):
    """(status, headers, body) of the 400 AWS answers for these violations."""
    count = len(violations)
    message = (f"{count} validation error{'s' if count != 1 else ''} detected: "
               + "; ".join(v.message() for v in violations))
    protocol = call.protocol
    code = ERROR_CODE_BY_SERVICE.get(call.service, ERROR_CODE_BY_PROTOCOL[protocol])
    request_id = str(uuid.uuid4())
    if protocol == "json":
        content_type = f"application/x-amz-json-{call.model.metadata.get('jsonVersion', '1.0')}"
        return _json_refusal(content_type, code, message, request_id)
    if protocol == "rest-json":
        return _json_refusal("application/json", code, message, request_id)
    if protocol == "ec2":
        if all(v.missing for v in violations):
            code = EC2_MISSING_CODE
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{xml_escape(message)}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>")
        return _xml_refusal(body, request_id)
    namespace = xml_namespace(call.model)
    body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return _xml_refusal(body, request_id)


def _json_refusal(content_type, code, message, request_id):
    body = json.dumps({"__type": code, "message": message}).encode()
    return 400, [("Content-Type", content_type), ("x-amzn-ErrorType", code),
                 ("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))], body


def _xml_refusal(text, request_id):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()
    return 400, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id),
                 ("Content-Length", str(len(body)))], body


def xml_namespace(model):
    if model.metadata.get("xmlNamespace"):
        return model.metadata["xmlNamespace"]
    return f"https://{model.metadata['endpointPrefix']}.amazonaws.com/doc/{model.metadata['apiVersion']}/"


# --------------------------------------------------------------------------------------------------------------
# The violations file

class ViolationLog:
    """Appends one JSON object per line to BUTLER_MOTO_VIOLATIONS, for tooling to read after a run."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()

    def violation(self, call, violation):
        self._write({
            "service": call.service, "operation": call.operation.name, "path": violation.path,
            "constraint": violation.constraint, "value": violation.value, "message": violation.message(),
        })

    def unparsed(self, signing_name, request, reason):
        self._write({"unparsed": {
            "service": signing_name, "method": request.method, "path": request.path,
            "target": request.headers.get("x-amz-target"), "reason": reason,
        }})

    def _write(self, record):
        if not self.path:
            return
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **record}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line)


# --------------------------------------------------------------------------------------------------------------
# The middleware

def wire_protocol(model):
    """The protocol clients speak to a service. servicediscovery's model offers CBOR first, but botocore and
    the Rust SDK both still speak its json protocol (a CBOR request is caught by its smithy-protocol header)."""
    offered = model.metadata.get("protocols") or [model.metadata["protocol"]]
    return next((p for p in ("json", "rest-json", "rest-xml", "query", "ec2") if p in offered), None)


def signing_name(environ):
    """The service of a SigV4 request's credential scope (Credential=AKID/DATE/REGION/SERVICE/aws4_request)."""
    found = re.search(r"Credential=([^,\s]+)", environ.get("HTTP_AUTHORIZATION", ""))
    if not found:
        return None
    scope = found.group(1).split("/")
    return scope[3].lower() if len(scope) == 5 else None


def take_body(environ):
    """Reads the whole request body and puts an identical one back for moto to read."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH", "")
    if stream is None:
        return b""
    if length.isdigit():
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()  # chunked: the server ends the stream at the body's end
    else:
        return b""  # no body, and nothing was read
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class ValidatingMiddleware:
    """Refuses the requests AWS would refuse for breaking its model; hands everything else to moto."""

    def __init__(self, app, log, models=None, patterns=None):
        self.app = app
        self.log = log
        self.models = models or Models()
        self.patterns = patterns or Patterns()
        self._routes = {}
        self._routes_lock = threading.Lock()

    def __call__(self, environ, start_response):
        name = signing_name(environ)
        if environ.get("PATH_INFO", "").startswith("/moto-api") or name not in MODELS_BY_SIGNING_NAME:
            return self.app(environ, start_response)
        request = request_from_environ(environ, take_body(environ))
        try:
            call = self.decode(name, request)
            violations = [] if isinstance(call, Unparsed) else self.violations(call)
        except Exception as error:  # noqa: BLE001 - a fault in this front must never take the emulator down
            call, violations = Unparsed(f"validator error: {error!r}"), []
        if isinstance(call, Unparsed):
            self.log.unparsed(name, request, call.reason)
            return self.app(environ, start_response)
        if not violations:
            return self.app(environ, start_response)
        return self.refuse(call, violations, start_response)

    def decode(self, name, request):
        if request.headers.get("smithy-protocol"):
            return Unparsed(f"protocol {request.headers['smithy-protocol']} is not decoded here")
        service = MODELS_BY_SIGNING_NAME[name]
        if name == "elasticloadbalancing" and query_fields(request).get("Version") == ELBV2_API_VERSION:
            service = "elbv2"
        model = self.models.get(service)
        protocol = wire_protocol(model)
        if protocol == "json":
            return decode_json_call(service, model, request)
        if protocol in ("query", "ec2"):
            return decode_query_call(service, model, request, query_fields(request))
        if protocol in ("rest-json", "rest-xml"):
            return decode_rest_call(service, model, request, self.routes(service, model))
        return Unparsed(f"protocol {protocol} is not decoded here")

    def routes(self, service, model):
        with self._routes_lock:
            if service not in self._routes:
                self._routes[service] = rest_routes(model)
            return self._routes[service]

    def violations(self, call):
        shape = call.operation.input_shape
        found = list(call.decode_violations)
        if shape is not None:
            found += Checker(call.service, self.patterns).check(call.params, shape, call.operation.name)
        return found

    def refuse(self, call, violations, start_response):
        for violation in violations:
            self.log.violation(call, violation)
        status, headers, body = refusal(call, violations)
        print(f"moto_validating: refused {call.service} {call.operation.name}: {violations[0].message()}"
              + (f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""), file=sys.stderr, flush=True)
        start_response(f"{status} Bad Request", headers)
        return [body]


def main():
    import moto.server

    # moto's own main parses the arguments and the environment and starts werkzeug: reuse it as it is, so this
    # front behaves like moto_server in every respect, and only wrap the app it hands to werkzeug.
    run_simple = moto.server.run_simple
    log = ViolationLog(process_environ.get("BUTLER_MOTO_VIOLATIONS"))

    def run_validating(hostname, port, application, **options):
        app = ValidatingMiddleware(application, log)
        faults = process_environ.get("BUTLER_MOTO_FAULTS")
        if faults is not None:
            # Only an emulator started for fault tests injects faults (see dev/moto_faults.py).
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from moto_faults import Faults, FaultMiddleware

            models = Models()

            def protocol_of(signing):
                service = MODELS_BY_SIGNING_NAME.get(signing)
                return wire_protocol(models.get(service)) if service else None

            def namespace_of(signing):
                return xml_namespace(models.get(MODELS_BY_SIGNING_NAME[signing]))

            app = FaultMiddleware(app, Faults(faults), protocol_of, namespace_of, signing_name, take_body)
        run_simple(hostname, port, app, **options)

    # Where moto is laxer than AWS in a way that hides a bug (dev/moto_fidelity.py).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import moto_fidelity

    moto_fidelity.apply()
    moto.server.run_simple = run_validating
    moto.server.main()


if __name__ == "__main__":
    main()
