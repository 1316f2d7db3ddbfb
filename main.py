"""Launch cnnlab from a checkout: ``python main.py``."""

from cnnlab.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
