"""Request bodies against a real web process: who is asking and how much the route takes are settled before
the body is read (issue 11, item 2). Today's code spooled a 1 GiB anonymous POST to disk before its 401."""
from __future__ import annotations

from tests.hostile.webprocess import folder_bytes, header, status
from tests.support.api import api_key
from tests.support.aws import access_key

CHUNK = bytes(1 << 20)
GIB = 1 << 30


class Counted:
    """A body of ``total`` zero bytes handed out a megabyte at a time, counting what the socket took."""

    def __init__(self, total: int):
        self.total, self.sent = total, 0

    def __iter__(self):
        while self.sent < self.total:
            self.sent += len(CHUNK)
            yield CHUNK


def chunked(total: int):
    """The same as chunked transfer encoding, with no length told in advance."""
    body = Counted(total)

    def frames():
        for chunk in body:
            yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        yield b"0\r\n\r\n"
    return body, frames()


def head(path: str, *, length: int | None = None, headers: dict[str, str] | None = None,
         content_type: str = "image/jpeg") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def signed_in(web, username: str) -> dict[str, str]:
    """Headers of a browser signed in as ``username`` (the session cookie and its CSRF token)."""
    session = web.session(username)
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    return {"Cookie": cookie, "X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{web.url}/"}


def test_an_anonymous_gigabyte_is_refused_before_it_is_read(web):
    before = folder_bytes(web.tmp)
    for path, shape in [("/invocations", "sagemaker"), ("/endpoints/x/invocations", "sagemaker"),
                        ("/api/datasets/1/uploads/", "api"), ("/api/models/", "api"), ("/models/", "page")]:
        body = Counted(GIB)
        answer = web.raw(head(path, length=GIB, content_type="multipart/form-data; boundary=x"), body)
        if shape == "page":
            assert status(answer) == 302 and "/signin/" in header(answer, "Location"), answer[:300]
        else:
            assert status(answer) == 401, answer[:300]
        if shape == "sagemaker":
            assert header(answer, "x-amzn-ErrorType") == "MissingAuthenticationTokenException"
            assert b'"message"' in answer
        assert body.sent < 32 << 20, f"{path}: {body.sent >> 20} MB were taken before the refusal"
    # A signature whose access key is no one's: refused in AWS's words (403), before the body.
    body = Counted(GIB)
    answer = web.raw(head("/invocations", length=GIB, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=nobody/20240101/us-east-1/sagemaker/aws4_request, "
                         "SignedHeaders=host, Signature=00"}), body)
    assert status(answer) == 403 and header(answer, "x-amzn-ErrorType") == "UnrecognizedClientException"
    assert body.sent < 32 << 20
    assert folder_bytes(web.tmp) - before < 1 << 20, "the refused bodies were written to the temporary folder"
    assert web.peak_rss_mb() < 400
    # The forms anyone may send take a small body, and pages still answer.
    answer = web.raw(head("/signin/", length=GIB, content_type="application/x-www-form-urlencoded"), Counted(GIB))
    assert status(answer) == 413
    assert web.session("alice")  # signing in (a small anonymous form) works


def test_a_declared_length_over_the_route_s_limit_is_refused_before_it_is_read(web, users):
    browser = signed_in(web, "alice")
    token = api_key(users["alice"])
    access_key_id = access_key(users["alice"])[0]  # known: the signature itself is checked once the body is in
    for path, headers in [("/api/models/1/predict/", browser),
                          ("/invocations", {"Authorization": f"Token {token}"}),
                          ("/endpoints/x/invocations", {
                              "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key_id}/20240101/us-east-1/sagemaker/"
                                               "aws4_request, SignedHeaders=host, Signature=00"})]:
        answer = web.raw(head(path, length=7 << 20, headers=headers), ())  # no body sent at all
        assert status(answer) == 413, answer[:300]
        assert b"at most 6291456 bytes" in answer
        if "invocations" in path:
            assert header(answer, "x-amzn-ErrorType") == "ValidationError"
    answer = web.raw(head("/api/datasets/1/uploads/", length=3 * GIB, headers=browser,
                          content_type="multipart/form-data; boundary=x"), ())
    assert status(answer) == 413 and b'"error"' in answer and b"2147483648" in answer
    answer = web.raw(head("/api/datasets/1/labels/", length=64 << 20, headers=browser,
                          content_type="application/json"), ())
    assert status(answer) == 413  # any other route: Django's own 10 MB


def test_a_chunked_body_is_cut_off_at_the_limit(web, users):
    before = folder_bytes(web.tmp)
    token = api_key(users["alice"])
    body, frames = chunked(GIB)
    answer = web.raw(head("/invocations", headers={"Authorization": f"Token {token}"}), frames)
    assert status(answer) == 413 and header(answer, "x-amzn-ErrorType") == "ValidationError", answer[:300]
    assert body.sent < 48 << 20, f"{body.sent >> 20} MB were taken before the cut"
    body, frames = chunked(GIB)
    answer = web.raw(head("/api/datasets/1/labels/", headers=signed_in(web, "alice"),
                          content_type="application/json"), frames)
    assert status(answer) == 413 and b'"error"' in answer
    assert body.sent < 64 << 20
    assert folder_bytes(web.tmp) - before < 32 << 20
    assert web.peak_rss_mb() < 400
