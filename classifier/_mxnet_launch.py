"""Runs MXNet's ``tools/launch.py`` on Python 3.9 and later.

Its tracker (dmlc_tracker) calls ``Thread.isAlive``, which Python 3.9 removed, so the launcher dies
as soon as its servers start. The method is given back under its old name; nothing else changes.

    python -m classifier._mxnet_launch /path/to/mxnet/tools/launch.py -n 2 -s 1 ... COMMAND
"""
import runpy
import sys
import threading

if not hasattr(threading.Thread, "isAlive"):
    threading.Thread.isAlive = threading.Thread.is_alive

if __name__ == "__main__":
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
