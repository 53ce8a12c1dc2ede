"""STS's GetCallerIdentity (query protocol, XML answer): the SageMaker SDK asks it for the account id, to
name a default bucket. Each user is an account of their own (arns.account_id)."""
from __future__ import annotations

import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from django.http import HttpResponse

from webapp.aws.errors import AwsError
from webapp.sagemaker import arns

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def _xml(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + body, status=status, content_type="text/xml")


def sts_error(error: AwsError) -> HttpResponse:
    request_id = str(uuid.uuid4())
    return _xml(f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{escape(error.code)}</Code>'
                f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>", error.status)


def sts_answer(caller, body: bytes) -> HttpResponse:
    form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
    action = form.get("Action")
    if action != "GetCallerIdentity":
        raise AwsError(400, "InvalidAction", f"Could not find operation {action} for version "
                                             f"{form.get('Version', '2011-06-15')}: IC Studio answers GetCallerIdentity")
    account = arns.account_id(caller.user)
    user = escape(caller.user.get_username())
    return _xml(f'<GetCallerIdentityResponse xmlns="{NAMESPACE}"><GetCallerIdentityResult>'
                f"<Arn>arn:aws:iam::{account}:user/{user}</Arn><UserId>{escape(caller.access_key.access_key_id)}</UserId>"
                f"<Account>{account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>"
                f"{uuid.uuid4()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>")
