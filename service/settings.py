"""Every knob of the service, read once from ``GRADSERVE_*`` environment variables.

The README's settings table is checked against this class by tests/service/test_settings.py, so a
field added here without documentation fails the suite. Limits are named by their field name in
problem responses (``"limit": "max_steps"``).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRADSERVE_", frozen=True, extra="ignore")

    # ----- server ------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address uvicorn binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port uvicorn binds.")
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes.")
    worker_threads: int = Field(
        default=4, ge=1,
        description="Threads per process that run programs (off the event loop).")
    queue_size: int = Field(
        default=64, ge=0,
        description="Programs allowed to wait for a thread; beyond it requests get 503.")
    inline_budget_ms: float = Field(
        default=2.0, ge=0,
        description="A program first runs on the event loop (no thread hop) and moves to a worker "
        "thread, restarted from scratch, once it runs longer than this many milliseconds or holds "
        "more than inline_max_elements; 0 sends every program to a thread.")
    inline_max_elements: int = Field(
        default=65_536, ge=1,
        description="Tensor elements an inline program may hold before it moves to a thread.")
    log_level: str = Field(default="info", description="uvicorn log level.")
    shutdown_timeout: float = Field(
        default=30.0, gt=0,
        description="Seconds a stopping server (SIGTERM) lets in-flight requests finish.")
    access_log: bool = Field(
        default=True,
        description="One JSON line per request on stdout (request id, route, status, duration, "
                    "steps, backend; never tensor data).")

    # ----- connections (service/connections.py; what a proxy would otherwise bound) -----------
    max_connections: int = Field(
        default=1024, ge=1,
        description="Open connections per worker process; a connection beyond it is closed at "
        "once, so slow clients cannot use up the process's file descriptors.")
    max_header_bytes: int = Field(
        default=32 * 1024, ge=1024,
        description="Bytes of a request's line and headers; more gets 431 and the connection "
        "closed.")
    max_headers: int = Field(
        default=100, ge=1, description="Header fields in one request; more gets 431.")
    max_url_bytes: int = Field(
        default=8 * 1024, ge=256, description="Bytes of a request's target (path and query); "
        "more gets 414.")
    # Longer than the keep-alive any common client or balancer holds an idle connection (httpx
    # 5 s, Node's fetch 4 s, aiohttp 15 s, a cloud load balancer's 60 s): the side that closes
    # an idle connection must be the client. A server that closes first races the client's next
    # request on that connection, which then meets a reset (1 in ~12,000 requests at 5 s against
    # httpx's 5 s, in the CI soak).
    idle_timeout: float = Field(
        default=75.0, gt=0,
        description="Seconds a connection may stay open with no request under way (new or "
        "kept alive) before it is closed. Keep it above the idle keep-alive of every client and "
        "proxy in front, so that they, not the server, close an idle connection.")
    header_timeout: float = Field(
        default=10.0, gt=0,
        description="Seconds from a request's first byte to the end of its headers; later gets "
        "408 and the connection closed.")
    body_timeout: float = Field(
        default=60.0, gt=0,
        description="Seconds from the end of a request's headers to the end of its body (slow or "
        "endless uploads); later closes the connection.")
    max_buffered_body_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1,
        description="Bytes of request bodies a worker process holds at once (read, or announced "
        "by Content-Length); a request that would pass it gets 503 with Retry-After.")

    # ----- admission (service/admission.py) ----------------------------------------------------
    max_worker_alive_elements: int = Field(
        default=40_000_000, ge=1,
        description="Elements the programs running on one worker process's threads may hold "
        "together: each reserves max_alive_elements before it starts and waits (within its "
        "deadline) while the sum would pass this; lower it to fit the memory limit (about 8 "
        "bytes an element).")
    metrics_cache_seconds: float = Field(
        default=1.0, ge=0,
        description="Seconds /metrics serves the same rendering before it renders again (0: "
        "every scrape renders).")
    metrics_need_api_key: bool = Field(
        default=False,
        description="/metrics needs an API key, as the program routes do (when API keys are "
        "set).")
    trim_after_elements: int = Field(
        default=10_000_000, ge=0,
        description="After a program that allocated this many tensor elements in all, the "
        "worker hands its free heap memory back to the system (glibc malloc_trim); 0 turns it "
        "off.")

    # ----- access (service/auth.py) ------------------------------------------------------------
    api_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated API keys; when set, every route but /health/* and /metrics "
                    "needs Authorization: Bearer <key> (401 otherwise).")
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins CORS allows (* for any); empty turns CORS off.")

    # ----- limits (each checked before the work or allocation it bounds) ----------------------
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Request body size; larger bodies get 413.")
    request_timeout: float = Field(
        default=10.0, gt=0,
        description="Wall seconds a program may take from its arrival, time waiting for a "
        "thread included (checked between steps).")
    max_tensor_elements: int = Field(
        default=1_000_000, ge=1, description="Elements in any one tensor.")
    max_alive_elements: int = Field(
        default=10_000_000, ge=1, description="Elements held by all live tensors of one program.")
    max_steps: int = Field(
        default=100_000, ge=1,
        description="Statements executed, loop iterations and conditions included (and the "
        "backward passes of jacobian and hessian steps).")
    max_loop_iterations: int = Field(
        default=10_000, ge=1,
        description="Iterations of any one while loop (max_iter may lower it).")
    max_nesting_depth: int = Field(
        default=32, ge=1, description="Nesting of calls, blocks and array literals in a program.")
    max_printed_chars: int = Field(
        default=1_000_000, ge=1,
        description="Characters all print statements of a program may produce.")

    # ----- the source front end (service/source/), checked before and while parsing ------------
    max_source_chars: int = Field(
        default=100_000, ge=1, description="Characters in a request's source (checked before "
        "it is parsed).")
    max_source_lines: int = Field(
        default=5_000, ge=1, description="Lines in a request's source (checked before it is "
        "parsed).")
    max_source_nesting: int = Field(
        default=100, ge=1, description="How deeply brackets may nest in a source (checked "
        "before it is parsed, so that Python's parser never sees a deep expression).")
    max_source_nodes: int = Field(
        default=50_000, ge=1, description="Syntax nodes in a parsed source.")
    max_inlined_nodes: int = Field(
        default=200_000, ge=1, description="Syntax nodes translated from a source, counting "
        "each inlined call of a def or lambda again.")

    source_cache_entries: int = Field(
        default=64, ge=0, description="Translations of recent sources kept per process, so that "
        "a source sent again is not parsed again (sources up to 20,000 characters; 0 turns the "
        "cache off).")
    compile_cache_entries: int = Field(
        default=256, ge=0, description="Compiled programs kept per process, so that a program "
        "sent again (with other inputs) is not validated and compiled again (0 turns the cache "
        "off). A new program waits in a probation part (a fifth of the room); only one sent again "
        "while there moves to the protected part, so a flood of one-off programs cannot push out "
        "the programs clients repeat.")
    compile_cache_bytes: int = Field(
        default=64 << 20, ge=0, description="The compile cache's size bound in bytes of memory, "
        "estimated as 16 per byte of a program's canonical JSON (a source: of its translated "
        "program); a program over an eighth of it is not cached.")

    @field_validator("api_keys")
    @classmethod
    def _keys_not_all_blank(cls, v: SecretStr) -> SecretStr:
        # " , " would otherwise turn authentication off without a word
        text = v.get_secret_value()
        if text and not any(k.strip() for k in text.split(",")):
            raise ValueError("GRADSERVE_API_KEYS holds only blanks and commas; set at least one "
                             "key, or leave it empty to turn authentication off")
        return v

    def api_key_list(self) -> list[str]:
        """The configured API keys (empty: authentication is off)."""
        return [k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()]

    def cors_origin_list(self) -> list[str]:
        """The origins CORS allows (empty: CORS is off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def limits(self) -> dict[str, int | float]:
        """The program limits, as /v1/info reports them."""
        return {name: getattr(self, name) for name in LIMIT_FIELDS}


LIMIT_FIELDS = (
    "max_body_bytes", "request_timeout", "max_tensor_elements", "max_alive_elements", "max_steps",
    "max_loop_iterations", "max_nesting_depth", "max_printed_chars", "max_source_chars",
    "max_source_lines", "max_source_nesting", "max_source_nodes", "max_inlined_nodes",
)
