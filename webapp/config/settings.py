"""IC Studio's settings: one module, every deployment difference an environment variable.

SQLite and media under the state folder (``ICSTUDIO_VAR``, default ``var/``); ``DATABASE_URL``
(e.g. postgres://...) and ``MEDIA_ROOT`` move them. ``REDIS_URL`` is the Celery broker and the
Channels layer.
"""
from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from webapp.config.env import env_bool, env_int, env_list, env_str, private_file
from webapp.config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parents[2]
# The state folder: the SQLite database, media, model store, secret key and the launcher's files
# (Celery beat's schedule) live here unless their own settings move them. Made here, so a fresh clone
# (no var/ yet) starts whichever process comes first.
VAR_DIR = Path(env_str("ICSTUDIO_VAR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    # A per-installation key, made on first start and kept beside the database.
    # Owner-only (0600): it signs every session.
    import secrets

    SECRET_KEY = private_file(VAR_DIR / "secret_key", secrets.token_urlsafe(50)).read_text().strip()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "webapp.config.error_pages.csrf_failure"  # a page in plain words, not Django's bare 403

# HTTPS_ONLY=true: served only over HTTPS through a TLS-terminating proxy (compose's Caddy), which says
# so in X-Forwarded-Proto. Plain HTTP then redirects, cookies are Secure and browsers are told (HSTS) to
# come back over HTTPS only. Off by default: `./dev run` serves plain HTTP on localhost.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
if HTTPS_ONLY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True  # the header only allows listing; nothing is submitted to the preload list

# Sign-in refuses a username, or a client address, after this many wrong passwords within the window
# (even with the right password), until the window has passed; the API's token route counts too.
SIGNIN_MAX_FAILURES = env_int("SIGNIN_MAX_FAILURES", 10)
SIGNIN_WINDOW_SECONDS = env_int("SIGNIN_WINDOW_SECONDS", 15 * 60)
# SIGNUP_OPEN=false: the sign-up page says accounts are made by staff (on the account page).
SIGNUP_OPEN = env_bool("SIGNUP_OPEN", True)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Redoc's files, served by the app: the API docs page works offline
    "channels",
    "webapp.core",  # shared plumbing: the Celery app made current, leases, the beat task
    "webapp.accounts",
    "webapp.datasets",
    "webapp.training",
    "webapp.registry",
    "webapp.s3",  # users' buckets in the S3 store
    "webapp.sagemaker",  # SageMaker's API (training, hosting, transforms, tuning), CloudWatch Logs, STS at POST /
    "webapp.tuning",  # automatic model tuning: Optuna's search over training jobs
    "webapp.operations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.accounts.middleware.PagesRequireLogin",
]

ROOT_URLCONF = "webapp.config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ASGI_APPLICATION = "webapp.config.asgi.application"
WSGI_APPLICATION = None

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'icstudio.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    if DATABASES["default"]["NAME"] not in ("", ":memory:") and Path(DATABASES["default"]["NAME"]).parent.is_dir():
        # Made owner-only before SQLite makes it 0644 (its journals take the database's mode).
        private_file(Path(DATABASES["default"]["NAME"]))
    # Web and worker write concurrently; wait for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    # Tests run a worker thread beside the test: an in-memory database's shared cache answers
    # "table is locked" at once instead of waiting, so the test database is a file too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-icstudio.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["webapp.accounts.backends.RateLimitedModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dataset-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_str("STATIC_ROOT")  # only for collectstatic behind another web server
WHITENOISE_USE_FINDERS = True  # serve static/ straight from the repository, no collectstatic step
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Uploads stream to temporary files: a 2 GB zip never sits in memory.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
# In a folder of IC Studio's own, so the temp file of an upload whose server was killed mid-request is found
# and removed (webapp/operations/uploads_tmp.py: at web start and by `manage.py cleanup`).
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or str(VAR_DIR / "uploads-tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("MAX_UPLOAD_FILES", 5000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# One request's body to an upload route (images, model imports, transforms, base models), refused
# with 413 while it arrives (webapp/config/body_limits.py); other routes take DATA_UPLOAD_MAX_MEMORY_SIZE.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 2 << 30)

# An imported model.tar.gz is refused from its headers past this unpacked size or this many files
# (a ResNet-152 artifact unpacks to about 250 MB in a few files).
MODEL_MAX_UNPACKED_BYTES = env_int("MODEL_MAX_UNPACKED_BYTES", 1 << 30)
MODEL_MAX_FILES = env_int("MODEL_MAX_FILES", 32)

# Limits on one image; larger ones are refused at ingestion with the reason.
IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 50 * 1024 * 1024)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 50_000_000)
THUMBNAIL_SIZE = 160
# MXNet model-zoo checkpoints (resnet-N-symbol.json, resnet-N-0000.params) for transfer learning.
MODEL_STORE = Path(env_str("MODEL_STORE", str(VAR_DIR / "model-store")))

# A running job whose worker has not beaten for TRAINING_STALE_SECONDS is requeued to resume.
TRAINING_HEARTBEAT_SECONDS = env_int("TRAINING_HEARTBEAT_SECONDS", 5)
TRAINING_STALE_SECONDS = env_int("TRAINING_STALE_SECONDS", 60)
# The same lease holds a version build and a batch transform. A worker that stops this many times on one
# piece of work (killed, out of memory) fails it with that reason instead of trying it forever.
WORK_MAX_ATTEMPTS = env_int("WORK_MAX_ATTEMPTS", 3)
# A queued job, build or transform whose message is not in the broker this long after it was sent (Redis
# restarted without persistence, or flushed) is sent again; the wait covers a message a worker is taking.
WORK_RESEND_SECONDS = env_int("WORK_RESEND_SECONDS", 60)

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# No socket timeout: a consumer waits on a blocking read for its next message, and redis-py 8's
# default (5 s) cut that read short, closing every idle WebSocket within seconds.
CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]}}
}

# The S3 store data reaches training through (webapp/core/object_store.py). S3_ENDPOINT_URL unset: the
# launcher starts a SeaweedFS of its own (webapp/embedded_store.py) and names it to its children, with
# S3_EMBEDDED; its admin keys are made on first start and kept in the state folder (0600), as the secret
# key is. Any other S3-compatible store, or AWS S3, by endpoint and keys (none: boto3's credential chain).
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL") or None
S3_EMBEDDED = env_bool("S3_EMBEDDED", False)
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID") or None
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY") or None
if not S3_ENDPOINT_URL and not (S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY):
    import secrets

    S3_ACCESS_KEY_ID = private_file(VAR_DIR / "s3_access_key_id", "ICS" + secrets.token_hex(9).upper()).read_text().strip()
    S3_SECRET_ACCESS_KEY = private_file(VAR_DIR / "s3_secret_access_key", secrets.token_urlsafe(30)).read_text().strip()
S3_REGION = env_str("S3_REGION", "us-east-1")
# path: http://host/bucket/key, which needs no wildcard DNS; virtual: http://bucket.host/key.
S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE", "path")
if S3_ADDRESSING_STYLE not in ("path", "virtual", "auto"):
    raise ImproperlyConfigured(f"S3_ADDRESSING_STYLE must be path, virtual or auto, not {S3_ADDRESSING_STYLE!r}")
# The embedded store's S3 port (0: a free one, picked at each start).
S3_PORT = env_int("S3_PORT", 0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous API call then gets 401 with WWW-Authenticate, not 403.
        "webapp.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["webapp.config.api_errors.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "webapp.config.api_errors.json_error_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IC Studio API",
    "DESCRIPTION": "Datasets, labels, versions, training and prediction, SageMaker-compatible.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Several models have a field named "state": each choice set gets a name of its own.
    "ENUM_NAME_OVERRIDES": {
        "WorkStateEnum": "webapp.training.models.TrainingJob.State",  # a batch transform's states are the same
        "ModelStateEnum": "webapp.registry.models.RegisteredModel.State",
    },
    # The system's own fonts: Redoc's defaults would be fetched from a font CDN.
    "REDOC_UI_SETTINGS": {"scrollYOffset": 40, "theme": {"typography": {
        "fontFamily": 'system-ui, -apple-system, "Segoe UI", sans-serif',
        "headings": {"fontFamily": 'system-ui, -apple-system, "Segoe UI", sans-serif'}}}},
}

# LOG_FORMAT=json: one JSON object a line, from the web server, the Celery workers and the serving workers.
LOGGING = logging_config(env_str("LOG_LEVEL", "INFO"), env_str("LOG_FORMAT", "plain"))

# Prediction: a request waits this long for a serving worker; SageMaker's own payload limit.
SERVING_TIMEOUT_SECONDS = env_int("SERVING_TIMEOUT_SECONDS", 30)
INVOCATION_MAX_BYTES = env_int("INVOCATION_MAX_BYTES", 6 * 1024 * 1024)
# An invocation's image is refused from its header above this many pixels: the model needs few.
INVOCATION_MAX_PIXELS = env_int("INVOCATION_MAX_PIXELS", 4096 * 4096)
# The region the account page tells AWS clients to use (any region's signature is verified).
AWS_REGION = env_str("AWS_REGION", "us-east-1")
