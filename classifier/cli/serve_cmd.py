"""``python -m classifier serve [MODEL] [--port 8080]``: host one model as a SageMaker inference container."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.errors import ClassifierError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="answer SageMaker invocations for one model",
        description="GET /ping, POST /invocations and POST /endpoints/<name>/invocations, as a SageMaker "
                    "inference container does. MODEL defaults to /opt/ml/model, where SageMaker unpacks it. "
                    "It has NO AUTHENTICATION, as SageMaker's containers have none (SageMaker's front end signs "
                    "callers in): anyone who reaches the port can use the model, so outside SageMaker bind it to "
                    "127.0.0.1 or a private network.")
    parser.add_argument("model", type=Path, nargs="?", default=Path("/opt/ml/model"),
                        help="model.tar.gz or its unpacked directory")
    parser.add_argument("--host", default="0.0.0.0",
                        help="address to listen on (SageMaker: all, port 8080; there is no authentication)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-batch", type=int, default=32, help="most requests answered by one forward pass")
    parser.add_argument("--batch-window-ms", type=float, default=2.0,
                        help="how long a request waits for others to share its batch")
    parser.add_argument("--max-connections", type=int, default=64,
                        help="connections served at once; one more is answered 503 at once")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds a connection may wait for the client's next bytes before it is closed")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="most pixels an image may have, read from its header before decoding (default 4096x4096)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from classifier.http_server import make_server

    if not args.model.exists():
        raise ClassifierError(f"{args.model}: no such model file or directory")
    from classifier.invocation_contract import MAX_PIXELS

    server = make_server(args.model, args.host, args.port, max_batch=args.max_batch,
                         window=args.batch_window_ms / 1000, max_connections=args.max_connections,
                         timeout=args.timeout, max_pixels=args.max_pixels or MAX_PIXELS)
    predictor = server.batcher.predictor
    print(f"serving {args.model} ({predictor.num_classes} classes, input {predictor.image_shape}) on "
          f"http://{args.host}:{server.server_address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
