import time

from _compat import DAG  # noqa: F401

while True:
    time.sleep(0.05)
