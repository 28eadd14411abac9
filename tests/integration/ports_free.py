#!/usr/bin/env python3
"""Exit 0 if every TCP port given on the command line can be bound on 127.0.0.1 now."""
import socket
import sys

for arg in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", int(arg)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
sys.exit(0)
