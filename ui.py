"""Serve the Studio page: ``python ui.py [--host HOST] [--port PORT] [--runs FOLDER]`` (also ``studio ui``).

Importing this file does nothing; the page is built and launched only when it runs as a script.
"""

if __name__ == "__main__":
    from studio.ui.app import main

    raise SystemExit(main())
