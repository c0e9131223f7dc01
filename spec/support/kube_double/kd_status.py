"""Status bodies and API errors, worded and shaped as kube-apiserver writes them.

Sources (kubernetes/kubernetes, staging/src/k8s.io/...):
  apimachinery/pkg/api/errors/errors.go           NewNotFound, NewAlreadyExists, NewConflict,
                                                  NewInvalid, NewForbidden, NewBadRequest,
                                                  NewInternalError, NewResourceExpired, ...
  apiserver/pkg/endpoints/handlers/responsewriters/errors.go   forbiddenMessage
  apiserver/pkg/server/filters/maxinflight.go     tooManyRequests (a text/plain 429)
  apiserver/pkg/storage/cacher/watch_cache.go     "too old resource version: %d (%d)"
  apiserver/pkg/storage/etcd3/errors.go           the expired continue token text
  apiserver/pkg/endpoints/handlers/negotiation/errors.go  errUnsupportedMediaType
"""
import json


def goq(s):
    """Go's %q for the ASCII names the API uses."""
    return json.dumps(str(s), ensure_ascii=False)


def failure(code, reason, message, details=None, metadata=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {},
            "status": "Failure", "message": message}
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def success(name, kind, uid, group=""):
    details = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


class ApiError(Exception):
    """An error answered as a Status body (or, for plain_text, as the text itself)."""

    def __init__(self, code, reason, message, details=None, headers=None, metadata=None,
                 plain_text=None):
        super().__init__(message)
        self.code = code
        self.headers = dict(headers or {})
        self.body = failure(code, reason, message, details, metadata)
        self.plain_text = plain_text


def _details(name=None, group="", kind=None, causes=None, retry=None):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    if causes:
        d["causes"] = causes
    if retry:
        d["retryAfterSeconds"] = retry
    return d


def qualified(resource, group=""):
    return resource + "." + group if group else resource


def not_found(resource, name, group=""):
    return ApiError(404, "NotFound", "%s %s not found" % (qualified(resource, group), goq(name)),
                    _details(name, group, resource))


def unknown_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource, name, group=""):
    return ApiError(409, "AlreadyExists", "%s %s already exists" % (qualified(resource, group), goq(name)),
                    _details(name, group, resource))


def generate_name_conflict(resource, name):
    return ApiError(409, "AlreadyExists",
                    "%s %s already exists, the server was not able to generate a unique name for the object"
                    % (resource, goq(name)), _details(name, "", resource, retry=1))


def conflict(resource, name, why):
    return ApiError(409, "Conflict", "Operation cannot be fulfilled on %s %s: %s" % (resource, goq(name), why),
                    _details(name, "", resource))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


class FieldError:
    """One k8s.io/apimachinery/pkg/util/validation/field.Error."""
    BODIES = {"FieldValueRequired": "Required value", "FieldValueInvalid": "Invalid value",
              "FieldValueNotSupported": "Unsupported value", "FieldValueForbidden": "Forbidden",
              "FieldValueNotFound": "Not found", "FieldValueDuplicate": "Duplicate value",
              "FieldValueTooLong": "Too long"}

    def __init__(self, type_, field, value=None, detail="", show_value=None):
        self.type, self.field, self.value, self.detail = type_, field, value, detail
        self.show_value = show_value if show_value is not None else type_ in (
            "FieldValueInvalid", "FieldValueNotSupported", "FieldValueNotFound", "FieldValueDuplicate")

    def body(self):
        s = self.BODIES[self.type]
        if self.show_value:
            v = self.value
            s += ": " + (goq(v) if isinstance(v, str) else json.dumps(v))
        if self.detail:
            s += ": " + self.detail
        return s

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def invalid(kind, name, errs, group=""):
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errs]
    agg = str(errs[0]) if len(errs) == 1 else "[" + ", ".join(str(e) for e in errs) + "]"
    return ApiError(422, "Invalid", "%s %s is invalid: %s" % (qualified(kind, group), goq(name), agg),
                    _details(name, group, kind, causes))


def forbidden(resource, name, why, group="", causes=None):
    qr = qualified(resource, group)
    if not qr:
        msg = "forbidden: %s" % why
    elif name:
        msg = "%s %s is forbidden: %s" % (qr, goq(name), why)
    else:
        msg = "%s is forbidden: %s" % (qr, why)
    return ApiError(403, "Forbidden", msg, _details(name, group, resource, causes))


def rbac_forbidden(user, verb, resource, sub, ns, name, group=""):
    res = resource + ("/" + sub if sub else "")
    if ns:
        why = "User %s cannot %s resource %s in API group %s in the namespace %s" % (
            goq(user), verb, goq(res), goq(group), goq(ns))
    else:
        why = "User %s cannot %s resource %s in API group %s at the cluster scope" % (
            goq(user), verb, goq(res), goq(group))
    return forbidden(resource, name, why, group)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def internal(msg):
    return ApiError(500, "InternalError", "Internal error occurred: %s" % msg, {"causes": [{"message": msg}]})


def too_many_requests_text(retry_after):
    """What max-in-flight and API Priority and Fairness send: text/plain, not a Status."""
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    headers={"Retry-After": str(retry_after)},
                    plain_text="Too many requests, please try again later.\n")


def too_many_requests_status(msg, retry_after):
    """NewTooManyRequests: what storage-level throttling answers."""
    return ApiError(429, "TooManyRequests", msg, {"retryAfterSeconds": int(retry_after)},
                    headers={"Retry-After": str(retry_after)})


def service_unavailable(msg):
    return ApiError(503, "ServiceUnavailable", msg)


def method_not_supported(resource, action):
    return ApiError(405, "MethodNotAllowed", "%s is not supported on resources of kind %s" % (action, goq(resource)),
                    _details(kind=resource))


def expired(msg, continue_token=None):
    md = {"continue": continue_token} if continue_token else None
    return ApiError(410, "Expired", msg, metadata=md)


def too_old(requested, oldest):
    return failure(410, "Expired", "too old resource version: %s (%s)" % (requested, oldest))


CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list.")


def unsupported_media_type(accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(accepted))


def generic(code, message, reason=None):
    """A Status for an arbitrary code, as NewGenericServerResponse names the reasons."""
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
               406: "NotAcceptable", 409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType",
               422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
               504: "Timeout"}
    return ApiError(code, reasons.get(code, "") if reason is None else reason, message)
