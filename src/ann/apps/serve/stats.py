"""What ``GET /metrics`` tells a Prometheus scraper: requests by route, method and status, a
latency histogram per route, and errors (4xx and 5xx) per route, in the text exposition format."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: dict[tuple, int] = defaultdict(int)     # (route, method, status) -> count
        self.errors: dict[str, int] = defaultdict(int)         # route -> count
        self.buckets: dict[str, list[int]] = {}                # route -> count per bucket
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def record(self, route: str, method: str, status: int, seconds: float):
        with self.lock:
            self.requests[(route, method, status)] += 1
            if status >= 400:
                self.errors[route] += 1
            counts = self.buckets.setdefault(route, [0] * len(BUCKETS))
            for i, edge in enumerate(BUCKETS):
                if seconds <= edge:
                    counts[i] += 1
            self.sums[route] += seconds
            self.counts[route] += 1

    def text(self) -> str:
        q = lambda s: s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")   # noqa: E731
        lines = ["# HELP ann_requests_total HTTP requests by route, method and status.",
                 "# TYPE ann_requests_total counter"]
        with self.lock:
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(f'ann_requests_total{{route="{q(route)}",method="{method}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP ann_request_errors_total Requests answered with a 4xx or 5xx status.",
                      "# TYPE ann_request_errors_total counter"]
            for route, n in sorted(self.errors.items()):
                lines.append(f'ann_request_errors_total{{route="{q(route)}"}} {n}')
            lines += ["# HELP ann_request_duration_seconds Time from request to the last byte.",
                      "# TYPE ann_request_duration_seconds histogram"]
            for route, counts in sorted(self.buckets.items()):
                r = q(route)
                for edge, n in zip(BUCKETS, counts):
                    lines.append(f'ann_request_duration_seconds_bucket{{route="{r}",le="{edge}"}} {n}')
                lines.append(f'ann_request_duration_seconds_bucket{{route="{r}",le="+Inf"}} '
                             f"{self.counts[route]}")
                lines.append(f'ann_request_duration_seconds_sum{{route="{r}"}} {self.sums[route]:.6f}')
                lines.append(f'ann_request_duration_seconds_count{{route="{r}"}} {self.counts[route]}')
        return "\n".join(lines) + "\n"
