"""`make bench`: the site's cost figures, measured in one run, printed and saved to bench.json.

Each figure is printed as `name value unit`. Builds run in a temporary copy of the repository,
so the work tree is never touched.
"""

import argparse
import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

from .catalog import load_catalog
from .render import pages

ROOT = Path(__file__).resolve().parents[2]
COPY = (
    "mkdocs.yml",
    "docs",
    "data",
    "snippets",
    "src",
    "tests",
    "requirements.lock",
    "pyproject.toml",
)
PAGES = {  # one page of each type
    "home": "",
    "use_case": "use-cases/payments/",
    "pattern": "patterns/idempotency-keys/",
    "matrix": "patterns/",
    "rules": "rules/",
    "problem_types": "problem-types/",
    "guide": "guides/webhook-design/",
    "blog_post": "blog/2026/07/08/idempotency-key-contract/",
    "contributing": "contributing/",
}
LIGHTHOUSE = ROOT / ".venv" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
ENV = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"}


def copy_repo(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in COPY:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / name)
    return target


def multiply(root: Path, factor: int) -> tuple[int, int]:
    """Make the catalog `factor` times larger: each copy k of a pattern (and its snippet) is
    named by copy k of each use case that names the original, as a catalog that grows by
    adding use cases would be. Returns the counts of patterns and use cases."""
    data = root / "data"
    patterns = sorted((data / "patterns").glob("*.yml"))
    use_cases = sorted((data / "use-cases").glob("*.yml"))
    overview = yaml.safe_load((data / "overview.yml").read_text())
    for k in range(1, factor):
        for path in patterns:
            entry = yaml.safe_load(path.read_text())
            snippet = f"snippets/{path.stem.replace('-', '_')}_x{k}.py"
            shutil.copy(root / entry["snippet"], root / snippet)
            copy = {**entry, "id": f"{path.stem}-x{k}", "snippet": snippet, "aliases": []}
            _dump(data / "patterns" / f"{copy['id']}.yml", copy)
        for path in use_cases:
            entry = yaml.safe_load(path.read_text())
            uses = [{**use, "pattern": f"{use['pattern']}-x{k}"} for use in entry["patterns"]]
            copy = {
                **entry,
                "id": f"{path.stem}-x{k}",
                "title": f"{entry['title']} {k}",
                "patterns": uses,
                "aliases": [],
            }
            _dump(data / "use-cases" / f"{copy['id']}.yml", copy)
            overview["use_cases"].append(copy["id"])
    _dump(data / "overview.yml", overview)
    return len(patterns) * factor, len(use_cases) * factor


def _dump(path: Path, entry: dict) -> None:
    path.write_text(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True))


def build_seconds(root: Path, site: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=root,
        env=ENV,
        check=True,
        capture_output=True,  # not --quiet: it hides the warnings that strict mode counts
    )
    return time.perf_counter() - start


def zensical_seconds(root: Path, stage: Path, *, cold: bool) -> float:
    """Stage the site and build it with Zensical, strict, as `make build-zensical` does; cold
    drops its cache first."""
    if cold:
        shutil.rmtree(stage, ignore_errors=True)
    start = time.perf_counter()
    for command in (
        [sys.executable, "-m", "apipatterns.cli", "stage", str(stage)],
        [
            str(Path(sys.executable).with_name("zensical")),
            "build",
            "--strict",
            "-f",
            str(stage / "mkdocs.yml"),
        ],
        [sys.executable, "-m", "apipatterns.cli", "feeds", str(stage / "site")],
    ):
        subprocess.run(command, cwd=root, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def edit_one_pattern(root: Path) -> None:
    """Change one pattern's summary, as a contributor's save does."""
    path = sorted((root / "data" / "patterns").glob("*.yml"))[0]
    text = path.read_text(encoding="utf-8")
    edited = text.replace("\nsummary: >-\n  ", "\nsummary: >-\n  Edited. ", 1)
    assert edited != text, f"{path.name}: no folded summary to edit"
    path.write_text(edited, encoding="utf-8")


def catalog_seconds(root: Path) -> float:
    start = time.perf_counter()
    pages(load_catalog(root))
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The edits a preview is timed on, in data/patterns/idempotency-keys.yml: what a contributor
# changes most (a paragraph of one page), a summary that eight related pages repeat, and a
# title, which every page's navigation shows.
PREVIEW_EDITS = {
    "text": ("  - **Check, then insert.**", "  - **Check, then insert ({marker}).**"),
    "summary": ("summary: ", "summary: {marker} "),
    "title": ("title: Idempotency keys", "title: {marker}"),
}


def rebuild_seconds(root: Path, generator: str = "mkdocs", edits: int = 3) -> dict[str, float]:
    """Median time, per kind of edit (`PREVIEW_EDITS`), from saving the YAML to the preview
    server serving the changed page.

    `mkdocs` is `make serve` (a dirty rebuild: only the pages an edit changed, or all of them
    after a title edit); `zensical` is `make serve-zensical` (a warm process re-stages the
    catalog on save, and Zensical's server rebuilds what changed).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/api-patterns/patterns/idempotency-keys/"
    if generator == "mkdocs":
        mkdocs = [sys.executable, "-m", "mkdocs", "serve", "--strict", "--dirty"]
        commands = [[*mkdocs, "--dev-addr", f"127.0.0.1:{port}"]]
    else:
        stage = root / ".zensical"
        subprocess.run(
            [sys.executable, "-m", "apipatterns.cli", "stage", str(stage)],
            cwd=root,
            env=ENV,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        zensical = str(Path(sys.executable).with_name("zensical"))
        commands = [
            [sys.executable, "-m", "apipatterns.cli", "stage", str(stage), "--watch"],
            [zensical, "serve", "-f", str(stage / "mkdocs.yml"), "-a", f"127.0.0.1:{port}"],
        ]
    servers = [
        subprocess.Popen(c, cwd=root, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    entry = root / "data/patterns/idempotency-keys.yml"
    original = entry.read_text()
    try:
        wait_for(url, lambda body: True, timeout=300)
        medians = {}
        for kind, (old, new) in PREVIEW_EDITS.items():
            assert old in original, f"the {kind} edit no longer applies to {entry.name}"
            seconds = []
            for n in range(edits):
                marker = f"Benchmark {kind} edit {n}"
                time.sleep(2)  # let the previous rebuild settle, as between two real saves
                entry.write_text(original.replace(old, new.format(marker=marker), 1))
                start = time.perf_counter()
                wait_for(url, lambda body, marker=marker: marker in body, timeout=300)
                seconds.append(time.perf_counter() - start)
            medians[kind] = statistics.median(seconds)
        return medians
    finally:
        entry.write_text(original)
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def wait_for(url: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if ready(response.read().decode()):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(url)


def transferred_bytes(site: Path) -> dict[str, int]:
    """Bytes on the wire (gzip-encoded bodies and headers) to show each page, all assets in.

    The server counts what it sends, so requests that the browser reports incompletely
    (a worker's script) count too. Each page opens in a fresh context (an empty cache) and is
    measured once the network has been quiet: nothing in flight for a second after load.
    """
    from playwright.sync_api import sync_playwright

    sizes = {}
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        for name, path in PAGES.items():
            context = browser.new_context()
            page = context.new_page()
            GzipHandler.sent = 0
            page.goto(base + path, wait_until="networkidle")
            last, quiet_since, deadline = -1, 0.0, time.monotonic() + 60
            while (now := time.monotonic()) < deadline:
                if GzipHandler.open or GzipHandler.sent != last:
                    last, quiet_since = GzipHandler.sent, now
                elif now - quiet_since >= 1:
                    break
                page.wait_for_timeout(100)
            sizes[name] = GzipHandler.sent
            context.close()
        browser.close()
    return sizes


class _Counted:
    """A response stream that adds what it writes to `GzipHandler.sent`."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, data) -> int:
        GzipHandler.sent += len(data)
        return self._stream.write(data)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files gzip-encoded when the client accepts it, as GitHub Pages serves them.

    `sent` counts the bytes of every response (status line, headers, body); `open` the
    requests being answered."""

    sent = 0
    open = 0

    def setup(self) -> None:
        super().setup()
        self.wfile = _Counted(self.wfile)

    def do_GET(self) -> None:
        GzipHandler.open += 1
        try:
            super().do_GET()
        finally:
            GzipHandler.open -= 1

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if "gzip" not in self.headers.get("Accept-Encoding", "") or not path.is_file():
            return super().send_head()
        body = gzip.compress(path.read_bytes(), 6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """The built site on 127.0.0.1 under /api-patterns/, as production serves it."""
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "api-patterns").symlink_to(site, target_is_directory=True)
        handler = functools.partial(GzipHandler, directory=root)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/api-patterns/"
        finally:
            server.shutdown()
            server.server_close()


def lighthouse(site: Path, runs: int = 3) -> dict[str, int]:
    """Lighthouse's four category scores (mobile) for each page: the median of `runs` runs."""
    scores: dict[str, list[int]] = {}
    with serve(site) as base:
        for name, path in PAGES.items():
            for _ in range(runs):
                result = subprocess.run(
                    [
                        str(LIGHTHOUSE),
                        base + path,
                        "--quiet",
                        "--output=json",
                        "--only-categories=performance,accessibility,best-practices,seo",
                        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**ENV, "CHROME_PATH": shutil.which("chromium") or ""},
                )
                for key, category in json.loads(result.stdout)["categories"].items():
                    figure = f"{name}_{key.replace('-', '_')}"
                    scores.setdefault(figure, []).append(round(category["score"] * 100))
    return {figure: statistics.median(values) for figure, values in scores.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--factors", type=int, nargs="*", default=[10, 100])
    parser.add_argument("--skip", nargs="*", default=[], choices=["serve", "page", "test", "prove"])
    args = parser.parse_args(argv)
    figures: list[tuple[str, float, str]] = []

    def record(name: str, value: float, unit: str) -> None:
        figures.append((name, round(value, 3), unit))
        print(f"{name} {round(value, 3)} {unit}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        base = copy_repo(Path(tmp) / "x1")
        site = Path(tmp) / "site"
        build = min(build_seconds(base, site) for _ in range(3))  # best of 3: least noise
        record("build_strict", build, "s")
        stage = Path(tmp) / "zensical"
        cold = min(zensical_seconds(base, stage, cold=True) for _ in range(3))
        record("build_strict_zensical_cold", cold, "s")
        edit_one_pattern(base)
        record("build_strict_zensical_warm", zensical_seconds(base, stage, cold=False), "s")
        catalog = catalog_seconds(base)
        record("catalog_step", catalog, "s")
        record("catalog_share_of_build", 100 * catalog / build, "%")
        for factor in args.factors:
            root = copy_repo(Path(tmp) / f"x{factor}")
            patterns, use_cases = multiply(root, factor)
            record(f"patterns_x{factor}", patterns, "patterns")
            record(f"use_cases_x{factor}", use_cases, "use cases")
            seconds = build_seconds(root, Path(tmp) / f"site{factor}")
            record(f"build_strict_x{factor}", seconds, "s")
            record(f"build_ratio_x{factor}", seconds / build, "x")
            shutil.rmtree(root)
        if "serve" not in args.skip:
            for generator, suffix in (("mkdocs", ""), ("zensical", "_zensical")):
                preview = copy_repo(Path(tmp) / f"serve-{generator}")
                for kind, seconds in rebuild_seconds(preview, generator).items():
                    record(f"preview_after_{kind}_edit{suffix}", seconds, "s")
        if "page" not in args.skip:
            for name, size in transferred_bytes(site).items():
                record(f"transfer_{name}", size / 1024, "KiB")
            for name, size in transferred_bytes(stage / "site").items():
                record(f"transfer_zensical_{name}", size / 1024, "KiB")
            if LIGHTHOUSE.exists() and shutil.which("chromium"):
                for name, score in lighthouse(site).items():
                    record(f"lighthouse_{name}", score, "score")
            else:
                print("lighthouse skipped: no chromium or lighthouse (make bench installs it)")
    if "test" not in args.skip:
        start = time.perf_counter()
        subprocess.run(["make", "test"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        record("make_test", time.perf_counter() - start, "s")
    if "prove" not in args.skip:
        start = time.perf_counter()
        subprocess.run(["make", "prove"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        record("make_prove", time.perf_counter() - start, "s")
    (ROOT / "bench.json").write_text(
        json.dumps([{"name": n, "value": v, "unit": u} for n, v, u in figures], indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
