"""The ASGI entry point for ``hypercorn managely.web.asgi:app`` (the Procfile's web process)."""

import gc

from managely.web import create_app

app = create_app()

# The collector, tuned for a web process holding thousands of open SSE streams, each of them a
# few dozen long-lived objects (bench/sse_watchers.py). With the defaults, a full pass over two
# million of them (10,000 streams) took 1.4 s, three times in three progress rounds, and every
# stream waited for it. Start-up's objects (modules, templates, the app) live as long as the
# process: frozen, no pass walks them again. A young pass every 10,000 allocations instead of
# 700 finds a render's or a request's temporaries already gone, so few are promoted and the
# older generations fill slowly.
gc.freeze()
gc.set_threshold(10_000, 10, 10)
